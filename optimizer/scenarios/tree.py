"""The nodes of a scenario plan (uncertainty.md, "Non-anticipativity"): which scenarios share
which decisions.

A two-stage plan has one node, the root: every scenario shares what is decided in the first
``commit_periods`` periods. A tree (``scenarios.tree``) has stages: stage k covers the periods
from ``stages[k]`` up to the next stage (the root also covers any period before
``stages[1]``; the last stage runs to the horizon's end). After each stage but the last the
tree branches: ``branching[k]`` children per node. A node's decisions (orders placed in its
periods, rentals, builds, openings) are shared by the scenarios under it; its leaves are the
scenarios, the first branch varying slowest (scenario i lies under child i // (leaves below a
child) of the root, and so on).

Node names follow mpi-sppy: ``ROOT``, ``ROOT_0``, ``ROOT_0_2``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Node:
    """A node of a scenario plan.

    Attributes:
        name: ``ROOT``, ``ROOT_1``, ... (mpi-sppy's names).
        stage: 0 for the root.
        parent: the parent's name (None for the root).
        first_period, end_period: the periods t of its decisions, first <= t < end (indices).
        members: the indices of the scenarios under it (in the order of the futures).
        probability: the sum of its scenarios' probabilities.
    """

    name: str
    stage: int
    parent: str | None
    first_period: int
    end_period: int
    members: tuple[int, ...]
    probability: float

    @property
    def shared(self) -> bool:
        """Whether several scenarios share its decisions (a leaf's are its scenario's own)."""
        return len(self.members) > 1


def stage_starts(spec: Any) -> list[int]:
    """The first period (index) of each stage: a tree's stages (the root from period 0), or
    for a two-stage plan [0, commit_periods] (the root and the rest)."""
    periods = list(spec.horizon.periods)
    block = spec.scenarios
    if block is not None and block.tree is not None:
        return [0] + [periods.index(label) for label in block.tree.stages[1:]]
    committed = block.committed if block is not None else 0
    return [0, committed] if committed < len(periods) else [0]


def committed_periods(spec: Any) -> int:
    """The periods of the root node: decided before anything is known (the first stage)."""
    starts = stage_starts(spec)
    return starts[1] if len(starts) > 1 else len(spec.horizon.periods)


def leaf_count(spec: Any) -> int:
    """Scenarios a tree has (the product of its branchings)."""
    return math.prod(spec.scenarios.tree.branching)


def is_tree(spec: Any) -> bool:
    """Whether the instance's scenarios form a multi-stage tree."""
    return spec.scenarios is not None and spec.scenarios.tree is not None


def scenario_nodes(spec: Any, probabilities: Sequence[float]) -> list[Node]:
    """Every node, the root first, then stage by stage (leaves last); for a two-stage plan
    the root and one leaf per scenario."""
    count, periods = len(probabilities), len(spec.horizon.periods)
    starts = stage_starts(spec)
    ends = starts[1:] + [periods]
    if is_tree(spec):
        branching = list(spec.scenarios.tree.branching)
    else:
        branching = [count] if len(starts) > 1 else []
    nodes = [Node("ROOT", 0, None, starts[0], ends[0], tuple(range(count)), 1.0)]
    level = nodes[:]
    for k in range(1, len(starts)):
        children = []
        for parent in level:
            width = len(parent.members) // branching[k - 1]
            for j in range(branching[k - 1]):
                members = parent.members[j * width:(j + 1) * width]
                children.append(Node(f"{parent.name}_{j}", k, parent.name, starts[k], ends[k],
                                     members, float(sum(probabilities[i] for i in members))))
        nodes.extend(children)
        level = children
    return nodes


def node_path(nodes: Sequence[Node], scenario: int) -> list[Node]:
    """The nodes of one scenario, from the root to its leaf."""
    return [node for node in nodes if scenario in node.members]
