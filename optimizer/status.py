"""Outcomes of a solve: one enum, one dataclass, one status table (as linopy does)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """What a solve produced (the ``status`` of summary.json)."""

    OPTIMAL = "optimal"            # proven optimal within the gap asked for
    FEASIBLE = "feasible"          # a plan, stopped by a limit; the gap is reported
    INFEASIBLE = "infeasible"      # no plan exists
    NO_SOLUTION = "no_solution"    # stopped by a limit before any plan was found

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def exit_code(self) -> int:
        return 0 if self.has_plan else 1


HIGHS_STATUS: dict[str, Status | None] = {
    # HiGHS model status name -> outcome; None: depends on whether an incumbent exists
    "kOptimal": Status.OPTIMAL,
    "kInfeasible": Status.INFEASIBLE,
    "kUnboundedOrInfeasible": Status.INFEASIBLE,
    "kTimeLimit": None,
    "kIterationLimit": None,
    "kSolutionLimit": None,
    "kInterrupt": None,
    "kObjectiveBound": None,
    "kObjectiveTarget": None,
    "kMemoryLimit": None,
}
"""Every HiGHS model status accelplan understands; any other is a solver failure."""


def outcome_of(highs_status: str, has_incumbent: bool) -> Status | None:
    """Map a HiGHS model status name to a :class:`Status` (``None``: a solver failure)."""
    if highs_status not in HIGHS_STATUS:
        return None
    status = HIGHS_STATUS[highs_status]
    if status is None:
        return Status.FEASIBLE if has_incumbent else Status.NO_SOLUTION
    return status


@dataclass(frozen=True)
class SolverOptions:
    """Options of a solve.

    Attributes:
        time_limit: seconds before HiGHS stops and returns its incumbent (None: no limit).
        mip_gap: relative optimality gap at which HiGHS stops.
        threads: solver threads (None: HiGHS's choice).
        seed: HiGHS random seed (None: HiGHS's default).
    """

    time_limit: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"time_limit": self.time_limit, "mip_gap": self.mip_gap, "threads": self.threads,
                "seed": self.seed}


@dataclass
class SolverResult:
    """What HiGHS returned, in the model's units.

    Attributes:
        status: the outcome.
        objective: objective of the incumbent (model money units), None without one.
        best_bound: proven lower bound (model money units).
        mip_gap: relative gap between the two.
        transfer_seconds: compiling the Pyomo model and handing it to HiGHS.
        solve_seconds: HiGHS's own time.
        highs_status: HiGHS's model status name.
        stats: rows, columns, integers, nonzeros of the model HiGHS received.
        start_seconds: time spent making the first plan (rounded LP relaxation).
        start_found: whether that first plan was feasible and handed to HiGHS.
    """

    status: Status
    objective: float | None
    best_bound: float | None
    mip_gap: float | None
    transfer_seconds: float
    solve_seconds: float
    highs_status: str
    solver_version: str
    stats: dict[str, int] = field(default_factory=dict)
    start_seconds: float = 0.0
    start_found: bool = False
