"""Stochastic planning: buy now, adapt later, under uncertain demand (extensive form).

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
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from formulations import FAMILIES
from formulations.objective import add_objective
from formulations.variables import FIRST_STAGE, add_sets, add_variables
from optimizer.errors import InfeasibleError
from optimizer.kpis import plan_kpis
from optimizer.loader import Instance, instance_from_raw
from optimizer.problem import ProblemData, build_problem_data
from optimizer.results import Plan
from optimizer.status import SolverOptions, Status
from optimizer.planning import decision_values
from optimizer.tables import plan_tables

@dataclass
class ScenarioModel:
    name: str
    probability: float
    demand_scale: float
    data: ProblemData
    block: Any


def scenario_instances(instance: Instance) -> dict[str, tuple[float, float, Instance]]:
    """name -> (probability, demand scale, the instance as that scenario sees it)."""
    members = instance.spec.scenarios.members
    result = {}
    for name, scenario in members.items():
        overrides = {**instance.overrides, **scenario.overrides}
        overrides["demand_scale"] = instance.demand_scale * scenario.demand_scale
        result[name] = (scenario.probability, scenario.demand_scale,
                        instance_from_raw(instance.raw, instance.path, overrides))
    return result


def mean_instance(instance: Instance) -> Instance:
    """The mean-demand scenario: demand scaled by the expected ``demand_scale``."""
    members = instance.spec.scenarios.members
    mean_scale = sum(s.probability * s.demand_scale for s in members.values())
    overrides = {**instance.overrides, "demand_scale": instance.demand_scale * mean_scale}
    return instance_from_raw(instance.raw, instance.path, overrides)


def build_extensive_form(instance: Instance) -> tuple[pyo.ConcreteModel, list[ScenarioModel]]:
    """One block per scenario, non-anticipativity rows, the expected-NPV objective."""
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
        for family in FAMILIES:
            family(block, data)
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


def solve_stochastic(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
                     threads: int | None = None, seed: int | None = None,
                     raise_on_infeasible: bool = True, value_of_information: bool = True) -> Plan:
    """Solve the extensive form of a scenario instance; report VSS and EVPI.

    Args:
        value_of_information: also solve the mean-value plan (for VSS) and each scenario alone
            (for EVPI): 2 + number of scenarios more solves.
    """
    from optimizer.planning import _summary, solve as solve_deterministic
    from optimizer.solve import solve_model

    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed)
    commit = instance.spec.scenarios.commit_periods
    began = time.perf_counter()
    master, scenarios = build_extensive_form(instance)
    build_seconds = time.perf_counter() - began
    compiled, result = solve_model(master, options)
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
    decisions = decision_values(scenarios[0].block)   # before any re-solve loads other values

    tables: dict[str, list[pd.DataFrame]] = {}
    scenario_rows = []
    for sc in scenarios:
        scenario_tables = plan_tables(sc.block, sc.data)
        npv = pyo.value(sc.block.npv.expr) * sc.data.money_unit
        kpis = plan_kpis(scenario_tables, sc.data, npv)
        scenario_rows.append({"scenario": sc.name, "probability": sc.probability,
                              "demand_scale": sc.demand_scale, "npv": npv,
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
    if value_of_information:
        stochastic.update(_value_of_information(instance, compiled, scenarios, commit, expected,
                                                money, options, solve_deterministic))
    summary["stochastic"] = stochastic
    summary["kpis"] = {"npv_total": expected, "expected_npv": expected,
                       "first_stage_capex": stochastic["first_stage_capex"],
                       "vss": stochastic.get("vss"), "evpi": stochastic.get("evpi")}
    summary["solve_seconds_total"] = time.perf_counter() - began
    return Plan(status=result.status, objective=expected,
                best_bound=result.best_bound * money, mip_gap=result.mip_gap, tables=merged,
                summary=summary, decisions=decisions)


def _value_of_information(instance, compiled, scenarios, commit, expected, money, options,
                          solve_deterministic) -> dict[str, Any]:
    """EV, EEV, VSS = EEV - SP; WS, EVPI = SP - WS."""
    out: dict[str, Any] = {}
    # mean-value plan, then its first stage imposed on every scenario
    mean_plan = solve_deterministic(mean_instance(instance), time_limit=options.time_limit,
                                    mip_gap=options.mip_gap, threads=options.threads,
                                    seed=options.seed, explain=False, raise_on_infeasible=False,
                                    scenarios=False)
    out["ev_npv"] = mean_plan.objective
    if mean_plan.status.has_plan:
        first = scenarios[0].block
        values = {}
        for name in FIRST_STAGE:
            for key, var in getattr(first, name).items():
                if key[-1] < commit and not var.fixed:
                    # inside the block the variable has the name it has in a deterministic model
                    values[var.name] = mean_plan.start_values.get(
                        var.getname(fully_qualified=False), 0.0)
        fixed = compiled.fix_and_run(values, options)
        if fixed.status.has_plan:
            eev = fixed.objective * money
            out.update(eev=eev, vss=eev - expected)
        else:
            out.update(eev=None, vss=None, vss_note="the mean-value plan's first stage leaves "
                       "some scenario without a plan: its VSS is unbounded")
    # wait and see: each scenario planned alone
    ws = 0.0
    for sc in scenarios:
        alone = solve_deterministic(sc.data.instance, time_limit=options.time_limit,
                                    mip_gap=options.mip_gap, threads=options.threads,
                                    seed=options.seed, explain=False, raise_on_infeasible=False,
                                    scenarios=False)
        if not alone.status.has_plan:
            ws = None
            break
        ws += sc.probability * alone.objective
    out.update(ws=ws, evpi=None if ws is None else expected - ws)
    return out
