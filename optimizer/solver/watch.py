"""When a HiGHS run must stop: a wall-clock deadline, a cancel flag and a target objective,
checked in HiGHS's interrupt callbacks."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable

from optimizer.cancel import solver_running


class StopWatch:
    """When a HiGHS run must stop, checked in HiGHS's interrupt callbacks (simplex, interior
    point and branch and bound): a wall-clock deadline, a cancel flag, and a target objective
    (stop once an incumbent is at or below it).

    HiGHS's own ``time_limit`` counts an LP's time on the instance's cumulative clock and does
    not stop a MIP's root LP; the deadline here is wall time from ``time.perf_counter()``.
    Large MIPs run in a child process for that reason (:mod:`optimizer.solver.isolated`).

    Attributes:
        deadline: ``time.perf_counter()`` value to stop at (None: no deadline).
        cancel: set from any thread to stop at once.
        target: objective at or below which a MIP may stop (within the gap of a proven bound).
        reached: whether the last run reached ``target``.
    """

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.deadline: float | None = None
        self.cancel = cancel if cancel is not None else threading.Event()
        self.target: float | None = None
        self.reached = False
        self.floor: float | None = None        # a proven bound known before the run
        self.trust_dual = True                 # the run's own bound is one of the model's
        self.events: list[tuple[float, float, float | None]] = []
        self.listener: Callable[[float, float, float | None], None] | None = None

    def record(self, objective: float, bound: float | None = None) -> None:
        """A new best plan (model units) and the best proven bound known then; passed on to
        ``listener`` (live progress) as (perf_counter time, objective, bound)."""
        if self.events and objective >= self.events[-1][1] - 1e-12 * abs(objective):
            return
        bounds = [b for b in (bound, self.floor) if b is not None and b == b
                  and abs(b) != float("inf")]
        self._emit((time.perf_counter(), objective, max(bounds) if bounds else None))

    def _emit(self, event: tuple[float, float, float | None]) -> None:
        self.events.append(event)
        if self.listener is not None:
            self.listener(*event)

    def raise_floor(self, bound: float | None) -> None:
        """A proven bound (model units) found outside a run of the model itself (a
        relaxation's): it becomes the floor of every event, and when it is higher than the
        last event's bound the best plan is recorded again with it (progress shows the gap
        closing from below)."""
        if bound is None or bound != bound or abs(bound) == float("inf"):
            return
        if self.floor is not None and bound <= self.floor:
            return
        self.floor = bound
        if not self.events:
            return
        _, objective, last_bound = self.events[-1]
        if last_bound is None or bound > last_bound:
            self._emit((time.perf_counter(), objective, min(bound, objective)))

    def attach(self, highs: Any) -> None:
        """Watch every run of ``highs`` (a ``highspy.Highs``)."""
        highs.cbSimplexInterrupt += self._check
        highs.cbIpmInterrupt += self._check
        highs.cbMipInterrupt += self._check
        highs.cbMipImprovingSolution += self._improving

    def running(self) -> contextlib.AbstractContextManager:
        """Mark a stretch of HiGHS work (a signal then only sets the cancel flag)."""
        return solver_running(self.cancel)

    def left(self) -> float | None:
        """Seconds before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def expired(self) -> bool:
        """Whether the run must stop now (cancelled, or past the deadline)."""
        return self.cancel.is_set() or (self.deadline is not None
                                        and time.perf_counter() >= self.deadline)

    def why(self) -> str:
        """Why a run it stopped ended, in a planner's words."""
        if self.cancel.is_set():
            return "interrupted"
        if self.reached:
            return "within the gap of the proven bound"
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return "time limit reached"
        return "stopped"

    def _check(self, event: Any) -> None:
        # set the flag both ways: HiGHS keeps it between runs, so a run after an interrupted
        # one would stop at its first check otherwise
        event.interrupt(self.reached or self.expired())

    def _improving(self, event: Any) -> None:
        objective = event.data_out.objective_function_value
        self.record(objective, event.data_out.mip_dual_bound if self.trust_dual else None)
        if self.target is not None and objective <= self.target:
            self.reached = True
