"""The cost entries of each decision family, from the problem data (see
:mod:`optimizer.problem.costs`). The objective's coefficients and ``costs.csv`` both come from
here: ``decision_entries(data, family, index)``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from optimizer.problem.costs import Entry
from optimizer.problem.data import ProblemData


def purchase_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One unit of units_bought[k,s,c,d] (delivered in d, ordered lead_time periods before):
    cards_per_unit(k) cards at the order period's price with its tariffs, the deposit paid at
    order and the balance at delivery."""
    k, _, _, delivered = key
    ordered = data.order_period(k, delivered)
    price = data.price_paid_per_card(k, ordered) * data.cards_per_unit[k]
    return data.costs.purchase(delivered, price, data.lifetime_years[k],
                               data.maintenance_rate[k], reported, ordered=ordered,
                               deposit_fraction=data.deposit_fraction.get(k, 1.0),
                               alive=data.alive(k, delivered))


def rental_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One card of cards_rented[r,t]: its hourly price through the period."""
    r, t = key
    return data.costs.rental(t, data.rental_price_per_card_hour[r, t])


def _draw_entries(data: ProblemData, family: str, key: tuple) -> list[Entry]:
    """One card's draw through period t (its idle share for ``fleet``, the rest for
    ``busy``): grid electricity at PUE, the CO2 of that grid power at the carbon price, the
    water its cooling evaporates at the site's price (energy.md)."""
    k, s, c, t = key
    share = data.draw_share(family, k)
    entries = data.costs.energy(t, data.electricity_price_per_mwh[s, t], data.pue[s, c],
                                data.power_kw_per_card[k], share)
    it_mwh = data.it_mwh_per_card(k, share)
    carbon = data.grid_carbon_kg_per_mwh.get((s, t), 0.0)
    if carbon:
        entries += data.costs.emissions(t, data.pue[s, c] * it_mwh * carbon / 1000.0,
                                        data.carbon_price_per_t.get(t, 0.0))
    wue = data.wue_l_per_kwh.get((s, c), 0.0)
    if wue:
        entries += data.costs.water(t, wue * it_mwh, data.water_price_per_m3.get(s, 0.0))
    return entries


def fleet_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One card of fleet[k,s,c,t]: its idle power through the period (energy, carbon,
    water)."""
    return _draw_entries(data, "fleet", key)


def busy_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One card of busy[k,s,c,t]: the rest of its power (1 - idle share)."""
    return _draw_entries(data, "busy", key)


def ppa_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One MWh of ppa_mwh[s,p,t]: bought from the contract instead of the grid (its price
    less the grid's, its CO2 less the grid's at the carbon price)."""
    s, p, t = key
    entries: list[Entry] = []
    price = data.ppa_price_per_mwh[s, p] - data.electricity_price_per_mwh[s, t]
    if price:
        entries.append((t, "energy", price))
    tonnes = (data.ppa_carbon_kg_per_mwh[s, p] - data.grid_carbon_kg_per_mwh.get((s, t), 0.0)
              ) / 1000.0
    entries += data.costs.emissions(t, tonnes, data.carbon_price_per_t.get(t, 0.0))
    return entries


def build_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One unit of build[s,c,t]: build_unit_mw(s,c) MW of cooling."""
    s, c, t = key
    cost = data.build_cost_per_mw[s, c] * data.build_unit_mw[s, c]
    if not cost:
        return []
    return data.costs.build(t, cost, data.cooling_lifetime_years[s, c], reported)


def opening_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """site_open[s,t] = 1: the period's fixed cost and the opening cost on the difference of
    consecutive opens."""
    s, t = key
    return data.costs.opening(t, data.open_cost[s], data.fixed_cost_per_year[s])


def unmet_entries(data: ProblemData, key: tuple, reported: bool = True) -> list[Entry]:
    """One token_unit tokens/s of unmet[w,t]: the tokens it stands for over the period at the
    unmet-demand price."""
    w, t = key
    tokens = data.costs.tokens_per_peak_unit(data.token_unit, data.peak_to_average[w])
    return data.costs.unmet(t, tokens, data.unmet_price_per_million_tokens)


@dataclass(frozen=True)
class DecisionFamily:
    """A decision of the plan, paired once with its index set and its cost entries.

    Attributes:
        variable: the Pyomo variable (``model.<variable>``).
        index: the index set, the same name on the model and on the problem data (``BUY``).
        entries: ``entries(data, key, reported)``: the cost entries of one unit.
        capex: it carries capex (the budget rows count it).
        decided_in: ``decided_in(data, key)``: the period index the decision is taken in (an
            order: its order period, not its delivery); None for operations (serving, energy,
            unmet demand), which are never part of a first stage.
    """

    variable: str
    index: str
    entries: Callable[[ProblemData, Any, bool], list[Entry]]
    capex: bool = False
    decided_in: Callable[[ProblemData, Any], int] | None = None


def _order_period(data: ProblemData, key: tuple) -> int:
    return data.order_period(key[0], key[-1])


def _own_period(data: ProblemData, key: tuple) -> int:
    return key[-1]


DECISIONS: tuple[DecisionFamily, ...] = (
    DecisionFamily("units_bought", "BUY", purchase_entries, capex=True, decided_in=_order_period),
    DecisionFamily("build", "BUILD", build_entries, capex=True, decided_in=_own_period),
    DecisionFamily("site_open", "OPENING", opening_entries, capex=True, decided_in=_own_period),
    DecisionFamily("cards_rented", "RENT", rental_entries, decided_in=_own_period),
    DecisionFamily("fleet", "FLEET", fleet_entries),
    DecisionFamily("busy", "BUSY", busy_entries),
    DecisionFamily("unmet", "UNMET", unmet_entries),
    DecisionFamily("ppa_mwh", "PPA", ppa_entries),
)
"""Every decision that carries cost or is committed, in one place: the objective, the budget
rows, ``costs.csv`` and the first stage of a stochastic plan all read this table."""

BY_VARIABLE = {family.variable: family for family in DECISIONS}

COMMITTED = tuple(family for family in DECISIONS if family.decided_in is not None)
"""Decisions a stochastic plan shares in its committed periods (model.md): orders placed,
cooling builds, site openings, rentals."""


def decision_entries(data: ProblemData, family: str, index: Any,
                     reported: bool = True) -> list[Entry]:
    """The cost entries of one unit of a decision (``reported``: with depreciation)."""
    return BY_VARIABLE[family].entries(data, index, reported)


def first_stage_keys(data: ProblemData, commit: int) -> dict[str, list]:
    """The first stage: variable -> the keys of the decisions taken in periods before
    ``commit`` (orders by their order period, whatever their delivery; builds, openings and
    rentals by their period). The one filter every stochastic path uses."""
    return stage_keys(data, 0, commit)


def stage_keys(data: ProblemData, first: int, end: int) -> dict[str, list]:
    """A stage of a scenario tree: variable -> the keys of the decisions taken in periods
    ``first`` <= t < ``end`` (by the rule of :func:`first_stage_keys`)."""
    return {family.variable: [key for key in getattr(data, family.index)
                              if first <= family.decided_in(data, key) < end]
            for family in COMMITTED}


def objective_coefficients(data: ProblemData) -> None:
    """The objective's coefficients (money_unit, discounted) from the entries, and the
    constant (costs no decision changes)."""
    costs, money = data.costs, data.money_unit
    data.objective_cost = {
        family.variable: {key: costs.npv(family.entries(data, key, False)) / money
                          for key in getattr(data, family.index)}
        for family in DECISIONS}
    data.cost_constant = costs.npv(costs.constant) / money
