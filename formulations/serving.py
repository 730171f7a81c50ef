"""Serving families: demand, serving capacity, average load."""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def add_demand(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """demand(w,t): sum_{k,s} serve[w,k,s,t] + sum_r rented_serve[w,r,t] + unmet[w,t]
    >= D(w,t) * P(w) / 86400.

    Units: ``token_unit`` tokens/s of peak demand (D average tokens/day, P peak_to_average).
    """
    if not data.DEMAND:
        return
    serves = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        serves[w, t].append(model.serve[w, k, s, t])
    for (w, r, t) in data.RENT_SERVE:
        serves[w, t].append(model.rented_serve[w, r, t])
    unmet = set(data.UNMET)

    def rule(m, w, t):
        terms = serves.get((w, t), [])
        if (w, t) in unmet:
            terms = terms + [m.unmet[w, t]]
        if not terms:
            return pyo.Constraint.Infeasible
        return pyo.quicksum(terms) >= data.demand_peak[w, t]
    model.demand = pyo.Constraint(model.DEMAND, rule=rule)


def add_serving_capacity(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """serving_capacity(k,s,t): sum_w serve[w,k,s,t] / theta(k,w) <= availability(k) *
    sum_c fleet[k,s,c,t].

    Units: cards (serve in ``token_unit`` tokens/s, theta in tokens/s per card).
    """
    if not data.SERVE:
        return
    served = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        served[k, s, t].append((data.token_unit / data.throughput[k, w], model.serve[w, k, s, t]))
    fleets = defaultdict(list)
    for (k, s, c, t) in data.FLEET:
        fleets[k, s, t].append(model.fleet[k, s, c, t])
    index = sorted(served)

    def rule(m, k, s, t):
        return (pyo.quicksum((a * x for a, x in served[k, s, t]))
                <= data.availability[k] * pyo.quicksum(fleets[k, s, t]))
    model.serving_capacity = pyo.Constraint(index, rule=rule)


def add_average_load(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """average_load(k,s,t): sum_c busy[k,s,c,t] = sum_w serve[w,k,s,t] / (theta(k,w) * P(w));
    busy_limit(k,s,c,t): busy[k,s,c,t] <= availability(k) * fleet[k,s,c,t].

    Units: cards. Busy cards drive the energy bill; the rest of the fleet idles.
    """
    if not data.BUSY:
        return
    load = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        load[k, s, t].append((data.token_unit / (data.throughput[k, w] * data.peak_to_average[w]),
                              model.serve[w, k, s, t]))
    busy = defaultdict(list)
    for (k, s, c, t) in data.BUSY:
        busy[k, s, t].append(model.busy[k, s, c, t])
    index = sorted(load)

    def rule(m, k, s, t):
        return (pyo.quicksum(busy[k, s, t])
                == pyo.quicksum((a * x for a, x in load[k, s, t])))
    model.average_load = pyo.Constraint(index, rule=rule)

    def limit(m, k, s, c, t):
        return m.busy[k, s, c, t] <= data.availability[k] * m.fleet[k, s, c, t]
    model.busy_limit = pyo.Constraint(model.BUSY, rule=limit)


def add_rental_capacity(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """rental_capacity(r,t): sum_w rented_serve[w,r,t] / theta(k(r),w) <= availability(k(r))
    * cards_rented[r,t].

    Units: cards (rented serving in ``token_unit`` tokens/s). Rented cards draw no power,
    hold no slot and need no cooling: their hourly price is all-in.
    """
    if not data.RENT_SERVE:
        return
    served = defaultdict(list)
    for (w, r, t) in data.RENT_SERVE:
        k = data.rental_accelerator[r]
        served[r, t].append((data.token_unit / data.throughput[k, w],
                             model.rented_serve[w, r, t]))
    index = sorted(served)

    def rule(m, r, t):
        k = data.rental_accelerator[r]
        return (pyo.quicksum((a * x for a, x in served[r, t]))
                <= data.availability[k] * m.cards_rented[r, t])
    model.rental_capacity = pyo.Constraint(index, rule=rule)


def add_rental_limit(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """rental_limit(r,t): cards_rented[r,t] <= max_cards(r,t).

    Units: cards (only where the rental gives a cap).
    """
    index = sorted(key for key in data.RENT if key in data.rental_max_cards)
    if not index:
        return

    def rule(m, r, t):
        return m.cards_rented[r, t] <= data.rental_max_cards[r, t]
    model.rental_limit = pyo.Constraint(index, rule=rule)
