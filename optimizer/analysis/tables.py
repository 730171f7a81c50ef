"""Result tables of a solved plan, in natural units (cards, MW, tokens, currency)."""
from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pyomo.environ as pyo

from optimizer.problem import DAYS_PER_YEAR, SECONDS_PER_DAY, ProblemData
from optimizer.problem.costs import CAPEX_KINDS, OPEX_KINDS
from optimizer.problem.entries import DECISIONS

TABLE_COLUMNS: dict[str, list[str]] = {
    "purchases": ["period", "accelerator", "vendor", "site", "cooling", "units", "cards", "capex",
                  "order_period", "delivery_period", "deposit", "balance", "price_per_card"],
    "fleet": ["period", "accelerator", "vendor", "site", "cooling", "cards"],
    "serving": ["period", "workload", "accelerator", "site", "peak_tokens_per_s",
                "average_tokens_per_day", "source"],
    "rentals": ["period", "rental", "accelerator", "vendor", "region", "cards", "cost"],
    "sites": ["period", "site", "cooling", "it_mw_capacity", "it_mw_used", "facility_mw",
              "grid_mw", "cards", "max_cards", "it_mw_built", "facility_mw_used", "open"],
    "costs": ["period", "capex_cards", "capex_cooling", "capex_sites", "energy", "maintenance",
              "fixed", "unmet", "salvage", "total", "discounted_total", "depreciation",
              "tokens_served_millions", "cost_per_million_tokens", "rental", "carbon", "water"],
    "energy": ["period", "site", "energy_mwh", "grid_mwh", "ppa_mwh", "emissions_t", "water_m3"],
    "utilisation": ["period", "cards_installed", "cards_available", "cards_needed_at_peak",
                    "cards_busy_average", "cards_rented"],
    "demand": ["period", "workload", "demand_tokens_per_day", "served_tokens_per_day",
               "unmet_tokens_per_day"],
    "unmet": ["period", "workload", "peak_tokens_per_s", "average_tokens_per_day"],
    "builds": ["period", "site", "cooling", "it_mw", "capex"],
    "openings": ["period", "site", "open_cost"],
}
"""Columns of each table (those of shared/design/interface.md first, additions after)."""

EPS = 1e-6


def _value(var) -> float:
    return float(var.value) if var.value is not None else 0.0


def plan_tables(model: pyo.ConcreteModel, data: ProblemData) -> dict[str, pd.DataFrame]:
    """The result tables of the solved ``model``; costs undiscounted in the instance currency
    except ``discounted_total`` (the period's share of the NPV)."""
    periods = data.periods
    n = data.n_periods

    purchases = []
    for (k, s, c, t) in data.BUY:
        units = round(_value(model.units_bought[k, s, c, t]))
        if units:
            cards = units * data.cards_per_unit[k]
            ordered = data.order_period(k, t)
            price = data.price_paid_per_card(k, ordered)
            deposit = cards * price * data.deposit_fraction.get(k, 1.0)
            purchases.append([periods[t], k, data.vendor[k], s, c, units, cards, cards * price,
                              periods[ordered], periods[t], deposit, cards * price - deposit,
                              price])

    fleet_rows, cards_at = [], defaultdict(float)
    it_kw_used = defaultdict(float)
    for (k, s, c, t) in data.FLEET:
        cards = _value(model.fleet[k, s, c, t])
        cards_at[s, c, t] += cards
        it_kw_used[s, c, t] += cards * data.power_kw_per_card[k]
        if cards > EPS:
            fleet_rows.append([periods[t], k, data.vendor[k], s, c, round(cards)])

    serving = []
    for (w, k, s, t) in data.SERVE:
        peak = _value(model.serve[w, k, s, t]) * data.token_unit
        if peak > EPS * data.token_unit:
            per_day = peak / data.peak_to_average[w] * SECONDS_PER_DAY
            serving.append([periods[t], w, k, s, peak, per_day, "site"])
    rental_rows = []
    for (r, t) in data.RENT:
        cards = round(_value(model.cards_rented[r, t]))
        if cards:
            k = data.rental_accelerator[r]
            rental_rows.append([periods[t], r, k, data.vendor[k], data.rental_region[r], cards,
                                cards * data.rental_price_per_card_hour[r, t]
                                * data.timeline.hours])
    for (w, r, t) in data.RENT_SERVE:
        peak = _value(model.rented_serve[w, r, t]) * data.token_unit
        if peak > EPS * data.token_unit:
            per_day = peak / data.peak_to_average[w] * SECONDS_PER_DAY
            serving.append([periods[t], w, data.rental_accelerator[r], r, peak, per_day,
                            "rental"])
    demand_rows = _demand_rows(model, data)
    served_tokens_per_day = defaultdict(float)      # demand met: serving beyond it is spare
    for label, _, _, served, _ in demand_rows:
        served_tokens_per_day[periods.index(label)] += served

    unmet_rows = []
    for (w, t) in data.UNMET:
        peak = _value(model.unmet[w, t]) * data.token_unit
        if peak > EPS * data.token_unit:
            unmet_rows.append([periods[t], w, peak, peak / data.peak_to_average[w] * SECONDS_PER_DAY])

    built = {i: _value(model.build[i]) * data.build_unit_mw[i[0], i[1]] for i in data.BUILD}
    site_rows = []
    for (s, c) in data.SC:
        pue = data.pue[s, c]
        for t in range(n):
            capacity = _value(model.capacity_mw[s, c, t])
            used = it_kw_used[s, c, t] / 1000.0
            is_open = (round(_value(model.site_open[s, t])) if s in data.OPENABLE else 1)
            site_rows.append([periods[t], s, c, capacity, used, pue * capacity, data.grid_mw[s, t],
                              round(cards_at[s, c, t]), data.max_cards[s],
                              built.get((s, c, t), 0.0), pue * used, is_open])

    build_rows = [[periods[t], s, c, mw, mw * data.build_cost_per_mw[s, c]]
                  for (s, c, t), mw in built.items() if mw > EPS]
    opening_rows = []
    for s in data.OPENABLE:
        before = 0
        for t in range(n):
            now = round(_value(model.site_open[s, t]))
            if now > before:
                opening_rows.append([periods[t], s, data.open_cost[s]])
            before = now
    costs = _cost_rows(model, data, served_tokens_per_day)
    frames = {
        "purchases": purchases, "fleet": fleet_rows, "serving": serving, "sites": site_rows,
        "costs": costs, "unmet": unmet_rows, "utilisation": _utilisation_rows(model, data),
        "demand": demand_rows, "builds": build_rows, "openings": opening_rows,
        "rentals": rental_rows, "energy": _energy_rows(model, data),
    }
    return {name: pd.DataFrame(rows, columns=TABLE_COLUMNS[name]) for name, rows in frames.items()}


def _energy_rows(model, data: ProblemData) -> list[list]:
    """Per period and site with cards: energy at the meter, from the grid and from supply
    contracts (MWh), CO2 (t) and water (m3), as energy.md defines them."""
    rows: dict[tuple[int, str], list[float]] = {}
    for family, index in (("fleet", data.FLEET), ("busy", data.BUSY)):
        variable = getattr(model, family)
        for (k, s, c, t) in index:
            it_mwh = data.it_mwh_per_card(k, data.draw_share(family, k)) * _value(
                variable[k, s, c, t])
            row = rows.setdefault((t, s), [0.0, 0.0, 0.0, 0.0])
            row[0] += data.pue[s, c] * it_mwh
            row[3] += data.wue_l_per_kwh.get((s, c), 0.0) * it_mwh
    ppa = defaultdict(float)
    contract_t = defaultdict(float)
    for (s, p, t) in data.PPA:
        mwh = _value(model.ppa_mwh[s, p, t])
        ppa[t, s] += mwh
        contract_t[t, s] += mwh * data.ppa_carbon_kg_per_mwh[s, p] / 1000.0
    out = []
    for (t, s), (energy, _, _, water) in sorted(rows.items()):
        grid = max(energy - ppa[t, s], 0.0)
        emissions = grid * data.grid_carbon_kg_per_mwh.get((s, t), 0.0) / 1000.0 + contract_t[t, s]
        out.append([data.periods[t], s, energy, grid, ppa[t, s], emissions, water])
    return out


def _utilisation_rows(model, data: ProblemData) -> list[list]:
    """Per period: owned cards installed, available (x availability), needed at peak, busy on
    average; cards rented."""
    rows = {t: [0.0, 0.0, 0.0, 0.0, 0.0] for t in range(data.n_periods)}
    for (r, t) in data.RENT:
        rows[t][4] += _value(model.cards_rented[r, t])
    for (k, s, c, t) in data.FLEET:
        cards = _value(model.fleet[k, s, c, t])
        rows[t][0] += cards
        rows[t][1] += cards * data.availability[k]
    for (w, k, s, t) in data.SERVE:
        peak_cards = _value(model.serve[w, k, s, t]) * data.token_unit / data.throughput[k, w]
        rows[t][2] += peak_cards
        rows[t][3] += peak_cards / data.peak_to_average[w]
    return [[data.periods[t], *values] for t, values in rows.items()]


def _demand_rows(model, data: ProblemData) -> list[list]:
    """Per period and workload: average tokens/day asked, served (of that demand: capacity
    beyond it is spare, not served) and not served."""
    served = defaultdict(float)
    for (w, k, s, t) in data.SERVE:
        served[w, t] += (_value(model.serve[w, k, s, t]) * data.token_unit
                         / data.peak_to_average[w] * SECONDS_PER_DAY)
    for (w, r, t) in data.RENT_SERVE:
        served[w, t] += (_value(model.rented_serve[w, r, t]) * data.token_unit
                         / data.peak_to_average[w] * SECONDS_PER_DAY)
    rows = []
    for (w, t) in data.DEMAND:
        demand = data.demand_peak[w, t] * data.token_unit / data.peak_to_average[w] * SECONDS_PER_DAY
        met = min(served[w, t], demand)
        rows.append([data.periods[t], w, demand, met, demand - met])
    return rows


LATER_KINDS = ("rental", "carbon", "water")
"""Cost kinds added after shared/design/interface.md's columns (their columns come last)."""

def _cost_rows(model, data: ProblemData, served_tokens_per_day: dict) -> list[list]:
    """Cost per period by kind, undiscounted: the plan's decisions times their cost entries
    (the same entries the objective is made of), plus the discounted total (the NPV's share
    of the period)."""
    n = data.n_periods
    rows = {t: defaultdict(float) for t in range(n)}
    for t, kind, money in data.costs.constant:
        rows[t][kind] += money
    for family in DECISIONS:
        variable = getattr(model, family.variable)
        for key in getattr(data, family.index):
            amount = _value(variable[key])
            if abs(amount) <= 1e-12:
                continue
            for t, kind, money in family.entries(data, key, True):
                rows[t][kind] += amount * money
    table = []
    for t in range(n):
        r = rows[t]
        capex = sum(r[x] for x in CAPEX_KINDS)
        opex = sum(r[x] for x in OPEX_KINDS)
        total = capex + opex - r["salvage"]
        discounted = sum(data.costs.discount(kind, t) * money for kind, money in r.items())
        tokens_m = served_tokens_per_day.get(t, 0.0) * DAYS_PER_YEAR * data.period_years / 1e6
        # period cost with capex spread straight-line (site openings at once)
        spread = r["depreciation"] + r["capex_sites"] + opex
        table.append([data.periods[t]] + [r[x] for x in CAPEX_KINDS + OPEX_KINDS
                                          if x not in LATER_KINDS]
                     + [r["salvage"], total, discounted, r["depreciation"], tokens_m,
                        spread / tokens_m if tokens_m else None] + [r[x] for x in LATER_KINDS])
    return table
