"""Step builder: accelerators (vendors, tags, purchase units, prices, power, supply)."""
from __future__ import annotations

from optimizer.instance.derived import per_period
from optimizer.problem.data import ProblemData


def add_accelerators(data: ProblemData, spec) -> None:
    """Per accelerator k: vendor, tags, cards per unit, price per card by period (currency),
    IT kW per card and its idle share, availability, lifetime (years), maintenance (share of
    the price a year) and finite supply caps (cards by period)."""
    periods = data.periods
    for k in data.ACCELERATORS:
        acc = spec.accelerators[k]
        data.vendor[k] = acc.vendor
        data.tags[k] = frozenset(acc.tags)
        data.cards_per_unit[k] = acc.cards_per_unit
        data.power_kw_per_card[k] = acc.power_kw_per_card
        data.availability[k] = acc.availability
        data.lifetime_years[k] = acc.lifetime_years
        data.maintenance_rate[k] = acc.maintenance_rate
        data.idle_power_fraction[k] = acc.idle_power_fraction
        for t, price in enumerate(per_period(acc.price_per_card, periods)):
            data.price_per_card[k, t] = price
        for t, cards in enumerate(per_period(acc.supply, periods)):
            if cards is not None:
                data.supply_cards[k, t] = cards
