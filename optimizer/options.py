"""The options of one solve, carried whole through every path: a deterministic plan, the
extensive form of a scenario plan and its decomposition. An option a path cannot honour is an
error there that says so (:meth:`SolveOptions.refuse`), never silently dropped."""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from optimizer.errors import Interrupted, UsageError
from optimizer.status import SolverOptions

STOCHASTIC_METHODS = ("extensive", "decomposed", "ph")

Progress = Callable[[dict[str, "float | None"]], None]
"""Called with ``{"seconds", "objective", "bound"}`` (currency) each time a better plan is
found."""


@dataclass(frozen=True)
class SolveOptions:
    """How to solve an instance (see :func:`optimizer.solve`, which documents each field).

    Attributes:
        time_limit: seconds for everything, from ``started_at`` (None: no limit).
        mip_gap, threads, seed: the solver's options.
        raise_on_infeasible: raise ``InfeasibleError`` when no plan exists.
        explain: marginal costs and binding caps of a plan; the explanation when none exists.
        start: a MIP start, variable name -> value.
        scenarios: solve a scenario instance as a stochastic plan (False: its own demand).
        stochastic_method: ``extensive``, ``decomposed`` (bundles) or ``ph`` (mpi-sppy).
        workers, bundle_size, backend, scheduler: the decomposition's pieces and where they run.
        fix_first_stage: (commit periods, decisions) fixed before solving.
        started_at: ``time.perf_counter()`` when the caller's clock started.
        cancel: an event that stops the solve at once (the best plan so far is returned).
        extra_constraints: a user's constraint families, built after the registered ones.
        progress: called each time a better plan is found.
        value_of_information: a scenario plan also computes VSS and EVPI.
        out_of_sample: a sampled plan is also evaluated on an independent draw.
        evaluate_count: futures of that draw (default: the sample's count).
        write_model: also write the matrix handed to the solver to this .mps or .lp file.
    """

    time_limit: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    seed: int | None = None
    raise_on_infeasible: bool = True
    explain: bool = True
    start: Mapping[str, float] | None = None
    scenarios: bool = True
    stochastic_method: str = "extensive"
    workers: int | None = None
    bundle_size: int = 3
    fix_first_stage: Any = None
    started_at: float | None = None
    cancel: threading.Event | None = None
    extra_constraints: tuple = ()
    progress: Progress | None = None
    backend: str = "local"
    scheduler: str | None = None
    value_of_information: bool = True
    out_of_sample: bool = True
    evaluate_count: int | None = None
    write_model: str | None = None

    def __post_init__(self) -> None:
        if self.stochastic_method not in STOCHASTIC_METHODS:
            raise UsageError(f"unknown stochastic method {self.stochastic_method!r}; use "
                             "extensive, decomposed or ph")
        object.__setattr__(self, "extra_constraints", tuple(self.extra_constraints or ()))

    @classmethod
    def of(cls, options: "SolveOptions | None" = None, **fields: Any) -> "SolveOptions":
        """``options`` with ``fields`` replaced (a new object from ``fields`` without it).

        Raises:
            UsageError: a field that is not an option.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise UsageError(f"unknown solve option(s): {', '.join(unknown)}")
        return dataclasses.replace(options, **fields) if options is not None else cls(**fields)

    def but(self, **fields: Any) -> "SolveOptions":
        """A copy with ``fields`` replaced."""
        return dataclasses.replace(self, **fields)

    @property
    def solver(self) -> SolverOptions:
        """What the solver itself is told."""
        return SolverOptions(time_limit=self.time_limit, mip_gap=self.mip_gap,
                             threads=self.threads, seed=self.seed)

    def began(self) -> float:
        """``time.perf_counter()`` the time limit counts from."""
        return time.perf_counter() if self.started_at is None else self.started_at

    def deadline(self, began: float) -> float | None:
        """The wall-clock deadline (``time.time()``) of a run whose clock started at
        ``began`` (``time.perf_counter()``)."""
        if not self.time_limit:
            return None
        return time.time() - (time.perf_counter() - began) + self.time_limit

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def stop_if_cancelled(self, stage: str) -> None:
        """A safe point between the stages of a solve: raise :class:`Interrupted` once the
        cancel flag is set (before any plan exists, so nothing is lost)."""
        if self.cancelled:
            raise Interrupted(f"interrupted while {stage}; no plan was found, nothing was "
                              "written")

    def refuse(self, where: str, *names: str) -> None:
        """Raise a UsageError naming the options among ``names`` that are set (not their
        default) and cannot apply ``where``."""
        defaults = SolveOptions()
        set_here = [name for name in names if getattr(self, name) != getattr(defaults, name)]
        if set_here:
            raise UsageError(f"{', '.join(set_here)}: not available {where}")
