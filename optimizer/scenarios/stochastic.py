"""Stochastic plans by the extensive form, with the value of information.

Reported: the first-stage plan, each scenario's recourse and NPV, the expected NPV, the value of
the stochastic solution VSS = EEV - SP (EEV: expected NPV when the first stage is the plan made
for the mean-demand scenario, evaluated by the same first-stage evaluation as the
decomposition's candidates) and the expected value of perfect information EVPI = SP - WS (WS:
expected NPV when every scenario is planned knowing its future).
"""
from __future__ import annotations

import time
from typing import Any

from optimizer.instance.loader import Instance
from optimizer.output.results import Plan
from optimizer.scenarios.evaluation import ScenarioSolve, evaluate_first_stage, run_scenario_solve
from optimizer.scenarios.extensive import solve_extensive
from optimizer.scenarios.scenario_set import mean_overrides, scenario_instances
from optimizer.status import SolverOptions, Status


def solve_stochastic(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
                     threads: int | None = None, seed: int | None = None,
                     raise_on_infeasible: bool = True, value_of_information: bool = True,
                     started_at: float | None = None) -> Plan:
    """Solve the extensive form of a scenario instance; with ``value_of_information``, also
    the mean-value plan evaluated in every scenario (VSS) and each scenario alone (EVPI):
    2 S + 1 more solves, inside the same time limit."""
    return solve_extensive(instance, time_limit=time_limit, mip_gap=mip_gap, threads=threads,
                           seed=seed, raise_on_infeasible=raise_on_infeasible,
                           value_of_information=value_of_information_figures
                           if value_of_information else None, started_at=started_at)


def value_of_information_figures(instance: Instance, expected: float, options: SolverOptions,
                                 deadline: float | None) -> dict[str, Any]:
    """EV (the mean-demand plan's NPV), EEV (its first stage fixed in every scenario, the
    recourse planned; the shared first-stage evaluation of the decomposition), VSS = EEV - SP;
    WS (every scenario planned alone) and EVPI = SP - WS.

    The 2 S + 1 solves share the time left before ``deadline``; a figure whose solves did not
    finish with a plan is None with a note saying why.
    """
    commit = instance.spec.scenarios.commit_periods
    scenarios = scenario_instances(instance)
    solves_left = 1 + 2 * len(scenarios)

    def common() -> dict[str, Any]:
        nonlocal solves_left
        share = None
        if deadline is not None:
            share = max(deadline - time.time(), 0.0) / max(solves_left, 1)
        solves_left -= 1
        return dict(raw=instance.raw, path=str(instance.path), time_limit=share,
                    mip_gap=options.mip_gap, threads=options.threads, seed=options.seed,
                    commit=commit, deadline=deadline)

    out: dict[str, Any] = {}
    timed_out = "not computed: the time limit ran out before its solves finished"
    mean = run_scenario_solve(ScenarioSolve(key=("mean",), overrides=mean_overrides(
        instance, scenarios), **common()))
    out["ev_npv"] = mean["objective"]
    if mean["status"].has_plan:
        eev, outcomes = evaluate_first_stage(instance, mean["first_stage"], **{
            k: v for k, v in common().items() if k not in ("raw", "path")})
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
    for name, (probability, _, scenario) in scenarios.items():
        alone = run_scenario_solve(ScenarioSolve(key=("alone", name), overrides=dict(
            scenario.overrides), **common()))
        if not alone["status"].has_plan:
            ws = None
            out["evpi_note"] = (f"scenario {name} has no plan on its own"
                                if alone["status"] is Status.INFEASIBLE else timed_out)
            break
        ws += probability * alone["objective"]
    out.update(ws=ws, evpi=None if ws is None else expected - ws)
    return out
