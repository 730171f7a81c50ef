"""Stochastic plans by the extensive form, with the value of information.

Reported: the first-stage plan, each scenario's recourse and NPV, the expected NPV, the value of
the stochastic solution VSS = EEV - SP (EEV: expected NPV when the first stage is the plan made
for the mean-demand scenario, evaluated by the same first-stage evaluation as the
decomposition's candidates) and the expected value of perfect information EVPI = SP - WS (WS:
expected NPV when every scenario is planned knowing its future). Both are about the expected
NPV (SP here is the stochastic plan's expected NPV, also under a risk-averse objective).
"""
from __future__ import annotations

import time
from typing import Any

from optimizer.instance.loader import Instance
from optimizer.options import SolveOptions
from optimizer.output.results import Plan
from optimizer.scenarios.evaluation import (
    evaluate_first_stage, future_job, job_fields, run_scenario_solve,
)
from optimizer.scenarios.extensive import solve_extensive
from optimizer.scenarios.scenario_set import futures, mean_future, scenario_instances
from optimizer.status import Status


def solve_stochastic(instance: Instance, options: SolveOptions | None = None) -> Plan:
    """Solve the extensive form of a scenario instance; with
    ``options.value_of_information``, also the mean-value plan evaluated in every scenario
    (VSS) and each scenario alone (EVPI): 2 S + 1 more solves, inside the same time limit."""
    options = options or SolveOptions()
    return solve_extensive(instance, options, value_of_information_figures
                           if options.value_of_information else None)


def value_of_information_figures(instance: Instance, expected: float, options: SolveOptions,
                                 deadline: float | None) -> dict[str, Any]:
    """EV (the mean-demand plan's NPV), EEV (its first stage fixed in every scenario, the
    recourse planned; the shared first-stage evaluation of the decomposition), VSS = EEV - SP;
    WS (every scenario planned alone) and EVPI = SP - WS.

    The 2 S + 1 solves share the time left before ``deadline``; a figure whose solves did not
    finish with a plan is None with a note saying why; a cancelled run stops computing them.
    """
    scenarios = futures(instance)
    solves_left = 1 + 2 * len(scenarios)

    def fields() -> dict[str, Any]:
        nonlocal solves_left
        share = None
        if deadline is not None:
            share = max(deadline - time.time(), 0.0) / max(solves_left, 1)
        solves_left -= 1
        return job_fields(instance, options, deadline, share)

    out: dict[str, Any] = {}
    timed_out = "not computed: the time limit ran out before its solves finished"
    stopped = "not computed: the run was interrupted"
    mean = run_scenario_solve(future_job(("mean",), mean_future(
        instance, scenario_instances(instance)), **fields()))
    out["ev_npv"] = mean["objective"]
    if options.cancelled:
        out.update(eev=None, vss=None, vss_note=stopped, ws=None, evpi=None, evpi_note=stopped)
        return out
    if mean["status"].has_plan:
        eev, outcomes = evaluate_first_stage(instance, mean["first_stage"], **fields())
        solves_left -= len(scenarios) - 1
        if eev is not None:
            out.update(eev=eev, vss=eev - expected)
        elif any(o["status"] is Status.INFEASIBLE for o in outcomes.values()):
            out.update(eev=None, vss=None, vss_note="the mean-value plan's first stage leaves "
                       "some scenario without a plan: its VSS is unbounded")
        else:
            out.update(eev=None, vss=None, vss_note=timed_out)
    else:
        solves_left -= len(scenarios)
        out.update(eev=None, vss=None, vss_note="the mean-demand instance has no plan" if
                   mean["status"] is Status.INFEASIBLE else timed_out)
    # wait and see: each scenario planned alone
    ws: float | None = 0.0
    for future in scenarios:
        if options.cancelled:
            ws = None
            out["evpi_note"] = stopped
            break
        alone = run_scenario_solve(future_job(("alone", future.name), future, **fields()))
        if not alone["status"].has_plan:
            ws = None
            out["evpi_note"] = (f"scenario {future.name} has no plan on its own"
                                if alone["status"] is Status.INFEASIBLE else timed_out)
            break
        ws += future.probability * alone["objective"]
    out.update(ws=ws, evpi=None if ws is None else expected - ws)
    return out
