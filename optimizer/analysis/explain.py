"""What must give when no plan exists: an elastic re-solve that finds the smallest (weighted)
relaxation of the rows the registry marks ``relax`` (demand, grid, cards, supply, budget,
policies), turned into sentences a planner reads."""
from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from formulations.registry import BY_NAME, RELAXABLE
from optimizer.analysis.shares import share_rule, share_totals
from optimizer.errors import Relaxation
from optimizer.problem import ProblemData


def _label(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def elastic_weights(data: ProblemData, row_keys: list[tuple[str, Any, int]]) -> dict[int, float]:
    """Row position -> cost of one unit of relaxation, relative to the row's size, so that the
    smallest relative relaxation is found; demand is relaxed only as a last resort."""
    fleet_scale = max(1.0, float(sum(data.max_cards.values())))
    weights: dict[int, float] = {}
    for position, (family, index, sense) in enumerate(row_keys):
        if sense == 0 or family not in RELAXABLE:
            continue
        if family == "demand":
            weights[position] = 100.0 / max(data.demand_peak[index], 1e-9)
        elif family == "grid":
            weights[position] = 1.0 / max(data.grid_mw[index], 1e-3)
        elif family == "site_cards":
            weights[position] = 1.0 / max(data.max_cards[index[0]], 1.0)
        elif family == "supply":
            weights[position] = 1.0 / max(data.supply_cards[index],
                                          data.cards_per_unit[index[0]])
        elif family == "budget":
            weights[position] = 1.0 / max(data.budget[index], 1e-6)
        elif family in ("min_share", "max_vendor_share"):
            weights[position] = 1.0 / fleet_scale
        elif family in CAP_OF:
            weights[position] = 1.0 / max(CAP_OF[family](data, index), 1.0)
        else:               # a relaxable family with no weight of its own: relax it last
            weights[position] = 1.0
    return weights


CAP_OF = {
    "carbon_cap": lambda data, t: data.carbon_cap_t[t],
    "water_cap": lambda data, key: data.water_cap_m3[key],
    "rental_limit": lambda data, key: data.rental_max_cards[key],
}
"""The right-hand side of a capped row, in its natural unit (tonnes a period, m3 a period,
cards)."""


def describe_relaxations(model: pyo.ConcreteModel, data: ProblemData,
                         row_keys: list[tuple[str, Any, int]], slack: dict[int, float]
                         ) -> list[Relaxation]:
    """Turn the elastic solve's slacks into planner-facing relaxations."""
    currency = data.currency
    found: list[Relaxation] = []
    for position, amount in sorted(slack.items(), key=lambda item: -item[1]):
        family, index, _ = row_keys[position]
        key = _label(index)
        period = data.periods[key[-1]]
        if family == "demand":
            w = key[0]
            peak = amount * data.token_unit
            found.append(Relaxation("demand", (w, period), peak, "tokens/s",
                                    f"{w} demand in {period}: {peak:,.0f} tokens/s (peak) "
                                    "cannot be served"))
        elif family == "grid":
            cap = data.grid_mw[index]
            if key[0] in data.OPENABLE and round(model.site_open[index].value or 0) == 0:
                cap = 0.0
            found.append(Relaxation("grid", (key[0], period), amount, "MW",
                                    f"site {key[0]} grid: needs {cap + amount:.3f} MW, cap "
                                    f"{cap:.3f} MW in {period}"))
        elif family == "site_cards":
            cap = data.max_cards[key[0]]
            found.append(Relaxation("site_cards", (key[0], period), amount, "cards",
                                    f"site {key[0]} card slots: needs {cap + amount:,.0f}, "
                                    f"max_cards {cap:,} in {period}"))
        elif family == "supply":
            cap = data.supply_cards[index]
            found.append(Relaxation("supply", (key[0], period), amount, "cards",
                                    f"{key[0]} supply: needs {cap + amount:,.0f} cards, cap "
                                    f"{cap:,.0f} in {period}"))
        elif family == "budget":
            cap = data.budget[index] * data.money_unit
            need = amount * data.money_unit
            found.append(Relaxation("budget", (period,), need, currency,
                                    f"capex budget: needs {cap + need:,.0f} {currency}, cap "
                                    f"{cap:,.0f} {currency} in {period}"))
        elif family in ("min_share", "max_vendor_share"):
            rule = share_rule(data, family, key[0])
            members, total = share_totals(model, data, family, key[0], key[-1])
            reached = members / total if total else 0.0
            if family == "min_share":
                found.append(Relaxation("min_share", (key[0], period), rule.share - reached,
                                        "share", f"policy {rule.description}: reaches only "
                                        f"{reached:.1%} in {period}"))
            else:
                found.append(Relaxation("max_vendor_share", (key[0], period),
                                        reached - rule.share, "share",
                                        f"policy {rule.description}: {key[0]} needs "
                                        f"{reached:.1%} in {period}"))
        elif family in CAP_OF:
            spec = BY_NAME[family]
            cap = CAP_OF[family](data, index)
            unit = spec.unit
            what = spec.display(key[:-1])
            found.append(Relaxation(family, (*map(str, key[:-1]), period), amount, unit,
                                    f"{what}: needs {cap + amount:,.6g} {unit}, cap "
                                    f"{cap:,.6g} {unit} in {period}"))
        else:
            spec = BY_NAME.get(family)
            what = spec.display(key[:-1]) if spec else family
            found.append(Relaxation(family, (*map(str, key[:-1]), period), amount,
                                    spec.unit if spec else "", f"{what} in {period} must give "
                                    f"{amount:,.6g} {spec.unit if spec else ''}".rstrip()))
    return found


FAMILY_ORDER = ("grid", "site_cards", "supply", "budget", "carbon_cap", "water_cap",
                "rental_limit", "min_share", "max_vendor_share", "demand")
"""How the relaxations of one way out are listed (then by index, then period)."""

OVERRIDDEN = {
    "grid": "sites.{0}.grid_mw", "site_cards": "sites.{0}.max_cards",
    "supply": "accelerators.{0}.supply", "budget": "policies.budget_per_period",
    "min_share": "policies.min_share.{0}", "max_vendor_share": "policies.max_vendor_share",
    "demand": "demand", "carbon_cap": "policies.carbon_cap_t_per_year",
    "water_cap": "sites.{0}.max_water_m3_per_year", "rental_limit": "rentals.{0}.max_cards",
}
"""The instance field behind each relaxable row family (``{0}`` its first index)."""


def in_order(found: list[Relaxation], periods: list[str]) -> list[Relaxation]:
    """Relaxations by family, then index, then period in the horizon's order."""
    at = {p: i for i, p in enumerate(periods)}

    def key(r: Relaxation) -> tuple:
        family = FAMILY_ORDER.index(r.constraint) if r.constraint in FAMILY_ORDER else 99
        return (family, r.index[:-1], at.get(r.index[-1], -1))
    return sorted(found, key=key)


def name_overrides(found: list[Relaxation], overrides: dict[str, Any]) -> list[Relaxation]:
    """Say where a relaxed cap is one the user changed (``--set`` or an override file)."""
    named = []
    for r in found:
        pattern = OVERRIDDEN.get(r.constraint)
        touched = []
        if pattern is not None:
            field = pattern.format(*r.index)
            touched = [f"{path}={value}" for path, value in overrides.items()
                       if path == field or path.startswith(field + ".")
                       or (r.constraint == "demand" and path == "demand_scale")]
        if touched:
            r = Relaxation(r.constraint, r.index, r.amount, r.unit, r.message,
                           f"you set {', '.join(touched)}")
        named.append(r)
    return named


def ways_out(elastic: Any, data: ProblemData, row_keys: list[tuple[str, Any, int]],
             overrides: dict[str, Any]) -> tuple[list[Relaxation], list[list[Relaxation]]]:
    """The smallest relaxation and up to two other ways out.

    Args:
        elastic: ``elastic(weights) -> (model with the plan's values loaded, slack)`` or None
            when the elastic re-solve finds nothing.

    The first way is the smallest relaxation of every relaxable row (demand last); the second
    relaxes none of the first's families (when another way exists); the third serves less
    demand (when demand was not already the way).
    """
    weights = elastic_weights(data, row_keys)

    def way(only: set[str] | None = None, without: set[str] = frozenset()) -> list[Relaxation]:
        chosen = {p: w for p, w in weights.items() if row_keys[p][0] not in without
                  and (only is None or row_keys[p][0] in only)}
        if not chosen:
            return []
        outcome = elastic(chosen)
        if outcome is None:
            return []
        model, slack = outcome
        found = describe_relaxations(model, data, row_keys, slack)
        return name_overrides(in_order(found, data.periods), overrides)
    first = way()
    alternatives: list[list[Relaxation]] = []
    families = {r.constraint for r in first}
    if families and families != {"demand"}:
        second = way(without=families - {"demand"})
        if second and {r.constraint for r in second} != families:
            alternatives.append(second)
        if "demand" not in families and not any(
                {r.constraint for r in alt} == {"demand"} for alt in alternatives):
            less = way(only={"demand"})
            if less:
                alternatives.append(less)
    return first, alternatives
