"""Stochastic plans by scenario decomposition: many scenarios without the extensive form.

(1) Bundles: the scenarios, ordered by total demand, are cut into bundles of ``bundle_size``
    neighbours; each bundle's own extensive form (probabilities conditional on the bundle) is
    solved, and so is the mean-demand plan, in parallel worker processes. Every bundle also
    holds the highest-demand scenario at probability 0: the shared first stage must leave it a
    plan too (commit-period demand in particular), which the true optimum does as well.
    Relaxing non-anticipativity between bundles gives the proven lower bound
    LB = sum_B P(B) bound_B <= SP (bundles of one scenario: the wait-and-see bound).
    A bundle that finds no plan in its time still gives the proven bound of its relaxation
    (without one, the whole has no proven bound and says which bundle lacked it); the plan
    then comes from the other candidates.
(2) Candidates: the first stage (purchases, cooling builds and openings of the commit periods)
    of every bundle's plan, of the highest-demand future's own plan (first in line when a
    bundle has no plan: it leaves every future a plan) and of the mean-demand plan. Each is
    evaluated in every scenario with its first stage fixed: E[NPV](x) = sum_s p_s NPV_s(x);
    a candidate that leaves some scenario without a plan (infeasible) is out. Evaluation
    starts with the candidate of the bundle solved closest to its bound (the middle one
    among equals) and the dearest scenarios, and drops a candidate once it cannot win: per
    bundle, its evaluated NPVs or, until all are in, P(B) bound_B (no first stage does
    better in B than B's own optimum); or once a complete candidate is within the gap asked
    for. Part of the time left once the first candidate is complete, and what is left at the
    end, goes to the best candidate's evaluations furthest from their bounds, run again with
    more time (each one's gap adds to the whole's).
(3) The cheapest candidate is the plan. Its E[NPV] is an upper bound UB >= SP, so the gap
    (UB - LB) / UB is proven. EEV = E[NPV](mean plan's first stage), VSS = EEV - UB; with
    bundles of one, WS = sum_s p_s NPV_s(alone) and EVPI = UB - WS, with the interval the
    solves' gaps leave it in.

Gap: every piece is solved to ``PIECE_GAP_SHARE`` of the run's gap (their gaps add up in
UB - LB). Time: a time limit is for the whole run. The bundles and the mean plan may use
``BUNDLE_PHASE_SHARE`` of it, the evaluations the rest (each evaluation solve the share of the
first candidate's evaluation; later candidates use what it leaves; a solve that ends its
share without a plan, for a candidate still in the race, runs again in an even share of what
is left); every solve carries the run's deadline and never runs past it.

Every solve is a plan of one scenario or one bundle: they run in forkserver worker processes
(as sweeps do), so the work spreads over the cores and no solve grows with the scenario count.
"""
from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
from typing import Any, Callable, Mapping

from optimizer.errors import InfeasibleError, UsageError
from optimizer.instance.loader import Instance
from optimizer.instance.overrides import apply_overrides
from optimizer.options import SolveOptions
from optimizer.output.results import Plan
from optimizer.parallel import Runner
from optimizer.scenarios.tree import committed_periods
from optimizer.scenarios.assemble import (
    DEFAULT_CVAR_ALPHA, ScenarioOutcome, assemble, tail_figures,
)
from optimizer.scenarios.evaluation import (
    ScenarioSolve, evaluation_jobs, expected_npv, future_job, job_fields, run_all,
    run_scenario_solve, runner_outcomes,
)
from optimizer.scenarios.scenario_set import (
    Future, future_overrides, demand_ratio, future_instance, futures, mean_future, scenario_instances,
    total_demand,
)
from optimizer.status import Status

BUNDLE_SIZE = 3
"""Scenarios per bundle (neighbours by total demand)."""

BUNDLE_PHASE_SHARE = 0.5
"""Share of a time limit the bundles and the mean plan may use; the evaluations get the rest."""

FIRST_EVALUATION_SHARE = 0.5
"""Share of the evaluations' time that sets each evaluation solve's own share: the first
candidate's whole evaluation fits in it (a plan within a recourse gap is enough: any plan of
every future gives an upper bound), the rest is for the other candidates and solves run again."""


PIECE_GAP_SHARE = 0.25
"""Share of the run's gap each piece's solve (a bundle, the mean or highest-demand plan, an
evaluation) aims for: the bundles' own gaps lower the bound and the evaluations' raise the
plan's E[NPV], so pieces solved to the run's gap could use it twice over before the
first stage's choice counts (medium, 30 futures at a 1 % gap: 1.78 %)."""


def _candidate_npv(done: Mapping[tuple, dict], candidate: int,
                   probability: Mapping[str, float]) -> float | None:
    """A candidate's E[NPV] from its evaluations so far (None until every scenario has a
    plan)."""
    return expected_npv({name: done.get(("eval", candidate, name)) for name in probability},
                        probability)


def _evaluate(jobs: list[ScenarioSolve], probability: Mapping[str, float],
              bundles: list[list[str]], bundle_floor: list[float], protected: set[int],
              runner: Runner, enough: float, progress: Any = None, began: float = 0.0
              ) -> tuple[dict[tuple, dict], set[int]]:
    """Run the evaluation solves candidate by candidate, in the order given, and drop a
    candidate (unless ``protected``) as soon as it cannot win: summed over bundles, its NPVs
    where the bundle is fully evaluated and ``bundle_floor`` (P(B) bound_B) where not, exceed
    the best complete candidate's E[NPV]; or it leaves a scenario without a plan; or a
    complete candidate already costs no more than ``enough`` (the lower bound plus the gap
    asked for). A candidate's solves that end their share without a plan run again, with
    more time, before the next candidate starts (:func:`_retries`): the first plan comes as
    soon as one candidate is complete.

    ``progress`` (the run's callback) hears each better complete candidate.

    Returns the outcomes and the candidates dropped.
    """
    done: dict[tuple, dict] = {}
    candidates = list(dict.fromkeys(job.key[1] for job in jobs))
    standing = _Standing(done, probability, bundles, bundle_floor, protected, enough,
                         candidates)
    dropped = standing.dropped

    deadline = min((job.deadline for job in jobs if job.deadline is not None), default=None)
    best_so_far, polished = None, False
    for current in candidates:
        own = [job for job in jobs if job.key[1] == current]
        pending = own
        while pending and current not in dropped:
            for job, out in runner_outcomes(runner, run_scenario_solve, pending, deadline,
                                            skip=lambda job: job.key[1] in dropped):
                done[out["key"]] = out
                value = standing.heard(out["key"][1])
                if value is not None and (best_so_far is None or value < best_so_far):
                    best_so_far = value
                    if progress is not None:
                        progress({"seconds": time.perf_counter() - began, "objective": value,
                                  "bound": None})
            if runner.cancel is not None and runner.cancel.is_set():
                return done, dropped
            pending = _retries(own, done, deadline, runner.workers)
        if deadline is not None and time.time() >= deadline:
            break
        if not polished and deadline is not None and standing.expected(current) is not None:
            # the first complete candidate: its evaluations' gaps are certain slack in the
            # upper bound, the other candidates only may be cheaper (medium, 30 futures: the
            # first was the best in every run)
            polished = True
            value = _polish(jobs, done, probability, [current], runner,
                            time.time() + FIRST_POLISH_SHARE * (deadline - time.time()),
                            enough, progress, began)
            standing.heard(current)     # its polished E[NPV] may drop others
            best_so_far = value if value is not None else best_so_far
    _polish(jobs, done, probability, [c for c in candidates if c not in dropped], runner,
            deadline, enough, progress, began)
    return done, dropped


class _Standing:
    """Each candidate's standing in :func:`_evaluate`, kept up to date one outcome at a time:
    its E[NPV] once complete, and whether it is out. A candidate's estimate changes only with
    its own outcomes and the best complete E[NPV] only when a candidate completes, so an
    outcome re-examines its own candidate, and all of them only when the best falls. (Each
    outcome used to re-examine every candidate against every other over every future: at 300
    futures and 102 candidates 0.8 s of the parent's time an outcome, while the workers
    waited.)"""

    def __init__(self, done: Mapping[tuple, dict], probability: Mapping[str, float],
                 bundles: list[list[str]], bundle_floor: list[float], protected: set[int],
                 enough: float, candidates: list[int]) -> None:
        self.done, self.probability, self.names = done, probability, list(probability)
        self.bundles, self.floor, self.protected = bundles, bundle_floor, protected
        self.enough, self.candidates = enough, candidates
        self.dropped: set[int] = set()
        self.values: dict[int, float] = {}     # complete candidates' E[NPV]

    def expected(self, candidate: int) -> float | None:
        """The candidate's E[NPV] (None until every scenario has a plan)."""
        return self.values.get(candidate)

    def best(self) -> float | None:
        """The best E[NPV] of a complete candidate still in the race."""
        return min((v for c, v in self.values.items() if c not in self.dropped),
                   default=None)

    def refresh(self, candidate: int) -> None:
        """Recompute the candidate's E[NPV] from its outcomes (after they were replaced)."""
        value = _candidate_npv(self.done, candidate, self.probability)
        if value is None:
            self.values.pop(candidate, None)
        else:
            self.values[candidate] = value

    def heard(self, candidate: int) -> float | None:
        """A new outcome of ``candidate``: update, drop whoever is beaten, and return its
        E[NPV] (None while incomplete)."""
        before = self.best()
        self.refresh(candidate)
        after = self.best()
        fell = after is not None and (before is None or after < before)
        for other in (self.candidates if fell else [candidate]):
            if other not in self.dropped and self._beaten(other, after):
                self.dropped.add(other)
        return self.expected(candidate)

    def _beaten(self, candidate: int, best: float | None) -> bool:
        outs = {name: self.done.get(("eval", candidate, name)) for name in self.names}
        if any(out is not None and out["status"] is Status.INFEASIBLE for out in outs.values()):
            return True
        if candidate in self.protected or best is None or candidate in self.values:
            return False
        estimate = sum(
            sum(self.probability[n] * outs[n]["objective"] for n in members)
            if all(outs[n] is not None and outs[n]["status"].has_plan for n in members)
            else floor
            for members, floor in zip(self.bundles, self.floor))
        return estimate > best * (1 + 1e-9) or best <= self.enough


FIRST_POLISH_SHARE = 0.5
"""Share of the time left when the first candidate is complete that polishes it
(:func:`_polish`) before the other candidates are evaluated."""
POLISH_FACTOR = 3.0
"""A best candidate's evaluation solve run again (:func:`_polish`) has this many times its
former time, or an even share of what is left if less."""


def _polish(jobs: list[ScenarioSolve], done: dict[tuple, dict],
            probability: Mapping[str, float], candidates: list[int], runner: Runner,
            deadline: float | None, enough: float, progress: Any, began: float
            ) -> float | None:
    """Until ``deadline`` (the first complete candidate gets ``FIRST_POLISH_SHARE`` of the
    time then left, the best one whatever is left at the end): the best complete
    candidate's evaluation solves that ended above their own bound run again with more time,
    the largest p_s (NPV_s - bound_s) first, ``runner.workers`` at a time; a better plan
    replaces the former and the better bound is kept, so the plan's E[NPV] (the upper bound)
    only falls. Each evaluation's gap adds to the run's (medium, 30 futures: the chosen
    candidate's 4.8 s evaluations were 1.2 % above their bounds on average).

    Returns the best complete candidate's E[NPV] in the end (None: none is complete)."""
    if deadline is None:
        return None
    names = list(probability)
    by_key = {job.key: job for job in jobs}

    def expected(candidate: int) -> float | None:
        return _candidate_npv(done, candidate, probability)

    while time.time() < deadline - MIN_POLISH_SECONDS:
        if runner.cancel is not None and runner.cancel.is_set():
            break
        complete = [(e, c) for c in candidates if (e := expected(c)) is not None]
        if not complete or min(complete)[0] <= enough:
            break
        best_value, best = min(complete)
        slack = []
        for name in names:
            out = done[("eval", best, name)]
            if out["status"] is Status.FEASIBLE and out["best_bound"] is not None:
                slack.append((probability[name] * (out["objective"] - out["best_bound"]), name))
        slack = [item for item in sorted(slack, reverse=True) if item[0] > 0]
        if not slack:
            break
        left = deadline - time.time()
        batch = []
        for _, name in slack[:max(runner.workers, 1)]:
            job = by_key[("eval", best, name)]
            seconds = min(POLISH_FACTOR * (job.time_limit or left), left)
            batch.append(dataclasses.replace(job, time_limit=seconds))
        improved = False
        for job, out in runner_outcomes(runner, run_scenario_solve, batch, deadline):
            before = done[job.key]
            by_key[job.key] = job
            if not out["status"].has_plan:
                continue
            bound = max((b for b in (before["best_bound"], out["best_bound"]) if b is not None),
                        default=None)
            if out["objective"] < before["objective"]:
                done[job.key] = {**out, "best_bound": bound}
                improved = True
            else:
                done[job.key] = {**before, "best_bound": bound}
        value = expected(best)
        if improved and progress is not None and value is not None and value < best_value:
            progress({"seconds": time.perf_counter() - began, "objective": value,
                      "bound": None})
    return min((e for c in candidates if (e := expected(c)) is not None), default=None)


MIN_POLISH_SECONDS = 1.0
"""Polishing stops when less than this is left before the deadline."""


RETRY_MIN_FACTOR = 1.5
"""A timed-out evaluation solve is run again only with at least this many times its time."""
RETRY_MAX_FACTOR = 4.0
"""...and with at most this many times its time (the other candidates need some too; a solve
still without a plan then runs again, with more)."""


def _retries(jobs: list[ScenarioSolve], done: Mapping[tuple, dict], deadline: float | None,
             workers: int) -> list[ScenarioSolve]:
    """The solves of ``jobs`` that ended their time without a plan (not infeasible), again
    with ``RETRY_MAX_FACTOR`` times their time or an even share of the time left, whichever
    is less: a candidate is not lost to one future that was slow to plan while time remains
    (medium, 100 futures: 6 s solves lost every candidate that way with 260 s left). Empty
    when none would get ``RETRY_MIN_FACTOR`` times its former time."""
    slow = [job for job in jobs if job.key in done
            and done[job.key]["status"] is Status.NO_SOLUTION]
    if not slow or deadline is None:
        return []
    rounds = math.ceil(len(slow) / max(workers, 1))
    share = (deadline - time.time()) / rounds
    again = []
    for job in slow:
        if job.time_limit is None:
            return []
        if share < RETRY_MIN_FACTOR * job.time_limit:
            return []
        again.append(dataclasses.replace(
            job, time_limit=min(share, RETRY_MAX_FACTOR * job.time_limit)))
    return again


def solve_decomposed(instance: Instance, options: SolveOptions | None = None) -> Plan:
    """Plan a scenario instance by decomposition (see the module docstring) with ``options``
    (:func:`optimizer.planning.solve`): ``workers`` processes (default: the cores; each solve
    then uses one HiGHS thread unless ``threads`` says otherwise), ``bundle_size`` scenarios a
    bundle (1 gives the wait-and-see bound and EVPI), ``backend``/``scheduler`` for a Dask
    cluster. The reported gap is the proven (UB - LB) / UB of the whole.

    ``fix_first_stage`` evaluates that first stage alone (its E[NPV], with the scenarios'
    own bounds as the proven bound); ``cancel`` stops the pieces and keeps the best
    candidate evaluated so far; ``progress`` hears each better candidate.

    Raises:
        UsageError: an option the decomposition cannot honour (a MIP start, a risk-averse
            objective, extra constraints that cannot be sent to worker processes).
    """
    options = options or SolveOptions()
    options.refuse("with --stochastic decomposed (use the extensive form)", "start")
    risk = instance.spec.scenarios.risk
    if risk is not None and risk.cvar_weight > 0 and options.fix_first_stage is None:
        raise UsageError("scenarios.risk: a risk-averse objective (cvar_weight > 0) does not "
                         "decompose by bundles; use the extensive form or --stochastic ph")
    workers = options.workers or os.cpu_count() or 1
    if (workers > 1 or options.backend != "local") and options.extra_constraints:
        try:
            pickle.dumps(options.extra_constraints)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same
            raise UsageError(f"extra_constraints cannot be sent to worker processes ({exc}); "
                             "define them as module-level functions, or use workers=1"
                             ) from None
    began = options.began()
    deadline = options.deadline(began)
    threads = 1 if workers > 1 and options.threads is None else options.threads
    options = options.but(threads=threads, workers=workers)
    scenarios = {f.name: f for f in futures(instance)}
    probability = {name: f.probability for name, f in scenarios.items()}
    alone = {name: future_instance(instance, f) for name, f in scenarios.items()}
    demand = {name: total_demand(scenario) for name, scenario in alone.items()}

    def common(jobs: int, share: float = 1.0) -> dict[str, Any]:
        """Arguments of every job of a phase of ``jobs`` solves that may use ``share`` of the
        time left: each gets its slice of the rounds the workers run them in."""
        limit = None
        if deadline is not None:
            rounds = math.ceil(jobs / max(workers, 1))
            limit = max(deadline - time.time(), 0.0) * share / max(rounds, 1)
        return job_fields(instance, options, deadline, limit)

    with Runner(workers, options.backend, options.scheduler, cancel=options.cancel) as runner:
        if options.fix_first_stage is not None:
            return _evaluate_given(instance, began, runner, scenarios, probability, alone,
                                   common, options)
        return _decompose(instance, began, deadline, workers, runner, scenarios, probability,
                          alone, demand, common, options)


def _evaluate_given(instance: Instance, began: float, runner: Runner,
                    scenarios: Mapping[str, Future], probability: Mapping[str, float],
                    alone: Mapping[str, Instance], common: Callable[..., dict[str, Any]],
                    options: SolveOptions) -> Plan:
    """The plan with the first stage ``options.fix_first_stage``: every scenario's recourse,
    E[NPV] the upper bound and sum_s p_s bound_s (each scenario's proven bound with that first
    stage) the proven lower bound."""
    commit, decisions = options.fix_first_stage
    fields = common(len(scenarios))
    fields["commit"] = commit
    jobs = evaluation_jobs(0, decisions, scenarios, list(scenarios), **fields)
    done = run_all(jobs, runner)
    outcomes = {name: done["eval", 0, name] for name in scenarios}
    expected = expected_npv(outcomes, probability)
    if expected is None:
        strands = [n for n, o in outcomes.items() if o["status"] is Status.INFEASIBLE]
        return _no_plan(instance, began, strands, options.raise_on_infeasible and bool(strands),
                        "the fixed first stage leaves scenario " + ", ".join(strands)
                        + " without a plan" if strands else
                        "not every scenario was solved with the fixed first stage in the "
                        "time limit", Status.INFEASIBLE if strands else Status.NO_SOLUTION)
    bounds = {n: o["best_bound"] if o["best_bound"] is not None else o["objective"]
              for n, o in outcomes.items()}
    lower = sum(probability[n] * bounds[n] for n in bounds)
    risk = instance.spec.scenarios.risk
    if risk is not None and risk.cvar_weight > 0:
        # the risk-adjusted objective of the recourse: each scenario's own optimum (CVaR is
        # monotone in every NPV), and of their bounds, a bound
        w, alpha = risk.cvar_weight, risk.cvar_alpha
        npvs = {n: o["objective"] for n, o in outcomes.items()}
        expected = (1 - w) * expected + w * tail_figures(npvs, probability, alpha)["cvar_npv"]
        lower = (1 - w) * lower + w * tail_figures(bounds, probability, alpha)["cvar_npv"]
    gap = max(expected - lower, 0.0) / max(abs(expected), 1e-12)
    figures = {"method": "decomposed", "fixed_first_stage": True, "lower_bound": lower,
               "upper_bound": expected, "gap": gap, "candidates": [], "chosen": "given",
               "solves": len(done), "workers": options.workers, "ev_npv": None, "eev": None,
               "vss": None, "ws": None, "evpi": None,
               "vss_note": "not computed: the first stage was given",
               "evpi_note": "not computed: the first stage was given"}
    plans = {name: outcomes[name]["plan"] for name in scenarios}
    return _assemble(instance, scenarios, alone, plans, commit, began, figures,
                     Status.OPTIMAL if gap <= options.mip_gap else Status.FEASIBLE)


def bundle_instance(instance: Instance, scenarios: Mapping[str, Future],
                    share: Mapping[str, float]) -> tuple[dict, dict]:
    """The instance a bundle's extensive form reads and the overrides on it: the file with
    its named scenarios, or for sampled futures the file with one named scenario per future
    of the bundle (its demand, already drawn and scaled, as an override)."""
    if instance.spec.scenarios.sample is None:
        # the block as the instance's what-ifs left it (--set scenarios.high.demand_scale=2)
        block_overrides = {k: v for k, v in instance.overrides.items()
                           if k == "scenarios" or k.startswith("scenarios.")}
        raw = dict(instance.raw)
        if block_overrides:
            raw, _ = apply_overrides(raw, block_overrides)
        return raw, {**future_overrides(instance), "demand_scale": instance.demand_scale}
    first = scenarios[next(iter(share))]
    block = {name: {"probability": p, "overrides": {"demand": scenarios[name].raw["demand"]}}
             for name, p in share.items()}
    return {**first.raw, "scenarios": block}, dict(first.overrides)


def _decompose(instance: Instance, began: float, deadline: float | None, workers: int,
               runner: Runner, scenarios: Mapping[str, Future],
               probability: Mapping[str, float], alone: Mapping[str, Instance],
               demand: Mapping[str, float], common: Callable[..., dict[str, Any]],
               options: SolveOptions) -> Plan:
    """Steps (1) to (3) of the module docstring on ``runner``."""
    commit, mip_gap = committed_periods(instance.spec), options.mip_gap
    # (1) bundles of neighbours by total demand, and the mean-demand plan
    ordered = sorted(scenarios, key=lambda name: (demand[name], name))
    size = max(1, int(options.bundle_size))
    bundles = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    mass = [sum(probability[n] for n in members) for members in bundles]
    guard = ordered[-1]       # the highest demand: every first stage must serve it too
    guarded = size > 1        # the highest-demand future alone: a first stage for it exists
    piece_gap = mip_gap * PIECE_GAP_SHARE
    phase = {**common(len(bundles) + 1 + guarded, BUNDLE_PHASE_SHARE), "mip_gap": piece_gap}
    jobs = []
    for b, members in enumerate(bundles):
        if len(members) == 1:
            jobs.append(future_job(("bundle", b), scenarios[members[0]], **phase))
            continue
        share = ({n: probability[n] / mass[b] for n in members} if mass[b] > 0
                 else {n: 1 / len(members) for n in members})
        if guard not in members:
            share = {guard: 0.0, **share}
        raw, overrides = bundle_instance(instance, scenarios, share)
        jobs.append(ScenarioSolve(key=("bundle", b), raw=raw, overrides=overrides,
                                  bundle=share, **phase))
    mean = mean_future(instance, {n: (probability[n], scenarios[n].demand_scale, alone[n])
                                  for n in scenarios})
    jobs.append(future_job(("mean",), mean, **phase))
    if guarded:
        jobs.append(future_job(("guard",), scenarios[guard], **phase))
    solved = run_all(jobs, runner)
    if options.cancelled:
        return _no_plan(instance, began, [], False, "interrupted before every bundle was "
                        "solved", Status.NO_SOLUTION)
    stranded = [", ".join(members) for b, members in enumerate(bundles)
                if solved["bundle", b]["status"] is Status.INFEASIBLE]
    if stranded:     # a bundle relaxes the whole: no plan for it, none for all
        from optimizer.scenarios.extensive import explain_infeasible
        summary = {"input_sha256": instance.input_sha256, "kpis": {},
                   "instance": {"name": instance.spec.name, "file": str(instance.path)}}
        return explain_infeasible(instance, options, began, summary)
    # a bundle without a plan in its time still gives its proven bound (its relaxation's);
    # without one the whole has no proven bound, but the candidates still give a plan
    unsolved = [_without_plan(", ".join(members), solved["bundle", b])
                for b, members in enumerate(bundles)
                if not solved["bundle", b]["status"].has_plan]
    bound_of = [_proven_bound(solved["bundle", b]) for b in range(len(bundles))]
    unbounded = [", ".join(bundles[b]) for b, bound in enumerate(bound_of) if bound is None]
    floor = [-math.inf if bound is None else m * bound for m, bound in zip(mass, bound_of)]
    lower_bound = None if unbounded else sum(floor)

    # (2) candidates: the bundles solved closest to their bounds first; the highest-demand future's
    # own plan (first when a bundle found no plan: it leaves every future a plan); the mean
    # plan's last
    candidates: list[tuple[str, dict]] = []
    middle = (len(bundles) - 1) / 2

    def solved_closer(b: int) -> tuple:
        """A bundle solved closer to its bound first (its first stage is more likely its
        optimum's: a bundle left on its constructive plan, 5 % above, gave a candidate 2 %
        dearer than one HiGHS had solved to 0.5 %), the middle ones first among equals."""
        outcome = solved["bundle", b]
        objective, bound = outcome["objective"], outcome["best_bound"]
        gap = math.inf if objective is None or bound is None else \
            max(objective - bound, 0.0) / max(abs(objective), 1e-12)
        return (round(gap, 3), abs(b - middle), -b)
    for b in sorted(range(len(bundles)), key=solved_closer):
        if not solved["bundle", b]["status"].has_plan:
            continue
        first = solved["bundle", b]["first_stage"]
        if not any(first.same_as(other) for _, other in candidates):
            candidates.append((f"plan for {'+'.join(bundles[b])}", first))
    if guarded and solved["guard",]["status"].has_plan:
        first = solved["guard",]["first_stage"]
        if not any(first.same_as(other) for _, other in candidates):
            candidates.insert(0 if unsolved else len(candidates),
                              (f"plan for the highest-demand future {guard} alone", first))
    mean_ok = solved["mean",]["status"].has_plan
    if mean_ok:
        candidates.append(("mean-demand plan", solved["mean",]["first_stage"]))
    if not candidates:
        failures = _failures(solved)
        return _no_plan(instance, began, [], False,
                        "no plan for bundle " + "; ".join(unsolved)
                        + ", nor for the mean-demand or the highest-demand future alone "
                        + ("(give the run more time, or use smaller bundles)" if not failures
                           else "(a worker process that died for memory needs fewer "
                                "workers or smaller bundles)"),
                        Status.NO_SOLUTION, {"failed_solves": failures} if failures else None)
    dearest_first = list(reversed(ordered))
    # each solve's share is that of the first candidate's evaluation in FIRST_EVALUATION_SHARE
    # of the time left (the others, and solves run again, use the rest, up to the deadline):
    # a share of all of them gave each solve of 30 futures x 5 candidates 2 s, too little for
    # any, and no candidate was evaluated whole; a share of all the time left let the first
    # candidate's last solves run into the deadline
    phase = {**common(len(scenarios), FIRST_EVALUATION_SHARE), "mip_gap": piece_gap}
    jobs = [job for i, (_, first) in enumerate(candidates)
            for job in evaluation_jobs(i, first, scenarios, dearest_first, **phase)]
    mean_index = len(candidates) - 1 if mean_ok else -1
    enough = -math.inf if lower_bound is None else \
        lower_bound + mip_gap * abs(lower_bound) / max(1.0 - mip_gap, 1e-12)
    evaluated, dropped = _evaluate(jobs, probability, bundles, floor, {mean_index}, runner,
                                   enough, options.progress, began)
    rows = []
    for i, (source, _) in enumerate(candidates):
        outcomes = {name: evaluated.get(("eval", i, name)) for name in scenarios}
        expected = expected_npv(outcomes, probability)
        strands = any(out is not None and out["status"] is Status.INFEASIBLE
                      for out in outcomes.values())
        late = any(out is not None and out["status"] is Status.NO_SOLUTION
                   for out in outcomes.values())
        rows.append({"candidate": i, "source": source, "expected_npv": expected,
                     "futures_with_plan": sum(out is not None and out["status"].has_plan
                                              for out in outcomes.values()),
                     "futures_out_of_time": sum(out is not None and out["status"] is
                                                Status.NO_SOLUTION for out in outcomes.values()),
                     "outcome": "evaluated" if expected is not None else
                     "strands a scenario" if strands else
                     "not evaluated in the time limit" if late else
                     "dropped: cannot beat the best, or the best is within the gap"})
    usable = [row for row in rows if row["expected_npv"] is not None]
    if not usable:
        failures = _failures({**solved, **evaluated})
        return _no_plan(instance, began, [], False,
                        "no candidate first stage was evaluated with a plan in every scenario "
                        + ("before the run was interrupted" if options.cancelled else
                           "in the time limit (the extensive form may still find one)"),
                        Status.NO_SOLUTION, {"candidates": rows, "lower_bound": lower_bound,
                                             **({"failed_solves": failures} if failures
                                                else {})})
    best = min(usable, key=lambda row: row["expected_npv"])
    upper_bound = best["expected_npv"]
    gap = None if lower_bound is None else \
        max(upper_bound - lower_bound, 0.0) / max(abs(upper_bound), 1e-12)
    eev = rows[mean_index]["expected_npv"] if mean_ok else None
    figures: dict[str, Any] = {
        "method": "decomposed", "bundle_size": size, "bundles": len(bundles),
        "lower_bound": lower_bound, "upper_bound": upper_bound, "gap": gap,
        "candidates": rows, "chosen": best["source"],
        "ev_npv": solved["mean",]["objective"], "eev": eev,
        "vss": None if eev is None else eev - upper_bound,
        "solves": len(solved) + len(evaluated), "workers": workers}
    if unsolved:
        figures["bundles_without_plan"] = unsolved
    failures = _failures({**solved, **evaluated})
    if failures:
        figures["failed_solves"] = failures
    if unbounded:
        figures["bound_note"] = ("no proven bound: bundle " + "; ".join(unbounded) + " had "
                                 "none in its time (give the run more time, or use smaller "
                                 "bundles)")
    if eev is None:
        mean_row = rows[mean_index] if mean_ok else None
        figures["vss_note"] = (
            "the mean-demand plan's first stage leaves some scenario without a plan: its VSS "
            "is unbounded" if mean_row is not None and mean_row["outcome"] == "strands a scenario"
            else "not computed: the mean-demand plan was not evaluated in the time limit")
    if size == 1 and not unsolved:
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
                                 "extensive form" if size > 1 else
                                 "not computed: some futures' own plans were not found in "
                                 "their time")

    # (3) the plan: the best candidate's recourse in every scenario
    plans = {name: evaluated["eval", best["candidate"], name]["plan"] for name in scenarios}
    return _assemble(instance, scenarios, alone, plans, commit, began, figures,
                     Status.OPTIMAL if gap is not None and gap <= mip_gap else Status.FEASIBLE)


def _without_plan(members: str, outcome: Mapping[str, Any]) -> str:
    """A bundle without a plan, and why: its time ran out, or its solve failed."""
    why = outcome.get("failed")
    return f"{members} ({'its solve failed: ' + why if why else 'out of time'})"


def _failures(outcomes: Mapping[tuple, Mapping[str, Any]]) -> list[str]:
    """The solves that failed (a worker that died, an error), each as 'what: why'."""
    return [f"{' '.join(str(part) for part in key)}: {out['failed']}"
            for key, out in outcomes.items() if out is not None and out.get("failed")]


def _proven_bound(outcome: Mapping[str, Any]) -> float | None:
    """A bundle solve's proven lower bound: its plan's, or without a plan in its time the
    relaxation's (None when it had neither)."""
    if outcome["best_bound"] is not None:
        return outcome["best_bound"]
    return outcome.get("proven_bound")


def _assemble(instance: Instance, scenarios: Mapping[str, Future],
              alone: Mapping[str, Instance], plans: Mapping[str, Plan], commit: int,
              began: float, decomposition: dict[str, Any], status: Status) -> Plan:
    """The stochastic plan's tables and summary from the chosen candidate's scenario plans
    (:func:`optimizer.scenarios.assemble.assemble`, as the extensive form's)."""
    names = list(scenarios)
    outcomes = [ScenarioOutcome(name, scenarios[name].probability, scenarios[name].demand_scale,
                                plans[name].objective, plans[name].tables,
                                plans[name].summary.get("kpis", {}),
                                demand_ratio(alone[name], instance)) for name in names]
    labels = list(instance.spec.horizon.periods[:commit])
    risk = instance.spec.scenarios.risk
    tables, stochastic, kpis = assemble(outcomes, labels,
                                        risk.cvar_alpha if risk else DEFAULT_CVAR_ALPHA)
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
    stochastic.update(decomposition)
    summary["stochastic"] = stochastic
    summary["kpis"] = {**kpis, "vss": stochastic.get("vss"), "evpi": stochastic.get("evpi")}
    summary["solve_seconds_total"] = time.perf_counter() - began
    return Plan(status=status, objective=expected, best_bound=decomposition["lower_bound"],
                mip_gap=decomposition["gap"], tables=tables, summary=summary,
                decisions=plans[names[0]].decisions)


def _no_plan(instance: Instance, began: float, stranded: list[str],
             raise_on_infeasible: bool, reason: str | None = None,
             status: Status = Status.INFEASIBLE, figures: Mapping[str, Any] | None = None
             ) -> Plan:
    """A decomposition without a plan: why, and ``figures`` of what was tried."""
    if reason is None:
        reason = ("no plan serves every scenario: bundle " + "; ".join(stranded)
                  + " has no plan even on its own (solve its scenarios alone to see which "
                    "resource must give)")
    summary = {"status": status.value, "objective": None, "best_bound": None, "mip_gap": None,
               "input_sha256": instance.input_sha256,
               "instance": {"name": instance.spec.name, "file": str(instance.path)},
               "stochastic": {"method": "decomposed", "reason": reason, **(figures or {})},
               "solve_seconds_total": time.perf_counter() - began, "kpis": {}}
    plan = Plan(status=status, objective=None, best_bound=None, mip_gap=None, summary=summary)
    if raise_on_infeasible and status is Status.INFEASIBLE:
        error = InfeasibleError([], reason)
        error.plan = plan
        raise error
    return plan
