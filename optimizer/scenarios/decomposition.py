"""Stochastic plans by scenario decomposition: many scenarios without the extensive form.

(1) Bundles: the scenarios, ordered by total demand, are cut into bundles of ``bundle_size``
    neighbours; each bundle's own extensive form (probabilities conditional on the bundle) is
    solved, and so is the mean-demand plan, in parallel worker processes. Every bundle also
    holds the highest-demand scenario at probability 0: the shared first stage must leave it a
    plan too (commit-period demand in particular), which the true optimum does as well.
    Relaxing non-anticipativity between bundles gives the proven lower bound
    LB = sum_B P(B) bound_B <= SP (bundles of one scenario: the wait-and-see bound).
(2) Candidates: the first stage (purchases, cooling builds and openings of the commit periods)
    of every bundle's plan and of the mean-demand plan. Each is evaluated in every scenario
    with its first stage fixed: E[NPV](x) = sum_s p_s NPV_s(x); a candidate that leaves some
    scenario without a plan is out. Evaluation starts with the middle bundle's candidate and
    the dearest scenarios, and drops a candidate once it cannot win: per bundle, its
    evaluated NPVs or, until all are in, P(B) bound_B (no first stage does better in B than
    B's own optimum); or once a complete candidate is within the gap asked for.
(3) The cheapest candidate is the plan. Its E[NPV] is an upper bound UB >= SP, so the gap
    (UB - LB) / UB is proven. EEV = E[NPV](mean plan's first stage), VSS = EEV - UB; with
    bundles of one, WS = sum_s p_s NPV_s(alone) and EVPI = UB - WS, with the interval the
    solves' gaps leave it in.

Time: a time limit is for the whole run. The bundles and the mean plan may use
``BUNDLE_PHASE_SHARE`` of it, the evaluations the rest; every solve carries the run's deadline
and never runs past it.

Every solve is a plan of one scenario or one bundle: they run in forkserver worker processes
(as sweeps do), so the work spreads over the cores and no solve grows with the scenario count.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Mapping

import pandas as pd

from optimizer.errors import InfeasibleError
from optimizer.instance.loader import Instance
from optimizer.output.results import Plan
from optimizer.scenarios.evaluation import (
    ScenarioSolve, evaluation_jobs, expected_npv, run_all, run_scenario_solve,
)
from optimizer.scenarios.scenario_set import (
    demand_ratio, expected_kpis, mean_overrides, scenario_instances, scenario_overrides,
    total_demand,
)
from optimizer.status import Status
from optimizer.parallel import Runner

BUNDLE_SIZE = 3
"""Scenarios per bundle (neighbours by total demand)."""

BUNDLE_PHASE_SHARE = 0.5
"""Share of a time limit the bundles and the mean plan may use; the evaluations get the rest."""


def _evaluate(jobs: list[ScenarioSolve], probability: Mapping[str, float],
              bundles: list[list[str]], bundle_floor: list[float], protected: set[int],
              runner: Runner, enough: float) -> tuple[dict[tuple, dict], set[int]]:
    """Run the evaluation solves in the order given and drop a candidate (unless
    ``protected``) as soon as it cannot win: summed over bundles, its NPVs where the bundle is
    fully evaluated and ``bundle_floor`` (P(B) bound_B) where not, exceed the best complete
    candidate's E[NPV]; or it leaves a scenario without a plan; or a complete candidate
    already costs no more than ``enough`` (the lower bound plus the gap asked for).

    Returns the outcomes and the candidates dropped.
    """
    done: dict[tuple, dict] = {}
    dropped: set[int] = set()
    names = list(probability)
    candidates = sorted({job.key[1] for job in jobs})

    def expected(candidate: int) -> float | None:
        return expected_npv({name: done.get(("eval", candidate, name)) for name in names},
                            probability)

    def beaten(candidate: int) -> bool:
        outs = {name: done.get(("eval", candidate, name)) for name in names}
        if any(out is not None and not out["status"].has_plan for out in outs.values()):
            return True
        if candidate in protected:
            return False
        estimate = sum(
            sum(probability[n] * outs[n]["objective"] for n in members)
            if all(outs[n] is not None for n in members) else floor
            for members, floor in zip(bundles, bundle_floor))
        best = min((e for c in candidates if c not in dropped
                    and (e := expected(c)) is not None), default=None)
        return best is not None and expected(candidate) is None and (
            estimate > best * (1 + 1e-9) or best <= enough)

    deadline = min((job.deadline for job in jobs if job.deadline is not None), default=None)
    for job, out in runner.run(run_scenario_solve, jobs, deadline,
                               skip=lambda job: job.key[1] in dropped):
        done[out["key"]] = out
        for candidate in set(candidates) - dropped:
            if beaten(candidate):
                dropped.add(candidate)
    return done, dropped


def solve_decomposed(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
                     threads: int | None = None, seed: int | None = None,
                     workers: int | None = None, bundle_size: int = BUNDLE_SIZE,
                     backend: str = "local", scheduler: str | None = None,
                     raise_on_infeasible: bool = True,
                     started_at: float | None = None) -> Plan:
    """Plan a scenario instance by decomposition (see the module docstring).

    Args:
        time_limit: seconds for each solve (a bundle or a scenario).
        mip_gap: relative gap of each solve (the reported gap is the proven (UB - LB) / UB of
            the whole).
        workers: worker processes (default: the number of cores); each solve then uses one
            HiGHS thread unless ``threads`` says otherwise.
        bundle_size: scenarios per bundle; 1 gives the wait-and-see bound and EVPI.
        backend, scheduler: run the pieces in local processes or on a Dask cluster (the jobs
            carry the instance; no shared filesystem is needed).
    """
    began = time.perf_counter() if started_at is None else started_at
    deadline = (time.time() - (time.perf_counter() - began) + time_limit) if time_limit else None
    workers = workers or os.cpu_count() or 1
    if workers > 1 and threads is None:
        threads = 1
    commit = instance.spec.scenarios.commit_periods
    scenarios = scenario_overrides(instance)
    probability = {name: p for name, (p, _, _) in scenarios.items()}
    alone = scenario_instances(instance)
    demand = {name: total_demand(scenario) for name, (_, _, scenario) in alone.items()}

    def common(jobs: int, share: float = 1.0) -> dict[str, Any]:
        """Arguments of every job of a phase of ``jobs`` solves that may use ``share`` of the
        time left: each gets its slice of the rounds the workers run them in."""
        limit = None
        if deadline is not None:
            rounds = math.ceil(jobs / max(workers, 1))
            limit = max(deadline - time.time(), 0.0) * share / max(rounds, 1)
        return dict(raw=instance.raw, path=str(instance.path), time_limit=limit,
                    mip_gap=mip_gap, threads=threads, seed=seed, commit=commit,
                    deadline=deadline)

    with Runner(workers, backend, scheduler) as runner:
        return _decompose(instance, began, deadline, workers, runner, commit, scenarios,
                          probability, alone, demand, common, bundle_size, mip_gap,
                          raise_on_infeasible)


def _decompose(instance: Instance, began: float, deadline: float | None, workers: int,
               runner: Runner, commit: int, scenarios: dict, probability: dict, alone: dict,
               demand: dict, common: Callable[..., dict[str, Any]], bundle_size: int,
               mip_gap: float, raise_on_infeasible: bool) -> Plan:
    """Steps (1) to (3) of the module docstring on ``runner``."""
    # (1) bundles of neighbours by total demand, and the mean-demand plan
    ordered = sorted(scenarios, key=lambda name: (demand[name], name))
    size = max(1, int(bundle_size))
    bundles = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    mass = [sum(probability[n] for n in members) for members in bundles]
    guard = ordered[-1]       # the highest demand: every first stage must serve it too
    phase = common(len(bundles) + 1, BUNDLE_PHASE_SHARE)
    jobs = []
    for b, members in enumerate(bundles):
        overrides = scenarios[members[0]][2] if len(members) == 1 else dict(instance.overrides)
        share = ({n: probability[n] / mass[b] for n in members} if mass[b] > 0
                 else {n: 1 / len(members) for n in members})
        if len(members) > 1:
            overrides["demand_scale"] = instance.demand_scale
            if guard not in members:
                share = {guard: 0.0, **share}
        jobs.append(ScenarioSolve(key=("bundle", b), overrides=overrides, bundle=share,
                                  **phase))
    jobs.append(ScenarioSolve(key=("mean",), overrides=mean_overrides(instance, alone),
                              **phase))
    solved = run_all(jobs, runner)
    stranded = [", ".join(members) for b, members in enumerate(bundles)
                if solved["bundle", b]["status"] is Status.INFEASIBLE]
    if stranded:     # a bundle relaxes the whole: no plan for it, none for all
        return _no_plan(instance, began, stranded, raise_on_infeasible)
    unsolved = [", ".join(members) for b, members in enumerate(bundles)
                if not solved["bundle", b]["status"].has_plan]
    if unsolved:
        return _no_plan(instance, began, [], False,
                        "no plan found in the time limit for bundle " + "; ".join(unsolved)
                        + " (give the run more time, or use smaller bundles)",
                        Status.NO_SOLUTION)
    floor = [m * solved["bundle", b]["best_bound"] for b, m in enumerate(mass)]
    lower_bound = sum(floor)

    # (2) candidates: the middle bundle's first, then outwards; the mean plan's last
    candidates: list[tuple[str, dict]] = []
    middle = (len(bundles) - 1) / 2
    for b in sorted(range(len(bundles)), key=lambda b: (abs(b - middle), -b)):
        first = solved["bundle", b]["first_stage"]
        if not any(first.same_as(other) for _, other in candidates):
            candidates.append((f"plan for {'+'.join(bundles[b])}", first))
    mean_ok = solved["mean",]["status"].has_plan
    if mean_ok:
        candidates.append(("mean-demand plan", solved["mean",]["first_stage"]))
    dearest_first = list(reversed(ordered))
    phase = common(len(candidates) * len(scenarios))
    jobs = [job for i, (_, first) in enumerate(candidates)
            for job in evaluation_jobs(i, first, scenarios, dearest_first, **phase)]
    mean_index = len(candidates) - 1 if mean_ok else -1
    enough = lower_bound + mip_gap * abs(lower_bound) / max(1.0 - mip_gap, 1e-12)
    evaluated, dropped = _evaluate(jobs, probability, bundles, floor, {mean_index}, runner,
                                   enough)
    rows = []
    for i, (source, _) in enumerate(candidates):
        outcomes = {name: evaluated.get(("eval", i, name)) for name in scenarios}
        expected = expected_npv(outcomes, probability)
        strands = any(out is not None and out["status"] is Status.INFEASIBLE
                      for out in outcomes.values())
        late = any(out is not None and out["status"] is Status.NO_SOLUTION
                   for out in outcomes.values())
        rows.append({"candidate": i, "source": source, "expected_npv": expected,
                     "outcome": "evaluated" if expected is not None else
                     "strands a scenario" if strands else
                     "not evaluated in the time limit" if late else
                     "dropped: cannot beat the best, or the best is within the gap"})
    usable = [row for row in rows if row["expected_npv"] is not None]
    if not usable:
        return _no_plan(instance, began, [], False,
                        "no candidate first stage was evaluated with a plan in every scenario "
                        "in the time limit (the extensive form may still find one)",
                        Status.NO_SOLUTION)
    best = min(usable, key=lambda row: row["expected_npv"])
    upper_bound = best["expected_npv"]
    gap = max(upper_bound - lower_bound, 0.0) / max(abs(upper_bound), 1e-12)
    eev = rows[mean_index]["expected_npv"] if mean_ok else None
    figures: dict[str, Any] = {
        "method": "decomposed", "bundle_size": size, "bundles": len(bundles),
        "lower_bound": lower_bound, "upper_bound": upper_bound, "gap": gap,
        "candidates": rows, "chosen": best["source"],
        "ev_npv": solved["mean",]["objective"], "eev": eev,
        "vss": None if eev is None else eev - upper_bound,
        "solves": len(solved) + len(evaluated), "workers": workers}
    if eev is None:
        mean_row = rows[mean_index] if mean_ok else None
        figures["vss_note"] = (
            "the mean-demand plan's first stage leaves some scenario without a plan: its VSS "
            "is unbounded" if mean_row is not None and mean_row["outcome"] == "strands a scenario"
            else "not computed: the mean-demand plan was not evaluated in the time limit")
    if size == 1:
        wait_and_see = sum(probability[members[0]] * solved["bundle", b]["objective"]
                           for b, members in enumerate(bundles))
        # SP lies in [LB, UB] and WS in [LB, wait_and_see] (bundles of one: LB is the wait-
        # and-see bound), so EVPI = SP - WS lies in [max(0, LB - wait_and_see), UB - LB]
        low, high = max(0.0, lower_bound - wait_and_see), max(upper_bound - lower_bound, 0.0)
        figures.update(ws=wait_and_see, evpi=upper_bound - wait_and_see,
                       evpi_range=[low, high],
                       evpi_note=f"E[NPV] of the plan minus WS; with the solves' gaps EVPI lies "
                                 f"in [{low:,.0f}, {high:,.0f}]")
    else:
        figures.update(ws=None, evpi=None,
                       evpi_note="EVPI needs the wait-and-see plans: bundle size 1 or the "
                                 "extensive form")

    # (3) the plan: the best candidate's recourse in every scenario
    plans = {name: evaluated["eval", best["candidate"], name]["plan"] for name in scenarios}
    return _assemble(instance, scenarios, plans, commit, began, figures,
                     Status.OPTIMAL if gap <= mip_gap else Status.FEASIBLE)


def _assemble(instance: Instance, scenarios: dict, plans: dict[str, Plan], commit: int,
              began: float, decomposition: dict[str, Any], status: Status) -> Plan:
    """The stochastic plan's tables and summary from the chosen candidate's scenario plans."""
    names = list(scenarios)
    tables: dict[str, list[pd.DataFrame]] = {}
    scenario_rows = []
    for name in names:
        plan = plans[name]
        probability, scale, _ = scenarios[name]
        kpis = plan.summary.get("kpis", {})
        scenario_rows.append({"scenario": name, "probability": probability,
                              "demand_scale": scale,
                              "demand_vs_instance": demand_ratio(
                                  scenario_instances(instance)[name][2], instance),
                              "npv": plan.objective,
                              "cost_per_million_tokens": kpis.get("cost_per_million_tokens"),
                              "cards_final_period": kpis.get("cards_final_period")})
        for table, frame in plan.tables.items():
            tables.setdefault(table, []).append(frame.assign(scenario=name))
    merged = {table: pd.concat(frames, ignore_index=True) for table, frames in tables.items()}
    commit_labels = instance.spec.horizon.periods[:commit]
    purchases = merged["purchases"]
    first_stage = purchases[(purchases["scenario"] == names[0])
                            & purchases["period"].isin(commit_labels)].drop(columns="scenario")
    merged["first_stage"] = first_stage.reset_index(drop=True)
    merged["scenarios"] = pd.DataFrame(scenario_rows)
    expected = decomposition["upper_bound"]
    summary = dict(plans[names[0]].summary)
    summary.update(status=status.value, objective=expected,
                   best_bound=decomposition["lower_bound"], mip_gap=decomposition["gap"])
    summary["solver"] = {**summary.get("solver", {}),
                         "model_status": f"scenario decomposition, {decomposition['solves']} "
                                         f"solves; chosen: {decomposition['chosen']}"}
    summary["instance"] = {**summary.get("instance", {}), "file": str(instance.path),
                           "overrides": dict(instance.overrides),
                           "demand_scale": instance.demand_scale}
    summary["input_sha256"] = instance.input_sha256
    stochastic = {"commit_periods": commit, "expected_npv": expected,
                  "scenarios": scenario_rows,
                  "first_stage": first_stage.to_dict(orient="records"),
                  "first_stage_capex": float(first_stage["capex"].sum()), **decomposition}
    summary["stochastic"] = stochastic
    weighted = [(scenarios[name][0], plans[name].summary.get("kpis", {})) for name in names]
    summary["kpis"] = {**expected_kpis(weighted), "npv_total": expected,
                       "expected_npv": expected,
                       "first_stage_capex": stochastic["first_stage_capex"],
                       "vss": stochastic["vss"], "evpi": stochastic["evpi"]}
    summary["solve_seconds_total"] = time.perf_counter() - began
    return Plan(status=status, objective=expected, best_bound=decomposition["lower_bound"],
                mip_gap=decomposition["gap"], tables=merged, summary=summary)


def _no_plan(instance: Instance, began: float, stranded: list[str],
             raise_on_infeasible: bool, reason: str | None = None,
             status: Status = Status.INFEASIBLE) -> Plan:
    if reason is None:
        reason = ("no plan serves every scenario: bundle " + "; ".join(stranded)
                  + " has no plan even on its own (solve its scenarios alone to see which "
                    "resource must give)")
    summary = {"status": status.value, "objective": None, "best_bound": None, "mip_gap": None,
               "input_sha256": instance.input_sha256,
               "instance": {"name": instance.spec.name, "file": str(instance.path)},
               "stochastic": {"method": "decomposed", "reason": reason},
               "solve_seconds_total": time.perf_counter() - began, "kpis": {}}
    plan = Plan(status=status, objective=None, best_bound=None, mip_gap=None, summary=summary)
    if raise_on_infeasible and status is Status.INFEASIBLE:
        error = InfeasibleError([], reason)
        error.plan = plan
        raise error
    return plan
