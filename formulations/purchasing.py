"""Purchasing families: supply (with availability dates) and budget."""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def add_supply(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """supply(k,t): sum_{s,c} cards_per_unit(k) * units_bought[k,s,c,t] <= supply(k,t).

    Units: cards bought in period t. Availability dates (``available_from``) and zero supply
    are enforced by the sparse purchase index: no ``units_bought`` exists before them.
    """
    groups = defaultdict(list)
    for (k, s, c, t) in data.BUY:
        if (k, t) in data.supply_cards:
            groups[k, t].append(model.units_bought[k, s, c, t])
    if not groups:
        return
    index = sorted(groups)

    def rule(m, k, t):
        return (data.cards_per_unit[k] * pyo.quicksum(groups[k, t])
                <= data.supply_cards[k, t])
    model.supply = pyo.Constraint(index, rule=rule)


def capex_by_period(model: pyo.ConcreteModel, data: ProblemData) -> dict[int, list]:
    """Undiscounted capex terms of each period in ``money_unit``: cards, cooling builds, site
    openings (open_cost * (site_open[s,t] - site_open[s,t-1]))."""
    spec = data.instance.spec
    terms: dict[int, list] = defaultdict(list)
    for (k, s, c, t) in data.BUY:
        terms[t].append(data.price_per_card[k, t] * data.cards_per_unit[k] / data.money_unit
                        * model.units_bought[k, s, c, t])
    for (s, c, t) in data.BUILD:
        cost = spec.sites[s].cooling[c].build_cost_per_mw * data.build_unit_mw[s, c]
        if cost:
            terms[t].append(cost / data.money_unit * model.build[s, c, t])
    for s in data.OPENABLE:
        cost = spec.sites[s].open_cost / data.money_unit
        if cost:
            for t in range(data.n_periods):
                terms[t].append(cost * model.site_open[s, t])
                if t > 0:
                    terms[t].append(-cost * model.site_open[s, t - 1])
    return terms


def add_budget(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """budget(t): capex(t) <= budget_per_period(t).

    Units: ``money_unit``; capex undiscounted (cards, cooling builds, site openings of t).
    """
    if not data.budget:
        return
    terms = capex_by_period(model, data)
    index = [t for t in sorted(data.budget) if terms.get(t)]

    def rule(m, t):
        return pyo.quicksum(terms[t]) <= data.budget[t]
    model.budget = pyo.Constraint(index, rule=rule)
