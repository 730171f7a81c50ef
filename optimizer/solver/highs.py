"""The HiGHS adapter: the only module that talks to HiGHS. It knows columns and rows by
position, no model's names and no Pyomo (:mod:`optimizer.solver.compile` does that).

- The model arrives as arrays (:class:`ModelArrays`) in one ``passModel``.
- HiGHS's log goes to the ``accelplan.highs`` logger through HiGHS's logging callback (nothing
  is printed, no file descriptor is touched), so several solves can run in threads of one
  process.
- Every run is watched (:class:`~optimizer.solver.watch.StopWatch`): a wall-clock deadline,
  a cancel flag, a target objective. Large MIPs run in a child process
  (:mod:`optimizer.solver.isolated`) so that they end at their deadline.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping

import highspy
import numpy as np
from highspy.highs import HighsCallback, cb as _callback_types

from optimizer.errors import SolverError
from optimizer.solver.isolated import IsolatedOutcome, run_isolated
from optimizer.solver.watch import StopWatch
from optimizer.status import SolverOptions, SolverResult, Status, outcome_of

INF = highspy.kHighsInf
LOG = logging.getLogger("accelplan.highs")

LARGE_MODEL_COLUMNS = 20_000
"""From this many columns, LPs are solved by interior point (measured faster here), the
relaxation by pricing placements, branch and bound first runs over the LP's placements, and
MIPs run in a child process."""
ISOLATE_MIN_COLUMNS = 5_000
"""From this many columns a MIP runs in a child process (see :attr:`HighsModel.isolate`)."""
MIP_LP_SOLVER_LARGE = "choose"
MIP_HEURISTIC_EFFORT_LARGE = 0.3


@dataclass
class ModelArrays:
    """A linear model as HiGHS reads it: min cost x + offset, row_lower <= A x <= row_upper,
    lower <= x <= upper, x integer where ``integer`` (``binary``: declared 0-1 decisions,
    not counts that happen to be bounded by 1). ``senses``: 1 for <=, -1 for >=, 0 for =."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: Any                  # scipy.sparse CSC
    integer: np.ndarray
    binary: np.ndarray
    senses: np.ndarray
    offset: float = 0.0

    @property
    def stats(self) -> dict[str, int]:
        return {"rows": int(len(self.row_lower)), "columns": int(len(self.cost)),
                "integers": int(self.integer.sum()), "nonzeros": int(self.matrix.nnz)}

    def for_child(self, lower: np.ndarray, upper: np.ndarray,
                  integer: np.ndarray | None = None) -> dict[str, Any]:
        """The model with column bounds ``lower``/``upper`` (and integrality ``integer``,
        default the model's) as the plain arrays a child process reads
        (:func:`optimizer.solver.isolated.run_isolated`)."""
        return {"num_col": len(self.cost), "num_row": len(self.row_lower),
                "col_cost": self.cost, "col_lower": lower, "col_upper": upper,
                "row_lower": self.row_lower, "row_upper": self.row_upper,
                "offset": self.offset, "start": self.matrix.indptr,
                "index": self.matrix.indices, "value": self.matrix.data,
                "integer": self.integer if integer is None else integer}


MODEL_FILE_SUFFIXES = (".mps", ".lp")
"""The model file formats HiGHS writes (chosen by the file's suffix)."""


def write_model_file(arrays: ModelArrays, path: str, column_names: list[str],
                     row_names: list[str]) -> None:
    """Write the model exactly as it is handed to HiGHS, with these column and row names, to
    ``path`` (MPS or CPLEX LP by its suffix). The file appears whole or not at all: it is
    written beside ``path`` and renamed into place.

    Raises:
        SolverError: the suffix is not one of ``MODEL_FILE_SUFFIXES`` or HiGHS could not write.
    """
    import os
    from pathlib import Path
    target = Path(path)
    if target.suffix.lower() not in MODEL_FILE_SUFFIXES:
        raise SolverError(f"{path}: a model file ends in .mps or .lp")
    partial = target.with_name(f".{target.stem}.partial{target.suffix.lower()}")
    h = QuietHighs()
    h.passModel(highs_lp(arrays))
    for j, name in enumerate(column_names):
        h.passColName(j, name)
    for i, name in enumerate(row_names):
        h.passRowName(i, name)
    status = h.writeModel(str(partial))
    if status == highspy.HighsStatus.kError or not partial.exists():
        partial.unlink(missing_ok=True)
        raise SolverError(f"{path}: HiGHS could not write the model")
    os.replace(partial, target)


def highs_lp(arrays: ModelArrays) -> "highspy.HighsLp":
    """The arrays as the ``highspy.HighsLp`` every model is passed as."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(arrays.cost), len(arrays.row_lower)
    lp.col_cost_ = arrays.cost
    lp.col_lower_, lp.col_upper_ = arrays.lower, arrays.upper
    lp.row_lower_, lp.row_upper_ = arrays.row_lower, arrays.row_upper
    lp.offset_ = arrays.offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = arrays.matrix.indptr
    lp.a_matrix_.index_ = arrays.matrix.indices
    lp.a_matrix_.value_ = arrays.matrix.data
    if arrays.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if flag
                           else highspy.HighsVarType.kContinuous for flag in arrays.integer]
    return lp


class QuietHighs(highspy.Highs):
    """``highspy.Highs`` that never prints: console logging is off before the first callback
    is set (HiGHS prints its banner then), and the log goes to the ``accelplan.highs``
    logger."""

    def __init__(self) -> None:  # noqa: D107 - same as highspy.Highs, without the banner
        highspy._core._Highs.__init__(self)
        self.setOptionValue("log_to_console", False)
        # HiGHS writes its log only when someone reads it: a log line per interior-point
        # iteration through a Python callback costs about 10 % of an LP (measured at xl)
        self.setOptionValue("output_flag", LOG.isEnabledFor(logging.DEBUG))
        self.callbacks = [HighsCallback(_callback_types.HighsCallbackType(i), self)
                          for i in range(int(_callback_types.HighsCallbackType.kCallbackMax) + 1)]
        self.enableCallbacks()
        if LOG.isEnabledFor(logging.DEBUG):
            self.cbLogging += _log


def _log(event: Any) -> None:
    if LOG.isEnabledFor(logging.DEBUG):
        LOG.debug(event.message.rstrip())


def highspy_version() -> str:
    """HiGHS's version string (e.g. ``1.16.0``)."""
    h = QuietHighs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


COEFFICIENT_MAX = 1e15
"""Largest objective or matrix coefficient handed to HiGHS: it reads 1e20 as infinite, and a
model with an infinite coefficient can run without end, deaf to its callbacks."""


def check_arrays(arrays: "ModelArrays") -> None:
    """Refuse a model HiGHS cannot solve reliably: a coefficient that is not finite or is
    beyond ``COEFFICIENT_MAX``, or a bound that is NaN.

    Raises:
        SolverError: naming which array holds the value.
    """
    for name, values in (("objective", arrays.cost), ("matrix", arrays.matrix.data)):
        if len(values) and not np.all(np.isfinite(values)):
            raise SolverError(f"the model's {name} holds a coefficient that is not finite; "
                              "some input figure overflows (accelplan validate names it)")
        if len(values) and float(np.abs(values).max()) > COEFFICIENT_MAX:
            raise SolverError(f"the model's {name} holds a coefficient of "
                              f"{float(np.abs(values).max()):.3g}, beyond what HiGHS computes "
                              "with reliably; check the instance's units")
    for name, values in (("column bounds", arrays.lower), ("column bounds", arrays.upper),
                         ("row bounds", arrays.row_lower), ("row bounds", arrays.row_upper)):
        if np.isnan(values).any():
            raise SolverError(f"the model's {name} hold NaN")


class HighsModel:
    """A model loaded into HiGHS once, re-solved with bounds fixed, columns relaxed or added.

    Attributes set by the solve strategy (:mod:`optimizer.solver.strategy`):
        first_plan_values: a plan made from the relaxation (column values), if any.
        relaxation_bound: the best proven bound a relaxation gave (model units): the LP
            relaxation's, raised by a MIP with the purchases relaxed when one ran.
        relaxation_values, relaxation_seconds: its solution and solve time.
        column_group, placements_active: placements of the columns and those that proved the
            relaxation (large models, :mod:`optimizer.solver.pricing`).
        last_values: the column values of the plan last reported.
    """

    def __init__(self, arrays: ModelArrays, watch: StopWatch | None = None) -> None:
        began = time.perf_counter()
        check_arrays(arrays)
        self.arrays = arrays
        self.lower, self.upper = arrays.lower, arrays.upper
        self.integer, self.binary = arrays.integer, arrays.binary
        self.matrix, self.row_lower, self.row_upper = (arrays.matrix, arrays.row_lower,
                                                       arrays.row_upper)
        self.offset = arrays.offset
        self.stats = arrays.stats
        lp = highs_lp(arrays)
        self.highs = QuietHighs()
        self.highs.passModel(lp)
        self.watch = watch if watch is not None else StopWatch()
        self.watch.attach(self.highs)
        self.options = SolverOptions()
        self.pending_start: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None
        self.first_plan_values: np.ndarray | None = None
        self.rounded_values: np.ndarray | None = None      # the rounded relaxation alone
        self.constructive_values: np.ndarray | None = None
        self.relaxation_bound: float | None = None
        self.relaxation_values: np.ndarray | None = None
        self.relaxation_seconds = 0.0
        self.column_group: np.ndarray | None = None
        self.placements_active: np.ndarray | None = None
        self.pricing_rounds = 0
        self.pricing_log: list[tuple[float, float, int]] = []
        self.last_values: np.ndarray | None = None
        self.transfer_seconds = time.perf_counter() - began

    @property
    def large(self) -> bool:
        return self.stats["columns"] >= LARGE_MODEL_COLUMNS

    def cost(self) -> np.ndarray:
        """The objective's coefficients as HiGHS holds them."""
        return self.arrays.cost

    def objective_of(self, values: np.ndarray) -> float:
        """The objective of column ``values`` (with the offset)."""
        return float(self.arrays.cost @ values) + self.offset

    def set_options(self, options: SolverOptions) -> None:
        """Pass ``options`` to HiGHS (wall time is kept by the watch, not HiGHS)."""
        self.options = options
        for name, value in self.highs_options(options).items():
            self.highs.setOptionValue(name, value)
        self.highs.setOptionValue("time_limit", INF)

    def relax_integers(self, columns: np.ndarray) -> None:
        """Make ``columns`` continuous (an LP relaxation)."""
        columns = columns.astype(np.int32)
        self.highs.changeColsIntegrality(len(columns), columns, np.full(
            len(columns), highspy.HighsVarType.kContinuous))

    def restore_integers(self, columns: np.ndarray) -> None:
        """Make ``columns`` integer again."""
        columns = columns.astype(np.int32)
        self.highs.changeColsIntegrality(len(columns), columns, np.full(
            len(columns), highspy.HighsVarType.kInteger))

    def set_bounds(self, columns: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set the bounds of ``columns``."""
        columns = columns.astype(np.int32)
        self.highs.changeColsBounds(len(columns), columns, lower, upper)

    def restore_bounds(self, columns: np.ndarray) -> None:
        """Give ``columns`` their model bounds back."""
        self.set_bounds(columns, self.lower[columns], self.upper[columns])

    def run_lp(self, solver: str = "choose") -> bool:
        """Run HiGHS as it stands (an LP, integers relaxed) with ``solver``; whether it ended
        optimal. The solver choice is reset afterwards."""
        self.highs.setOptionValue("solver", solver)
        try:
            with self.watch.running():
                self.highs.run()
        finally:
            self.highs.setOptionValue("solver", "choose")
        return self.lp_optimal()

    def lp_optimal(self) -> bool:
        return self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def lp_objective(self) -> float:
        return float(self.highs.getInfo().objective_function_value)

    def lp_values(self) -> np.ndarray:
        return np.asarray(self.highs.getSolution().col_value).copy()

    def lp_row_duals(self) -> np.ndarray:
        return np.asarray(self.highs.getSolution().row_dual).copy()

    def clear_solver(self) -> None:
        self.highs.clearSolver()

    def highs_options(self, options: SolverOptions) -> dict[str, Any]:
        """The HiGHS options of a MIP run with ``options`` (what :meth:`set_options` sets)."""
        values: dict[str, Any] = {"mip_rel_gap": float(options.mip_gap)}
        if self.large:
            values.update(mip_lp_solver=MIP_LP_SOLVER_LARGE,
                          mip_heuristic_effort=MIP_HEURISTIC_EFFORT_LARGE)
        if options.threads:
            values["threads"] = int(options.threads)
        if options.seed is not None:
            values["random_seed"] = int(options.seed)
        return values

    def offer_start(self, values: np.ndarray | tuple[np.ndarray, np.ndarray]) -> None:
        """Offer a MIP start: full column values, or (columns, values) HiGHS completes."""
        self.pending_start = values
        if isinstance(values, tuple):
            columns, vals = values
            if len(columns):
                self.highs.setSolution(len(columns), np.asarray(columns, dtype=np.int32),
                                       np.asarray(vals))
            return
        solution = highspy.HighsSolution()
        solution.col_value = values
        solution.value_valid = True
        self.highs.setSolution(solution)

    def withdraw_start(self) -> None:
        """Take back the MIP start offered (HiGHS then searches from its own root)."""
        self.pending_start = None
        self.highs.clearSolver()

    def isolated_mip(self, options: SolverOptions, start: np.ndarray | None,
                     lower: np.ndarray, upper: np.ndarray, time_limit: float | None = None,
                     integer: np.ndarray | None = None) -> IsolatedOutcome:
        """Branch and bound on this model with column bounds ``lower``/``upper`` in a child
        process, until the gap, the watch's deadline (or ``time_limit`` from now, the earlier),
        a cancel, or the watch's target.

        Args:
            integer: which columns are integer in this run (default: the model's). With fewer
                than the model's the run is a relaxation: its plans are not the model's (they
                are not recorded as progress) but its proven bound is (it raises the watch's).
        """
        ends = self.watch.deadline
        if time_limit is not None:
            ends = time.perf_counter() + time_limit if ends is None else min(
                ends, time.perf_counter() + time_limit)
        arrays = self.arrays.for_child(lower, upper, integer)
        highs_options = self.highs_options(options)
        if ends is not None:
            highs_options["time_limit"] = max(ends - time.perf_counter(), 0.0)

        def should_stop() -> bool:
            return self.watch.expired() or (ends is not None and time.perf_counter() >= ends)
        relaxed = integer is not None and not np.array_equal(integer, self.integer)
        full = bool(np.array_equal(lower, self.lower) and np.array_equal(upper, self.upper))

        def on_plan(objective: float, dual: float) -> None:
            if not relaxed:             # a relaxation's plan is no plan (its bound: on_bound)
                self.watch.record(objective, dual if full else None)
        with self.watch.running():
            outcome = run_isolated(arrays, highs_options, start, should_stop,
                                   self.watch.target, on_plan=on_plan,
                                   on_bound=self.watch.raise_floor if relaxed and full else None)
        self.watch.reached = outcome.reason == "target reached"
        return outcome

    def plan_result(self, values: np.ndarray, options: SolverOptions, seconds: float,
                    how: str, bound: float | None = None) -> SolverResult:
        """A plan as the result, with ``bound`` (default: the LP relaxation's) as its proven
        bound."""
        objective = self.objective_of(values)
        bound = self.relaxation_bound if bound is None else bound
        gap = None
        if bound is not None:     # no proven bound: no gap, never optimal
            bound = min(bound, objective)
            gap = max(objective - bound, 0.0) / max(abs(objective), 1e-12)
        self.last_values = values
        self.watch.record(objective, bound)
        status = Status.OPTIMAL if gap is not None and gap <= options.mip_gap else Status.FEASIBLE
        return SolverResult(status=status, objective=objective, best_bound=bound, mip_gap=gap,
                            transfer_seconds=self.transfer_seconds, solve_seconds=seconds,
                            highs_status=how, solver_version=highspy_version(),
                            stats=dict(self.stats))

    @property
    def isolate(self) -> bool:
        """MIPs from ``ISOLATE_MIN_COLUMNS`` columns run in a child process
        (:mod:`optimizer.solver.isolated`): HiGHS does not look at its interrupt callback
        inside a root LP or its cut rounds (seconds at the medium size, minutes at large), and
        a deadline or a Ctrl-C must hold at once."""
        return bool(self.integer.any()) and self.stats["columns"] >= ISOLATE_MIN_COLUMNS

    def run(self) -> SolverResult:
        """Solve (until the gap, the watch's deadline, its target or a cancel); the incumbent's
        values are :attr:`last_values`."""
        if self.isolate:
            return self._run_isolated()
        h = self.highs
        start = time.perf_counter()
        left = self.watch.left()
        h.setOptionValue("time_limit", INF if left is None else max(left, 0.0))
        self.watch.reached = False
        self.watch.trust_dual = True
        with self.watch.running():
            h.run()
        seconds = time.perf_counter() - start
        model_status = h.getModelStatus()
        name = h.modelStatusToString(model_status)
        status_name = str(model_status).split(".")[-1]
        info = h.getInfo()
        has_incumbent = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        status = outcome_of(status_name, has_incumbent)
        if status is None:
            raise SolverError(f"HiGHS failed ({name}); no plan was found")
        if status_name == "kInterrupt":
            name = self.watch.why()
        objective = best_bound = gap = None
        if status.has_plan:
            values = np.asarray(h.getSolution().col_value).copy()
            self.last_values = values
            objective = float(info.objective_function_value)
            if self.integer.any():
                bounds = [b for b in (float(info.mip_dual_bound), self.relaxation_bound)
                          if b is not None and math.isfinite(b)]
                best_bound = min(max(bounds), objective) if bounds else None
                gap = (max(objective - best_bound, 0.0) / max(abs(objective), 1e-12)
                       if best_bound is not None else None)
            else:
                best_bound, gap = objective, 0.0
        return SolverResult(status=status, objective=objective, best_bound=best_bound,
                            mip_gap=gap, transfer_seconds=self.transfer_seconds,
                            solve_seconds=seconds, highs_status=name,
                            solver_version=highspy_version(), stats=dict(self.stats))

    def _run_isolated(self) -> SolverResult:
        began = time.perf_counter()
        outcome = self.isolated_mip(self.options, self.pending_start, self.lower, self.upper)
        self.pending_start = None
        seconds = time.perf_counter() - began
        has_plan = outcome.values is not None
        status = outcome_of("kInterrupt" if outcome.stopped else outcome.status, has_plan)
        if status is None:
            raise SolverError(f"HiGHS failed ({outcome.reason or outcome.status}); no plan "
                              "was found")
        objective = best_bound = gap = None
        if has_plan:
            self.last_values = outcome.values
            objective = outcome.objective
            bounds = [b for b in (outcome.bound, self.relaxation_bound)
                      if b is not None and math.isfinite(b)]
            best_bound = max(bounds) if bounds else None      # both proven for this model
            if best_bound is not None:
                best_bound = min(best_bound, objective)
                gap = max(objective - best_bound, 0.0) / max(abs(objective), 1e-12)
            if status is Status.OPTIMAL and (gap is None or gap > self.options.mip_gap):
                status = Status.FEASIBLE
        name = outcome.status if not outcome.stopped else self.watch.why()
        return SolverResult(status=status, objective=objective, best_bound=best_bound,
                            mip_gap=gap, transfer_seconds=self.transfer_seconds,
                            solve_seconds=seconds, highs_status=name,
                            solver_version=highspy_version(), stats=dict(self.stats))

    def lp_duals(self, values: np.ndarray, fix: str) -> np.ndarray | None:
        """Row duals of the LP around a MIP plan, in model units (d objective / d bound).

        Args:
            values: the MIP plan's column values.
            fix: ``"integers"`` fixes every integer column at its plan value (short-run: the
                fleet is what it is); ``"binaries"`` fixes only declared binaries (site
                openings, cooling modes) and relaxes unit counts (long-run: capacity can grow).
        Returns:
            The dual of every row, or None when the LP could not be solved. (Large models solved
            with placements price the LP instead: :func:`optimizer.solver.pricing.priced_duals`.)
        """
        columns = np.flatnonzero(self.integer)
        fixed = self.fixed_for_duals(fix)
        try:
            self.relax_integers(columns)
            rounded = np.round(values[fixed])
            self.set_bounds(fixed, rounded, rounded)
            if not self.run_lp():
                return None
            return self.lp_row_duals()
        finally:
            self.restore_bounds(fixed)
            self.restore_integers(columns)

    def fixed_for_duals(self, fix: str) -> np.ndarray:
        """The columns :meth:`lp_duals` fixes for ``fix``."""
        if not self.integer.any():
            return np.array([], dtype=np.int32)
        if fix == "integers":
            return np.flatnonzero(self.integer).astype(np.int32)
        return np.flatnonzero(self.binary).astype(np.int32)

    def elastic_solve(self, elastic: Mapping[int, float], options: SolverOptions
                      ) -> tuple[Status, np.ndarray | None, dict[int, float]]:
        """Minimise the weighted relaxation needed to make the model feasible.

        Args:
            elastic: HiGHS row position -> weight (cost of one unit of relaxation). Each such
                row gets a slack column that loosens it (adds to a >= row, subtracts from a <=
                row); the original costs are set to zero.
        Returns:
            The outcome, the model's column values and row position -> relaxation used (rows
            with a positive slack).
        """
        h = self.highs
        positions = sorted(elastic)
        n_cols = len(self.lower)
        h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), np.zeros(n_cols))
        h.changeObjectiveOffset(0.0)
        senses = [int(self.arrays.senses[p]) for p in positions]
        signs = np.array([1.0 if sense == -1 else -1.0 for sense in senses])
        k = len(positions)
        h.addCols(k, np.array([elastic[p] for p in positions]), np.zeros(k), np.full(k, INF),
                  k, np.arange(k, dtype=np.int32), np.array(positions, dtype=np.int32), signs)
        self.set_options(options)
        with self.watch.running():
            h.run()
        name = str(h.getModelStatus()).split(".")[-1]
        info = h.getInfo()
        has_incumbent = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        status = outcome_of(name, has_incumbent) or Status.NO_SOLUTION
        if not status.has_plan:
            return status, None, {}
        values = np.asarray(h.getSolution().col_value)
        slack = values[n_cols:]
        return status, values[:n_cols].copy(), {p: float(x) for p, x in zip(positions, slack)
                                                 if x > 1e-7}

