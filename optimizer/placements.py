"""Placements: the (accelerator, site) blocks of the planning model, for column generation.

Every column of ``units_bought``, ``fleet``, ``busy`` (indexed k,s,c,t) and ``serve``
(w,k,s,t) belongs to the placement (k,s) of its accelerator and site. Apart from the rows that
tie placements together (demand, site cards, cooling, supply, policies), a placement's rows
only touch its own columns, so the LP relaxation can be solved over a few placements and
priced for the rest (see :meth:`optimizer.solve.CompiledModel.priced_relaxation`). At the
benchmark's xl size an LP over about a fifth of the placements proves the full LP's optimum.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from optimizer.problem import ProblemData

PLACED_FAMILIES = {"units_bought": (0, 1), "fleet": (0, 1), "busy": (0, 1), "serve": (1, 2)}
"""Variable family -> positions of (accelerator, site) in its index."""

SEED_PER_WORKLOAD = 3
"""Cheapest accelerators per workload and period that start in the LP (measured: 3 already
hold the LP optimum of the benchmark's large size; xl needs one pricing round)."""


def placement_groups(columns: Sequence[Any]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The placement of every column.

    Args:
        columns: Pyomo variables in HiGHS column order.
    Returns:
        ``group[j]``: index into ``keys`` of column j's placement, -1 for columns that belong
        to no placement (cooling, openings, policy aggregates, unmet demand); and ``keys``,
        the sorted (accelerator, site) placements.
    """
    raw: list[tuple[str, str] | None] = []
    for var in columns:
        positions = PLACED_FAMILIES.get(var.parent_component().local_name)
        if positions is None:
            raw.append(None)
        else:
            index = var.index()
            raw.append((index[positions[0]], index[positions[1]]))
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
    favoured = {k for _, _, coef in data.min_share_rows for k, c in coef.items() if c > 0}
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

