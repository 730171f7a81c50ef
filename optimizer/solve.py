"""The only module that talks to HiGHS.

Path: Pyomo's linear standard-form compiler (``compile_standard_form`` with ``mixed_form``)
turns the model into sparse matrices, which go to HiGHS through ``highspy.Highs.passModel``
in one call. Solution values are written back into the Pyomo variables.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import Any, Callable, Mapping

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.dependencies import scipy_available as _scipy_available
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

# Pyomo imports SciPy lazily on the first compile (about 0.5 s); resolve it here, once per
# process, so that hand-over timings measure the model and not the import.
bool(_scipy_available)

from optimizer.errors import AccelplanError
from optimizer.status import SolverOptions, SolverResult, Status, outcome_of

INF = highspy.kHighsInf


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level stdout (HiGHS prints its banner when constructed, before any option can
    be set), so that ``--json`` output stays clean."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (some embedders): nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance."""
    with _quiet_stdout():
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
    return highs


class CompiledModel:
    """A Pyomo model compiled once and loaded into a HiGHS instance.

    Keeps the column and row maps so that integers can be fixed, columns added and the model
    re-solved without compiling again.
    """

    def __init__(self, model: pyo.ConcreteModel) -> None:
        start = time.perf_counter()
        repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
        self.model = model
        self.columns = repn.columns
        self.rows = repn.rows
        n_cols, n_rows = len(self.columns), len(self.rows)
        lower = np.empty(n_cols)
        upper = np.empty(n_cols)
        integer = np.zeros(n_cols, dtype=bool)
        for j, var in enumerate(self.columns):
            lb, ub = var.bounds
            lower[j] = -INF if lb is None else lb
            upper[j] = INF if ub is None else ub
            integer[j] = var.is_integer() or var.is_binary()
        self.integer = integer
        rhs = np.asarray(repn.rhs, dtype=float)
        senses = np.fromiter((sense for _, sense in self.rows), dtype=int, count=n_rows)
        row_lower = np.where(senses == 1, -INF, rhs)
        row_upper = np.where(senses == -1, INF, rhs)
        cost = np.asarray(repn.c.toarray()).ravel() if repn.c.shape[0] else np.zeros(n_cols)
        self.offset = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
        a_matrix = repn.A.tocsc()

        lp = highspy.HighsLp()
        lp.num_col_ = n_cols
        lp.num_row_ = n_rows
        lp.col_cost_ = cost
        lp.col_lower_ = lower
        lp.col_upper_ = upper
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.offset_ = self.offset
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a_matrix.indptr
        lp.a_matrix_.index_ = a_matrix.indices
        lp.a_matrix_.value_ = a_matrix.data
        if integer.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if flag
                               else highspy.HighsVarType.kContinuous for flag in integer]
        self.highs = new_highs()
        self.highs.passModel(lp)
        self.matrix, self.row_lower, self.row_upper = a_matrix, row_lower, row_upper
        self.first_plan_values: np.ndarray | None = None
        self.relaxation_bound: float | None = None
        self.stats = {"rows": n_rows, "columns": n_cols, "integers": int(integer.sum()),
                      "nonzeros": int(a_matrix.nnz)}
        self.transfer_seconds = time.perf_counter() - start
        self.lower, self.upper = lower, upper

    def set_options(self, options: SolverOptions) -> None:
        h = self.highs
        if self.stats["columns"] >= LARGE_MODEL_COLUMNS:
            # measured on the benchmark's large size: interior point solves the root LP about
            # twice as fast as dual simplex, and more heuristic effort finds plans sooner
            h.setOptionValue("mip_lp_solver", MIP_LP_SOLVER_LARGE)
            h.setOptionValue("mip_heuristic_effort", MIP_HEURISTIC_EFFORT_LARGE)
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        h.setOptionValue("time_limit", float(options.time_limit) if options.time_limit else INF)
        if options.threads:
            h.setOptionValue("threads", int(options.threads))
        if options.seed is not None:
            h.setOptionValue("random_seed", int(options.seed))

    def set_start(self, values: Mapping[str, float]) -> int:
        """Offer a (partial) MIP start: variable name -> value. HiGHS completes the missing
        columns (with the integers given, it solves for the rest). Returns the columns set."""
        cols, vals = [], []
        for j, var in enumerate(self.columns):
            x = values.get(var.name)
            if x is not None:
                cols.append(j)
                vals.append(min(max(float(x), self.lower[j]), self.upper[j]))
        if cols:
            self.highs.setSolution(len(cols), np.array(cols, dtype=np.int32), np.array(vals))
        return len(cols)

    def relaxation_start(self, lp_solver: str = "choose",
                         round_purchases: Callable[[dict[Any, float]], dict[Any, float]] | None
                         = None,
                         round_rest: Callable[[dict[Any, float]], dict[Any, float]] | None
                         = None) -> tuple[bool, float]:
        """A fast first plan, offered to HiGHS as a MIP start when it is a real plan.

        (A) solve the LP relaxation; (B) round every purchase up and solve the LP again with
        cooling builds, openings and modes still relaxed, so that cooling follows the rounded
        fleet; (C) round those up too and solve the LP of the continuous rest. Only a feasible
        (C) becomes the start.

        Args:
            lp_solver: HiGHS ``solver`` for the relaxation (``ipm`` is faster on large models).
            round_purchases: purchase index -> relaxed units  to  index -> whole units
                (default: round up).
            round_rest: (variable name, index) -> relaxed value  to  whole values, for the
                other integers (default: round up).
        Returns:
            Whether a start was set, and the seconds spent.
        """
        began = time.perf_counter()
        h = self.highs
        columns = np.flatnonzero(self.integer).astype(np.int32)
        if not len(columns):
            return False, 0.0
        purchases = np.array([j for j in columns
                              if self.columns[j].parent_component().local_name == "units_bought"],
                             dtype=np.int32)
        others = np.setdiff1d(columns, purchases).astype(np.int32)
        h.changeColsIntegrality(len(columns), columns,
                                np.full(len(columns), highspy.HighsVarType.kContinuous))
        found = False
        try:
            h.setOptionValue("solver", lp_solver)
            h.run()
            h.setOptionValue("solver", "choose")
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                self.relaxation_bound = float(h.getInfo().objective_function_value)
            for stage in (purchases, others):
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    break
                if len(stage):
                    relaxed = np.asarray(h.getSolution().col_value)[stage]
                    rounded = np.minimum(np.ceil(relaxed - 1e-6), self.upper[stage])
                    if stage is purchases and round_purchases is not None:
                        chosen = round_purchases({self.columns[j].index(): x
                                                  for j, x in zip(stage, relaxed)})
                        rounded = np.array([chosen[self.columns[j].index()] for j in stage],
                                           dtype=float)
                    elif stage is others and round_rest is not None:
                        keys = [(self.columns[j].parent_component().local_name,
                                 self.columns[j].index()) for j in stage]
                        chosen = round_rest(dict(zip(keys, relaxed)))
                        rounded = np.minimum([chosen[key] for key in keys], self.upper[stage])
                    h.changeColsBounds(len(stage), stage, rounded, rounded)
                h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                start = np.asarray(h.getSolution().col_value).copy()
                start[columns] = np.round(start[columns])
                found = True
        finally:
            h.setOptionValue("solver", "choose")
            h.changeColsBounds(len(columns), columns, self.lower[columns], self.upper[columns])
            h.changeColsIntegrality(len(columns), columns,
                                    np.full(len(columns), highspy.HighsVarType.kInteger))
            h.clearSolver()
        if found:
            self.first_plan_values = start
            solution = highspy.HighsSolution()
            solution.col_value = start
            solution.value_valid = True
            h.setSolution(solution)
        return found, time.perf_counter() - began

    def fix_and_run(self, values: Mapping[str, float], options: SolverOptions) -> SolverResult:
        """Solve again with the named columns fixed at ``values`` (bounds restored after)."""
        index = {var.name: j for j, var in enumerate(self.columns)}
        cols = np.array([index[name] for name in values if name in index], dtype=np.int32)
        vals = np.array([float(values[self.columns[j].name]) for j in cols])
        h = self.highs
        h.changeColsBounds(len(cols), cols, vals, vals)
        self.set_options(options)
        try:
            return self.run()
        finally:
            h.changeColsBounds(len(cols), cols, self.lower[cols], self.upper[cols])

    def first_plan_result(self, options: SolverOptions) -> SolverResult:
        """The first plan as the result, with the LP relaxation as its bound."""
        values = self.first_plan_values
        cost = np.asarray(self.highs.getLp().col_cost_)
        objective = float(cost @ values) + self.offset
        bound = self.relaxation_bound if self.relaxation_bound is not None else objective
        gap = max(objective - bound, 0.0) / max(abs(objective), 1e-12)
        self.last_values = values
        self._load(values)
        status = Status.OPTIMAL if gap <= options.mip_gap else Status.FEASIBLE
        return SolverResult(status=status, objective=objective, best_bound=bound, mip_gap=gap,
                            transfer_seconds=self.transfer_seconds, solve_seconds=0.0,
                            highs_status="first plan (rounded LP relaxation)",
                            solver_version=highspy_version(), stats=dict(self.stats))

    def integer_values(self) -> dict[str, float]:
        """The incumbent's integer decisions by variable name (a MIP start for a variant)."""
        values = getattr(self, "last_values", None)
        if values is None:
            return {}
        return {self.columns[j].name: float(round(values[j]))
                for j in np.flatnonzero(self.integer)}

    def run(self) -> SolverResult:
        """Solve; write the incumbent (if any) into the Pyomo variables."""
        h = self.highs
        start = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - start
        model_status = h.getModelStatus()
        name = h.modelStatusToString(model_status)
        status_name = str(model_status).split(".")[-1]
        info = h.getInfo()
        has_incumbent = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        status = outcome_of(status_name, has_incumbent)
        if status is None:
            raise AccelplanError(f"HiGHS failed: {name}")
        objective = best_bound = gap = None
        if status.has_plan:
            values = np.asarray(h.getSolution().col_value)
            self.last_values = values
            self._load(values)
            objective = float(info.objective_function_value)
            if self.integer.any():
                best_bound = float(info.mip_dual_bound)
                gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
            else:
                best_bound, gap = objective, 0.0
        return SolverResult(status=status, objective=objective, best_bound=best_bound,
                            mip_gap=gap, transfer_seconds=self.transfer_seconds,
                            solve_seconds=seconds, highs_status=name,
                            solver_version=highspy_version(), stats=dict(self.stats))

    # ---- re-solves on the same compiled model ---------------------------------------------

    def row_keys(self) -> list[tuple[str, Any, int]]:
        """(constraint family, index, sense) of every HiGHS row; sense 1 is <=, -1 is >=,
        0 is =."""
        return [(con.parent_component().local_name, con.index(), sense)
                for con, sense in self.rows]

    def lp_duals(self, values: np.ndarray, fix: str) -> dict[tuple[str, Any], float] | None:
        """Row duals of the LP around a MIP plan, in model units (d objective / d bound).

        Args:
            values: the MIP plan's column values (:attr:`last_values`).
            fix: ``"integers"`` fixes every integer column at its plan value (short-run: the
                fleet is what it is); ``"binaries"`` fixes only 0-1 columns (site openings,
                cooling modes) and relaxes unit counts (long-run: capacity can grow).
        Returns:
            (family, index) -> dual, or None when the LP could not be solved.
        """
        h = self.highs
        columns = np.flatnonzero(self.integer)
        if not len(columns):
            fixed = np.array([], dtype=np.int32)
        elif fix == "integers":
            fixed = columns
        else:
            fixed = columns[(self.lower[columns] >= 0) & (self.upper[columns] <= 1)]
        try:
            h.changeColsIntegrality(len(columns), columns.astype(np.int32),
                                    np.full(len(columns), highspy.HighsVarType.kContinuous))
            rounded = np.round(values[fixed])
            h.changeColsBounds(len(fixed), fixed.astype(np.int32), rounded, rounded)
            h.setOptionValue("time_limit", INF)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            duals = np.asarray(h.getSolution().row_dual)
        finally:
            h.changeColsBounds(len(fixed), fixed.astype(np.int32), self.lower[fixed],
                               self.upper[fixed])
            h.changeColsIntegrality(len(columns), columns.astype(np.int32),
                                    np.full(len(columns), highspy.HighsVarType.kInteger))
        result: dict[tuple[str, Any], float] = {}
        for (con, _), dual in zip(self.rows, duals):
            key = (con.parent_component().local_name, con.index())
            if abs(dual) > abs(result.get(key, 0.0)):
                result[key] = float(dual)
            else:
                result.setdefault(key, float(dual))
        return result

    def elastic_solve(self, elastic: Mapping[int, float], options: SolverOptions
                      ) -> tuple[Status, dict[int, float]]:
        """Minimise the weighted relaxation needed to make the model feasible.

        Args:
            elastic: HiGHS row position -> weight (cost of one unit of relaxation). Each such
                row gets a slack column that loosens it (adds to a >= row, subtracts from a <=
                row); the original costs are set to zero.
        Returns:
            The outcome and row position -> relaxation used (rows with a positive slack).
        """
        h = self.highs
        positions = sorted(elastic)
        n_cols = len(self.columns)
        h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), np.zeros(n_cols))
        h.changeObjectiveOffset(0.0)
        senses = [self.rows[p][1] for p in positions]
        signs = np.array([1.0 if sense == -1 else -1.0 for sense in senses])
        k = len(positions)
        h.addCols(k, np.array([elastic[p] for p in positions]), np.zeros(k), np.full(k, INF),
                  k, np.arange(k, dtype=np.int32), np.array(positions, dtype=np.int32), signs)
        self.set_options(options)
        h.run()
        name = str(h.getModelStatus()).split(".")[-1]
        info = h.getInfo()
        has_incumbent = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        status = outcome_of(name, has_incumbent) or Status.NO_SOLUTION
        if not status.has_plan:
            return status, {}
        values = np.asarray(h.getSolution().col_value)
        self._load(values[:n_cols])
        slack = values[n_cols:]
        return status, {p: float(x) for p, x in zip(positions, slack) if x > 1e-7}

    def _load(self, values: np.ndarray) -> None:
        for var in self.model.component_data_objects(pyo.Var, descend_into=True):
            var.set_value(0 if var.lb is None or var.lb <= 0 else var.lb, skip_validation=True)
        for var, x in zip(self.columns, values):
            if var.is_integer() or var.is_binary():
                x = round(x)
            var.set_value(float(x), skip_validation=True)


def highspy_version() -> str:
    """HiGHS's version string (e.g. ``1.16.0``)."""
    try:
        h = new_highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    except Exception:  # noqa: BLE001 - older highspy
        return getattr(highspy, "__version__", "unknown")


FIRST_PLAN_MIN_INTEGERS = 200
LARGE_MODEL_COLUMNS = 20_000
"""From this many columns, LPs are solved by interior point (measured faster here)."""
MIP_LP_SOLVER_LARGE = "choose"

MIP_HEURISTIC_EFFORT_LARGE = 0.3
"""Models with at least this many integers get the rounded-relaxation first plan."""


def solve_model(model: pyo.ConcreteModel, options: SolverOptions,
                start: Mapping[str, float] | None = None,
                first_plan: bool | None = None,
                round_purchases: Callable[[dict[Any, float]], dict[Any, float]] | None = None,
                round_rest: Callable[[dict[Any, float]], dict[Any, float]] | None = None,
                ) -> tuple[CompiledModel, SolverResult]:
    """Compile ``model`` into HiGHS, solve it with ``options`` and load the plan back.

    Args:
        start: a MIP start by variable name (e.g. the previous variant's plan).
        first_plan: offer the rounded LP relaxation as a MIP start (default: for models with
            at least ``FIRST_PLAN_MIN_INTEGERS`` integers and no ``start``).

    Returns the compiled model (for re-solves) and the result.
    """
    compiled = CompiledModel(model)
    compiled.set_options(options)
    start_seconds, start_found = 0.0, False
    if start:
        compiled.set_start(start)
    elif first_plan or (first_plan is None and compiled.stats["integers"] >= FIRST_PLAN_MIN_INTEGERS):
        large = compiled.stats["columns"] >= LARGE_MODEL_COLUMNS
        start_found, start_seconds = compiled.relaxation_start(
            lp_solver="ipm" if large else "choose", round_purchases=round_purchases,
            round_rest=round_rest)
        compiled.set_options(options)
        if options.time_limit:
            remaining = max(options.time_limit - start_seconds, 0.01)
            compiled.highs.setOptionValue("time_limit", float(remaining))
    if start_found and options.time_limit and compiled.stats["columns"] >= LARGE_MODEL_COLUMNS:
        # HiGHS 1.16's root cut loop on models this size was measured to run minutes past its
        # time limit without checking interrupts; under a time limit the first plan, with the
        # LP relaxation as its proven bound, is the answer
        result = compiled.first_plan_result(options)
    else:
        result = compiled.run()
    result.start_seconds = start_seconds
    result.start_found = start_found
    return compiled, result
