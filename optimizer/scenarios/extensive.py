"""The extensive form of a stochastic plan: buy now, adapt later, under uncertain demand.

Each scenario is the instance with its ``demand_scale`` and ``overrides`` applied, built as one
Pyomo block by the same formulation functions as a deterministic plan. Purchases, cooling
builds and site openings of the first ``commit_periods`` periods are the same in every
scenario (non-anticipativity); the objective is the probability-weighted NPV.

Reported: the first-stage plan, each scenario's recourse and NPV, the expected NPV, the value of
the stochastic solution VSS = EEV - SP (EEV: expected NPV when the first stage is the plan made
for the mean-demand scenario) and the expected value of perfect information EVPI = SP - WS (WS:
expected NPV when every scenario is planned knowing its future).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from formulations import PYOMO_LOCK, add_families
from formulations.objective import add_objective
from formulations.variables import FIRST_STAGE, PURCHASES, add_sets, add_variables
from optimizer.errors import InfeasibleError
from optimizer.analysis.kpis import plan_kpis
from optimizer.instance.loader import Instance
from optimizer.problem import ProblemData, build_problem_data
from optimizer.output.results import Plan
from optimizer.scenarios.scenario_set import demand_ratio, expected_kpis, scenario_instances
from optimizer.status import SolverOptions, Status
from optimizer.pipeline import _summary, decisions_of
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel
from optimizer.solver.strategy import PlanHooks, solve_arrays
from optimizer.analysis.tables import plan_tables

ValueOfInformation = Callable[[Instance, float, SolverOptions, "float | None"], dict]
"""(instance, expected NPV, options, wall-clock deadline) -> value-of-information figures."""

EXTENSIVE_SHARE = 0.6
"""Share of a time limit the extensive form may use when the value of information (2 S + 1
more solves) is computed after it; those share what is left."""


@dataclass
class ScenarioModel:
    name: str
    probability: float
    demand_scale: float
    data: ProblemData
    block: Any


def build_extensive_form(instance: Instance) -> tuple[pyo.ConcreteModel, list[ScenarioModel]]:
    """One block per scenario, non-anticipativity rows, the expected-NPV objective (built in
    Pyomo's scoped garbage-collector pause, as :func:`formulations.build_model`)."""
    with PYOMO_LOCK, PauseGC():
        return _build_extensive_form(instance)


def _build_extensive_form(instance: Instance) -> tuple[pyo.ConcreteModel, list[ScenarioModel]]:
    commit = instance.spec.scenarios.commit_periods
    master = pyo.ConcreteModel(name=f"{instance.spec.name or 'accelplan'}-extensive")
    scenarios: list[ScenarioModel] = []
    reference_money = None
    for i, (name, (probability, scale, scenario)) in enumerate(scenario_instances(instance).items()):
        data = build_problem_data(scenario)
        block = pyo.Block()
        master.add_component(f"scenario_{i}", block)
        add_sets(block, data)
        add_variables(block, data)
        add_families(block, data)
        add_objective(block, data)
        block.npv.deactivate()
        reference_money = reference_money or data.money_unit
        scenarios.append(ScenarioModel(name, probability, scale, data, block))
    master.expected_npv = pyo.Objective(expr=sum(
        sc.probability * sc.data.money_unit / reference_money * sc.block.npv.expr
        for sc in scenarios), sense=pyo.minimize)
    master.money_unit = reference_money
    master.nonanticipativity = pyo.ConstraintList()
    first = scenarios[0].block
    for sc in scenarios[1:]:
        for name in FIRST_STAGE:
            mine, theirs = getattr(first, name), getattr(sc.block, name)
            keys = set(mine.keys()) | set(theirs.keys())
            for key in sorted(keys, key=str):
                if key[-1] >= commit:
                    continue
                if key in mine and key in theirs:
                    master.nonanticipativity.add(theirs[key] == mine[key])
                elif key in mine:
                    mine[key].fix(0)      # a choice one scenario cannot make is made by none
                else:
                    theirs[key].fix(0)
    return master, scenarios


def solve_extensive(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
                    threads: int | None = None, seed: int | None = None,
                    raise_on_infeasible: bool = True,
                    value_of_information: ValueOfInformation | None = None,
                    started_at: float | None = None) -> Plan:
    """Solve the extensive form of a scenario instance.

    Args:
        time_limit: seconds for the whole (model building, the extensive form and the value of
            information); the extensive form gets ``EXTENSIVE_SHARE`` of it when the value of
            information follows.
        value_of_information: (instance, expected NPV, options, wall-clock deadline) -> the
            figures of the value of information, added to the summary's ``stochastic`` block
            (see :mod:`optimizer.scenarios.stochastic`).
    """
    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed)
    commit = instance.spec.scenarios.commit_periods
    began = time.perf_counter() if started_at is None else started_at
    deadline = (time.time() - (time.perf_counter() - began) + time_limit) if time_limit else None
    master, scenarios = build_extensive_form(instance)
    build_seconds = time.perf_counter() - began
    share = EXTENSIVE_SHARE if value_of_information else 1.0
    extensive = SolverOptions(time_limit=time_limit * share if time_limit else None,
                              mip_gap=mip_gap, threads=threads, seed=seed)
    form = StandardForm(master)
    highs = HighsModel(form.arrays)
    result = solve_arrays(highs, extensive, hooks=PlanHooks(purchases=form.columns_of(PURCHASES)),
                          started_at=began)
    result.transfer_seconds = form.seconds + highs.transfer_seconds
    if result.status.has_plan:
        form.load(highs.last_values)
    money = master.money_unit
    # the deterministic summary, in the reference (first) scenario's units
    summary = _summary(instance, scenarios[0].data, result, options, build_seconds)
    if not result.status.has_plan:
        plan = Plan(status=result.status, objective=None, best_bound=None, mip_gap=None,
                    summary=summary)
        if result.status is Status.INFEASIBLE and raise_on_infeasible:
            error = InfeasibleError([], "no plan serves every scenario (solve each scenario "
                                        "alone to see which resource must give)")
            error.plan = plan
            raise error
        return plan
    expected = result.objective * money
    decisions = decisions_of(scenarios[0].block, scenarios[0].data)

    tables: dict[str, list[pd.DataFrame]] = {}
    scenario_rows = []
    weighted_kpis = []
    for sc in scenarios:
        scenario_tables = plan_tables(sc.block, sc.data)
        npv = pyo.value(sc.block.npv.expr) * sc.data.money_unit
        kpis = plan_kpis(scenario_tables, sc.data, npv)
        weighted_kpis.append((sc.probability, kpis))
        scenario_rows.append({"scenario": sc.name, "probability": sc.probability,
                              "demand_scale": sc.demand_scale,
                              "demand_vs_instance": demand_ratio(sc.data.instance, instance),
                              "npv": npv,
                              "cost_per_million_tokens": kpis["cost_per_million_tokens"],
                              "cards_final_period": kpis["cards_final_period"]})
        for name, frame in scenario_tables.items():
            tables.setdefault(name, []).append(frame.assign(scenario=sc.name))
    merged = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}
    commit_labels = scenarios[0].data.periods[:commit]
    purchases = merged["purchases"]
    first_stage = purchases[(purchases["scenario"] == scenarios[0].name)
                            & purchases["period"].isin(commit_labels)].drop(columns="scenario")
    merged["first_stage"] = first_stage.reset_index(drop=True)
    merged["scenarios"] = pd.DataFrame(scenario_rows)

    stochastic: dict[str, Any] = {
        "commit_periods": commit, "expected_npv": expected,
        "scenarios": scenario_rows,
        "first_stage": first_stage.to_dict(orient="records"),
        "first_stage_capex": float(first_stage["capex"].sum()),
    }
    if value_of_information is not None:
        stochastic.update(value_of_information(instance, expected, options, deadline))
    summary["stochastic"] = stochastic
    summary["kpis"] = {**expected_kpis(weighted_kpis), "npv_total": expected,
                       "expected_npv": expected,
                       "first_stage_capex": stochastic["first_stage_capex"],
                       "vss": stochastic.get("vss"), "evpi": stochastic.get("evpi")}
    summary["solve_seconds_total"] = time.perf_counter() - began
    return Plan(status=result.status, objective=expected,
                best_bound=result.best_bound * money, mip_gap=result.mip_gap, tables=merged,
                summary=summary, decisions=decisions)


