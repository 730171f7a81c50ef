"""The extensive form of a stochastic plan: decide now, adapt later, under uncertain demand.

Each scenario is the instance as it sees it (its fragment merged over the file, its demand
scale applied), built as one Pyomo block by the same formulation functions as a deterministic
plan, with the user's extra constraints. What is decided in the first ``commit_periods``
periods is the same in every scenario (non-anticipativity, model.md): orders placed then
(keyed by their order period, whatever their delivery), cooling builds, site openings and
rentals (:func:`optimizer.problem.entries.first_stage_keys`). The objective is the
probability-weighted NPV, or with ``scenarios.risk`` the Rockafellar-Uryasev form
(1 - w) E[NPV] + w (eta + sum_s p_s u_s / (1 - alpha)), u_s >= NPV_s - eta, u_s >= 0.

Reported: the first-stage plan, each scenario's recourse and NPV, the expected NPV and the
risk figures, the value of the stochastic solution and the expected value of perfect
information (:mod:`optimizer.scenarios.stochastic`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from formulations import PYOMO_LOCK, add_families
from formulations.objective import add_objective
from formulations.variables import PURCHASES, add_sets, add_variables
from optimizer.analysis.kpis import plan_kpis
from optimizer.analysis.precheck import precheck
from optimizer.analysis.tables import plan_tables
from optimizer.cancel import solver_running
from optimizer.errors import InfeasibleError, Relaxation
from optimizer.instance.loader import Instance
from optimizer.options import SolveOptions
from optimizer.output.results import Plan
from optimizer.pipeline import (
    _summary, decisions_of, first_stage_values, solve_deterministic, write_model_if_asked)
from optimizer.problem import ProblemData, build_problem_data
from optimizer.problem.entries import stage_keys
from optimizer.scenarios.tree import Node, committed_periods, is_tree, scenario_nodes
from optimizer.scenarios.assemble import (
    DEFAULT_CVAR_ALPHA, ScenarioOutcome, assemble, node_table,
)
from optimizer.scenarios.first_plan import extensive_constructive
from optimizer.scenarios.scenario_set import demand_ratio, future_instance, futures, total_demand
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel
from optimizer.solver.strategy import PlanHooks, solve_arrays
from optimizer.status import Status

ValueOfInformation = Callable[[Instance, float, SolveOptions, "float | None"], dict]
"""(instance, expected NPV, options, wall-clock deadline) -> value-of-information figures."""

EXTENSIVE_SHARE = 0.6
"""Share of a time limit the extensive form may use when the value of information (2 S + 1
more solves) is computed after it; those share what is left."""


@dataclass
class ScenarioModel:
    """One scenario's block of the extensive form."""

    name: str
    probability: float
    demand_scale: float
    data: ProblemData
    block: Any
    instance: Instance


class ScenarioWithoutPlan(Exception):
    """A scenario is seen to have no plan before the model is built."""

    def __init__(self, name: str, reasons: list[Relaxation]) -> None:
        super().__init__(name)
        self.name, self.reasons = name, reasons


def commit_periods(instance: Instance) -> int:
    """Periods whose decisions every scenario shares."""
    return committed_periods(instance.spec)


def build_extensive_form(instance: Instance, options: SolveOptions | None = None
                         ) -> tuple[pyo.ConcreteModel, list[ScenarioModel]]:
    """One block per scenario, non-anticipativity rows, the expected-NPV (or risk-averse)
    objective, built in Pyomo's scoped garbage-collector pause as
    :func:`formulations.build_model`.

    Raises:
        ScenarioWithoutPlan: a scenario's pre-check finds that it has no plan.
    """
    options = options or SolveOptions()
    with PYOMO_LOCK, PauseGC():
        return _build_extensive_form(instance, options)


def _build_extensive_form(instance: Instance, options: SolveOptions
                          ) -> tuple[pyo.ConcreteModel, list[ScenarioModel]]:
    commit = commit_periods(instance)
    master = pyo.ConcreteModel(name=f"{instance.spec.name or 'accelplan'}-extensive")
    scenarios: list[ScenarioModel] = []
    reference_money = None
    for i, future in enumerate(futures(instance)):
        options.stop_if_cancelled("building the extensive form")
        scenario = future_instance(instance, future)
        data = build_problem_data(scenario)
        obvious = precheck(data)
        if obvious:
            raise ScenarioWithoutPlan(future.name, obvious)
        block = pyo.Block()
        master.add_component(f"scenario_{i}", block)
        add_sets(block, data)
        add_variables(block, data)
        add_families(block, data, options.extra_constraints)
        add_objective(block, data)
        block.npv.deactivate()
        if options.fix_first_stage is not None:
            fixed_commit, decisions = options.fix_first_stage
            values, _ = first_stage_values(data, fixed_commit, decisions)
            for variable, keyed in values.items():
                for key, value in keyed.items():
                    getattr(block, variable)[key].fix(value)
        reference_money = reference_money or data.money_unit
        scenarios.append(ScenarioModel(future.name, future.probability, future.demand_scale,
                                       data, block, scenario))
    master.money_unit = reference_money
    npv = [sc.data.money_unit / reference_money * sc.block.npv.expr for sc in scenarios]
    master.expected_npv_expr = pyo.Expression(expr=sum(
        sc.probability * value for sc, value in zip(scenarios, npv)))
    risk = instance.spec.scenarios.risk
    if risk is not None and risk.cvar_weight > 0:
        master.SCENARIOS = pyo.RangeSet(0, len(scenarios) - 1)
        master.value_at_risk = pyo.Var(domain=pyo.Reals)
        master.tail_excess = pyo.Var(master.SCENARIOS, domain=pyo.NonNegativeReals)
        master.cvar_tail = pyo.Constraint(master.SCENARIOS, rule=lambda m, i: (
            m.tail_excess[i] - npv[i] + m.value_at_risk >= 0))
        cvar = master.value_at_risk + sum(
            sc.probability * master.tail_excess[i] for i, sc in enumerate(scenarios)
        ) / (1.0 - risk.cvar_alpha)
        objective = (1 - risk.cvar_weight) * master.expected_npv_expr + risk.cvar_weight * cvar
    else:
        objective = master.expected_npv_expr
    master.objective = pyo.Objective(expr=objective, sense=pyo.minimize)
    master.nodes = scenario_nodes(instance.spec, [sc.probability for sc in scenarios])
    _add_nonanticipativity(master, scenarios, master.nodes)
    return master, scenarios


def _add_nonanticipativity(master: pyo.ConcreteModel, scenarios: list[ScenarioModel],
                           nodes: list[Node]) -> None:
    """At every node shared by several scenarios (the root of a two-stage plan; each inner
    node of a tree), each decision of the node's periods in each of its scenarios equals its
    first scenario's; a decision one of them cannot make (its variable does not exist there)
    is made by none."""
    master.nonanticipativity = pyo.ConstraintList()
    for node in nodes:
        if not node.shared or node.end_period <= node.first_period:
            continue
        first = scenarios[node.members[0]]
        mine = stage_keys(first.data, node.first_period, node.end_period)
        for index in node.members[1:]:
            sc = scenarios[index]
            theirs = stage_keys(sc.data, node.first_period, node.end_period)
            for variable, keys in mine.items():
                a, b = getattr(first.block, variable), getattr(sc.block, variable)
                own, other = set(keys), set(theirs[variable])
                for key in sorted(own | other, key=str):
                    if key in own and key in other:
                        master.nonanticipativity.add(b[key] - a[key] == 0)
                    elif key in own:
                        a[key].fix(0)
                    else:
                        b[key].fix(0)


def _block_start(start: dict[str, float], count: int) -> dict[str, float]:
    """A deterministic plan's start (names without a block) offered to every scenario."""
    out = dict(start)
    for name, value in start.items():
        if not name.startswith("scenario_"):
            for i in range(count):
                out[f"scenario_{i}.{name}"] = value
    return out


def solve_extensive(instance: Instance, options: SolveOptions | None = None,
                    value_of_information: ValueOfInformation | None = None) -> Plan:
    """Solve the extensive form of a scenario instance with ``options`` (see
    :func:`optimizer.planning.solve`).

    The time limit is for the whole (model building, the extensive form and the value of
    information); the extensive form gets ``EXTENSIVE_SHARE`` of it when the value of
    information follows. A scenario without a plan is named with what would have to give in
    it (exit 1 from the command line), never an internal error.
    """
    options = options or SolveOptions()
    commit = commit_periods(instance)
    began = options.began()
    deadline = options.deadline(began)
    try:
        master, scenarios = build_extensive_form(instance, options)
    except ScenarioWithoutPlan as missing:
        return _without_plan(instance, options, began, missing.name, missing.reasons)
    build_seconds = time.perf_counter() - began
    options.stop_if_cancelled("building the extensive form")
    share = EXTENSIVE_SHARE if value_of_information else 1.0
    extensive = options.but(time_limit=options.time_limit * share if options.time_limit
                            else None)
    form = StandardForm(master)
    options.stop_if_cancelled("compiling the extensive form")
    highs = HighsModel(form.arrays)
    money = master.money_unit
    model_file = write_model_if_asked(form, options, money)
    options = options.but(write_model=None)      # the value of information writes nothing

    def report(at: float, objective: float, bound: float | None) -> None:
        if options.progress is not None:
            options.progress({"seconds": at - began, "objective": objective * money,
                              "bound": None if bound is None else bound * money})
    highs.watch.listener = report
    start = form.start_from_names(_block_start(dict(options.start), len(scenarios))) \
        if options.start else None
    hooks = PlanHooks(purchases=form.columns_of(PURCHASES),
                      constructive=constructive_hook(form, master, scenarios, options, began))
    with solver_running(options.cancel):
        result = solve_arrays(highs, extensive.solver, start, hooks=hooks,
                              started_at=began, cancel=options.cancel)
    result.transfer_seconds = form.seconds + highs.transfer_seconds
    summary = _summary(instance, scenarios[0].data, result, options.solver, build_seconds)
    if model_file is not None:
        summary["model_file"] = model_file
    if not result.status.has_plan:
        if result.status is Status.INFEASIBLE:
            return explain_infeasible(instance, options, began, summary)
        if highs.relaxation_bound is not None:       # no plan in time, but a proven bound
            summary["proven_bound"] = highs.relaxation_bound * money
        return Plan(status=result.status, objective=None, best_bound=None, mip_gap=None,
                    summary=summary)
    form.load(highs.last_values)
    outcomes = []
    for sc in scenarios:
        tables = plan_tables(sc.block, sc.data)
        npv = pyo.value(sc.block.npv.expr) * sc.data.money_unit
        outcomes.append(ScenarioOutcome(sc.name, sc.probability, sc.demand_scale, npv, tables,
                                        plan_kpis(tables, sc.data, npv),
                                        demand_ratio(sc.instance, instance)))
    risk = instance.spec.scenarios.risk
    alpha = risk.cvar_alpha if risk is not None else DEFAULT_CVAR_ALPHA
    tables, stochastic, kpis = assemble(outcomes, scenarios[0].data.periods[:commit], alpha)
    stochastic["method"] = "extensive"
    if is_tree(instance.spec):
        tables["nodes"] = node_table(outcomes, master.nodes, list(scenarios[0].data.periods))
        tree = instance.spec.scenarios.tree
        stochastic["tree"] = {"stages": list(tree.stages), "branching": list(tree.branching),
                              "nodes": len(master.nodes)}
    if risk is not None:
        stochastic["risk"].update(cvar_weight=risk.cvar_weight)
    expected = stochastic["expected_npv"]
    objective = result.objective * money
    if value_of_information is not None and not options.cancelled:
        stochastic.update(value_of_information(instance, expected, options, deadline))
    summary["stochastic"] = stochastic
    summary["kpis"] = {**kpis, "vss": stochastic.get("vss"), "evpi": stochastic.get("evpi")}
    summary["solve_seconds_total"] = time.perf_counter() - began
    summary["explain_note"] = ("marginal costs and binding caps are computed for deterministic "
                               "plans; a scenario plan reports its first stage, each "
                               "scenario's NPV and the value of information")
    return Plan(status=result.status, objective=objective,
                best_bound=None if result.best_bound is None else result.best_bound * money,
                mip_gap=result.mip_gap, tables=tables, summary=summary,
                start_values=form.integer_values(highs.last_values),
                decisions=decisions_of(scenarios[0].block, scenarios[0].data))


CONSTRUCTIVE_DEADLINE_SHARE = 0.5
"""The constructive first plan gives up once this share of the time limit has gone (a plan
of 30 medium futures takes some seconds: the search needs the time more)."""


def constructive_hook(form: StandardForm, master: pyo.ConcreteModel,
                      scenarios: list[ScenarioModel], options: SolveOptions,
                      began: float) -> Callable[[], Any]:
    """The extensive form's constructive first plan (:mod:`optimizer.scenarios.first_plan`),
    keeping a given first stage, given up at ``CONSTRUCTIVE_DEADLINE_SHARE`` of the time
    limit or on a cancel."""
    fixed = []
    for sc in scenarios:
        if options.fix_first_stage is None:
            fixed.append({})
        else:
            commit, decisions = options.fix_first_stage
            fixed.append(first_stage_values(sc.data, commit, decisions)[0])
    give_up = None
    if options.time_limit:
        give_up = began + options.time_limit * CONSTRUCTIVE_DEADLINE_SHARE
    return extensive_constructive(
        form, [sc.block.local_name for sc in scenarios], [sc.data for sc in scenarios],
        [total_demand(sc.instance) for sc in scenarios], master.nodes, fixed, give_up,
        options.cancel)


def _without_plan(instance: Instance, options: SolveOptions, began: float, name: str,
                  reasons: list[Relaxation]) -> Plan:
    """No plan: scenario ``name`` has none, for ``reasons`` (each named with the scenario)."""
    scale = instance.spec.scenarios.members[name].demand_scale \
        if name in instance.spec.scenarios.members else 1.0

    def note(text: str) -> str:
        """A note that the scenario's own demand scale is the user's (it is not)."""
        if "demand_scale=" not in text:
            return text
        parts = [p for p in text.removeprefix("you set ").split(", ")
                 if not p.startswith("demand_scale=")]
        if instance.demand_scale != 1.0:
            parts.append(f"demand_scale={instance.demand_scale:g}")
        said = f"you set {', '.join(parts)}" if parts else ""
        own = f"scenario {name} scales demand by {scale:g}" if scale != 1.0 else ""
        return "; ".join(x for x in (said, own) if x)
    named = [Relaxation(r.constraint, r.index, r.amount, r.unit,
                        f"scenario {name}: {r.message}", note(r.note)) for r in reasons]
    summary = {"status": Status.INFEASIBLE.value, "objective": None, "best_bound": None,
               "mip_gap": None, "input_sha256": instance.input_sha256,
               "instance": {"name": instance.spec.name, "file": str(instance.path)},
               "options": options.solver.as_dict(),
               "stochastic": {"scenario_without_plan": name},
               "explanation": [r.as_dict() for r in named],
               "solve_seconds_total": time.perf_counter() - began, "kpis": {}}
    plan = Plan(status=Status.INFEASIBLE, objective=None, best_bound=None, mip_gap=None,
                summary=summary, explanation=named)
    if options.raise_on_infeasible:
        headline = (f"no plan exists: scenario {name} has none; what would have to give:"
                    if named else f"no plan exists: scenario {name} has none")
        error = InfeasibleError(named, headline)
        error.plan = plan
        raise error
    return plan


def explain_infeasible(instance: Instance, options: SolveOptions, began: float,
                        summary: dict[str, Any]) -> Plan:
    """The extensive form has no plan: find a scenario that has none alone and say what would
    have to give in it; else say that no shared first stage serves every scenario."""
    if options.explain:
        for future in futures(instance):
            alone = solve_deterministic(future_instance(instance, future), options.but(
                raise_on_infeasible=False, fix_first_stage=None, start=None,
                progress=None))
            if alone.status is Status.INFEASIBLE:
                return _without_plan(instance, options, began, future.name, alone.explanation)
    reason = ("every scenario has a plan on its own, but no first stage serves them all: what "
              "is decided in the committed periods must serve every scenario's demand there "
              "(compare the scenarios' demand in the committed periods, or commit fewer "
              "periods)") if options.explain else (
        "no first stage serves every scenario (solve with explanations to see which "
        "scenario must give)")
    summary.update(explanation=[], stochastic={"reason": reason},
                   solve_seconds_total=time.perf_counter() - began)
    plan = Plan(status=Status.INFEASIBLE, objective=None, best_bound=None, mip_gap=None,
                summary=summary)
    if options.raise_on_infeasible:
        error = InfeasibleError([], f"no plan exists: {reason}")
        error.plan = plan
        raise error
    return plan
