"""Purchasing families: supply (with availability dates) and budget."""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData
from optimizer.problem.costs import CAPEX_KINDS
from optimizer.problem.entries import DECISIONS


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
    """Undiscounted capex terms of each period in ``money_unit``, from the cost entries of the
    decisions that carry capex (:data:`optimizer.problem.entries.DECISIONS`): deposits and
    balances of orders, cooling builds, site openings (open_cost on site_open[s,t] -
    site_open[s,t-1])."""
    terms: dict[int, list] = defaultdict(list)
    for family in DECISIONS:
        if not family.capex:
            continue
        variable = getattr(model, family.variable)
        for key in getattr(data, family.index):
            for t, kind, money in family.entries(data, key, False):
                if kind in CAPEX_KINDS and money:
                    terms[t].append(money / data.money_unit * variable[key])
    return terms


def committed_capex(data: ProblemData) -> dict[int, float]:
    """Capex no decision changes, by period (money_unit): the balances cards on order still
    owe on arrival."""
    out: dict[int, float] = defaultdict(float)
    for t, kind, money in data.costs.constant:
        if kind in CAPEX_KINDS:
            out[t] += money / data.money_unit
    return out


def add_budget(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """budget(t): capex(t) + balances due on arrival(t) <= budget_per_period(t).

    Units: ``money_unit``; capex undiscounted (deposits of orders placed in t, balances of
    deliveries in t, cooling builds, site openings of t; the balance of cards on order
    arriving in t, a constant moved to the right-hand side). A period with no decision has no
    row (the pre-check reports a constant above its budget).
    """
    if not data.budget:
        return
    terms = capex_by_period(model, data)
    fixed = committed_capex(data)
    index = [t for t in sorted(data.budget) if terms.get(t)]

    def rule(m, t):
        return pyo.quicksum(terms[t]) <= data.budget[t] - fixed.get(t, 0.0)
    model.budget = pyo.Constraint(index, rule=rule)
