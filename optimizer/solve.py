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
import threading
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

from optimizer.errors import SolverError
from optimizer.isolated import IsolatedOutcome, model_arrays, run_isolated
from optimizer.placements import internal_rows, used_placements
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


class StopWatch:
    """When a HiGHS run must stop, checked in HiGHS's interrupt callbacks (simplex, interior
    point and branch and bound): a wall-clock deadline, a cancel flag, and a target objective
    (stop once an incumbent is at or below it).

    HiGHS's own ``time_limit`` counts an LP's time on the instance's cumulative clock and does
    not stop a MIP's root LP; the deadline here is wall time from ``time.perf_counter()``.
    The MIP's root LP solve itself is not interruptible in HiGHS 1.16: callers only start a full
    MIP when its root LP is expected to fit in the time left.
    """

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.deadline: float | None = None
        self.cancel = cancel if cancel is not None else threading.Event()
        self.target: float | None = None
        self.reached = False

    def attach(self, highs: highspy.Highs) -> None:
        """Watch every run of ``highs``."""
        highs.cbSimplexInterrupt += self._check
        highs.cbIpmInterrupt += self._check
        highs.cbMipInterrupt += self._check
        highs.cbMipImprovingSolution += self._improving

    def left(self) -> float | None:
        """Seconds before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def expired(self) -> bool:
        return self.cancel.is_set() or (self.deadline is not None
                                        and time.perf_counter() >= self.deadline)

    def _check(self, event: Any) -> None:
        # set the flag both ways: HiGHS keeps it between runs, so a run after an interrupted
        # one would stop at its first check otherwise
        event.interrupt(self.reached or self.expired())

    def _improving(self, event: Any) -> None:
        if self.target is not None and event.data_out.objective_function_value <= self.target:
            self.reached = True


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
        binary = np.zeros(n_cols, dtype=bool)
        for j, var in enumerate(self.columns):
            lb, ub = var.bounds
            lower[j] = -INF if lb is None else lb
            upper[j] = INF if ub is None else ub
            binary[j] = var.is_binary()
            integer[j] = binary[j] or var.is_integer()
        self.integer = integer
        self.binary = binary     # declared 0-1 (on/off decisions), not counts bounded by 1
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
        self.watch = StopWatch()
        self.watch.attach(self.highs)
        self.options = SolverOptions()
        self.pending_start: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None
        self.relaxation_seconds = 0.0     # the (priced) LP relaxation's solve time
        self.matrix, self.row_lower, self.row_upper = a_matrix, row_lower, row_upper
        self.first_plan_values: np.ndarray | None = None
        self.relaxation_bound: float | None = None
        self.relaxation_values: np.ndarray | None = None
        self.placements_active: np.ndarray | None = None
        self.column_group: np.ndarray | None = None      # set when solved with placements
        self.pricing_rounds = 0
        self.stats = {"rows": n_rows, "columns": n_cols, "integers": int(integer.sum()),
                      "nonzeros": int(a_matrix.nnz)}
        self.transfer_seconds = time.perf_counter() - start
        self.lower, self.upper = lower, upper

    def set_options(self, options: SolverOptions) -> None:
        self.options = options
        for name, value in self.highs_options(options).items():
            self.highs.setOptionValue(name, value)
        self.highs.setOptionValue("time_limit", INF)     # wall time is kept by self.watch

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
            self.pending_start = (np.array(cols, dtype=np.int32), np.array(vals))
        return len(cols)

    def relaxation_start(self, lp_solver: str = "choose",
                         round_purchases: Callable[[dict[Any, float]], dict[Any, float]] | None
                         = None,
                         round_rest: Callable[[dict[Any, float]], dict[Any, float]] | None
                         = None,
                         column_group: np.ndarray | None = None,
                         seed: np.ndarray | None = None) -> tuple[bool, float]:
        """A fast first plan, offered to HiGHS as a MIP start when it is a real plan.

        (A) solve the LP relaxation (over the placements in ``seed``, priced for the rest, when
        ``column_group`` is given: see :meth:`priced_relaxation`); (B) round every purchase up
        and solve the LP again with cooling builds, openings and modes still relaxed, so that
        cooling follows the rounded fleet; (C) round those up too and solve the LP of the
        continuous rest. Only a feasible (C) becomes the start. The relaxation's optimum is kept
        as :attr:`relaxation_bound` (a proven bound) and its values as
        :attr:`relaxation_values`.

        Args:
            lp_solver: HiGHS ``solver`` for the relaxation (``ipm`` is faster on large models).
            round_purchases: purchase index -> relaxed units  to  index -> whole units
                (default: round up).
            round_rest: (variable name, index) -> relaxed value  to  whole values, for the
                other integers (default: round up).
            column_group, seed: placements of the columns (-1: none) and the placements to
                start the LP with (:mod:`optimizer.placements`).
        Returns:
            Whether a start was set, and the seconds spent.
        """
        began = time.perf_counter()
        h = self.highs
        columns = np.flatnonzero(self.integer).astype(np.int32)
        if not len(columns):
            return False, 0.0
        h.changeColsIntegrality(len(columns), columns,
                                np.full(len(columns), highspy.HighsVarType.kContinuous))
        found = False
        fixed_out = np.array([], dtype=np.int32)
        try:
            lp_began = time.perf_counter()
            if column_group is not None and seed is not None:
                fixed_out, self.relaxation_bound, self.placements_active = \
                    self.priced_relaxation(column_group, seed, lp_solver)
            else:
                h.setOptionValue("solver", lp_solver)
                h.run()
                if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                    self.relaxation_bound = float(h.getInfo().objective_function_value)
            self.relaxation_seconds = time.perf_counter() - lp_began
            h.setOptionValue("solver", "choose")
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                self.relaxation_values = np.asarray(h.getSolution().col_value).copy()
            live = np.setdiff1d(columns, fixed_out).astype(np.int32)
            purchases = np.array(
                [j for j in live if self.columns[j].parent_component().local_name
                 == "units_bought"], dtype=np.int32)
            others = np.setdiff1d(live, purchases).astype(np.int32)
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
            restore = np.union1d(columns, fixed_out).astype(np.int32)
            h.changeColsBounds(len(restore), restore, self.lower[restore], self.upper[restore])
            h.changeColsIntegrality(len(columns), columns,
                                    np.full(len(columns), highspy.HighsVarType.kInteger))
            h.clearSolver()
        if found:
            self.first_plan_values = start
            self.offer_start(start)
        return found, time.perf_counter() - began

    def priced_relaxation(self, column_group: np.ndarray, seed: np.ndarray,
                          lp_solver: str = "ipm", bounds: tuple[np.ndarray, np.ndarray]
                          | None = None, max_rounds: int = 25
                          ) -> tuple[np.ndarray, float | None, np.ndarray]:
        """Solve the (already relaxed) LP over a few placements and price out the rest.

        Column generation by blocks: the columns of placements outside the active set are
        fixed at 0 (HiGHS presolve drops them). After each LP, the duals y of the rows that
        tie placements together give every inactive placement g its best reduced cost
        r_g = min { sum_j (c_j - a_j' y) x_j : g's own rows and bounds } <= 0 (one pricing LP,
        block-diagonal, warm-started between rounds). z + sum_g r_g is a proven lower bound
        of the full LP (Lagrangian bound); placements with r_g < 0 join, until none does. The
        duals of the tying rows are then optimal for the full LP.

        Leaves the HiGHS model at the last LP, with the inactive columns fixed at 0.

        Args:
            bounds: the columns' current (lower, upper) bounds in HiGHS, when some are fixed
                (default: the model's own).
        Returns:
            The columns still fixed at 0 (restore their bounds when done), the proven bound
            (None when no LP could be solved) and the active placements.
        """
        h = self.highs
        lower, upper = bounds if bounds is not None else (self.lower, self.upper)
        placed = column_group >= 0
        active = np.asarray(seed, dtype=bool).copy()
        if getattr(self, "_internal", None) is None:
            self._internal = internal_rows(self.matrix.tocsr(), column_group)
        coupling = self._internal < 0
        cost = np.asarray(h.getLp().col_cost_)

        def inactive_columns() -> np.ndarray:
            return np.flatnonzero(placed & ~active[np.maximum(column_group, 0)]).astype(np.int32)

        fixed = inactive_columns()
        h.changeColsBounds(len(fixed), fixed, np.zeros(len(fixed)), np.zeros(len(fixed)))
        pricing = _PricingLP(self, fixed, self._internal, column_group, lower, upper)
        self.pricing_rounds = 0
        solver = lp_solver
        for _ in range(max_rounds):
            h.setOptionValue("solver", solver)
            h.run()
            solver = "simplex"                 # warm start from the previous basis
            self.pricing_rounds += 1
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            z = float(h.getInfo().objective_function_value)
            duals = np.where(coupling, np.asarray(h.getSolution().row_dual), 0.0)
            reduced = cost[pricing.columns] - self.matrix[:, pricing.columns].T @ duals
            per_group = pricing.solve(reduced)
            if per_group is None:
                break
            bound = z + float(per_group.sum())
            joining = np.flatnonzero(per_group < -PRICING_TOLERANCE * max(1.0, abs(z)))
            if not len(joining) or z - bound <= PRICING_TOLERANCE * abs(z):
                return fixed, bound, active
            active[joining] = True
            opened = fixed[np.isin(column_group[fixed], joining)]
            h.changeColsBounds(len(opened), opened, lower[opened], upper[opened])
            pricing.drop(opened)
            fixed = inactive_columns()
        # the restricted LP could not be solved or priced: solve the full LP instead
        h.changeColsBounds(len(fixed), fixed, lower[fixed], upper[fixed])
        h.setOptionValue("solver", lp_solver)
        h.run()
        bound = (float(h.getInfo().objective_function_value)
                 if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else None)
        return np.array([], dtype=np.int32), bound, np.ones(len(active), dtype=bool)

    def restricted_run(self, keep: np.ndarray, column_group: np.ndarray,
                       options: SolverOptions, time_limit: float | None,
                       start: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        """Branch and bound over the placements in ``keep`` only (the rest fixed at 0), in a
        child process (:mod:`optimizer.isolated`) so that it ends at its deadline.

        A heuristic: the LP relaxation's support is small (at the benchmark's large size 27 of
        600 placements), and HiGHS solves the MIP restricted to it in seconds where the full
        model's root alone takes minutes. ``start`` (default: the first plan) is offered; it
        must use only placements in ``keep``. Stops early at the watch's target.

        Returns:
            The plan's column values (full length) and objective, or None without a plan.
        """
        out = np.flatnonzero((column_group >= 0) & ~keep[np.maximum(column_group, 0)])
        lower, upper = self.lower.copy(), self.upper.copy()
        lower[out] = upper[out] = 0.0
        start = self.first_plan_values if start is None else start
        outcome = self.isolated_mip(options, start, lower, upper, time_limit)
        if outcome.values is None:
            return None
        return outcome.values, outcome.objective

    def isolated_mip(self, options: SolverOptions, start: np.ndarray | None,
                     lower: np.ndarray, upper: np.ndarray, time_limit: float | None = None
                     ) -> IsolatedOutcome:
        """Branch and bound on this model with column bounds ``lower``/``upper`` in a child
        process, until the gap, the watch's deadline (or ``time_limit`` from now, the earlier),
        a cancel, or the watch's target."""
        ends = self.watch.deadline
        if time_limit is not None:
            ends = time.perf_counter() + time_limit if ends is None else min(
                ends, time.perf_counter() + time_limit)
        arrays = model_arrays(self.highs.getLp(), self.integer)
        arrays["col_lower"], arrays["col_upper"] = lower, upper
        highs_options = self.highs_options(options)
        if ends is not None:
            highs_options["time_limit"] = max(ends - time.perf_counter(), 0.0)

        def should_stop() -> bool:
            return self.watch.expired() or (ends is not None and time.perf_counter() >= ends)
        outcome = run_isolated(arrays, highs_options, start, should_stop, self.watch.target)
        self.watch.reached = outcome.reason == "target reached"
        return outcome

    def highs_options(self, options: SolverOptions) -> dict[str, Any]:
        """The HiGHS options of a MIP run with ``options`` (as :meth:`set_options` sets)."""
        values: dict[str, Any] = {"mip_rel_gap": float(options.mip_gap)}
        if self.stats["columns"] >= LARGE_MODEL_COLUMNS:
            values.update(mip_lp_solver=MIP_LP_SOLVER_LARGE,
                          mip_heuristic_effort=MIP_HEURISTIC_EFFORT_LARGE)
        if options.threads:
            values["threads"] = int(options.threads)
        if options.seed is not None:
            values["random_seed"] = int(options.seed)
        return values

    def offer_start(self, values: np.ndarray) -> None:
        """Offer full column values to HiGHS as the MIP start."""
        self.pending_start = values
        solution = highspy.HighsSolution()
        solution.col_value = values
        solution.value_valid = True
        self.highs.setSolution(solution)

    def plan_result(self, values: np.ndarray, options: SolverOptions, seconds: float,
                    how: str, bound: float | None = None) -> SolverResult:
        """A plan as the result, with ``bound`` (default: the LP relaxation's) as its proven
        bound."""
        cost = np.asarray(self.highs.getLp().col_cost_)
        objective = float(cost @ values) + self.offset
        bound = self.relaxation_bound if bound is None else bound
        gap = None
        if bound is not None:     # no proven bound: no gap, never optimal
            bound = min(bound, objective)
            gap = max(objective - bound, 0.0) / max(abs(objective), 1e-12)
        self.last_values = values
        self._load(values)
        status = Status.OPTIMAL if gap is not None and gap <= options.mip_gap else Status.FEASIBLE
        return SolverResult(status=status, objective=objective, best_bound=bound, mip_gap=gap,
                            transfer_seconds=self.transfer_seconds, solve_seconds=seconds,
                            highs_status=how, solver_version=highspy_version(),
                            stats=dict(self.stats))

    def integer_values(self) -> dict[str, float]:
        """The incumbent's integer decisions by variable name (a MIP start for a variant)."""
        values = getattr(self, "last_values", None)
        if values is None:
            return {}
        return {self.columns[j].name: float(round(values[j]))
                for j in np.flatnonzero(self.integer)}

    @property
    def isolate(self) -> bool:
        """Large MIPs run in a child process (:mod:`optimizer.isolated`): their root LP cannot
        be interrupted in-process."""
        return bool(self.integer.any()) and self.stats["columns"] >= LARGE_MODEL_COLUMNS

    def run(self) -> SolverResult:
        """Solve (until the gap, the watch's deadline, its target or a cancel); write the
        incumbent (if any) into the Pyomo variables."""
        if self.isolate:
            return self._run_isolated()
        h = self.highs
        start = time.perf_counter()
        left = self.watch.left()
        h.setOptionValue("time_limit", INF if left is None else max(left, 0.0))
        self.watch.reached = False
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
            self._load(outcome.values)
            objective = outcome.objective
            best_bound = outcome.bound
            if best_bound is not None:
                best_bound = min(best_bound, objective)
                gap = max(objective - best_bound, 0.0) / max(abs(objective), 1e-12)
            if status is Status.OPTIMAL and (gap is None or gap > self.options.mip_gap):
                status = Status.FEASIBLE
        name = outcome.status if not outcome.stopped else f"kInterrupt ({outcome.reason})"
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
                fleet is what it is); ``"binaries"`` fixes only declared binaries (site openings,
                cooling modes) and relaxes unit counts (long-run: capacity can grow).
        Returns:
            (family, index) -> dual, or None when the LP could not be solved.

        On a large model solved with placements (:attr:`column_group`), the LP is solved by
        pricing from the plan's placements and those that proved the relaxation; the duals of the rows that tie placements together
        (demand, grid, cards, cooling, supply, budget, policies) are then those of the full LP.
        """
        h = self.highs
        columns = np.flatnonzero(self.integer)
        if not len(columns):
            fixed = np.array([], dtype=np.int32)
        elif fix == "integers":
            fixed = columns
        else:
            fixed = np.flatnonzero(self.binary)
        try:
            h.changeColsIntegrality(len(columns), columns.astype(np.int32),
                                    np.full(len(columns), highspy.HighsVarType.kContinuous))
            rounded = np.round(values[fixed])
            h.changeColsBounds(len(fixed), fixed.astype(np.int32), rounded, rounded)
            h.setOptionValue("time_limit", INF)
            if self.column_group is not None:
                lower, upper = self.lower.copy(), self.upper.copy()
                lower[fixed] = upper[fixed] = rounded
                seed = used_placements(self.column_group, values)
                if self.placements_active is not None:   # what proved the relaxation
                    seed |= self.placements_active
                fixed_out, _, _ = self.priced_relaxation(self.column_group, seed,
                                                         bounds=(lower, upper))
                fixed = np.union1d(fixed, fixed_out)
            else:
                h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            duals = np.asarray(h.getSolution().row_dual)
        finally:
            h.setOptionValue("solver", "choose")
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
            if not var.fixed:       # fixed variables are constants of the model: keep them
                var.set_value(0 if var.lb is None or var.lb <= 0 else var.lb,
                              skip_validation=True)
        for var, x in zip(self.columns, values):
            if var.is_integer() or var.is_binary():
                x = round(x)
            var.set_value(float(x), skip_validation=True)


class _PricingLP:
    """The pricing problem of :meth:`CompiledModel.priced_relaxation`: the inactive
    placements' columns with their own rows, one HiGHS LP (block-diagonal), whose objective
    is reset to the reduced costs each round and whose columns drop out as placements join."""

    def __init__(self, compiled: CompiledModel, columns: np.ndarray, internal: np.ndarray,
                 column_group: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.columns = columns
        self.groups = column_group[columns]
        self.n_groups = int(column_group.max()) + 1
        self.alive = np.ones(len(columns), dtype=bool)
        rows = np.flatnonzero(np.isin(internal, np.unique(self.groups)))
        sub = compiled.matrix.tocsr()[rows][:, columns].tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(columns), len(rows)
        lp.col_cost_ = np.zeros(len(columns))
        lp.col_lower_ = lower[columns]
        lp.col_upper_ = upper[columns]
        lp.row_lower_ = compiled.row_lower[rows]
        lp.row_upper_ = compiled.row_upper[rows]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = sub.indptr
        lp.a_matrix_.index_ = sub.indices
        lp.a_matrix_.value_ = sub.data
        self.highs = new_highs()
        self.highs.passModel(lp)
        compiled.watch.attach(self.highs)

    def solve(self, reduced_cost: np.ndarray) -> np.ndarray | None:
        """Every placement's best reduced cost (<= 0; 0 for placements already active), or
        None when the pricing LP fails."""
        n = len(self.columns)
        cost = np.where(self.alive, reduced_cost, 0.0)
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.highs.getSolution().col_value)
        return np.minimum(np.bincount(self.groups, weights=cost * x, minlength=self.n_groups),
                          0.0)

    def drop(self, columns: np.ndarray) -> None:
        """Columns whose placement joined the LP leave the pricing problem."""
        positions = np.searchsorted(self.columns, columns).astype(np.int32)
        self.alive[positions] = False
        zeros = np.zeros(len(positions))
        self.highs.changeColsBounds(len(positions), positions, zeros, zeros)


def highspy_version() -> str:
    """HiGHS's version string (e.g. ``1.16.0``)."""
    try:
        h = new_highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    except Exception:  # noqa: BLE001 - older highspy
        return getattr(highspy, "__version__", "unknown")


FIRST_PLAN_MIN_INTEGERS = 200
"""Models with at least this many integers get the rounded-relaxation first plan."""
LARGE_MODEL_COLUMNS = 20_000
"""From this many columns, LPs are solved by interior point (measured faster here), the
relaxation by pricing placements, and branch and bound first runs over the LP's placements."""
MIP_LP_SOLVER_LARGE = "choose"
MIP_HEURISTIC_EFFORT_LARGE = 0.3
PRICING_TOLERANCE = 1e-7
"""Relative reduced cost below which a placement joins the LP; also the relative distance
between the LP and its proven bound at which pricing stops."""


FULL_ROOT_LP_FACTOR = 8.0
"""A full MIP's root LP is expected to take at most this many times the priced relaxation
(measured 4.3x at the benchmark's large size, 6.3x at xl); under a time limit the full model
runs only when that fits, because HiGHS 1.16 cannot interrupt a MIP's root LP."""
FULL_ROOT_LP_FACTOR_UNPRICED = 2.0
"""The same against a relaxation solved on the full model itself (presolve and cuts add to
the root)."""


def solve_model(model: pyo.ConcreteModel, options: SolverOptions,
                start: Mapping[str, float] | None = None,
                first_plan: bool | None = None,
                round_purchases: Callable[[dict[Any, float]], dict[Any, float]] | None = None,
                round_rest: Callable[[dict[Any, float]], dict[Any, float]] | None = None,
                placements: Callable[[list[Any]], tuple[np.ndarray, np.ndarray]] | None = None,
                started_at: float | None = None, cancel: threading.Event | None = None,
                ) -> tuple[CompiledModel, SolverResult]:
    """Compile ``model`` into HiGHS, solve it with ``options`` and load the plan back.

    Large models (``LARGE_MODEL_COLUMNS``) with ``placements`` go: relaxation by pricing
    placements -> rounded first plan -> branch and bound over the placements the relaxation
    or the first plan use -> the full model from the best plan, while the time lasts and the
    plan is not within the gap of the relaxation's proven bound. Under a time limit the full
    model runs only when its root LP is expected to fit (``FULL_ROOT_LP_FACTOR``).

    Args:
        start: a MIP start by variable name (e.g. the previous variant's plan).
        first_plan: offer the rounded LP relaxation as a MIP start (default: for models with
            at least ``FIRST_PLAN_MIN_INTEGERS`` integers and no ``start``).
        placements: HiGHS columns (Pyomo variables) -> (placement of every column,
            placements to start the LP with, (accelerator, site) numbers of every
            placement), from :mod:`optimizer.placements`.
        started_at: ``time.perf_counter()`` when the caller started; ``options.time_limit``
            counts from then (default: from this call).
        cancel: set from another thread to stop at once (the best plan so far is returned).

    Returns the compiled model (for re-solves) and the result.
    """
    started_at = time.perf_counter() if started_at is None else started_at
    compiled = CompiledModel(model)
    if cancel is not None:
        compiled.watch.cancel = cancel
    if options.time_limit:
        compiled.watch.deadline = started_at + options.time_limit
    compiled.set_options(options)
    large = compiled.stats["columns"] >= LARGE_MODEL_COLUMNS
    groups = placements(compiled.columns) if large and placements is not None else None
    priced = groups is not None
    if priced:
        compiled.column_group = groups[0]
    start_seconds, start_found = 0.0, False
    if start:
        compiled.set_start(start)
    elif first_plan or (first_plan is None and compiled.stats["integers"] >= FIRST_PLAN_MIN_INTEGERS):
        group, seed = groups[:2] if priced else (None, None)
        start_found, start_seconds = compiled.relaxation_start(
            lp_solver="ipm" if large else "choose", round_purchases=round_purchases,
            round_rest=round_rest, column_group=group, seed=seed)
        compiled.set_options(options)
    if priced and compiled.relaxation_values is not None:
        result = _restricted_then_full(compiled, groups[0], groups[2] if len(groups) > 2
                                       else None, options)
    elif start_found and large:
        # a first plan: improve it with the full model while it is not within the gap
        result = _improve(compiled, options, compiled.first_plan_values,
                          "first plan (rounded LP relaxation)", 0.0,
                          FULL_ROOT_LP_FACTOR_UNPRICED)
    else:
        result = compiled.run()
    result.start_seconds = start_seconds
    result.start_found = start_found
    return compiled, result


def _target(bound: float | None, gap: float) -> float | None:
    """The objective at which a plan is within ``gap`` of a proven (positive) ``bound``."""
    if bound is None or bound <= 0:
        return None
    return bound / max(1.0 - gap, 1e-12)


def _restricted_then_full(compiled: CompiledModel, column_group: np.ndarray,
                          coordinates: np.ndarray | None, options: SolverOptions
                          ) -> SolverResult:
    """Branch and bound over the placements the relaxation or the first plan use, stopped once
    within the gap of the relaxation's bound. Then, without a deadline, the full model from
    the better of that and the first plan (which proves the gap); under a deadline (where the
    full model's root LP would not fit: minutes at the benchmark's large size), branch and
    bound over growing neighbourhoods of the best plan (:func:`_neighbourhoods`) until the gap
    or the deadline."""
    began = time.perf_counter()
    cost = np.asarray(compiled.highs.getLp().col_cost_)
    plans = []
    if compiled.first_plan_values is not None:
        plans.append((compiled.first_plan_values, "first plan (rounded LP relaxation)"))
    support = [v for v in (compiled.relaxation_values, compiled.first_plan_values)
               if v is not None]
    keep = used_placements(column_group, *support)
    compiled.watch.target = _target(compiled.relaxation_bound, options.mip_gap)
    deadline = compiled.watch.deadline is not None
    rounds = 1 + (NEIGHBOURHOODS if deadline and coordinates is not None else 0)
    tried: list[np.ndarray] = []
    hood: np.ndarray | None = keep
    for round_number in range(rounds):
        if compiled.watch.expired() or hood is None:
            break
        best = min(plans, key=lambda plan: float(cost @ plan[0]))[0] if plans else None
        share = None
        if deadline:      # the support's round gets half, the neighbourhoods share the rest
            left = compiled.watch.left()
            share = left * FIRST_ROUND_SHARE if round_number == 0 and rounds > 1 else \
                left / (rounds - round_number)
        outcome = compiled.restricted_run(hood, column_group, options, share, best)
        tried.append(hood)
        if outcome is not None:
            plans.append((outcome[0], f"branch and bound over {int(hood.sum())} of "
                                      f"{len(hood)} placements"))
        if compiled.watch.reached or round_number + 1 >= rounds or not plans:
            break
        best = min(plans, key=lambda plan: float(cost @ plan[0]))[0]
        hoods = _neighbourhoods(keep, used_placements(column_group, best), coordinates)
        hood = next((h for h in hoods[round_number:]
                     if not any(np.array_equal(h, seen) for seen in tried)), None)
    seconds = time.perf_counter() - began
    if not plans:
        compiled.watch.target = None
        return compiled.run()
    values, how = min(plans, key=lambda plan: float(cost @ plan[0]))
    if deadline:
        if len(tried) > 1:
            how = f"{how} (best of {len(tried)} neighbourhoods)"
        return compiled.plan_result(values, options, seconds, how)
    return _improve(compiled, options, values, how, seconds, FULL_ROOT_LP_FACTOR)


NEIGHBOURHOODS = 3
"""Rounds of branch and bound around the best plan under a deadline (see _neighbourhoods)."""
FIRST_ROUND_SHARE = 0.5
"""Share of the time left that the first round (the relaxation's support) may use."""


def _neighbourhoods(keep: np.ndarray, used: np.ndarray, coordinates: np.ndarray
                    ) -> list[np.ndarray]:
    """Growing sets of placements around a plan that uses ``used``: every pair of the plan's
    accelerators and sites; then every accelerator at the plan's sites; then the plan's
    accelerators at every site. Each holds ``keep`` and the plan (so the plan is a start).

    Args:
        coordinates: (accelerator number, site number) of every placement.
    """
    accelerator, site = coordinates[:, 0], coordinates[:, 1]
    base = keep | used
    plan_accelerators = np.isin(accelerator, accelerator[used])
    plan_sites = np.isin(site, site[used])
    cross = base | (plan_accelerators & plan_sites)
    return [cross, cross | plan_sites, cross | plan_sites | plan_accelerators]


def _full_run_fits(compiled: CompiledModel, factor: float) -> bool:
    """Whether a full MIP's root LP is expected to end before the deadline."""
    left = compiled.watch.left()
    return left is None or left > factor * compiled.relaxation_seconds


def _improve(compiled: CompiledModel, options: SolverOptions, values: np.ndarray, how: str,
             seconds: float, factor: float) -> SolverResult:
    """The plan ``values`` as the result, improved by a full HiGHS run from it as the MIP
    start while it is not within the gap, the time lasts and the root LP fits; the better plan
    and the best proven bound (the relaxation's or HiGHS's) are reported."""
    result = compiled.plan_result(values, options, seconds, how)
    if (result.status is Status.OPTIMAL or compiled.watch.expired()
            or not _full_run_fits(compiled, factor)):
        return result
    compiled.offer_start(values)
    compiled.set_options(options)
    compiled.watch.target = _target(compiled.relaxation_bound, options.mip_gap)
    full = compiled.run()
    full.solve_seconds += seconds
    bounds = [b for b in (full.best_bound, compiled.relaxation_bound)
              if b is not None and math.isfinite(b)]
    bound = max(bounds) if bounds else None
    if full.status.has_plan and full.objective <= result.objective:
        chosen_values = compiled.last_values
        how = f"{how}, improved by the full model ({full.highs_status})"
    else:
        chosen_values = values
        how = f"{how}; the full model found no better plan ({full.highs_status})"
    return compiled.plan_result(chosen_values, options, full.solve_seconds, how, bound=bound)
