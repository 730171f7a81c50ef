"""A constructive first plan of an extensive form, made before HiGHS runs: decide each shared
node's decisions as the constructive plan of its highest-demand scenario would (that first
stage leaves every lower-demand scenario a plan too), then plan every scenario's own recourse
around them (:func:`optimizer.solver.greedy.greedy_plan` with the shared decisions fixed).

Why: HiGHS takes long to find any plan of an extensive form of several medium scenarios
(medium, bundles of 3 futures plus the highest-demand one, 25 s each: 7 of 10 found none),
and a bundle without a plan gives the decomposition no candidate and only its relaxation's
bound.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from optimizer.problem import ProblemData
from optimizer.problem.entries import stage_keys
from optimizer.scenarios.tree import Node
from optimizer.solver.compile import StandardForm
from optimizer.solver.greedy import greedy_plan

Fixed = dict[str, dict[Any, float]]
"""variable -> key -> value of decisions fixed before a constructive plan."""


def extensive_constructive(form: StandardForm, blocks: Sequence[str],
                           data: Sequence[ProblemData], demand: Sequence[float],
                           nodes: Sequence[Node], fixed: Sequence[Fixed],
                           deadline: float | None = None,
                           cancel: threading.Event | None = None
                           ) -> Callable[[], tuple[np.ndarray, np.ndarray] | None]:
    """The :class:`~optimizer.solver.strategy.PlanHooks` ``constructive`` of an extensive
    form whose scenario ``i`` is the block named ``blocks[i]`` with problem data ``data[i]``,
    total demand ``demand[i]`` (tokens, any common unit) and decisions ``fixed[i]`` fixed
    beforehand (a given first stage; empty for none). ``nodes``: the scenario tree (the root
    alone for a two-stage plan). The hook gives up (None) when a scenario has no constructive
    plan, at ``deadline`` (``time.perf_counter()``) or once ``cancel`` is set (a Ctrl-C
    does not wait for the other scenarios' plans)."""

    def stop() -> bool:
        return (deadline is not None and time.perf_counter() >= deadline) or \
            (cancel is not None and cancel.is_set())

    def constructive() -> tuple[np.ndarray, np.ndarray] | None:
        chosen = [{variable: dict(keyed) for variable, keyed in own.items()} for own in fixed]
        for node in sorted(nodes, key=lambda n: n.first_period):
            if not node.shared or node.end_period <= node.first_period:
                continue
            lead = max(node.members, key=lambda i: demand[i])
            made = greedy_plan(data[lead], chosen[lead] or None)
            if made.failed or stop():
                return None
            decided = stage_keys(data[lead], node.first_period, node.end_period)
            for i in node.members:
                for variable, keys in stage_keys(data[i], node.first_period,
                                                 node.end_period).items():
                    theirs = set(decided[variable])
                    own = chosen[i].setdefault(variable, {})
                    for key in keys:
                        own.setdefault(key, made.value(variable, key)
                                       if key in theirs else 0.0)
        plans = {}
        for i, block in enumerate(blocks):
            made = greedy_plan(data[i], chosen[i] or None)
            if made.failed or stop():
                return None
            plans[block] = made
        integers = np.flatnonzero(form.arrays.integer)
        values = []
        for j in integers:
            var = form.columns[j]
            made = plans.get(var.parent_block().local_name)
            values.append(0.0 if made is None else
                          made.value(var.parent_component().local_name, var.index()))
        return integers.astype(np.int32), np.array(values, dtype=float)

    return constructive

