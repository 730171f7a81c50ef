"""Solves that stochastic planning is made of, shared by the extensive form's value of
information and the decomposition: one scenario (or bundle) solved in a picklable job, and the
evaluation of a fixed first stage in every scenario (the EEV of the mean plan, and the
candidates of the decomposition).

Time: every job carries the wall-clock ``deadline`` of the whole command (``time.time()``,
comparable across the local worker processes); a job never runs past it, whatever its own
share ``time_limit`` says.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.options import SolveOptions
from optimizer.output.results import Decisions
from optimizer.errors import Interrupted
from optimizer.parallel import WORKER_DIED, Runner, worker_stop_flag
from optimizer.scenarios.tree import committed_periods
from optimizer.scenarios.scenario_set import Future, futures
from optimizer.status import Status

MIN_SOLVE_SECONDS = 0.05
"""A job whose remaining time is below this is not started (it reports no_solution)."""
REPORT_RESERVE_SECONDS = 0.5
"""Time a job keeps before the deadline to turn its plan into tables and report it."""


@dataclass(frozen=True)
class ScenarioSolve:
    """One solve of a stochastic plan (picklable, for worker processes): a bundle's extensive
    form, one scenario alone, or one scenario with a first stage fixed.

    Attributes:
        key: what the solve is, e.g. ("bundle", b), ("mean",), ("eval", candidate, scenario).
        raw, path, overrides: the instance this solve sees (a scenario's: its fragment merged)
            and the dotted overrides applied on top.
        time_limit: this solve's share of the time (seconds), None for no limit.
        deadline: wall-clock time (``time.time()``) the whole command must end by.
        commit: the committed periods.
        fixed: the first stage to fix (what is decided in the first ``commit`` periods).
        bundle: scenario -> probability within the bundle (an extensive form of several
            scenarios of ``raw``'s scenarios block).
        extra_constraints: the user's extra constraint families (picklable: module-level).
    """

    key: tuple
    raw: dict
    path: str
    overrides: Mapping[str, Any]
    time_limit: float | None
    mip_gap: float
    threads: int | None
    seed: int | None
    commit: int
    fixed: Decisions | None = None
    bundle: Mapping[str, float] | None = None
    deadline: float | None = None
    extra_constraints: tuple = ()

    def seconds(self) -> float | None:
        """The time this solve may take from now: its share, capped by the deadline."""
        if self.deadline is None:
            return self.time_limit
        left = self.deadline - REPORT_RESERVE_SECONDS - time.time()
        return left if self.time_limit is None else min(self.time_limit, left)


def job_fields(instance: Instance, options: SolveOptions, deadline: float | None,
               time_limit: float | None) -> dict[str, Any]:
    """The arguments every job of a run shares (the options of the run, its deadline)."""
    return dict(path=str(instance.path), time_limit=time_limit, mip_gap=options.mip_gap,
                threads=options.threads, seed=options.seed, commit=committed_periods(instance.spec),
                deadline=deadline, extra_constraints=tuple(options.extra_constraints))


def future_job(key: tuple, future: Future, **fields: Any) -> ScenarioSolve:
    """The solve of one scenario (``fields``: :func:`job_fields`, maybe ``fixed``)."""
    return ScenarioSolve(key=key, raw=future.raw, overrides=future.overrides, **fields)


def run_scenario_solve(job: ScenarioSolve) -> dict[str, Any]:
    """Solve one scenario or bundle; the outcome as a mapping (never an exception for a
    scenario without a plan)."""
    from optimizer.pipeline import solve_deterministic
    from optimizer.scenarios.extensive import solve_extensive
    seconds = job.seconds()
    if seconds is not None and seconds < MIN_SOLVE_SECONDS:
        return _timed_out(job)
    raw = job.raw
    stochastic = job.bundle is not None and len(job.bundle) > 1
    if stochastic:
        members = raw["scenarios"]
        names = list(job.bundle)
        block: dict[str, Any] = {name: {**copy.deepcopy(members[name]),
                                        "probability": job.bundle[name]} for name in names}
        block[names[-1]]["probability"] = 1.0 - sum(job.bundle[n] for n in names[:-1])
        raw = {**raw, "scenarios": {**block, "commit_periods": job.commit}}
    else:
        raw = {k: v for k, v in raw.items() if k != "scenarios"}
    instance = instance_from_raw(raw, job.path, dict(job.overrides))
    options = SolveOptions(time_limit=seconds, mip_gap=job.mip_gap, threads=job.threads,
                           seed=job.seed, explain=False, raise_on_infeasible=False,
                           cancel=worker_stop_flag(),
                           extra_constraints=job.extra_constraints,
                           fix_first_stage=None if job.fixed is None else (job.commit, job.fixed))
    try:
        plan = solve_extensive(instance, options) if stochastic else \
            solve_deterministic(instance, options)
    except Interrupted:
        return _timed_out(job)
    first = plan.decisions.first_stage(list(instance.spec.horizon.periods[:job.commit]))
    return {"key": job.key, "status": plan.status, "objective": plan.objective,
            "best_bound": plan.best_bound, "proven_bound": plan.summary.get("proven_bound"),
            "first_stage": first,
            "plan": None if stochastic else plan, "kpis": plan.summary.get("kpis", {})}


def run_all(jobs: list[ScenarioSolve], runner: Runner | int = 1
            ) -> dict[tuple, dict[str, Any]]:
    """Run independent solves on ``runner`` (or that many local worker processes); jobs
    still running at their deadline end with it (and report nothing)."""
    if isinstance(runner, int):
        with Runner(runner) as own:
            return run_all(jobs, own)
    done = {}
    deadline = min((job.deadline for job in jobs if job.deadline is not None), default=None)
    for _, out in runner_outcomes(runner, run_scenario_solve, jobs, deadline):
        done[out["key"]] = out
    # a worker that died took the solves beside it: each of those runs again alone (the one
    # that killed it fails again, and only it)
    died = [job for job in jobs if done.get(job.key, {}).get("failed") == WORKER_DIED]
    if died and runner.workers > 1:
        for _, out in runner_outcomes(runner, run_scenario_solve, died, deadline, alone=True):
            done[out["key"]] = out
    for job in jobs:       # stopped at the deadline: no plan in time
        done.setdefault(job.key, _timed_out(job))
    return done


def runner_outcomes(runner: Runner, solve: Callable[[ScenarioSolve], dict[str, Any]],
                    jobs: list[ScenarioSolve], deadline: float | None,
                    skip: Callable[[ScenarioSolve], bool] | None = None,
                    alone: bool = False) -> Iterator[tuple[ScenarioSolve, dict[str, Any]]]:
    """(job, outcome) of ``solve`` (:func:`run_scenario_solve`) on ``runner`` as each ends;
    a job that failed (its worker died, or it raised) comes last with status no_solution and
    ``failed`` saying why, so that it is not mistaken for a solve out of time. ``alone``:
    each job in a worker process of its own (:meth:`Runner.run_alone`)."""
    before = len(runner.failures)
    yield from (runner.run_alone(solve, jobs, deadline) if alone else
                runner.run(solve, jobs, deadline, skip=skip))
    for job, why in runner.failures[before:]:
        yield job, {**_timed_out(job), "failed": why}


def _timed_out(job: ScenarioSolve) -> dict[str, Any]:
    return {"key": job.key, "status": Status.NO_SOLUTION, "objective": None,
            "best_bound": None, "first_stage": Decisions(), "plan": None, "kpis": {}}


def evaluation_jobs(candidate: int, first_stage: Decisions, scenarios: Mapping[str, Future],
                    order: list[str], **fields: Any) -> list[ScenarioSolve]:
    """The solves that evaluate one first stage: every scenario (in ``order``) with the first
    stage fixed."""
    return [future_job(("eval", candidate, name), scenarios[name], fixed=first_stage, **fields)
            for name in order]


def expected_npv(outcomes: Mapping[str, dict[str, Any] | None],
                 probability: Mapping[str, float]) -> float | None:
    """sum_s p_s NPV_s of a first stage's evaluation; None when some scenario has no plan (or
    was not evaluated)."""
    if any(out is None or not out["status"].has_plan for out in outcomes.values()):
        return None
    return sum(probability[name] * outcomes[name]["objective"] for name in probability)


def evaluate_first_stage(instance: Instance, first_stage: Decisions,
                         workers: Runner | int = 1, **fields: Any
                         ) -> tuple[float | None, dict[str, dict[str, Any]]]:
    """E[NPV] of fixing ``first_stage`` (what is decided in the commit periods) and planning
    each scenario's recourse; None when it leaves some scenario without a plan. Returns it
    with each scenario's outcome (``fields``: :func:`job_fields`)."""
    scenarios = {f.name: f for f in futures(instance)}
    probability = {name: f.probability for name, f in scenarios.items()}
    jobs = evaluation_jobs(0, first_stage, scenarios, list(scenarios), **fields)
    done = run_all(jobs, workers)
    outcomes = {name: done["eval", 0, name] for name in scenarios}
    return expected_npv(outcomes, probability), outcomes
