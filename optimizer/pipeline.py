"""The deterministic pipeline: instance -> problem data -> Pyomo model -> HiGHS -> plan.

load and validate (:mod:`optimizer.instance`) -> problem data (:mod:`optimizer.problem`) ->
model (:mod:`formulations`) -> standard form and HiGHS (:mod:`optimizer.solver`) -> tables,
KPIs, marginal costs, binding caps or the explanation of no plan (:mod:`optimizer.analysis`)
-> :class:`~optimizer.output.results.Plan`. Scenario plans (:mod:`optimizer.scenarios`) solve
their pieces through here; :func:`optimizer.planning.solve` is the entry point.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Mapping

import numpy as np
import pyomo.environ as pyo

from formulations import ExtraConstraints, build_model
from formulations.variables import PLACEMENT_POSITIONS, PURCHASES
from optimizer.analysis.binding import binding_rows
from optimizer.analysis.explain import in_order, name_overrides, ways_out
from optimizer.analysis.kpis import plan_kpis
from optimizer.analysis.marginal import marginal_cost_jumps, marginal_costs
from optimizer.analysis.precheck import precheck
from optimizer.analysis.tables import plan_tables
from optimizer.cancel import solver_running
from optimizer.errors import InfeasibleError, Relaxation
from optimizer.options import SolveOptions
from optimizer.output.results import Decisions, Plan
from optimizer.problem import ProblemData, build_problem_data
from optimizer.problem.entries import first_stage_keys
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel, highspy_version, write_model_file
from optimizer.solver.pricing import (
    placement_coordinates, placement_groups, priced_duals, seed_placements,
)
from optimizer.solver.greedy import greedy_plan
from optimizer.solver.rounding import round_purchases, round_rest
from optimizer.solver.strategy import PlanHooks, solve_arrays
from optimizer.status import SolverOptions, SolverResult, Status

EXPLAIN_SHARE = 0.1
"""Share of a time limit kept for the explanation (marginal costs and binding caps, two LP
re-solves) when it is asked for."""


def solve_deterministic(instance: Any, options: SolveOptions | None = None) -> Plan:
    """Build and solve the planning MILP of ``instance`` for its own demand (see
    :func:`optimizer.planning.solve` for the options)."""
    options = options or SolveOptions()
    solver_options = options.solver
    time_limit, explain = options.time_limit, options.explain
    raise_on_infeasible, cancel, progress = (options.raise_on_infeasible, options.cancel,
                                             options.progress)
    called = time.perf_counter()
    began = called if options.started_at is None else options.started_at
    options.stop_if_cancelled("loading the instance")
    data = build_problem_data(instance)
    options.stop_if_cancelled("building the problem data")
    obvious = precheck(data)
    if obvious:
        summary = _summary(instance, data, None, solver_options, time.perf_counter() - began)
        obvious = name_overrides(in_order(obvious, data.periods), dict(instance.overrides))
        return _no_plan(Status.INFEASIBLE, summary, obvious, raise_on_infeasible)
    model = build_model(data, options.extra_constraints)
    options.stop_if_cancelled("building the model")
    if options.fix_first_stage is not None:
        commit, decisions = options.fix_first_stage
        if not fix_decisions(model, data, commit, decisions):
            summary = _summary(instance, data, None, solver_options,
                               time.perf_counter() - began)
            summary["solver"]["model_status"] = "not run (a fixed decision does not exist here)"
            return _no_plan(Status.INFEASIBLE, summary, [], False)
    build_seconds = time.perf_counter() - called
    form = StandardForm(model)
    options.stop_if_cancelled("compiling the model")
    highs = HighsModel(form.arrays)
    handed_over = time.perf_counter()
    model_file = write_model_if_asked(form, options, data.money_unit)   # not hand-over time
    fixed = None if options.fix_first_stage is None else \
        first_stage_values(data, *options.fix_first_stage)[0]
    hooks = plan_hooks(form, data, highs.large, fixed)
    money = data.money_unit
    solving = solver_options
    if time_limit:      # the tables (and the explanation's LPs) are made inside the limit too
        reserve = report_reserve(highs.stats["columns"])
        share = 1 - EXPLAIN_SHARE if explain else 1.0
        solving = SolverOptions(time_limit=max(time_limit * share - reserve, 1e-3),
                                mip_gap=options.mip_gap, threads=options.threads,
                                seed=options.seed)

    def report(at: float, objective: float, bound: float | None) -> None:
        if progress is not None:
            progress({"seconds": at - began, "objective": objective * money,
                      "bound": None if bound is None else bound * money, "stage": "plan"})
    highs.watch.listener = report
    with solver_running(cancel):          # a signal now stops HiGHS, keeping its best plan
        result = solve_arrays(highs, solving,
                              form.start_from_names(options.start) if options.start else None,
                              hooks, started_at=began, cancel=cancel)
    solved = time.perf_counter()
    result.transfer_seconds = form.seconds + highs.transfer_seconds
    if time_limit:
        highs.watch.deadline = began + time_limit
    summary = _summary(instance, data, result, solver_options, build_seconds)
    summary["startup_seconds"] = called - began
    if model_file is not None:
        summary["model_file"] = model_file
    summary["timings"] = {"startup_seconds": called - began, "build_seconds": build_seconds,
                          "transfer_seconds": handed_over - called - build_seconds,
                          "solve_seconds": solved - handed_over,
                          "first_plan_seconds": result.start_seconds}
    summary["progress"] = [[round(at - began, 3), objective * money,
                            None if bound is None else bound * money]
                           for at, objective, bound in highs.watch.events]
    if result.status.has_plan and result.best_bound is None:
        summary["bound_note"] = bound_note(highs, began, time_limit)
    if not result.status.has_plan:
        if result.status is not Status.INFEASIBLE and highs.relaxation_bound is not None:
            summary["proven_bound"] = highs.relaxation_bound * money   # no plan in time
        explanation: list[Relaxation] = []
        alternatives: list[list[Relaxation]] = []
        if result.status is Status.INFEASIBLE and explain:
            def explaining(at: float, objective: float, bound: float | None) -> None:
                if progress is not None:     # the cost of the least relaxation, not an NPV
                    progress({"seconds": at - began, "objective": None, "bound": None,
                              "stage": "explaining: no plan exists; finding what would "
                                       "have to give"})
            highs.watch.listener = explaining

            def elastic(weights: dict[int, float]) -> tuple[Any, dict[int, float]] | None:
                again = HighsModel(form.arrays, highs.watch)
                outcome, values, slack = again.elastic_solve(weights, solver_options)
                if not outcome.has_plan:
                    return None
                form.load(values)
                return model, slack
            explanation, alternatives = ways_out(elastic, data, form.row_keys(),
                                                 dict(instance.overrides))
        summary["timings"]["explain_seconds"] = time.perf_counter() - solved
        return _no_plan(result.status, summary, explanation, raise_on_infeasible,
                        alternatives)
    with solver_running(cancel):      # from here on a signal sets the flag: the plan is kept
        return _report(instance, data, model, form, highs, result, summary, explain, cancel)


def write_model_if_asked(form: StandardForm, options: SolveOptions,
                         money_unit: float) -> dict[str, Any] | None:
    """Write the compiled model to ``options.write_model``; what the summary records of it
    (its objective is in units of ``money_unit`` of the instance's currency, the scale the
    solver works in, and includes the constant ``offset``)."""
    if not options.write_model:
        return None
    write_model_file(form.arrays, options.write_model, *form.names())
    return {"path": str(options.write_model), "objective_unit": money_unit,
            "objective_offset": form.arrays.offset, **form.arrays.stats}


REPORT_SECONDS_PER_COLUMN = 8e-6
"""Time the tables and KPIs of a plan take per column of the model (measured 2.8 s for the
benchmark's xl size, 388,000 columns, on this machine), kept from the solver's share of a time
limit with ``REPORT_SECONDS_MIN``."""
REPORT_SECONDS_MIN = 0.3
EXPLAIN_LP_FACTOR = 3.0
"""The explanation's two LP re-solves are started only when the time left is at least this
many times the relaxation's LP time (they cannot be cut short inside HiGHS's presolve)."""


RELAXATION_SECONDS_PER_COLUMN = 5e-5
"""The priced LP relaxation's time per column of the model (measured 18 s at the benchmark's
xl size, 388,000 columns, on this machine), for what a time limit too short would need."""


def report_reserve(columns: int) -> float:
    """Seconds kept from the solve for the plan's tables and KPIs."""
    return REPORT_SECONDS_MIN + REPORT_SECONDS_PER_COLUMN * columns


def bound_note(highs: HighsModel, began: float, time_limit: float | None) -> str:
    """Why a plan has no proven bound, and what would give one."""
    spent = highs.relaxation_seconds
    columns = highs.stats["columns"]
    if time_limit:
        expected = max(2 * spent, RELAXATION_SECONDS_PER_COLUMN * columns)
        needed = time.perf_counter() - began + expected + report_reserve(columns)
        return (f"no proven bound: the LP relaxation, which proves one, did not finish in the "
                f"time limit (stopped after {spent:.1f} s of it; about {expected:.0f} s are "
                f"expected at {columns:,} columns); allow --time-limit {math.ceil(needed)} "
                "or more")
    return "no proven bound: the LP relaxation did not finish"


def _explain_fits(highs: HighsModel, deadline: float | None) -> bool:
    if deadline is None:
        return True
    left = deadline - time.perf_counter()
    return left > EXPLAIN_LP_FACTOR * max(highs.relaxation_seconds, 0.05)


def _report(instance: Any, data: ProblemData, model: pyo.ConcreteModel, form: StandardForm,
            highs: HighsModel, result: SolverResult, summary: dict[str, Any], explain: bool,
            cancel: threading.Event | None) -> Plan:
    """Tables, KPIs, marginal costs and binding caps of a solved plan."""
    reported = time.perf_counter()
    form.load(highs.last_values)
    tables = plan_tables(model, data)
    npv = result.objective * data.money_unit
    if not model.npv.active:         # an extra family minimised something else (cards, tCO2)
        objective = next(o for o in model.component_objects(pyo.Objective, active=True))
        summary["objective_is"] = objective.name
        npv = float(tables["costs"]["discounted_total"].sum()) if "costs" in tables else npv
    summary["kpis"] = plan_kpis(tables, data, npv)
    summary["timings"]["report_seconds"] = time.perf_counter() - reported
    if cancel is not None and cancel.is_set():
        explain = False                  # stopped: the plan so far, at once
        summary["explain_note"] = "marginal costs and shadow prices not computed: interrupted"
    elif explain and not _explain_fits(highs, highs.watch.deadline):
        explain = False
        summary["explain_note"] = (
            "marginal costs and shadow prices not computed: the time limit left "
            f"{max(highs.watch.left() or 0.0, 0.0):.1f} s, and their two LP re-solves need "
            f"about {EXPLAIN_LP_FACTOR * highs.relaxation_seconds:.1f} s")
    if explain:
        explain_start = time.perf_counter()
        values = highs.last_values
        long_run = form.keyed_duals(_duals(highs, values, "binaries"))
        fixed = form.keyed_duals(_duals(highs, values, "integers"))
        tables["marginal_costs"] = marginal_costs(data, fixed, long_run)
        tables["binding"] = binding_rows(model, data, long_run, fixed)
        summary["binding_top"] = tables["binding"]["message"].head(5).tolist()
        summary["marginal_cost_jumps"] = marginal_cost_jumps(
            tables["marginal_costs"], tables["binding"], data.periods, data.currency,
            data=data)
        summary["explain_seconds"] = time.perf_counter() - explain_start
        summary["timings"]["explain_seconds"] = summary["explain_seconds"]
        summary["marginal_costs_method"] = (
            "cost_per_million_tokens: demand dual of the LP with every integer fixed at the "
            "plan (the fleet as planned); cost_per_million_tokens_long_run: with site "
            "openings and cooling modes fixed and purchase and build counts continuous (the "
            "fleet may grow)")
        if long_run is None or fixed is None:
            summary["explain_note"] = ("marginal costs and shadow prices not computed: the "
                                       "time limit ran out")
    return Plan(status=result.status, objective=npv,
                best_bound=(None if result.best_bound is None
                            else result.best_bound * data.money_unit), mip_gap=result.mip_gap,
                tables=tables, summary=summary,
                start_values=form.integer_values(highs.last_values),
                decisions=decisions_of(model, data))


def _duals(highs: HighsModel, values: np.ndarray, fix: str) -> np.ndarray | None:
    if highs.column_group is not None:
        return priced_duals(highs, values, fix)
    return highs.lp_duals(values, fix)


def plan_hooks(form: StandardForm, data: ProblemData, large: bool,
               fixed: dict[str, dict[Any, float]] | None = None) -> PlanHooks:
    """What the solve strategy needs to know about the columns: which are purchases, how
    to round them and the other integers (:mod:`optimizer.solver.rounding`), and for large
    models the (accelerator, site) placement of every column. ``fixed``: the decisions
    fixed before the solve (variable -> key -> value), which the constructive plan keeps."""
    keys = form.column_keys()

    def purchases(columns: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
        chosen = round_purchases(data, {keys[j][1]: x for j, x in zip(columns, relaxed)})
        return np.array([chosen[keys[j][1]] for j in columns], dtype=float)

    def rest(columns: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
        named = [keys[j] for j in columns]
        chosen = round_rest(data, dict(zip(named, relaxed)))
        return np.array([chosen[key] for key in named], dtype=float)
    def constructive() -> tuple[np.ndarray, np.ndarray] | None:
        made = greedy_plan(data, fixed)
        if made.failed:
            return None
        integers = np.flatnonzero(form.arrays.integer)
        values = np.array([made.value(*keys[j]) for j in integers], dtype=float)
        return integers.astype(np.int32), values
    hooks = PlanHooks(purchases=form.columns_of(PURCHASES), round_purchases=purchases,
                      round_rest=rest, constructive=constructive)
    if large:
        hooks.column_period = column_periods(keys)
        group, placements = placement_groups(keys, PLACEMENT_POSITIONS)
        hooks.column_group = group
        hooks.seed = seed_placements(data, placements)
        hooks.coordinates = placement_coordinates(data, placements)
    return hooks


def column_periods(keys: list[tuple[str, Any]]) -> np.ndarray:
    """The period number of every column (the last element of its index, -1 where that is
    not a period number: a cooling mode's (site, mode))."""
    def period(index: Any) -> int:
        last = index[-1] if isinstance(index, tuple) and index else index
        return last if isinstance(last, int) and not isinstance(last, bool) else -1
    return np.array([period(index) for _, index in keys], dtype=np.int32)


def decisions_of(model: pyo.ConcreteModel, data: ProblemData) -> Decisions:
    """A solved model's purchases (by delivery, with their order periods), builds (MW),
    openings and rentals, keyed by labels."""
    label = data.periods

    def value(var: Any) -> float:
        return float(var.value or 0.0)
    purchases, ordered = {}, {}
    for (k, s, c, t) in data.BUY:
        units = float(round(value(model.units_bought[k, s, c, t])))
        if units:
            key = (k, s, c, label[t])
            purchases[key] = units
            if data.order_period(k, t) != t:
                ordered[key] = label[data.order_period(k, t)]
    builds = {(s, c, label[t]): value(model.build[s, c, t]) * data.build_unit_mw[s, c]
              for (s, c, t) in data.BUILD if value(model.build[s, c, t]) > 1e-9}
    openings = {(s, label[t]): float(round(value(model.site_open[s, t])))
                for (s, t) in data.OPENING}
    rentals = {(r, label[t]): float(round(value(model.cards_rented[r, t])))
               for (r, t) in data.RENT if round(value(model.cards_rented[r, t]))}
    return Decisions(purchases, builds, openings, rentals, ordered)


def first_stage_values(data: ProblemData, commit: int, decisions: Decisions
                       ) -> tuple[dict[str, dict[Any, float]], bool]:
    """The values of the first-stage variables (:func:`optimizer.problem.entries.
    first_stage_keys`) that ``decisions`` sets: variable -> key -> value (0 where it sets
    none), and whether every nonzero first-stage decision of ``decisions`` has a variable
    here (False: it cannot be made in this instance)."""
    label = data.periods
    keys = first_stage_keys(data, commit)
    values: dict[str, dict[Any, float]] = {}
    present = set()
    for (k, s, c, t) in keys["units_bought"]:
        named = (k, s, c, label[t])
        values.setdefault("units_bought", {})[k, s, c, t] = decisions.purchases.get(named, 0.0)
        present.add(("purchases", named))
    for (s, c, t) in keys["build"]:
        named = (s, c, label[t])
        values.setdefault("build", {})[s, c, t] = (decisions.builds_mw.get(named, 0.0)
                                                   / data.build_unit_mw[s, c])
        present.add(("builds_mw", named))
    for (s, t) in keys["site_open"]:
        named = (s, label[t])
        values.setdefault("site_open", {})[s, t] = decisions.openings.get(named, 0.0)
        present.add(("openings", named))
    for (r, t) in keys["cards_rented"]:
        named = (r, label[t])
        values.setdefault("cards_rented", {})[r, t] = decisions.rentals.get(named, 0.0)
        present.add(("rentals", named))
    committed = decisions.first_stage(label[:commit])
    openable = set(data.OPENABLE)
    complete = True
    for name in ("purchases", "builds_mw", "openings", "rentals"):
        for key, amount in getattr(committed, name).items():
            if abs(amount) < 1e-9 or (name == "openings" and key[0] not in openable):
                continue          # an operating site is open anyway
            if (name, key) not in present:
                complete = False
    return values, complete


def fix_decisions(model: pyo.ConcreteModel, data: ProblemData, commit: int,
                  decisions: Decisions) -> bool:
    """Fix the first stage of the periods before ``commit`` (orders placed then, builds,
    openings, rentals) at ``decisions`` (0 where none is given). False when a nonzero
    decision has no variable here (it cannot be made in this instance)."""
    values, complete = first_stage_values(data, commit, decisions)
    for variable, keyed in values.items():
        component = getattr(model, variable)
        for key, value in keyed.items():
            component[key].fix(value)
    return complete


def _no_plan(status: Status, summary: dict[str, Any], explanation: list[Relaxation],
             raise_on_infeasible: bool, alternatives: list[list[Relaxation]] | None = None
             ) -> Plan:
    summary["explanation"] = [r.as_dict() for r in explanation]
    if alternatives:
        summary["alternatives"] = [[r.as_dict() for r in way] for way in alternatives]
    plan = Plan(status=status, objective=None, best_bound=summary.get("best_bound"),
                mip_gap=None, summary=summary, explanation=explanation)
    if status is Status.INFEASIBLE and raise_on_infeasible:
        headline = ("no plan exists; what would have to give:" if explanation
                    else "no plan exists (no single relaxation found to explain it)")
        error = InfeasibleError(explanation, headline, alternatives)
        error.plan = plan
        raise error
    return plan


def _summary(instance: Any, data: Any, result: SolverResult | None,
             options: SolverOptions, build_seconds: float) -> dict[str, Any]:
    money = data.money_unit
    if result is None:  # stopped before the solve
        return {"status": Status.INFEASIBLE.value, "objective": None, "best_bound": None,
                "mip_gap": None, "build_seconds": build_seconds, "transfer_seconds": 0.0,
                "solve_seconds": 0.0, "solver": {"name": "highs", "version": highspy_version(),
                                                 "model_status": "not run (pre-check)"},
                "options": options.as_dict(), "input_sha256": instance.input_sha256,
                "instance": _instance_info(instance), "kpis": {}}
    return {
        "status": result.status.value,
        "objective": result.objective * money if result.objective is not None else None,
        "best_bound": result.best_bound * money if result.best_bound is not None else None,
        "mip_gap": result.mip_gap,
        "build_seconds": build_seconds,
        "transfer_seconds": result.transfer_seconds,
        "solve_seconds": result.solve_seconds,
        "start_seconds": result.start_seconds,
        "first_plan_found": result.start_found,
        "solver": {"name": "highs", "version": result.solver_version,
                   "model_status": result.highs_status},
        "options": options.as_dict(),
        "input_sha256": instance.input_sha256,
        "instance": _instance_info(instance),
        "model": dict(result.stats),
        "scaling": {"money_unit": money, "token_unit_tokens_per_s": data.token_unit},
        "kpis": {},
    }


def _instance_info(instance: Any) -> dict[str, Any]:
    from optimizer.instance.warnings import instance_warnings
    return {"warnings": instance_warnings(instance.spec),"name": instance.spec.name, "file": str(instance.path),
            "currency": instance.spec.currency, "overrides": dict(instance.overrides),
            "override_files": list(getattr(instance, "override_files", ())),
            "demand_scale": instance.demand_scale}
