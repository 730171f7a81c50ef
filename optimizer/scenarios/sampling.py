"""Sampled demand futures (uncertainty.md, "Sampling"): N paths of a growth factor on the
file's demand, drawn once from a seed before anything is solved.

Future s multiplies demand(w, t) by f_s(w, t). f = 1 in the committed periods; from the first
uncommitted period c on, log f(w, t) = log f(w, t-1) + drift L + sigma sqrt(L) e(w, t), with
log f(w, c-1) = 0, L the period length in years and e(., t) standard normal, correlated
``correlation`` between workloads (a common shock and one per workload:
e(w, t) = sqrt(rho) z0(t) + sqrt(1 - rho) z(w, t)) and independent between periods. Each future
has probability 1/count.

The draw is numpy's ``default_rng(seed)`` (PCG64), one ``standard_normal`` call of shape
(count, uncommitted periods, workloads + 1) with the workloads in sorted order, so the same
seed gives the same futures on every machine. In a scenario tree the shocks of a stage are
drawn per node (shape (nodes of the stage, periods of the stage, workloads + 1), stage after
stage) and shared by every future under that node.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from optimizer.instance.schema import DemandGrowth

FUTURE_PREFIX = "f"
"""Sampled futures are named f001, f002, ... (zero-padded to the count's width)."""


def future_names(count: int) -> list[str]:
    """``f001`` ... for ``count`` futures (the width of the count, at least 3 digits)."""
    width = max(3, len(str(count)))
    return [f"{FUTURE_PREFIX}{i + 1:0{width}d}" for i in range(count)]


def _log_steps(shocks: np.ndarray, growth: DemandGrowth, period_years: float) -> np.ndarray:
    """Per-period log increments from standard normals (..., W + 1): the last axis is the
    common shock then one per workload."""
    rho = growth.correlation
    common, own = shocks[..., :1], shocks[..., 1:]
    correlated = math.sqrt(rho) * common + math.sqrt(1.0 - rho) * own
    return growth.drift * period_years + growth.sigma * math.sqrt(period_years) * correlated


def growth_factors(count: int, seed: int, workloads: Sequence[str], periods: int,
                   committed: int, growth: DemandGrowth, period_years: float) -> np.ndarray:
    """The factors f[s, w, t] (shape (count, len(workloads), periods)) of two-stage sampled
    futures: 1 in the ``committed`` first periods, a correlated log random walk after.
    ``workloads`` are taken in sorted order, whatever order they are given in."""
    order = sorted(workloads)
    factors = np.ones((count, len(order), periods))
    later = periods - committed
    if later <= 0 or not order:
        return _in_given_order(factors, order, workloads)
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((count, later, len(order) + 1))
    logs = np.cumsum(_log_steps(shocks, growth, period_years), axis=1)   # (count, later, W)
    factors[:, :, committed:] = np.exp(np.transpose(logs, (0, 2, 1)))
    return _in_given_order(factors, order, workloads)


def tree_growth_factors(seed: int, workloads: Sequence[str], periods: int,
                        stage_starts: Sequence[int], branching: Sequence[int],
                        growth: DemandGrowth, period_years: float) -> np.ndarray:
    """The factors f[s, w, t] of the leaves of a scenario tree (leaf s in the order of its
    path: its first branch varies slowest). The root stage (periods before
    ``stage_starts[1]``) has f = 1; each later stage's shocks are drawn once per node and
    shared by its leaves."""
    order = sorted(workloads)
    leaves = int(np.prod(branching)) if branching else 1
    factors = np.ones((leaves, len(order), periods))
    if len(stage_starts) < 2 or not order:
        return _in_given_order(factors, order, workloads)
    rng = np.random.default_rng(seed)
    logs = np.zeros((leaves, len(order)))
    for k in range(1, len(stage_starts)):
        start = stage_starts[k]
        end = stage_starts[k + 1] if k + 1 < len(stage_starts) else periods
        nodes = int(np.prod(branching[:k]))
        below = leaves // nodes
        shocks = rng.standard_normal((nodes, end - start, len(order) + 1))
        steps = _log_steps(shocks, growth, period_years)          # (nodes, periods, W)
        for j in range(end - start):
            logs = logs + np.repeat(steps[:, j, :], below, axis=0)
            factors[:, :, start + j] = np.exp(logs)
    return _in_given_order(factors, order, workloads)


def _in_given_order(factors: np.ndarray, order: list[str], given: Sequence[str]) -> np.ndarray:
    position = {w: i for i, w in enumerate(order)}
    return factors[:, [position[w] for w in given], :]
