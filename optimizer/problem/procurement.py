"""Step builders for procurement (shared/design/procurement.md): lead times and deposits,
tariffs and bans by period, and rentals."""
from __future__ import annotations

from optimizer.instance.derived import banned_accelerators, per_period
from optimizer.problem.data import ProblemData


def _start(periods: list[str], label: str | None) -> int:
    return periods.index(label) if label else 0


def add_procurement_rules(data: ProblemData, spec) -> None:
    """Per accelerator k: lead time (periods from order to delivery) and deposit share; per
    (k, order period) the sum of the tariff rates in force; the first period a ban forbids
    deliveries and rentals of k, and (``installed: retire``) the first period its owned
    cards are out of service."""
    periods = data.periods
    accs = spec.accelerators
    for k in data.ACCELERATORS:
        data.lead_time_periods[k] = accs[k].lead_time_periods
        data.deposit_fraction[k] = accs[k].deposit_fraction
    for rule in spec.policies.tariff:
        start = _start(periods, rule.from_period)
        for k in banned_accelerators(rule, accs):
            for t in range(start, data.n_periods):
                data.tariff_rate[k, t] = data.tariff_rate.get((k, t), 0.0) + rule.rate
    for rule in spec.policies.ban:
        start = _start(periods, rule.from_period)
        for k in banned_accelerators(rule, accs):
            data.banned_from[k] = min(start, data.banned_from.get(k, start))
            if rule.installed == "retire":
                data.retired_from[k] = min(start, data.retired_from.get(k, start))


def delivery_allowed(data: ProblemData, k: str, delivered: int, first: int) -> bool:
    """Whether an order of k may be delivered in ``delivered``: ordered inside the horizon
    (d - lead time >= 0), not before ``available_from`` (``first``), and no ban in force."""
    return (delivered >= first and data.order_period(k, delivered) >= 0
            and delivered < data.banned_from.get(k, data.n_periods))


def add_rentals(data: ProblemData, spec) -> None:
    """RENT: (r,t) for rentals whose accelerator is not banned in t and serves some workload
    of the rental's region (after memory fit), or any period when share rules hold (rented
    cards count in them, serving or not). The set does not depend on demand, so that every
    scenario of a stochastic plan can make (and share) the same rentals. RENT_SERVE: (w,r,t)
    for those workloads with demand in t. Prices per card-hour (currency) and finite caps
    (cards) by period."""
    periods = data.periods
    workloads = spec.workloads
    demand = set(data.DEMAND)
    shares = bool(spec.policies.min_share) or spec.policies.max_vendor_share is not None
    for r in sorted(spec.rentals):
        rental = spec.rentals[r]
        k = rental.accelerator
        data.rental_accelerator[r] = k
        data.rental_region[r] = rental.region
        prices = per_period(rental.price_per_card_hour, periods)
        caps = per_period(rental.max_cards, periods)
        servable = [w for w in data.WORKLOADS if (k, w) in data.throughput and (
            workloads[w].regions is None or rental.region in workloads[w].regions)]
        for t in range(data.n_periods):
            if t >= data.banned_from.get(k, data.n_periods) or caps[t] == 0:
                continue
            serving = [w for w in servable if (w, t) in demand]
            if not servable and not shares:
                continue
            data.RENT.append((r, t))
            data.rental_price_per_card_hour[r, t] = prices[t]
            if caps[t] is not None:
                data.rental_max_cards[r, t] = caps[t]
            data.RENT_SERVE += [(w, r, t) for w in serving]
    data.RENT_SERVE.sort()
