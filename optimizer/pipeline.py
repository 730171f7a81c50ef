"""The deterministic pipeline: instance -> problem data -> Pyomo model -> HiGHS -> plan.

load and validate (:mod:`optimizer.instance`) -> problem data (:mod:`optimizer.problem`) ->
model (:mod:`formulations`) -> standard form and HiGHS (:mod:`optimizer.solver`) -> tables,
KPIs, marginal costs, binding caps or the explanation of no plan (:mod:`optimizer.analysis`)
-> :class:`~optimizer.output.results.Plan`. Scenario plans (:mod:`optimizer.scenarios`) solve
their pieces through here; :func:`optimizer.planning.solve` is the entry point.
"""
from __future__ import annotations

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
from optimizer.output.results import Decisions, Plan
from optimizer.problem import ProblemData, build_problem_data
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel, highspy_version
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


def solve_deterministic(instance: Any, time_limit: float | None = None, mip_gap: float = 1e-4,
                        threads: int | None = None, seed: int | None = None,
                        raise_on_infeasible: bool = True, explain: bool = True,
                        start: Mapping[str, float] | None = None,
                        fix_first_stage: tuple[int, Decisions] | None = None,
                        started_at: float | None = None,
                        cancel: threading.Event | None = None,
                        extra_constraints: ExtraConstraints = (),
                        progress: Callable[[dict[str, float | None]], None] | None = None
                        ) -> Plan:
    """Build and solve the planning MILP of ``instance`` for its own demand (see
    :func:`optimizer.planning.solve` for the arguments)."""
    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed)
    called = time.perf_counter()
    began = called if started_at is None else started_at     # the time limit counts from here
    data = build_problem_data(instance)
    obvious = precheck(data)
    if obvious:
        summary = _summary(instance, data, None, options, time.perf_counter() - began)
        obvious = name_overrides(in_order(obvious, data.periods), dict(instance.overrides))
        return _no_plan(Status.INFEASIBLE, summary, obvious, raise_on_infeasible)
    model = build_model(data, extra_constraints)
    if fix_first_stage is not None:
        commit, decisions = fix_first_stage
        if not fix_decisions(model, data, commit, decisions):
            summary = _summary(instance, data, None, options, time.perf_counter() - began)
            summary["solver"]["model_status"] = "not run (a fixed decision does not exist here)"
            return _no_plan(Status.INFEASIBLE, summary, [], False)
    build_seconds = time.perf_counter() - called
    solving = options
    if explain and time_limit:      # the explanation's LPs run inside the limit too
        solving = SolverOptions(time_limit=time_limit * (1 - EXPLAIN_SHARE), mip_gap=mip_gap,
                                threads=threads, seed=seed)
    form = StandardForm(model)
    highs = HighsModel(form.arrays)
    hooks = plan_hooks(form, data, highs.large)
    money = data.money_unit

    def report(at: float, objective: float, bound: float | None) -> None:
        if progress is not None:
            progress({"seconds": at - began, "objective": objective * money,
                      "bound": None if bound is None else bound * money})
    highs.watch.listener = report
    with solver_running(cancel):          # a signal now stops HiGHS, keeping its best plan
        result = solve_arrays(highs, solving, form.start_from_names(start) if start else None,
                              hooks, started_at=began, cancel=cancel)
    result.transfer_seconds = form.seconds + highs.transfer_seconds
    if time_limit:
        highs.watch.deadline = began + time_limit
    summary = _summary(instance, data, result, options, build_seconds)
    summary["startup_seconds"] = called - began
    summary["progress"] = [[round(at - began, 3), objective * money,
                            None if bound is None else bound * money]
                           for at, objective, bound in highs.watch.events]
    if not result.status.has_plan:
        explanation: list[Relaxation] = []
        alternatives: list[list[Relaxation]] = []
        if result.status is Status.INFEASIBLE and explain:
            def elastic(weights: dict[int, float]) -> tuple[Any, dict[int, float]] | None:
                again = HighsModel(form.arrays, highs.watch)
                outcome, values, slack = again.elastic_solve(weights, options)
                if not outcome.has_plan:
                    return None
                form.load(values)
                return model, slack
            explanation, alternatives = ways_out(elastic, data, form.row_keys(),
                                                 dict(instance.overrides))
        return _no_plan(result.status, summary, explanation, raise_on_infeasible,
                        alternatives)
    with solver_running(cancel):      # from here on a signal sets the flag: the plan is kept
        return _report(instance, data, model, form, highs, result, summary, explain, cancel)


def _report(instance: Any, data: ProblemData, model: pyo.ConcreteModel, form: StandardForm,
            highs: HighsModel, result: SolverResult, summary: dict[str, Any], explain: bool,
            cancel: threading.Event | None) -> Plan:
    """Tables, KPIs, marginal costs and binding caps of a solved plan."""
    form.load(highs.last_values)
    tables = plan_tables(model, data)
    npv = result.objective * data.money_unit
    summary["kpis"] = plan_kpis(tables, data, npv)
    if cancel is not None and cancel.is_set():
        explain = False                  # stopped: the plan so far, at once
        summary["explain_note"] = "marginal costs and shadow prices not computed: interrupted"
    if explain:
        explain_start = time.perf_counter()
        values = highs.last_values
        long_run = form.keyed_duals(_duals(highs, values, "binaries"))
        fixed = form.keyed_duals(_duals(highs, values, "integers"))
        tables["marginal_costs"] = marginal_costs(data, fixed, long_run)
        tables["binding"] = binding_rows(model, data, long_run, fixed)
        summary["binding_top"] = tables["binding"]["message"].head(5).tolist()
        summary["marginal_cost_jumps"] = marginal_cost_jumps(
            tables["marginal_costs"], tables["binding"], data.periods, data.currency)
        summary["explain_seconds"] = time.perf_counter() - explain_start
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


def plan_hooks(form: StandardForm, data: ProblemData, large: bool) -> PlanHooks:
    """What the solve strategy needs to know about the columns: which are purchases, how
    to round them and the other integers (:mod:`optimizer.solver.rounding`), and for large
    models the (accelerator, site) placement of every column."""
    keys = form.column_keys()

    def purchases(columns: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
        chosen = round_purchases(data, {keys[j][1]: x for j, x in zip(columns, relaxed)})
        return np.array([chosen[keys[j][1]] for j in columns], dtype=float)

    def rest(columns: np.ndarray, relaxed: np.ndarray) -> np.ndarray:
        named = [keys[j] for j in columns]
        chosen = round_rest(data, dict(zip(named, relaxed)))
        return np.array([chosen[key] for key in named], dtype=float)
    def constructive() -> tuple[np.ndarray, np.ndarray] | None:
        made = greedy_plan(data)
        if made.failed:
            return None
        integers = np.flatnonzero(form.arrays.integer)
        values = np.array([_greedy_value(made, *keys[j]) for j in integers], dtype=float)
        return integers.astype(np.int32), values
    hooks = PlanHooks(purchases=form.columns_of(PURCHASES), round_purchases=purchases,
                      round_rest=rest, constructive=constructive)
    if large:
        group, placements = placement_groups(keys, PLACEMENT_POSITIONS)
        hooks.column_group = group
        hooks.seed = seed_placements(data, placements)
        hooks.coordinates = placement_coordinates(data, placements)
    return hooks


def _greedy_value(made: Any, family: str, index: Any) -> float:
    """A constructive plan's value of one integer column."""
    if family == "units_bought":
        return float(made.units.get(index, 0))
    if family == "build":
        return float(made.builds.get(index, 0.0))
    if family == "site_open":
        site, t = index
        return 1.0 if site in made.opened and t >= made.opened[site] else 0.0
    if family == "cooling_mode":
        site, mode = index
        return 1.0 if made.modes.get(site) == mode else 0.0
    if family == "cards_rented":
        return float(made.rented.get(index, 0))
    return 0.0


FIRST_STAGE_KEYS = {"units_bought": "purchases", "build": "builds_mw", "site_open": "openings"}


def decisions_of(model: pyo.ConcreteModel, data: ProblemData) -> Decisions:
    """A solved model's purchases, builds (MW) and openings, keyed by labels."""
    label = data.periods
    purchases = {(k, s, c, label[t]): float(round(model.units_bought[k, s, c, t].value or 0))
                 for (k, s, c, t) in data.BUY if (model.units_bought[k, s, c, t].value or 0)}
    builds = {(s, c, label[t]): float(model.build[s, c, t].value or 0.0)
              * data.build_unit_mw[s, c] for (s, c, t) in data.BUILD
              if (model.build[s, c, t].value or 0.0) > 1e-9}
    openings = {(s, label[t]): float(round(model.site_open[s, t].value or 0))
                for s in data.OPENABLE for t in range(data.n_periods)}
    return Decisions(purchases, builds, openings)


def fix_decisions(model: pyo.ConcreteModel, data: ProblemData, commit: int,
                  decisions: Decisions) -> bool:
    """Fix the purchases, builds and openings of periods before ``commit`` at ``decisions``
    (0 where none is given). False when a nonzero decision has no variable here (it cannot be
    made in this instance)."""
    label = data.periods
    first = set(label[:commit])
    present = set()
    for (k, s, c, t) in data.BUY:
        if t < commit:
            key = (k, s, c, label[t])
            model.units_bought[k, s, c, t].fix(decisions.purchases.get(key, 0.0))
            present.add(("purchases", key))
    for (s, c, t) in data.BUILD:
        if t < commit:
            key = (s, c, label[t])
            model.build[s, c, t].fix(decisions.builds_mw.get(key, 0.0) / data.build_unit_mw[s, c])
            present.add(("builds_mw", key))
    for s in data.OPENABLE:
        for t in range(min(commit, data.n_periods)):
            key = (s, label[t])
            model.site_open[s, t].fix(decisions.openings.get(key, 0.0))
            present.add(("openings", key))
    openable = set(data.OPENABLE)
    for name in ("purchases", "builds_mw", "openings"):
        for key, value in getattr(decisions, name).items():
            if key[-1] not in first or abs(value) < 1e-9:
                continue
            if name == "openings" and key[0] not in openable:
                continue          # an operating site is open anyway
            if (name, key) not in present:
                return False
    return True


def _no_plan(status: Status, summary: dict[str, Any], explanation: list[Relaxation],
             raise_on_infeasible: bool, alternatives: list[list[Relaxation]] | None = None
             ) -> Plan:
    summary["explanation"] = [r.as_dict() for r in explanation]
    if alternatives:
        summary["alternatives"] = [[r.as_dict() for r in way] for way in alternatives]
    plan = Plan(status=status, objective=None, best_bound=None, mip_gap=None, summary=summary,
                explanation=explanation)
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
    return {"name": instance.spec.name, "file": str(instance.path),
            "currency": instance.spec.currency, "overrides": dict(instance.overrides),
            "override_files": list(getattr(instance, "override_files", ())),
            "demand_scale": instance.demand_scale}
