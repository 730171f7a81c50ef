"""Energy, carbon and water families (shared/design/energy.md): supply contracts, the
fleet-wide carbon cap, the site water cap.

Every card's draw is written on ``fleet`` (its idle share) and ``busy`` (the rest):
it_mwh(s,c,t) = H sum_k kW(k)/1000 (idle_k fleet[k,s,c,t] + (1 - idle_k) busy[k,s,c,t]) and
energy_mwh(s,t) = sum_c pue(s,c) it_mwh(s,c,t).
"""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def _draws(model: pyo.ConcreteModel, data: ProblemData):
    """(k, s, c, t, MWh of IT energy per unit, variable) for every fleet and busy column."""
    for family, index in (("fleet", data.FLEET), ("busy", data.BUSY)):
        variable = getattr(model, family)
        for (k, s, c, t) in index:
            yield k, s, c, t, data.it_mwh_per_card(k, data.draw_share(family, k)), \
                variable[k, s, c, t]


def add_energy_supply(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """energy_supply(s,t): sum_p ppa_mwh[s,p,t] <= energy_mwh(s,t).

    Units: MWh at the meter. A contract delivers at most max_mw x capacity_factor x H a
    period (the variable's bound); what it does not cover comes from the grid.
    """
    if not data.PPA:
        return
    sites = {(s, t) for (s, _, t) in data.PPA}
    energy = defaultdict(list)
    for k, s, c, t, mwh, x in _draws(model, data):
        if (s, t) in sites:
            energy[s, t].append((data.pue[s, c] * mwh, x))
    contracts = defaultdict(list)
    for (s, p, t) in data.PPA:
        contracts[s, t].append(model.ppa_mwh[s, p, t])

    def rule(m, s, t):
        return pyo.quicksum(contracts[s, t]) <= pyo.quicksum(
            (a * x for a, x in energy.get((s, t), [])))
    model.energy_supply = pyo.Constraint(sorted(sites), rule=rule)


def _site_emission_terms(model: pyo.ConcreteModel, data: ProblemData) -> dict[tuple, list]:
    """Per (s,t): (tonnes per unit, variable) whose sum is emissions_t(s,t)."""
    terms = defaultdict(list)
    for k, s, c, t, mwh, x in _draws(model, data):
        kg = data.grid_carbon_kg_per_mwh.get((s, t), 0.0)
        if kg:
            terms[s, t].append((data.pue[s, c] * mwh * kg / 1000.0, x))
    for (s, p, t) in data.PPA:
        kg = data.ppa_carbon_kg_per_mwh[s, p] - data.grid_carbon_kg_per_mwh.get((s, t), 0.0)
        if kg:
            terms[s, t].append((kg / 1000.0, model.ppa_mwh[s, p, t]))
    return terms


def add_site_emissions(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """site_emissions(s,t): emissions_t[s,t] = (grid_carbon(s,t) grid_mwh(s,t) + sum_p
    carbon(p) ppa_mwh[s,p,t]) / 1000, for the carbon cap.

    Units: tonnes of CO2 a period. One row a site and period, so that the cap's row has a
    term a site rather than one for every card of every site (as the share rules are written
    on aggregates).
    """
    if not data.carbon_cap_t:
        return
    terms = {key: items for key, items in _site_emission_terms(model, data).items()
             if key[1] in data.carbon_cap_t}
    index = sorted(terms)
    if not index:
        return
    model.SITE_EMISSIONS = pyo.Set(initialize=index, dimen=2, ordered=True)
    model.emissions_t = pyo.Var(model.SITE_EMISSIONS, domain=pyo.Reals)

    def rule(m, s, t):
        return m.emissions_t[s, t] == pyo.quicksum((a * x for a, x in terms[s, t]))
    model.site_emissions = pyo.Constraint(model.SITE_EMISSIONS, rule=rule)


def add_carbon_cap(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """carbon_cap(t): sum_s emissions_t[s,t] <= carbon_cap_t_per_year(t) L, with
    emissions_t(s,t) = (grid_carbon(s,t) grid_mwh(s,t) + sum_p carbon(p) ppa_mwh[s,p,t]) / 1000
    and grid_mwh = energy_mwh - sum_p ppa_mwh (``site_emissions``).

    Units: tonnes of CO2 a period.
    """
    if not data.carbon_cap_t:
        return
    by_period = defaultdict(list)
    for (s, t) in (model.SITE_EMISSIONS if hasattr(model, "SITE_EMISSIONS") else []):
        by_period[t].append(model.emissions_t[s, t])
    index = sorted(data.carbon_cap_t)

    def rule(m, t):
        if not by_period.get(t):
            return pyo.Constraint.Skip      # nothing emits then: an empty row is no row
        return pyo.quicksum(by_period[t]) <= data.carbon_cap_t[t]
    model.carbon_cap = pyo.Constraint(index, rule=rule)


def add_water_cap(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """water_cap(s,t): water_m3(s,t) = sum_c wue(s,c) it_mwh(s,c,t) <= max_water_m3_per_year(s) L.

    Units: m3 a period (litres per kWh x MWh = m3).
    """
    if not data.water_cap_m3:
        return
    terms = defaultdict(list)
    for k, s, c, t, mwh, x in _draws(model, data):
        wue = data.wue_l_per_kwh.get((s, c), 0.0)
        if (s, t) in data.water_cap_m3 and wue:
            terms[s, t].append((wue * mwh, x))
    index = sorted(terms)
    if not index:
        return

    def rule(m, s, t):
        return pyo.quicksum((a * x for a, x in terms[s, t])) <= data.water_cap_m3[s, t]
    model.water_cap = pyo.Constraint(index, rule=rule)


def total_emissions(model: pyo.ConcreteModel, data: ProblemData):
    """sum_t sum_s emissions_t(s,t): tonnes of CO2 over the horizon (a Pyomo expression; 0
    when nothing emits). Uses the site_emissions variables where the carbon cap made them."""
    made = set(model.SITE_EMISSIONS) if hasattr(model, "SITE_EMISSIONS") else set()
    terms = [model.emissions_t[key] for key in made]
    terms += [a * x for key, items in _site_emission_terms(model, data).items()
              if key not in made for a, x in items]
    return pyo.quicksum(terms) if terms else 0.0
