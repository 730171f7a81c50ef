"""Stochastic plans by scenario decomposition: many scenarios without the extensive form.

(1) Wait and see: every scenario is planned alone, and so is the mean-demand scenario, in
    parallel worker processes. Each alone-plan's proven bound b_s gives the lower bound
    LB = sum_s p_s b_s <= SP: knowing the future cannot make a plan dearer.
(2) Candidates: the first stage (purchases, cooling builds and openings of the commit
    periods) of the mean-demand plan and of the alone-plans of the scenarios at a few
    probability quantiles of demand. Each candidate is evaluated in every scenario with its
    first stage fixed: E[NPV](x) = sum_s p_s NPV_s(x); a candidate that leaves some scenario
    without a plan is out.
    Evaluation runs candidate by candidate and drops a candidate once its finished scenarios
    plus the alone-plan bounds of the rest exceed the best complete candidate.
(3) The cheapest candidate is the plan. Its E[NPV] is an upper bound UB >= SP, so the gap
    (UB - LB) / UB is proven. EEV = E[NPV](mean plan's first stage), VSS = EEV - UB;
    WS = sum_s p_s NPV_s(alone), EVPI = UB - WS (an upper estimate: UB >= SP).

Every solve is a deterministic plan of one scenario: they run in forkserver worker processes
(as sweeps do), so the work spreads over the cores and no solve grows with the scenario count.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from optimizer.errors import InfeasibleError
from optimizer.loader import Instance, instance_from_raw
from optimizer.results import Plan
from optimizer.status import Status

CANDIDATE_QUANTILES = (0.25, 0.5, 0.75, 0.9)
"""Alone-plans whose first stage is a candidate (besides the mean-demand plan's), by the
cumulative probability of their scenario's demand scale. With few scenarios every alone-plan
is one; with many, candidates stay at five, so evaluation costs at most 5 solves a scenario."""


@dataclass(frozen=True)
class ScenarioSolve:
    """One deterministic solve of the decomposition (picklable, for worker processes)."""

    key: tuple                       # ("alone", name) | ("mean",) | ("eval", candidate, name)
    raw: dict
    path: str
    overrides: Mapping[str, Any]
    time_limit: float | None
    mip_gap: float
    threads: int | None
    seed: int | None
    commit: int
    fixed: Mapping[tuple[str, Any], float] | None = None


def run_scenario_solve(job: ScenarioSolve) -> dict[str, Any]:
    """Solve one scenario (first stage fixed when ``job.fixed``); the outcome as a mapping."""
    from optimizer.planning import solve
    instance = instance_from_raw(job.raw, job.path, dict(job.overrides))
    plan = solve(instance, time_limit=job.time_limit, mip_gap=job.mip_gap, threads=job.threads,
                 seed=job.seed, explain=False, raise_on_infeasible=False, scenarios=False,
                 fix_first_stage=None if job.fixed is None else (job.commit, job.fixed))
    first = {key: value for key, value in plan.decisions.items() if key[1][-1] < job.commit}
    return {"key": job.key, "status": plan.status, "objective": plan.objective,
            "best_bound": plan.best_bound, "first_stage": first, "plan": plan}


def _scenarios(instance: Instance) -> dict[str, tuple[float, float, dict[str, Any]]]:
    """name -> (probability, demand scale, overrides that make the scenario)."""
    members = instance.spec.scenarios.members
    return {name: (s.probability, s.demand_scale,
                   {**instance.overrides, **s.overrides,
                    "demand_scale": instance.demand_scale * s.demand_scale})
            for name, s in members.items()}


def _run_all(jobs: list[ScenarioSolve], workers: int) -> dict[tuple, dict[str, Any]]:
    if workers <= 1 or len(jobs) <= 1:
        return {job.key: run_scenario_solve(job) for job in jobs}
    # forkserver, not fork: HiGHS's thread pool does not survive a fork of a process that solved
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        return {out["key"]: out for out in pool.map(run_scenario_solve, jobs)}


def _evaluate(jobs: list[ScenarioSolve], probability: Mapping[str, float],
              floor: Mapping[str, float], workers: int) -> tuple[dict[tuple, dict], set[int]]:
    """Run the evaluation solves, candidate by candidate, and drop a candidate as soon as it
    cannot win: its finished scenarios' NPVs plus the alone-plan bounds of the rest (fixing a
    first stage cannot make a scenario cheaper than its bound) already exceed the best
    complete candidate's E[NPV]. Returns the outcomes and the candidates dropped."""
    done: dict[tuple, dict] = {}
    dropped: set[int] = set()
    names = list(probability)

    def beaten(candidate: int) -> bool:
        outcomes = [done.get(("eval", candidate, name)) for name in names]
        if any(out is not None and not out["status"].has_plan for out in outcomes):
            return True
        estimate = sum(probability[name] * (floor[name] if out is None else out["objective"])
                       for name, out in zip(names, outcomes))
        complete = [c for c in {job.key[1] for job in jobs} if c not in dropped and all(
            ("eval", c, name) in done and done["eval", c, name]["status"].has_plan
            for name in names)]
        best = min((sum(probability[name] * done["eval", c, name]["objective"]
                        for name in names) for c in complete), default=None)
        return best is not None and candidate not in complete and estimate > best * (1 + 1e-9)

    if workers <= 1:
        for job in jobs:
            if job.key[1] in dropped:
                continue
            done[job.key] = run_scenario_solve(job)
            if beaten(job.key[1]):
                dropped.add(job.key[1])
        return done, dropped
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {pool.submit(run_scenario_solve, job): job for job in jobs}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            out = future.result()
            done[out["key"]] = out
            for candidate in {job.key[1] for job in jobs} - dropped:
                if beaten(candidate):
                    dropped.add(candidate)
                    for other, job in futures.items():
                        if job.key[1] == candidate:
                            other.cancel()
    return done, dropped


def _same(a: Mapping, b: Mapping) -> bool:
    keys = set(a) | set(b)
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < 1e-6 for k in keys)


def solve_decomposed(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
                     threads: int | None = None, seed: int | None = None,
                     workers: int | None = None, raise_on_infeasible: bool = True) -> Plan:
    """Plan a scenario instance by decomposition (see the module docstring).

    Args:
        time_limit: seconds for each scenario solve.
        mip_gap: relative gap of each scenario solve (the reported gap is the proven
            (UB - LB) / UB of the whole).
        workers: worker processes (default: the number of cores); each solve then uses one
            HiGHS thread unless ``threads`` says otherwise.
    """
    began = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    if workers > 1 and threads is None:
        threads = 1
    commit = instance.spec.scenarios.commit_periods
    scenarios = _scenarios(instance)
    mean_scale = sum(p * scale for p, scale, _ in scenarios.values())
    common = dict(raw=instance.raw, path=str(instance.path), time_limit=time_limit,
                  mip_gap=mip_gap, threads=threads, seed=seed, commit=commit)

    # (1) wait and see, and the mean-demand plan
    jobs = [ScenarioSolve(key=("alone", name), overrides=overrides, **common)
            for name, (_, _, overrides) in scenarios.items()]
    jobs.append(ScenarioSolve(key=("mean",), overrides={
        **instance.overrides, "demand_scale": instance.demand_scale * mean_scale}, **common))
    alone = _run_all(jobs, workers)
    stranded = [name for name in scenarios if not alone["alone", name]["status"].has_plan]
    if stranded:
        return _no_plan(instance, began, stranded, alone, raise_on_infeasible)
    lower_bound = sum(p * alone["alone", name]["best_bound"]
                      for name, (p, _, _) in scenarios.items())
    wait_and_see = sum(p * alone["alone", name]["objective"]
                       for name, (p, _, _) in scenarios.items())

    # (2) candidates and their evaluation in every scenario
    candidates: list[tuple[str, dict]] = []
    if alone["mean",]["status"].has_plan:
        candidates.append(("mean-demand plan", alone["mean",]["first_stage"]))
    ordered = sorted(scenarios, key=lambda name: scenarios[name][1])
    cumulative, quantiles = 0.0, list(CANDIDATE_QUANTILES)
    for name in ordered:
        cumulative += scenarios[name][0]
        while quantiles and cumulative >= quantiles[0] - 1e-12:
            quantiles.pop(0)
            first = alone["alone", name]["first_stage"]
            if not any(_same(first, other) for _, other in candidates):
                candidates.append((f"plan for scenario {name}", first))
    jobs = [ScenarioSolve(key=("eval", i, name), overrides=overrides, fixed=first, **common)
            for i, (_, first) in enumerate(candidates)
            for name, (_, _, overrides) in scenarios.items()]
    evaluated, dropped = _evaluate(
        jobs, {name: p for name, (p, _, _) in scenarios.items()},
        {name: alone["alone", name]["best_bound"] for name in scenarios}, workers)
    rows = []
    for i, (source, _) in enumerate(candidates):
        outcomes = [evaluated.get(("eval", i, name)) for name in scenarios]
        feasible = all(out is not None and out["status"].has_plan for out in outcomes)
        expected = (sum(scenarios[name][0] * evaluated["eval", i, name]["objective"]
                        for name in scenarios) if feasible else None)
        strands = any(out is not None and not out["status"].has_plan for out in outcomes)
        rows.append({"candidate": i, "source": source, "expected_npv": expected,
                     "outcome": "evaluated" if feasible else
                     "strands a scenario" if strands else "dropped: cannot beat the best"})
    usable = [row for row in rows if row["expected_npv"] is not None]
    if not usable:
        return _no_plan(instance, began, [], alone, False,
                        "no candidate first stage serves every scenario (the extensive form "
                        "may still find one)", Status.NO_SOLUTION)
    best = min(usable, key=lambda row: row["expected_npv"])
    upper_bound = best["expected_npv"]
    gap = max(upper_bound - lower_bound, 0.0) / max(abs(upper_bound), 1e-12)
    eev = rows[0]["expected_npv"] if candidates and candidates[0][0] == "mean-demand plan" \
        else None

    # (3) the plan: the best candidate's recourse in every scenario
    plans = {name: evaluated["eval", best["candidate"], name]["plan"] for name in scenarios}
    return _assemble(instance, scenarios, plans, commit, began, {
        "method": "decomposed", "lower_bound": lower_bound, "upper_bound": upper_bound,
        "gap": gap, "candidates": rows, "chosen": best["source"],
        "ev_npv": alone["mean",]["objective"], "eev": eev,
        "vss": None if eev is None else eev - upper_bound,
        **({} if eev is not None else {"vss_note": "the mean-demand plan's first stage leaves "
                                                   "some scenario without a plan: its VSS is "
                                                   "unbounded"}),
        "ws": wait_and_see, "evpi": upper_bound - wait_and_see,
        "evpi_note": "an upper estimate: the plan's E[NPV] is at least the stochastic optimum",
        "solves": len(alone) + len(evaluated), "workers": workers,
    }, Status.OPTIMAL if gap <= mip_gap else Status.FEASIBLE)


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
                              "demand_scale": scale, "npv": plan.objective,
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
    summary["kpis"] = {"npv_total": expected, "expected_npv": expected,
                       "first_stage_capex": stochastic["first_stage_capex"],
                       "vss": stochastic["vss"], "evpi": stochastic["evpi"]}
    summary["solve_seconds_total"] = time.perf_counter() - began
    return Plan(status=status, objective=expected, best_bound=decomposition["lower_bound"],
                mip_gap=decomposition["gap"], tables=merged, summary=summary)


def _no_plan(instance: Instance, began: float, stranded: list[str], alone: dict,
             raise_on_infeasible: bool, reason: str | None = None,
             status: Status = Status.INFEASIBLE) -> Plan:
    if reason is None:
        reason = ("no plan serves every scenario: " + ", ".join(stranded)
                  + " has no plan even alone (solve it alone to see which resource must give)")
    any_summary = next((out["plan"].summary for out in alone.values()), {})
    summary = {**any_summary, "status": status.value, "objective": None,
               "best_bound": None, "mip_gap": None,
               "stochastic": {"method": "decomposed", "reason": reason},
               "solve_seconds_total": time.perf_counter() - began}
    plan = Plan(status=status, objective=None, best_bound=None, mip_gap=None, summary=summary)
    if raise_on_infeasible and status is Status.INFEASIBLE:
        error = InfeasibleError([], reason)
        error.plan = plan
        raise error
    return plan

