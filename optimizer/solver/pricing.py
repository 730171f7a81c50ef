"""Placements: the (accelerator, site) blocks of the planning model, for column generation.

Every column of ``units_bought``, ``fleet``, ``busy`` (indexed k,s,c,t) and ``serve``
(w,k,s,t) belongs to the placement (k,s) of its accelerator and site. Apart from the rows that
tie placements together (demand, site cards, cooling, supply, policies), a placement's rows
only touch its own columns, so the LP relaxation can be solved over a few placements and
priced for the rest (see :func:`priced_relaxation`). At the
benchmark's xl size an LP over about a fifth of the placements proves the full LP's optimum.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import highspy
import numpy as np

from optimizer.problem import ProblemData
from optimizer.solver.highs import HighsModel, QuietHighs
from optimizer.status import SolverOptions

SEED_PER_WORKLOAD = 3
"""Cheapest accelerators per workload and period that start in the LP (measured: 3 already
hold the LP optimum of the benchmark's large size; xl needs one pricing round)."""


def placement_groups(column_keys: Sequence[tuple[str, Any]],
                     positions: Mapping[str, tuple[int, int]]
                     ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The placement of every column.

    Args:
        column_keys: (variable family, index) of every column, in column order.
        positions: family -> where (accelerator, site) sit in its index, for the families
            that belong to placements.
    Returns:
        ``group[j]``: index into ``keys`` of column j's placement, -1 for columns that belong
        to no placement (cooling, openings, policy aggregates, unmet demand); and ``keys``,
        the sorted (accelerator, site) placements.
    """
    raw: list[tuple[str, str] | None] = []
    for family, index in column_keys:
        where = positions.get(family)
        raw.append(None if where is None else (index[where[0]], index[where[1]]))
    keys = sorted({key for key in raw if key is not None})
    number = {key: n for n, key in enumerate(keys)}
    group = np.fromiter((-1 if key is None else number[key] for key in raw), dtype=np.int64,
                        count=len(raw))
    return group, keys


def seed_placements(data: ProblemData, keys: Sequence[tuple[str, str]],
                    per_workload: int = SEED_PER_WORKLOAD) -> np.ndarray:
    """Placements to start the LP with: at every site, for every workload and period the
    ``per_workload`` accelerators with the lowest discounted cost per token/s that can be
    bought then, the two cheapest of every ``min_share`` group, and every placement with an
    existing fleet. Pricing adds whatever else the LP optimum needs.

    Returns a boolean mask over ``keys``.
    """
    cheapest: dict[tuple[str, int], float] = {}           # (k, t) -> money_unit per card
    for (k, _, _, t), cost in data.cost_buy.items():
        per_card = cost / data.cards_per_unit[k]
        cheapest[k, t] = min(cheapest.get((k, t), np.inf), per_card)
    favoured = {k for rule in data.min_share if rule.share < 1 for k in rule.members}
    chosen: set[str] = set()
    for w in data.WORKLOADS:
        for t in range(data.n_periods):
            ranked = sorted((cost / data.throughput[k, w], k)
                            for (k, tau), cost in cheapest.items()
                            if tau == t and (k, w) in data.throughput)
            chosen.update(k for _, k in ranked[:per_workload])
            chosen.update([k for _, k in ranked if k in favoured][:2])
    existing = {(k, s) for (k, s, _, _) in data.existing_cards}
    return np.array([k in chosen or (k, s) in existing for (k, s) in keys], dtype=bool)


def placement_coordinates(data: ProblemData, keys: Sequence[tuple[str, str]]) -> np.ndarray:
    """(accelerator number, site number) of every placement, for neighbourhood search."""
    accelerator = {k: i for i, k in enumerate(data.ACCELERATORS)}
    site = {s: j for j, s in enumerate(data.SITES)}
    return np.array([(accelerator[k], site[s]) for k, s in keys], dtype=np.int64).reshape(-1, 2)


def internal_rows(matrix_csr, column_group: np.ndarray) -> np.ndarray:
    """For every row, the one placement all its columns belong to, or -1 for rows that tie
    placements together (or touch other columns).

    Args:
        matrix_csr: the constraint matrix in CSR form.
        column_group: :func:`placement_groups`' ``group``.
    """
    starts = matrix_csr.indptr
    n_rows = len(starts) - 1
    if not matrix_csr.nnz:
        return np.full(n_rows, -1, dtype=np.int64)
    entry_group = column_group[matrix_csr.indices]
    nonempty = np.diff(starts) > 0
    lowest = np.full(n_rows, -1, dtype=np.int64)
    highest = np.full(n_rows, -2, dtype=np.int64)
    lowest[nonempty] = np.minimum.reduceat(entry_group, starts[:-1][nonempty])
    highest[nonempty] = np.maximum.reduceat(entry_group, starts[:-1][nonempty])
    return np.where((lowest == highest) & (lowest >= 0), lowest, -1)


def used_placements(column_group: np.ndarray, *values: np.ndarray, tol: float = 1e-6
                    ) -> np.ndarray:
    """Placements with a nonzero column in any of ``values`` (column vectors)."""
    n_groups = int(column_group.max()) + 1 if len(column_group) else 0
    used = np.zeros(max(n_groups, 0), dtype=bool)
    placed = column_group >= 0
    for vector in values:
        used[np.unique(column_group[placed & (np.abs(vector) > tol)])] = True
    return used



# ---- column generation over placements ---------------------------------------------------

PRICING_TOLERANCE = 1e-7
"""Relative reduced cost below which a placement joins the LP; also (by default) the relative
distance between the LP and its proven bound at which pricing stops."""

MAX_JOINING = 300
"""Placements that join the LP in one pricing round at most (those of the most negative
reduced cost): the LP's time grows faster than its size (interior point at xxl with both
fields, seed 2: 123 placements 5 s, 456 placements 30 s, 1,687 placements 166 s), and most
placements priced in early rounds are not in the optimum. Measured there from the
constructive plan's 123 placements: all joining at once 210 s to the bound, 100 a round
107 s, 300 a round 93 s."""


def priced_relaxation(model: HighsModel, column_group: np.ndarray, seed: np.ndarray,
                      lp_solver: str = "ipm", bounds: tuple[np.ndarray, np.ndarray]
                      | None = None, max_rounds: int = 25,
                      tolerance: float = PRICING_TOLERANCE, max_joining: int = MAX_JOINING
                      ) -> tuple[np.ndarray, float | None, np.ndarray]:
    """Solve the (already relaxed) LP over a few placements and price out the rest.

    Column generation by blocks: the columns of placements outside the active set are
    fixed at 0 (HiGHS presolve drops them). After each LP, the duals y of the rows that
    tie placements together give every inactive placement g its best reduced cost
    r_g = min { sum_j (c_j - a_j' y) x_j : g's own rows and bounds } <= 0 (one pricing LP,
    block-diagonal, warm-started between rounds). z + sum_g r_g is a proven lower bound
    of the full LP (Lagrangian bound); placements with r_g < 0 join, until none does. The
    duals of the tying rows are then optimal for the full LP.

    Leaves the HiGHS model at the last LP, with the inactive columns fixed at 0.

    Args:
        bounds: the columns' current (lower, upper) bounds in HiGHS, when some are fixed
            (default: the model's own).
        tolerance: pricing stops once the LP is within this relative distance of its proven
            bound (the bound returned is the proven one, never the LP's value).
        max_joining: placements that join in one round at most (:data:`MAX_JOINING`).
    Returns:
        The columns still fixed at 0 (restore their bounds when done), the proven bound
        (None when no LP could be solved; when stopped by the watch, the best Lagrangian
        bound of the rounds before) and the active placements.
    """
    h = model.highs
    lower, upper = bounds if bounds is not None else (model.lower, model.upper)
    placed = column_group >= 0
    active = np.asarray(seed, dtype=bool).copy()
    if getattr(model, "_internal", None) is None:
        model._internal = internal_rows(model.matrix.tocsr(), column_group)
    coupling = model._internal < 0
    cost = model.cost()

    def inactive_columns() -> np.ndarray:
        return np.flatnonzero(placed & ~active[np.maximum(column_group, 0)]).astype(np.int32)

    fixed = inactive_columns()
    h.changeColsBounds(len(fixed), fixed, np.zeros(len(fixed)), np.zeros(len(fixed)))
    pricing = _PricingLP(model, fixed, model._internal, column_group, lower, upper)
    model.pricing_rounds = 0
    model.pricing_log = []
    solver = lp_solver   # every round: at xxl (both fields) 100 placements joining 123 took
    # 206 s by simplex from the previous basis, 23 s by interior point from scratch
    proven: float | None = None          # the best Lagrangian bound of the rounds so far
    for _ in range(max_rounds):
        if model.watch.expired():
            return fixed, proven, active
        h.setOptionValue("solver", solver)
        with model.watch.running():
            h.run()
        model.pricing_rounds += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        z = float(h.getInfo().objective_function_value)
        duals = np.where(coupling, np.asarray(h.getSolution().row_dual), 0.0)
        reduced = cost[pricing.columns] - model.matrix[:, pricing.columns].T @ duals
        per_group = pricing.solve(reduced)
        if per_group is None:
            break
        bound = z + float(per_group.sum())
        proven = bound if proven is None else max(proven, bound)
        joining = np.flatnonzero(per_group < -PRICING_TOLERANCE * max(1.0, abs(z)))
        model.pricing_log.append((z, bound, len(joining)))
        if not len(joining) or z - bound <= tolerance * abs(z):
            return fixed, proven, active
        if len(joining) > max_joining:
            joining = joining[np.argsort(per_group[joining], kind="stable")[:max_joining]]
        active[joining] = True
        opened = fixed[np.isin(column_group[fixed], joining)]
        h.changeColsBounds(len(opened), opened, lower[opened], upper[opened])
        pricing.drop(opened)
        fixed = inactive_columns()
    if model.watch.expired():      # stopped: the bound proven so far (HiGHS's presolve of
        return fixed, proven, active  # the full LP would not look at the deadline)
    # the restricted LP could not be solved or priced: solve the full LP instead
    h.changeColsBounds(len(fixed), fixed, lower[fixed], upper[fixed])
    h.setOptionValue("solver", lp_solver)
    with model.watch.running():
        h.run()
    bound = (float(h.getInfo().objective_function_value)
             if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else None)
    return np.array([], dtype=np.int32), bound, np.ones(len(active), dtype=bool)


def restricted_bounds(model: HighsModel, keep: np.ndarray, column_group: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The model's column bounds with every column of a placement not in ``keep`` fixed at 0."""
    out = np.flatnonzero((column_group >= 0) & ~keep[np.maximum(column_group, 0)])
    lower, upper = model.lower.copy(), model.upper.copy()
    lower[out] = upper[out] = 0.0
    return lower, upper


def restricted_run(model: HighsModel, keep: np.ndarray, column_group: np.ndarray,
                   options: SolverOptions, time_limit: float | None,
                   start: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
    """Branch and bound over the placements in ``keep`` only (the rest fixed at 0), in a
    child process (:mod:`optimizer.solver.isolated`) so that it ends at its deadline.

    A heuristic: the LP relaxation's support is small (at the benchmark's large size 27 of
    600 placements), and HiGHS solves the MIP restricted to it in seconds where the full
    model's root alone takes minutes. ``start``, if given, is offered; it must use only
    placements in ``keep`` (the strategy offers none: HiGHS 1.16 stays on a start it is
    handed, see :func:`optimizer.solver.strategy.solve_arrays`). Stops early at the watch's
    target.

    Returns:
        The plan's column values (full length) and objective, or None without a plan.
    """
    lower, upper = restricted_bounds(model, keep, column_group)
    outcome = model.isolated_mip(options, start, lower, upper, time_limit)
    if outcome.values is None:
        return None
    return outcome.values, outcome.objective


def priced_duals(model: HighsModel, values: np.ndarray, fix: str) -> np.ndarray | None:
    """:meth:`HighsModel.lp_duals` on a large model: the LP around the plan solved by pricing
    from the plan's placements and those that proved the relaxation. The duals of the rows
    that tie placements together (demand, grid, cards, cooling, supply, budget, policies) are
    then those of the full LP."""
    columns = np.flatnonzero(model.integer)
    fixed = model.fixed_for_duals(fix)
    fixed_out = np.array([], dtype=np.int32)
    try:
        model.relax_integers(columns)
        rounded = np.round(values[fixed])
        model.set_bounds(fixed, rounded, rounded)
        lower, upper = model.lower.copy(), model.upper.copy()
        lower[fixed] = upper[fixed] = rounded
        seed = used_placements(model.column_group, values)
        if model.placements_active is not None:
            seed |= model.placements_active
        fixed_out, _, _ = priced_relaxation(model, model.column_group, seed, bounds=(lower, upper))
        if not model.lp_optimal():
            return None
        return model.lp_row_duals()
    finally:
        model.restore_bounds(np.union1d(fixed, fixed_out).astype(np.int32))
        model.restore_integers(columns)


class _PricingLP:
    """The pricing problem of :func:`priced_relaxation`: the inactive
    placements' columns with their own rows, one HiGHS LP (block-diagonal), whose objective
    is reset to the reduced costs each round and whose columns drop out as placements join."""

    def __init__(self, compiled: HighsModel, columns: np.ndarray, internal: np.ndarray,
                 column_group: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.columns = columns
        self.groups = column_group[columns]
        self.n_groups = int(column_group.max()) + 1
        self.alive = np.ones(len(columns), dtype=bool)
        rows = np.flatnonzero(np.isin(internal, np.unique(self.groups)))
        sub = compiled.matrix.tocsr()[rows][:, columns].tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(columns), len(rows)
        lp.col_cost_ = np.zeros(len(columns))
        lp.col_lower_ = lower[columns]
        lp.col_upper_ = upper[columns]
        lp.row_lower_ = compiled.row_lower[rows]
        lp.row_upper_ = compiled.row_upper[rows]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = sub.indptr
        lp.a_matrix_.index_ = sub.indices
        lp.a_matrix_.value_ = sub.data
        self.highs = QuietHighs()
        self.highs.passModel(lp)
        self.watch = compiled.watch
        compiled.watch.attach(self.highs)

    def solve(self, reduced_cost: np.ndarray) -> np.ndarray | None:
        """Every placement's best reduced cost (<= 0; 0 for placements already active), or
        None when the pricing LP fails."""
        n = len(self.columns)
        cost = np.where(self.alive, reduced_cost, 0.0)
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        with self.watch.running():
            self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.highs.getSolution().col_value)
        return np.minimum(np.bincount(self.groups, weights=cost * x, minlength=self.n_groups),
                          0.0)

    def drop(self, columns: np.ndarray) -> None:
        """Columns whose placement joined the LP leave the pricing problem."""
        positions = np.searchsorted(self.columns, columns).astype(np.int32)
        self.alive[positions] = False
        zeros = np.zeros(len(positions))
        self.highs.changeColsBounds(len(positions), positions, zeros, zeros)


