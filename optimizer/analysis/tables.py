"""Result tables of a solved plan, in natural units (cards, MW, tokens, currency)."""
from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

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
              "tokens_served_millions", "cost_per_million_tokens", "rental", "carbon", "water",
              "on_order_balance"],
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


class SolvedValues:
    """A solved model's variable values by family, read once per family (``values.serve[key]``
    is a dict lookup: indexing Pyomo's components key by key cost seconds at large sizes)."""

    def __init__(self, model: pyo.ConcreteModel) -> None:
        self._model = model
        self._families: dict[str, dict] = {}

    def __getattr__(self, name: str) -> dict:
        if name.startswith("_"):
            raise AttributeError(name)
        found = self._families.get(name)
        if found is None:
            component = getattr(self._model, name)
            found = {key: (float(var.value) if var.value is not None else 0.0)
                     for key, var in component.items()}
            self._families[name] = found
        return found


def plan_tables(model: pyo.ConcreteModel, data: ProblemData) -> dict[str, pd.DataFrame]:
    """The result tables of the solved ``model``; costs undiscounted in the instance currency
    except ``discounted_total`` (the period's share of the NPV). Every row is built by column
    name (``TABLE_COLUMNS`` orders them). Made in Pyomo's scoped garbage-collector pause, as
    the model is built: the rows' many small objects would otherwise set off full collections
    over the model's millions (measured at xl: 4.8 s instead of 2.1 s)."""
    with PauseGC():
        return _plan_tables(model, data)


def _plan_tables(model: pyo.ConcreteModel, data: ProblemData) -> dict[str, pd.DataFrame]:
    periods = data.periods
    n = data.n_periods
    vals = SolvedValues(model)

    purchases = []
    for (k, s, c, t) in data.BUY:
        units = round(vals.units_bought[k, s, c, t])
        if units:
            cards = units * data.cards_per_unit[k]
            ordered = data.order_period(k, t)
            price = data.price_paid_per_card(k, ordered)
            deposit = cards * price * data.deposit_fraction.get(k, 1.0)
            purchases.append(dict(period=periods[t], accelerator=k, vendor=data.vendor[k],
                                  site=s, cooling=c, units=units, cards=cards,
                                  capex=cards * price, order_period=periods[ordered],
                                  delivery_period=periods[t], deposit=deposit,
                                  balance=cards * price - deposit, price_per_card=price))

    fleet_rows, cards_at = [], defaultdict(float)
    it_kw_used = defaultdict(float)
    for (k, s, c, t) in data.FLEET:
        cards = vals.fleet[k, s, c, t]
        cards_at[s, c, t] += cards
        it_kw_used[s, c, t] += cards * data.power_kw_per_card[k]
        if cards > EPS:
            fleet_rows.append(dict(period=periods[t], accelerator=k, vendor=data.vendor[k],
                                   site=s, cooling=c, cards=round(cards)))

    serving = []

    def served(t: int, w: str, k: str, where: str, peak: float, source: str) -> None:
        if peak > EPS * data.token_unit:
            serving.append(dict(period=periods[t], workload=w, accelerator=k, site=where,
                                peak_tokens_per_s=peak,
                                average_tokens_per_day=peak / data.peak_to_average[w]
                                * SECONDS_PER_DAY, source=source))
    for (w, k, s, t) in data.SERVE:
        served(t, w, k, s, vals.serve[w, k, s, t] * data.token_unit, "site")
    rental_rows = []
    for (r, t) in data.RENT:
        cards = round(vals.cards_rented[r, t])
        if cards:
            k = data.rental_accelerator[r]
            rental_rows.append(dict(period=periods[t], rental=r, accelerator=k,
                                    vendor=data.vendor[k], region=data.rental_region[r],
                                    cards=cards, cost=cards * data.rental_price_per_card_hour[r, t]
                                    * data.timeline.hours))
    for (w, r, t) in data.RENT_SERVE:
        served(t, w, data.rental_accelerator[r], r,
               vals.rented_serve[w, r, t] * data.token_unit, "rental")
    demand_rows = _demand_rows(vals, data)
    served_tokens_per_day = defaultdict(float)      # demand met: serving beyond it is spare
    for row in demand_rows:
        served_tokens_per_day[periods.index(row["period"])] += row["served_tokens_per_day"]

    unmet_rows = []
    for (w, t) in data.UNMET:
        peak = vals.unmet[w, t] * data.token_unit
        if peak > EPS * data.token_unit:
            unmet_rows.append(dict(period=periods[t], workload=w, peak_tokens_per_s=peak,
                                   average_tokens_per_day=peak / data.peak_to_average[w]
                                   * SECONDS_PER_DAY))

    built = {i: vals.build[i] * data.build_unit_mw[i[0], i[1]] for i in data.BUILD}
    site_rows = []
    for (s, c) in data.SC:
        pue = data.pue[s, c]
        for t in range(n):
            capacity = vals.capacity_mw[s, c, t]
            used = it_kw_used[s, c, t] / 1000.0
            is_open = (round(vals.site_open[s, t]) if s in data.OPENABLE else 1)
            site_rows.append(dict(period=periods[t], site=s, cooling=c, it_mw_capacity=capacity,
                                  it_mw_used=used, facility_mw=pue * capacity,
                                  grid_mw=data.grid_mw[s, t], cards=round(cards_at[s, c, t]),
                                  max_cards=data.max_cards[s],
                                  it_mw_built=built.get((s, c, t), 0.0),
                                  facility_mw_used=pue * used, open=is_open))

    build_rows = [dict(period=periods[t], site=s, cooling=c, it_mw=mw,
                       capex=mw * data.build_cost_per_mw[s, c])
                  for (s, c, t), mw in built.items() if mw > EPS]
    opening_rows = []
    for s in data.OPENABLE:
        before = 0
        for t in range(n):
            now = round(vals.site_open[s, t])
            if now > before:
                opening_rows.append(dict(period=periods[t], site=s, open_cost=data.open_cost[s]))
            before = now
    costs = _cost_rows(vals, data, served_tokens_per_day)
    frames = {
        "purchases": purchases, "fleet": fleet_rows, "serving": serving, "sites": site_rows,
        "costs": costs, "unmet": unmet_rows, "utilisation": _utilisation_rows(vals, data),
        "demand": demand_rows, "builds": build_rows, "openings": opening_rows,
        "rentals": rental_rows, "energy": _energy_rows(vals, data),
    }
    return {name: pd.DataFrame(rows, columns=TABLE_COLUMNS[name]) for name, rows in frames.items()}


def _energy_rows(vals: SolvedValues, data: ProblemData) -> list[dict]:
    """Per period and site with cards: energy at the meter, from the grid and from supply
    contracts (MWh), CO2 (t) and water (m3), as energy.md defines them."""
    rows: dict[tuple[int, str], dict[str, float]] = {}
    for family, index in (("fleet", data.FLEET), ("busy", data.BUSY)):
        for (k, s, c, t) in index:
            drawn = getattr(vals, family)[k, s, c, t]
            it_mwh = data.it_mwh_per_card(k, data.draw_share(family, k)) * drawn
            row = rows.setdefault((t, s), {"energy": 0.0, "water": 0.0})
            row["energy"] += data.pue[s, c] * it_mwh
            row["water"] += data.wue_l_per_kwh.get((s, c), 0.0) * it_mwh
    ppa = defaultdict(float)
    contract_t = defaultdict(float)
    for (s, p, t) in data.PPA:
        mwh = vals.ppa_mwh[s, p, t]
        ppa[t, s] += mwh
        contract_t[t, s] += mwh * data.ppa_carbon_kg_per_mwh[s, p] / 1000.0
    out = []
    for (t, s), row in sorted(rows.items()):
        grid = max(row["energy"] - ppa[t, s], 0.0)
        emissions = grid * data.grid_carbon_kg_per_mwh.get((s, t), 0.0) / 1000.0 + contract_t[t, s]
        out.append(dict(period=data.periods[t], site=s, energy_mwh=row["energy"], grid_mwh=grid,
                        ppa_mwh=ppa[t, s], emissions_t=emissions, water_m3=row["water"]))
    return out


def _utilisation_rows(vals: SolvedValues, data: ProblemData) -> list[dict]:
    """Per period: owned cards installed, available (x availability), needed at peak, busy on
    average; cards rented."""
    names = TABLE_COLUMNS["utilisation"][1:]
    rows = {t: dict.fromkeys(names, 0.0) for t in range(data.n_periods)}
    for (r, t) in data.RENT:
        rows[t]["cards_rented"] += vals.cards_rented[r, t]
    for (k, s, c, t) in data.FLEET:
        cards = vals.fleet[k, s, c, t]
        rows[t]["cards_installed"] += cards
        rows[t]["cards_available"] += cards * data.availability[k]
    for (w, k, s, t) in data.SERVE:
        peak_cards = vals.serve[w, k, s, t] * data.token_unit / data.throughput[k, w]
        rows[t]["cards_needed_at_peak"] += peak_cards
        rows[t]["cards_busy_average"] += peak_cards / data.peak_to_average[w]
    return [dict(period=data.periods[t], **values) for t, values in rows.items()]


def _demand_rows(vals: SolvedValues, data: ProblemData) -> list[dict]:
    """Per period and workload: average tokens/day asked, served (of that demand: capacity
    beyond it is spare, not served) and not served."""
    served = defaultdict(float)
    for (w, k, s, t) in data.SERVE:
        served[w, t] += (vals.serve[w, k, s, t] * data.token_unit
                         / data.peak_to_average[w] * SECONDS_PER_DAY)
    for (w, r, t) in data.RENT_SERVE:
        served[w, t] += (vals.rented_serve[w, r, t] * data.token_unit
                         / data.peak_to_average[w] * SECONDS_PER_DAY)
    rows = []
    for (w, t) in data.DEMAND:
        demand = data.demand_peak[w, t] * data.token_unit / data.peak_to_average[w] * SECONDS_PER_DAY
        met = min(served[w, t], demand)
        rows.append(dict(period=data.periods[t], workload=w, demand_tokens_per_day=demand,
                         served_tokens_per_day=met, unmet_tokens_per_day=demand - met))
    return rows


def _cost_rows(vals: SolvedValues, data: ProblemData, served_tokens_per_day: dict) -> list[dict]:
    """Cost per period by kind, undiscounted: the plan's decisions times their cost entries
    (the same entries the objective is made of, :data:`optimizer.problem.entries.DECISIONS`)
    and the constants, plus the discounted total (the NPV's share of the period)."""
    n = data.n_periods
    rows = {t: defaultdict(float) for t in range(n)}
    for t, kind, money in data.costs.constant:
        rows[t][kind] += money
    for family in DECISIONS:
        for key in getattr(data, family.index):
            amount = getattr(vals, family.variable)[key]
            if abs(amount) <= 1e-12:
                continue
            for t, kind, money in family.entries(data, key, True):
                rows[t][kind] += amount * money
    table = []
    for t in range(n):
        r = rows[t]
        capex = sum(r[x] for x in CAPEX_KINDS)
        opex = sum(r[x] for x in OPEX_KINDS)
        tokens_m = served_tokens_per_day.get(t, 0.0) * DAYS_PER_YEAR * data.period_years / 1e6
        # period cost with capex spread straight-line (site openings and balances at once)
        spread = r["depreciation"] + r["capex_sites"] + r["on_order_balance"] + opex
        row = {kind: r[kind] for kind in CAPEX_KINDS + OPEX_KINDS}
        row.update(period=data.periods[t], salvage=r["salvage"],
                   total=capex + opex - r["salvage"],
                   discounted_total=sum(data.costs.discount(kind, t) * money
                                        for kind, money in r.items()),
                   depreciation=r["depreciation"], tokens_served_millions=tokens_m,
                   cost_per_million_tokens=spread / tokens_m if tokens_m else None)
        table.append(row)
    return table
