"""The solve strategy: how a model goes from arrays to a plan within its time.

Small models: one HiGHS run (beside a first plan from the rounded relaxation or the
constructive heuristic when they have many integers: the plan so far, and the answer if HiGHS
finds no better; it is not handed to HiGHS as a start, which HiGHS 1.16 stays on). Large models (``LARGE_MODEL_COLUMNS``) with placements: relaxation
by pricing placements -> rounded first plan -> branch and bound over the placements the
relaxation or the first plan use (stopped once within the gap of the relaxation's proven
bound) -> under a deadline, branch and bound over growing neighbourhoods of the best plan;
without one, the full model from it (which proves the gap). Other models from
``TWO_PHASE_MIN_COLUMNS`` columns with purchases and other integers (medium sizes, scenario
bundles): two phases (:func:`_two_phase`).

The strategy knows columns by position only; what a column means comes from the caller in
:class:`PlanHooks` (which columns are purchases, how to round, which placement each is in).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from optimizer.solver.highs import HighsModel
from optimizer.solver.pricing import (
    PRICING_TOLERANCE, priced_relaxation, restricted_bounds, restricted_run, used_placements,
)
from optimizer.status import SolverOptions, SolverResult, Status

Rounding = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(columns, relaxed values) -> whole values of those columns."""


@dataclass
class PlanHooks:
    """What the strategy needs to know about a model's columns.

    Attributes:
        purchases: positions of the purchase counts (rounded first, so that cooling and
            openings follow the rounded fleet).
        round_purchases, round_rest: roundings of the purchases and of the other integers
            (default: round up).
        column_group: the placement of every column (-1: none), for large models.
        seed: the placements the priced relaxation starts with.
        coordinates: (accelerator number, site number) of every placement (neighbourhoods).
        constructive: a constructive plan's integer columns and values (no LP needed), made
            first so that a plan exists within seconds (:mod:`optimizer.solver.greedy`).
        column_period: the period number of every column (-1: none, e.g. a cooling mode),
            for relax-and-fix over time windows (:func:`_relax_and_fix`).
    """

    purchases: np.ndarray
    round_purchases: Rounding | None = None
    round_rest: Rounding | None = None
    column_group: np.ndarray | None = None
    seed: np.ndarray | None = None
    coordinates: np.ndarray | None = None
    constructive: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = None
    column_period: np.ndarray | None = None


def constructive_start(model: HighsModel, hooks: PlanHooks | None,
                       lp_solver: str = "choose") -> np.ndarray | None:
    """The constructive plan's integers fixed, the continuous rest solved as an LP: a plan
    (recorded, and offered as the MIP start), or None when the heuristic or its LP fails."""
    if hooks is None or hooks.constructive is None or not model.integer.any():
        return None
    made = hooks.constructive()
    if made is None:
        return None
    columns, values = made
    integers = np.flatnonzero(model.integer).astype(np.int32)
    model.relax_integers(integers)
    try:
        model.set_bounds(columns, values, values)
        if not model.run_lp(lp_solver):
            return None
        plan = model.lp_values()
        plan[integers] = np.round(plan[integers])
    finally:
        model.restore_bounds(columns)
        model.restore_integers(integers)
        model.clear_solver()
    model.constructive_values = plan
    model.watch.record(model.objective_of(plan))
    model.offer_start(plan)
    return plan


STATIC_SEED_MAX_PLACEMENTS = 1_000
"""Above this many placements in ``hooks.seed`` (the cheapest cards per workload and period at
every site), the priced relaxation starts from the constructive plan's placements instead.
Measured (quiet machine, interior point, both fields): xxl seed 2, 1,687 seed placements:
166 s; from the constructive plan's 123: 93 s to the same bound. Below it the seed already
holds the optimum in one round and is faster: xl seed 5 (788) 61 s against 76 s, large seed 1
(244) 4.9 s against 7.8 s."""

PRICED_BOUND_SHARE_OF_GAP = 0.05
"""Pricing stops once the LP is within this share of the solve's gap of its proven bound
(the last rounds move the bound by less than the gap could use; xl seed 5: 25 s a round)."""


def pricing_seed(model: HighsModel, hooks: PlanHooks) -> np.ndarray:
    """The placements the priced relaxation starts with (:data:`STATIC_SEED_MAX_PLACEMENTS`)."""
    seed = np.asarray(hooks.seed, dtype=bool)
    if seed.sum() > STATIC_SEED_MAX_PLACEMENTS and model.constructive_values is not None:
        planned = used_placements(hooks.column_group, model.constructive_values)
        if planned.any():
            return planned
    return seed


def relaxation_start(model: HighsModel, hooks: PlanHooks | None = None,
                     lp_solver: str = "choose", mip_gap: float = 0.0) -> tuple[bool, float]:
    """A fast first plan, offered to HiGHS as a MIP start when it is a real plan.

    (A) solve the LP relaxation (over the placements in ``hooks.seed``, priced for the rest,
    when ``hooks.column_group`` is given: see :func:`~optimizer.solver.pricing.
    priced_relaxation`); (B) round the purchases and solve the LP again with cooling builds,
    openings and modes still relaxed, so that cooling follows the rounded fleet; (C) round
    those too and solve the LP of the continuous rest. Only a feasible (C) becomes the start.
    The relaxation's optimum is kept as ``model.relaxation_bound`` (a proven bound) and its
    values as ``model.relaxation_values``.

    Args:
        lp_solver: HiGHS ``solver`` for the relaxation (``ipm`` is faster on large models).
        mip_gap: the solve's relative gap (pricing stops within
            :data:`PRICED_BOUND_SHARE_OF_GAP` of it).
    Returns:
        Whether a start was set, and the seconds spent.
    """
    began = time.perf_counter()
    hooks = hooks if hooks is not None else PlanHooks(purchases=np.array([], dtype=np.int32))
    columns = np.flatnonzero(model.integer).astype(np.int32)
    if not len(columns):
        return False, 0.0
    model.relax_integers(columns)
    found = False
    fixed_out = np.array([], dtype=np.int32)
    start = None
    try:
        lp_began = time.perf_counter()
        if hooks.column_group is not None and hooks.seed is not None:
            fixed_out, model.relaxation_bound, model.placements_active = priced_relaxation(
                model, hooks.column_group, pricing_seed(model, hooks), lp_solver,
                tolerance=max(PRICING_TOLERANCE, mip_gap * PRICED_BOUND_SHARE_OF_GAP))
        elif model.run_lp(lp_solver):
            model.relaxation_bound = model.lp_objective()
        model.relaxation_seconds = time.perf_counter() - lp_began
        if model.lp_optimal():
            model.relaxation_values = model.lp_values()
        if model.relaxation_bound is not None:
            model.watch.floor = model.relaxation_bound
        live = np.setdiff1d(columns, fixed_out).astype(np.int32)
        purchases = np.intersect1d(live, hooks.purchases).astype(np.int32)
        others = np.setdiff1d(live, purchases).astype(np.int32)
        for stage, rounding in ((purchases, hooks.round_purchases), (others, hooks.round_rest)):
            if not model.lp_optimal():
                break
            if len(stage):
                rounded = _whole(model, stage, model.lp_values()[stage], rounding)
                model.set_bounds(stage, rounded, rounded)
            model.run_lp()
        if model.lp_optimal():
            start = model.lp_values()
            start[columns] = np.round(start[columns])
            found = True
    finally:
        model.restore_bounds(np.union1d(columns, fixed_out).astype(np.int32))
        model.restore_integers(columns)
        model.clear_solver()
    if found:
        model.first_plan_values = start
        model.offer_start(start)
        model.watch.record(model.objective_of(start))
    return found, time.perf_counter() - began

def _whole(model: HighsModel, stage: np.ndarray, relaxed: np.ndarray,
           rounding: Rounding | None) -> np.ndarray:
    """Whole values of the columns ``stage`` near ``relaxed`` (default: rounded up), within
    their upper bounds."""
    if rounding is None:
        return np.minimum(np.ceil(relaxed - 1e-6), model.upper[stage])
    return np.minimum(np.asarray(rounding(stage, relaxed), dtype=float), model.upper[stage])


FIRST_PLAN_MIN_INTEGERS = 200
"""Models with at least this many integers get the rounded-relaxation first plan."""


FULL_ROOT_LP_FACTOR = 8.0
"""A full MIP's root LP is expected to take at most this many times the priced relaxation
(measured 4.3x at the benchmark's large size, 6.3x at xl); under a time limit the full model
runs only when that fits, because HiGHS 1.16 cannot interrupt a MIP's root LP."""
FULL_ROOT_LP_FACTOR_UNPRICED = 2.0
"""The same against a relaxation solved on the full model itself (presolve and cuts add to
the root)."""


def solve_arrays(model: HighsModel, options: SolverOptions,
                 start: tuple[np.ndarray, np.ndarray] | None = None,
                 hooks: PlanHooks | None = None, first_plan: bool | None = None,
                 started_at: float | None = None, cancel: threading.Event | None = None,
                 ) -> SolverResult:
    """Solve ``model`` with ``options``; the plan's values are ``model.last_values``.

    Args:
        start: a (partial) MIP start as (columns, values), e.g. the previous variant's plan.
        hooks: what the columns mean (purchases, roundings, placements).
        first_plan: offer the rounded LP relaxation as a MIP start (default: for models with
            at least ``FIRST_PLAN_MIN_INTEGERS`` integers and no ``start``).
        started_at: ``time.perf_counter()`` when the caller started; ``options.time_limit``
            counts from then (default: from this call).
        cancel: set from another thread to stop at once (the best plan so far is returned).
    """
    started_at = time.perf_counter() if started_at is None else started_at
    if cancel is not None:
        model.watch.cancel = cancel
    if options.time_limit:
        model.watch.deadline = started_at + options.time_limit
    model.set_options(options)
    priced = model.large and hooks is not None and hooks.column_group is not None
    if priced:
        model.column_group = hooks.column_group
    start_seconds, start_found = 0.0, False
    if start is not None and len(start[0]):
        model.offer_start(start)
    elif first_plan or (first_plan is None
                        and model.stats["integers"] >= FIRST_PLAN_MIN_INTEGERS):
        began = time.perf_counter()
        # interior point for the priced relaxation of a large model (its restricted LP: at
        # xl simplex did not end in 130 s, interior point did); HiGHS's choice (dual simplex)
        # otherwise: a bundle of four medium futures' LP (31k columns) took 2.3-2.7 s by
        # simplex and 7.9 s by interior point, 30 futures' extensive form (233k columns)
        # 127 s and 205 s; with interior point bundles ran out of time before their bound
        lp_solver = "ipm" if priced else "choose"
        constructive_start(model, hooks, lp_solver=lp_solver)
        start_seconds += time.perf_counter() - began
        start_found, seconds = relaxation_start(
            model, hooks if priced else _without_placements(hooks),
            lp_solver=lp_solver, mip_gap=options.mip_gap)
        start_seconds += seconds
        model.rounded_values = model.first_plan_values     # the relaxation's own plan
        if model.constructive_values is not None and (
                model.first_plan_values is None or model.objective_of(
                    model.constructive_values) < model.objective_of(model.first_plan_values)):
            model.first_plan_values = model.constructive_values     # the better first plan
            model.offer_start(model.first_plan_values)
        start_found = model.first_plan_values is not None
        model.set_options(options)
    phased = start is None and not priced and _two_phase_applies(model, hooks)
    if priced and model.relaxation_values is not None:
        result = _restricted_then_full(model, hooks.column_group, hooks.coordinates, options,
                                       hooks.purchases, hooks.column_period)
    elif start_found and model.large and not phased:
        # a first plan: improve it with the full model while it is not within the gap
        result = _improve(model, options, model.first_plan_values, _first_plan_name(model),
                          0.0, FULL_ROOT_LP_FACTOR_UNPRICED)
    else:
        own_start = start_found and model.first_plan_values is not None
        if own_start:
            # HiGHS 1.16 handed a start it did not find itself stays on it: measured on the
            # benchmark's medium size with procurement and energy, seeds 1-3, 40 s each, a
            # start 4-86 % above the bound was never improved, while HiGHS from its own root
            # was within 0.5 % in 6-12 s (large, seed 1, 60 s: 5.3 % with the start in the
            # restricted runs, 0.87 % without); so our first plan is kept beside HiGHS's
            # search (the plan so far, and the answer if it is better), not handed to it
            model.withdraw_start()
        result = None
        if phased:
            result = _two_phase(model, options, hooks)
        if result is None:
            result = model.run()
        if own_start and result.status is not Status.INFEASIBLE and (
                not result.status.has_plan
                or model.objective_of(model.first_plan_values) < result.objective):
            # stopped (a cancel, the deadline) before HiGHS found a better plan than ours:
            # that plan is the best so far, never discarded
            how = f"{_first_plan_name(model)}; HiGHS found no better plan " \
                  f"({result.highs_status})"
            result = model.plan_result(model.first_plan_values, options, result.solve_seconds,
                                       how, bound=result.best_bound)
    result.start_seconds = start_seconds
    result.start_found = start_found
    if (result.best_bound is None and not result.status.has_plan
            and result.status is not Status.INFEASIBLE and model.relaxation_bound is not None
            and math.isfinite(model.relaxation_bound)):
        # stopped before any plan (the deadline, a cancel): the bound proven so far is still
        # reported (the benchmark's xxl, seed 3, busy: its priced relaxation ended at 278 s
        # of 300 and its bound was lost with the interrupted branch and bound)
        result.best_bound = model.relaxation_bound
    return result


TWO_PHASE_PHASE1_SHARE = 0.85
"""Share of the time left that phase 1 (purchases relaxed) may use under a deadline; phase 2
(the other integers fixed) and the full model share the rest. Medium with procurement and
energy, 60 s, quiet machine: seed 1 0.061 % at 0.75, 0.050 % at 0.9 (phase 1 done in 51 s);
seed 3 0.296 % and 0.274 % (phase 1 stopped both times). Phase 2's first step takes about a
second, so phase 1 gets most of the time."""
TWO_PHASE_PHASE1_GAP = 0.5
"""Phase 1 stops within this share of the solve's gap (so that phase 2 has room)."""


TWO_PHASE_MIN_COLUMNS = 2_000
"""From this many columns a MIP with purchases and other integers is solved in two phases
(each a child process: :meth:`HighsModel.isolated_mip` with its own integrality)."""


def _two_phase_applies(model: HighsModel, hooks: PlanHooks | None) -> bool:
    """Whether a model is solved in two phases (:func:`_two_phase`): from
    ``TWO_PHASE_MIN_COLUMNS`` columns, with purchase counts and other integers (build steps,
    openings, rentals) both. (Large models whose placements are priced are not: their
    strategy is :func:`_restricted_then_full`.)"""
    if hooks is None or not len(hooks.purchases) or \
            model.stats["columns"] < TWO_PHASE_MIN_COLUMNS:
        return False
    others = model.integer.copy()
    others[hooks.purchases] = False
    return bool(others.any())


def _two_phase(model: HighsModel, options: SolverOptions, hooks: PlanHooks
               ) -> SolverResult | None:
    """A proven bound from the model with its purchases relaxed, then a plan with the other
    integers fixed where that relaxation put them, then the full model for the time left.

    Phase 1: the MIP with ``units_bought`` continuous (cooling build steps, openings, modes
    and rentals integer) is a relaxation of the model, so its dual bound is a proven bound of
    the model's optimum (it raises ``model.relaxation_bound``). Phase 2: the other integers
    fixed at phase 1's plan, the purchases integer again: a restriction, so its plan is a
    plan of the model. Measured (``benchmarks/two_phase.py``, medium with procurement and
    energy, seeds 1-5, 60 s a phase): gaps 0.02-0.24 % against 0.24-0.35 % for HiGHS on the
    whole model, whose bound stays near the LP's (the integrality it misses is the builds',
    openings' and rentals', which its search closes only once the unit counts are out of its
    way). Then, while the best plan is not within the gap and time is left, the full model
    from its own root (:func:`_improve`: its plan may be better; its bound and phase 1's, the
    higher, counts; a model too small to run in a child process gets it only when its root
    LP is expected to fit the time left).

    Returns:
        The result (the best of phase 2's plan, the full model's and the first plan, with the
        best proven bound), or None when phase 1 found no plan of its relaxation (the caller
        then runs the full model for the time left, as without the phases).
    """
    began = time.perf_counter()
    # (a first plan within the gap of the LP bound is not taken as the answer at once:
    # measured on 30 medium futures decomposed, 300 s, it left the evaluations' plans worse,
    # 1.52 % against 1.00 % with both phases; phase 1 ends quickly at a loose gap anyway)
    relaxed = model.integer.copy()
    relaxed[hooks.purchases] = False
    model.watch.target = None
    left = model.watch.left()
    phase1 = model.isolated_mip(
        replace(options, mip_gap=options.mip_gap * TWO_PHASE_PHASE1_GAP), None, model.lower,
        model.upper, None if left is None else left * TWO_PHASE_PHASE1_SHARE, integer=relaxed)
    if phase1.status == "kInfeasible":
        return None             # the full model finds (and explains) that for itself
    if phase1.bound is not None and math.isfinite(phase1.bound) and (
            model.relaxation_bound is None or phase1.bound > model.relaxation_bound):
        model.relaxation_bound = phase1.bound    # (the watch heard it from the child)
    phase1_seconds = time.perf_counter() - began
    if phase1.values is None and not (model.watch.expired()
                                      and model.first_plan_values is not None):
        return None           # the full model for the time left (or no plan after a cancel)
    plans: list[tuple[np.ndarray, str]] = []
    if model.first_plan_values is not None:
        plans.append((model.first_plan_values, _first_plan_name(model)))
    how1 = (f"purchases relaxed for {phase1_seconds:.0f} s "
            f"({'stopped' if phase1.stopped else phase1.status})")
    if phase1.values is None:             # stopped (a cancel, the deadline) before a plan
        return model.plan_result(model.first_plan_values, options,
                                 time.perf_counter() - began, _first_plan_name(model))
    plans += _phase_two(model, options, relaxed, phase1.values, how1, plans)
    seconds = time.perf_counter() - began
    if not plans:
        return None
    values, how = min(plans, key=lambda plan: model.objective_of(plan[0]))
    return _improve(model, options, values, how, seconds, FULL_ROOT_LP_FACTOR_UNPRICED)


def _phase_two(model: HighsModel, options: SolverOptions, phase1_integer: np.ndarray,
               phase1_values: np.ndarray, how1: str, plans: list[tuple[np.ndarray, str]],
               bounds: tuple[np.ndarray, np.ndarray] | None = None,
               ends: float | None = None) -> list[tuple[np.ndarray, str]]:
    """Plans of the model from phase 1's plan (``phase1_values``; ``phase1_integer``: the
    columns integer in phase 1, every integer but the purchases), each a restriction solved
    in a child process: (a) phase 1's whole purchases and its other
    integers fixed, only its fractional purchases searched; (b) while not within the gap of
    the best proven bound, its other integers fixed, every purchase searched. ``plans`` are
    the plans so far (a step is skipped once one of them is within the gap); ``bounds`` the
    columns' bounds to start from (default the model's); ``ends`` when to stop
    (``time.perf_counter()``; default: the watch's deadline)."""
    base_lower, base_upper = bounds if bounds is not None else (model.lower, model.upper)
    whole = np.abs(phase1_values - np.round(phase1_values)) <= 1e-6
    fractional = np.zeros_like(phase1_integer)
    purchases = model.integer & ~phase1_integer
    fractional[purchases] = ~whole[purchases]
    steps = ((phase1_integer | (model.integer & ~fractional),
              f"two phases: {how1}, then its whole purchases, builds, openings and rentals "
              f"fixed, {int(fractional.sum())} fractional purchases searched"),
             (phase1_integer, f"two phases: {how1}, then builds, openings and rentals fixed"))
    found: list[tuple[np.ndarray, str]] = []
    for fixed, how in steps:
        best = min((model.objective_of(plan[0]) for plan in plans + found), default=None)
        target = _target(model.relaxation_bound, options.mip_gap)
        left = None if ends is None else ends - time.perf_counter()
        if model.watch.expired() or (left is not None and left <= 0) or (
                best is not None and target is not None and best <= target):
            break                               # out of time, or within the gap already
        columns = np.flatnonzero(fixed)
        lower, upper = base_lower.copy(), base_upper.copy()
        lower[columns] = upper[columns] = np.clip(np.round(phase1_values[columns]),
                                                  base_lower[columns], base_upper[columns])
        model.watch.target = target
        outcome = model.isolated_mip(options, None, lower, upper, left)
        if outcome.values is not None:
            found.append((outcome.values, how))
    return found


def _first_plan_name(model: HighsModel) -> str:
    """Which first plan a model holds, in a planner's words."""
    if model.first_plan_values is not None and model.first_plan_values is \
            model.constructive_values:
        return "first plan (constructive: greedy by cost per token/s)"
    return "first plan (rounded LP relaxation)"


def _without_placements(hooks: PlanHooks | None) -> PlanHooks | None:
    if hooks is None:
        return None
    return PlanHooks(purchases=hooks.purchases, round_purchases=hooks.round_purchases,
                     round_rest=hooks.round_rest, constructive=hooks.constructive)


def _target(bound: float | None, gap: float) -> float | None:
    """The objective at which a plan is within ``gap`` of a proven (positive) ``bound``."""
    if bound is None or bound <= 0:
        return None
    return bound / max(1.0 - gap, 1e-12)


RESTRICTED_TWO_PHASE = True
"""Large models: each branch and bound over a set of placements runs in two phases too.
Measured on the benchmark's large size with procurement and energy, 60 s, the other core busy,
seeds 1-5, off -> on: 1.10 -> 1.61 %, 5.27 -> 3.25 %, 1.43 -> 1.14 %, 5.74 -> 0.90 %,
1.88 -> 1.19 % (median 1.88 -> 1.19 %, worst 5.74 -> 3.25 %; the bound, the priced LP's, is
the same: every plan but seed 1's is cheaper)."""
RESTRICTED_PHASE1_SHARE = 0.6
"""Share of a restricted round's time for its phase 1 (purchases relaxed)."""


def _restricted_plan(compiled: HighsModel, keep: np.ndarray, column_group: np.ndarray,
                     options: SolverOptions, time_limit: float | None,
                     purchases: np.ndarray | None, period: np.ndarray | None = None
                     ) -> tuple[np.ndarray, str] | None:
    """A plan using only the placements in ``keep`` (the rest fixed at 0): branch and bound
    (:func:`~optimizer.solver.pricing.restricted_run`), or, with ``RESTRICTED_TWO_PHASE``
    and purchases beside other integers, two phases as :func:`_two_phase` over the
    restricted model: phase 1 with the purchases relaxed (its bound is a restriction's and
    is never used; by relax-and-fix over time windows when ``period`` is given and
    ``RESTRICTED_RELAX_AND_FIX``), then :func:`_phase_two` from its plan. Returns (values,
    how) or None."""
    size = f"{int(keep.sum())} of {len(keep)} placements"
    others = compiled.integer.copy()
    if purchases is not None:
        others[purchases] = False
    if not (RESTRICTED_TWO_PHASE and purchases is not None and len(purchases)
            and others.any()):
        outcome = restricted_run(compiled, keep, column_group, options, time_limit)
        return None if outcome is None else (outcome[0], f"branch and bound over {size}")
    ends = None if time_limit is None else time.perf_counter() + time_limit
    phase1_ends = None if time_limit is None else \
        time.perf_counter() + time_limit * RESTRICTED_PHASE1_SHARE
    lower, upper = restricted_bounds(compiled, keep, column_group)
    phase1_options = replace(options, mip_gap=options.mip_gap * TWO_PHASE_PHASE1_GAP)
    target, compiled.watch.target = compiled.watch.target, None   # phase 1 makes no plans
    phase1_values, how1 = None, ""
    try:
        if RESTRICTED_RELAX_AND_FIX and period is not None:
            phase1_values, windows = _relax_and_fix(compiled, phase1_options, others, period,
                                                    lower, upper, phase1_ends)
            if phase1_values is not None:
                how1 = f"over {size}, purchases relaxed, relax-and-fix over {windows} " \
                       "time windows"
        if phase1_values is None and not compiled.watch.expired():
            phase1 = compiled.isolated_mip(
                phase1_options, None, lower, upper,
                None if phase1_ends is None else max(phase1_ends - time.perf_counter(), 0.0),
                integer=others)
            phase1_values = phase1.values
            how1 = f"over {size}, purchases relaxed " \
                   f"({'stopped' if phase1.stopped else phase1.status})"
    finally:
        compiled.watch.target = target
    if phase1_values is None:
        if compiled.watch.expired():
            return None
        outcome = restricted_run(compiled, keep, column_group, options,
                                 None if ends is None else ends - time.perf_counter())
        return None if outcome is None else (outcome[0], f"branch and bound over {size}")
    found = _phase_two(compiled, options, others, phase1_values, how1, [], (lower, upper),
                       ends)
    if not found:
        return None
    return min(found, key=lambda plan: compiled.objective_of(plan[0]))


RESTRICTED_RELAX_AND_FIX = True
"""Large models: a restricted round's phase 1 by relax-and-fix over time windows
(:func:`_relax_and_fix`) instead of one branch and bound."""
RELAX_AND_FIX_WINDOWS = 4
"""Time windows of relax-and-fix (the periods split into this many runs of periods)."""


def _relax_and_fix(model: HighsModel, options: SolverOptions, integer: np.ndarray,
                   period: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                   ends: float | None, windows: int = RELAX_AND_FIX_WINDOWS
                   ) -> tuple[np.ndarray | None, int]:
    """Whole values of the columns ``integer`` by relax-and-fix over time windows: the
    periods of those columns are split into ``windows`` runs of consecutive periods; window
    by window, branch and bound (a child process) with that window's integers integer, the
    earlier windows' fixed at their values and the later windows' relaxed. Columns with no
    period (-1, e.g. a cooling mode) are integer in every window. Each run is a relaxation
    of the model within ``lower``/``upper`` (the later windows' integrality is dropped) or a
    restriction of it (the earlier windows' fixed), so it gives neither a proven bound nor a
    plan of the model; its last run's values are whole in every column of ``integer``.

    Args:
        period: the period number of every column (-1: none).
        ends: when to stop (``time.perf_counter()``; None: the watch's deadline); the time
            left is shared equally among the windows left.
    Returns:
        The last run's column values (None when a run ended without a plan, or fewer than
        two periods carry integers), and the number of windows.
    """
    periods = np.unique(period[integer & (period >= 0)])
    if len(periods) < 2 or windows < 2:
        return None, 0
    chunks = np.array_split(periods, min(windows, len(periods)))
    lower, upper = lower.copy(), upper.copy()
    values = None
    for number, chunk in enumerate(chunks):
        left = None if ends is None else ends - time.perf_counter()
        if model.watch.expired() or (left is not None and left <= 0):
            return None, len(chunks)
        later = np.concatenate(chunks[number + 1:]) if number + 1 < len(chunks) else \
            np.array([], dtype=periods.dtype)
        window_integer = integer & ~np.isin(period, later)
        outcome = model.isolated_mip(options, None, lower, upper,
                                     None if left is None else left / (len(chunks) - number),
                                     integer=window_integer)
        if outcome.values is None:
            return None, len(chunks)
        values = outcome.values
        fix = np.flatnonzero(integer & np.isin(period, chunk))
        lower[fix] = upper[fix] = np.clip(np.round(values[fix]), lower[fix], upper[fix])
    return values, len(chunks)


def _restricted_then_full(compiled: HighsModel, column_group: np.ndarray,
                          coordinates: np.ndarray | None, options: SolverOptions,
                          purchases: np.ndarray | None = None,
                          period: np.ndarray | None = None) -> SolverResult:
    """Branch and bound over the placements the relaxation or the first plan use, stopped once
    within the gap of the relaxation's bound. Then, without a deadline, the full model from
    the better of that and the first plan (which proves the gap); under a deadline (where the
    full model's root LP would not fit: minutes at the benchmark's large size), branch and
    bound over growing neighbourhoods of the best plan (:func:`_neighbourhoods`) until the gap
    or the deadline."""
    began = time.perf_counter()
    cost = compiled.cost()
    plans = []
    if compiled.first_plan_values is not None:
        plans.append((compiled.first_plan_values, _first_plan_name(compiled)))
    # the restricted set is what the relaxation uses (and its rounded plan): the constructive
    # plan, when it is the better start, is kept as a plan but does not widen the set (more
    # placements make the restricted MIP harder)
    rounded = compiled.rounded_values
    support = [v for v in (compiled.relaxation_values,
                           rounded if rounded is not None else compiled.first_plan_values)
               if v is not None]
    keep = used_placements(column_group, *support)
    compiled.watch.target = _target(compiled.relaxation_bound, options.mip_gap)
    deadline = compiled.watch.deadline is not None
    rounds = 1 + (NEIGHBOURHOODS if deadline and coordinates is not None else 0)
    tried: list[np.ndarray] = []
    hood: np.ndarray | None = keep
    for round_number in range(rounds):
        if compiled.watch.expired() or hood is None:
            break
        share = None
        if deadline:      # the support's round gets half, the neighbourhoods share the rest
            left = compiled.watch.left()
            share = left * FIRST_ROUND_SHARE if round_number == 0 and rounds > 1 else \
                left / (rounds - round_number)
        # no start is handed over (see solve_arrays): the best plan so far stays in `plans`
        outcome = _restricted_plan(compiled, hood, column_group, options, share, purchases,
                                   period)
        tried.append(hood)
        if outcome is not None:
            plans.append(outcome)
        if compiled.watch.reached or round_number + 1 >= rounds or not plans:
            break
        best = min(plans, key=lambda plan: float(cost @ plan[0]))[0]
        hoods = _neighbourhoods(keep, used_placements(column_group, best), coordinates)
        hood = next((h for h in hoods[round_number:]
                     if not any(np.array_equal(h, seen) for seen in tried)), None)
    seconds = time.perf_counter() - began
    if not plans:
        compiled.watch.target = None
        return compiled.run()
    values, how = min(plans, key=lambda plan: float(cost @ plan[0]))
    if deadline:
        if len(tried) > 1:
            how = f"{how} (best of {len(tried)} neighbourhoods)"
        return compiled.plan_result(values, options, seconds, how)
    return _improve(compiled, options, values, how, seconds, FULL_ROOT_LP_FACTOR)


NEIGHBOURHOODS = 3
"""Rounds of branch and bound around the best plan under a deadline (see _neighbourhoods)."""
FIRST_ROUND_SHARE = 0.8
"""Share of the time left that the first round (the relaxation's support) may use."""


def _neighbourhoods(keep: np.ndarray, used: np.ndarray, coordinates: np.ndarray
                    ) -> list[np.ndarray]:
    """Growing sets of placements around a plan that uses ``used``: every pair of the plan's
    accelerators and sites; then every accelerator at the plan's sites; then the plan's
    accelerators at every site. Each holds ``keep`` and the plan (so the plan is a start).

    Args:
        coordinates: (accelerator number, site number) of every placement.
    """
    accelerator, site = coordinates[:, 0], coordinates[:, 1]
    base = keep | used
    plan_accelerators = np.isin(accelerator, accelerator[used])
    plan_sites = np.isin(site, site[used])
    cross = base | (plan_accelerators & plan_sites)
    return [cross, cross | plan_sites, cross | plan_sites | plan_accelerators]


def _full_run_fits(compiled: HighsModel, factor: float) -> bool:
    """Whether a full MIP is worth starting: its root LP is expected to end before the
    deadline, or it runs in a child process, which the deadline stops at once (the time
    would go unused otherwise: a bundle of four medium futures, 25 s, stopped at 11 s on its
    constructive plan 4.9 % above the bound)."""
    left = compiled.watch.left()
    return left is None or compiled.isolate or left > factor * compiled.relaxation_seconds


def _improve(compiled: HighsModel, options: SolverOptions, values: np.ndarray, how: str,
             seconds: float, factor: float) -> SolverResult:
    """The plan ``values`` as the result, improved by a full HiGHS run (from its own root, the
    plan kept beside it) while it is not within the gap, the time lasts and the root LP fits; the better plan
    and the best proven bound (the relaxation's or HiGHS's) are reported."""
    result = compiled.plan_result(values, options, seconds, how)
    if (result.status is Status.OPTIMAL or compiled.watch.expired()
            or not _full_run_fits(compiled, factor)):
        return result
    compiled.withdraw_start()       # HiGHS searches from its own root (see solve_arrays)
    compiled.set_options(options)
    compiled.watch.target = _target(compiled.relaxation_bound, options.mip_gap)
    full = compiled.run()
    full.solve_seconds += seconds
    bounds = [b for b in (full.best_bound, compiled.relaxation_bound)
              if b is not None and math.isfinite(b)]
    bound = max(bounds) if bounds else None
    if full.status.has_plan and full.objective <= result.objective:
        chosen_values = compiled.last_values
        how = f"{how}, improved by the full model ({full.highs_status})"
    else:
        chosen_values = values
        how = f"{how}; the full model found no better plan ({full.highs_status})"
    return compiled.plan_result(chosen_values, options, full.solve_seconds, how, bound=bound)
