"""A plan checker, independent of the code that made the plan: it reads only the plan's
written tables and the validated instance (never the problem data or the model), and checks
that every cap holds, that the costs add up to the NPV, and that a scenario plan's committed
decisions are the same in every scenario. ``conftest`` runs it on every plan a test solves.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

REL = 1e-6


def _close_below(value: float, cap: float, what: str, scale: float = 1.0) -> None:
    tolerance = REL * max(1.0, abs(cap), abs(value), scale) + 1e-6
    assert value <= cap + tolerance, f"{what}: {value:.10g} above its cap {cap:.10g}"


def _per_period(value: Any, periods: list[str]) -> list[Any]:
    if isinstance(value, dict):
        return [value.get(p) for p in periods]
    return [value] * len(periods)


def _scenario_tables(plan: Any) -> dict[str | None, dict[str, pd.DataFrame]]:
    """scenario -> its tables (None: a deterministic plan)."""
    tables = plan.tables
    costs = tables.get("costs", pd.DataFrame())
    if "scenario" not in costs:
        return {None: tables}
    out: dict[str | None, dict[str, pd.DataFrame]] = {}
    for name in dict.fromkeys(str(s) for s in costs["scenario"]):
        out[name] = {key: frame[frame["scenario"].astype(str) == name]
                     for key, frame in tables.items() if "scenario" in frame}
    return out


def check_caps(tables: dict[str, pd.DataFrame], spec: Any, where: str = "") -> None:
    """Every cap of the instance holds on one plan's tables."""
    periods = list(spec.horizon.periods)
    years = spec.horizon.period_years
    fleet = tables.get("fleet", pd.DataFrame())
    sites = tables.get("sites", pd.DataFrame())
    purchases = tables.get("purchases", pd.DataFrame())
    rentals = tables.get("rentals", pd.DataFrame())
    for name, site in spec.sites.items():
        grid = _per_period(site.grid_mw, periods)
        for t, period in enumerate(periods):
            if len(fleet):
                cards = fleet[(fleet["site"] == name) & (fleet["period"].astype(str) == period)]
                _close_below(float(cards["cards"].sum()), site.max_cards,
                             f"{where}card slots at {name} in {period}")
            if len(sites):
                rows = sites[(sites["site"] == name) & (sites["period"].astype(str) == period)]
                _close_below(float(rows["facility_mw"].sum()), grid[t],
                             f"{where}grid at {name} in {period}")
                for row in rows.to_dict("records"):
                    _close_below(row["it_mw_used"], row["it_mw_capacity"],
                                 f"{where}{row['cooling']} cooling at {name} in {period}")
    for k, acc in spec.accelerators.items():
        supply = _per_period(acc.supply, periods)
        for t, period in enumerate(periods):
            if supply[t] is not None and len(purchases):
                rows = purchases[(purchases["accelerator"] == k)
                                 & (purchases["delivery_period"].astype(str) == period)]
                _close_below(float(rows["cards"].sum()), supply[t],
                             f"{where}supply of {k} in {period}")
    for r, rental in spec.rentals.items():
        caps = _per_period(rental.max_cards, periods)
        for t, period in enumerate(periods):
            if caps[t] is not None and len(rentals):
                rows = rentals[(rentals["rental"] == r) & (rentals["period"].astype(str) == period)]
                _close_below(float(rows["cards"].sum()), caps[t],
                             f"{where}rental cap of {r} in {period}")
    _check_budget(tables, spec, where)
    _check_shares(tables, spec, where)
    demand = tables.get("demand", pd.DataFrame())
    if spec.policies.unmet_demand_cost_per_million_tokens is None and len(demand):
        for row in demand.to_dict("records"):
            _close_below(row["unmet_tokens_per_day"], 0.0,
                         f"{where}unmet demand of {row['workload']} in {row['period']}",
                         scale=row["demand_tokens_per_day"])
    energy = tables.get("energy", pd.DataFrame())
    cap = _per_period(spec.policies.carbon_cap_t_per_year, periods)
    for t, period in enumerate(periods):
        if cap[t] is not None and len(energy):
            rows = energy[energy["period"].astype(str) == period]
            _close_below(float(rows["emissions_t"].sum()), cap[t] * years,
                         f"{where}carbon cap in {period}")
    for name, site in spec.sites.items():
        if site.max_water_m3_per_year is not None and len(energy):
            for period in periods:
                rows = energy[(energy["site"] == name) & (energy["period"].astype(str) == period)]
                _close_below(float(rows["water_m3"].sum()), site.max_water_m3_per_year * years,
                             f"{where}water cap at {name} in {period}")


def _check_budget(tables: dict[str, pd.DataFrame], spec: Any, where: str) -> None:
    periods = list(spec.horizon.periods)
    budget = _per_period(spec.policies.budget_per_period, periods)
    if all(b is None for b in budget):
        return
    spent: dict[str, float] = defaultdict(float)
    for row in tables.get("purchases", pd.DataFrame()).to_dict("records"):
        spent[str(row["order_period"])] += row["deposit"]
        spent[str(row["delivery_period"])] += row["balance"]
    for row in tables.get("builds", pd.DataFrame()).to_dict("records"):
        spent[str(row["period"])] += row["capex"]
    for row in tables.get("openings", pd.DataFrame()).to_dict("records"):
        spent[str(row["period"])] += row["open_cost"]
    retired = {}
    for rule in spec.policies.ban:
        if rule.installed == "retire":
            start = periods.index(rule.from_period) if rule.from_period else 0
            for k, acc in spec.accelerators.items():
                if k in rule.accelerators or set(acc.tags) & set(rule.tags):
                    retired[k] = min(start, retired.get(k, start))
    for site in spec.sites.values():
        for entry in site.on_order:
            arrives = periods.index(entry.arrives)
            if arrives < retired.get(entry.accelerator, len(periods)):
                spent[entry.arrives] += entry.cards * entry.balance_per_card
    for t, period in enumerate(periods):
        if budget[t] is not None:
            _close_below(spent[period], budget[t], f"{where}capex budget in {period}")


def _check_shares(tables: dict[str, pd.DataFrame], spec: Any, where: str) -> None:
    periods = list(spec.horizon.periods)
    accs = spec.accelerators
    fleet = tables.get("fleet", pd.DataFrame())
    rentals = tables.get("rentals", pd.DataFrame())

    def cards(period: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for frame in (fleet, rentals):
            if len(frame):
                for row in frame[frame["period"].astype(str) == period].to_dict("records"):
                    out[row["accelerator"]] += row["cards"]
        return out
    for rule in spec.policies.min_share:
        start = periods.index(rule.from_period) if rule.from_period else 0
        for period in periods[start:]:
            counted = cards(period)
            weight = {k: (accs[k].peak_tflops if rule.by == "tflops" else 1.0) for k in accs}
            total = sum(weight[k] * n for k, n in counted.items())
            tagged = sum(weight[k] * n for k, n in counted.items()
                         if set(accs[k].tags) & set(rule.tags))
            _close_below(rule.share * total, tagged, f"{where}min share {rule.tags} in {period}",
                         scale=total)
    vendor = spec.policies.max_vendor_share
    if vendor is not None:
        share = vendor if isinstance(vendor, float) else vendor.share
        label = None if isinstance(vendor, float) else vendor.from_period
        start = periods.index(label) if label else 0
        for period in periods[start:]:
            counted = cards(period)
            total = sum(counted.values())
            for v in {acc.vendor for acc in accs.values()}:
                mine = sum(n for k, n in counted.items() if accs[k].vendor == v)
                _close_below(mine, share * total, f"{where}share of {v} in {period}",
                             scale=total)


def check_plan(plan: Any, instance: Any) -> None:
    """Caps hold, costs add up, and a scenario plan shares its committed decisions."""
    if not plan.status.has_plan or "costs" not in plan.tables:
        return
    by_scenario = _scenario_tables(plan)
    if None in by_scenario:
        check_caps(plan.tables, instance.spec)
        npv = float(plan.tables["costs"]["discounted_total"].sum())
        # a plan that minimised something else (alternatives' cards, the cleanest plan's tCO2)
        # says so, and its NPV is its costs' sum
        reported = (plan.summary["kpis"]["npv_total"] if plan.summary.get("objective_is")
                    else plan.objective)
        assert abs(npv - reported) <= REL * max(1.0, abs(npv)) + 1e-6, (
            f"costs add up to {npv:.10g}, the NPV is {reported:.10g}")
        return
    from optimizer.scenarios.scenario_set import scenario_instances
    seen = scenario_instances(instance)
    rows = {str(r["scenario"]): r for r in plan.tables["scenarios"].to_dict("records")}
    for name, tables in by_scenario.items():
        check_caps(tables, seen[name][2].spec, f"scenario {name}: ")
        npv = float(tables["costs"]["discounted_total"].sum())
        assert abs(npv - rows[name]["npv"]) <= REL * max(1.0, abs(npv)) + 1e-6, (name, npv)
    expected = sum(r["probability"] * r["npv"] for r in rows.values())
    kpi = plan.summary["kpis"]["expected_npv"]
    assert abs(expected - kpi) <= REL * max(1.0, abs(expected)), (expected, kpi)
    commit = plan.summary["stochastic"]["commit_periods"]
    periods = list(instance.spec.horizon.periods)
    labels = set(periods[:commit])

    def committed(tables: dict[str, pd.DataFrame]) -> tuple:
        orders = sorted((r["accelerator"], r["site"], r["cooling"], str(r["order_period"]),
                         str(r["delivery_period"]), int(r["cards"]))
                        for r in tables["purchases"].to_dict("records")
                        if str(r["order_period"]) in labels)
        rented = sorted((r["rental"], str(r["period"]), int(r["cards"]))
                        for r in tables.get("rentals", pd.DataFrame()).to_dict("records")
                        if str(r["period"]) in labels)
        built = sorted((r["site"], r["cooling"], str(r["period"]), round(r["it_mw"], 6))
                       for r in tables.get("builds", pd.DataFrame()).to_dict("records")
                       if str(r["period"]) in labels)
        opened = sorted((r["site"], str(r["period"]))
                        for r in tables.get("openings", pd.DataFrame()).to_dict("records")
                        if str(r["period"]) in labels)
        return orders, rented, built, opened
    names = list(by_scenario)
    reference = committed(by_scenario[names[0]])
    for name in names[1:]:
        assert committed(by_scenario[name]) == reference, (
            f"scenario {name} decides differently in the committed periods than {names[0]}")
    tree = instance.spec.scenarios.tree
    if tree is None:
        return
    # a tree: the scenarios under each node (scenario i under node i // leaves-below at each
    # stage, the first branch slowest) decide alike in that node's periods
    starts = [periods.index(p) for p in tree.stages] + [len(periods)]
    leaves = 1
    for b in tree.branching:
        leaves *= b
    for k in range(1, len(tree.stages)):
        labels = set(periods[starts[k]:starts[k + 1]])
        below = leaves
        for b in tree.branching[:k]:
            below //= b
        for first in range(0, leaves, below):
            group = names[first:first + below]
            reference = committed(by_scenario[group[0]])
            for name in group[1:]:
                assert committed(by_scenario[name]) == reference, (
                    f"scenario {name} decides differently at stage {k} than {group[0]}")
