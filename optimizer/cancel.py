"""A request to stop a solve, from another thread or a signal handler.

``Cancel`` is a ``threading.Event`` (the solver's stop watch checks it in HiGHS's interrupt
callbacks and in the child-process MIP loop) that also knows whether the thread that solves
is inside HiGHS right now. A signal handler uses that to stop at once: inside HiGHS it only
sets the flag (HiGHS stops at its next check and returns its best plan); in Python code (the
model build) it raises ``KeyboardInterrupt`` there and then.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator


class Cancel(threading.Event):
    """Set it to stop the solve it was given to (``optimizer.solve(..., cancel=...)``)."""

    def __init__(self) -> None:
        super().__init__()
        self._inside = 0

    @property
    def in_solver(self) -> bool:
        """Whether HiGHS is running (the flag, not an exception, must stop it)."""
        return self._inside > 0

    @contextlib.contextmanager
    def solver_running(self) -> Iterator[None]:
        """Mark a stretch of HiGHS work."""
        self._inside += 1
        try:
            yield
        finally:
            self._inside -= 1


def solver_running(cancel: object) -> contextlib.AbstractContextManager:
    """``cancel.solver_running()`` when ``cancel`` is a :class:`Cancel`, else a no-op."""
    if isinstance(cancel, Cancel):
        return cancel.solver_running()
    return contextlib.nullcontext()
