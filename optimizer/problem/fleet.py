"""Step builder: the fleet (installed cards alive by period, purchases and the cards they
make alive, who may serve what) and the purchase costs."""
from __future__ import annotations

import math

from optimizer.problem.data import KSCT, ProblemData


def add_fleet(data: ProblemData, spec) -> None:
    """BUY: (k,s,c,tau) from k's ``available_from`` on, where a whole unit fits the supply and
    the site's slots (``buy_units_max``: slots / cards per unit). A purchase lives
    ``Timeline.life_periods`` periods; FLEET runs from the first living card of (k,s,c) to the
    horizon end (a state recursion, see fleet_definition). Installed cards are alive while
    age_years + y_t < lifetime and pay maintenance at the first period's price (a constant).
    SERVE: (w,k,s,t) where k serves w, s is in w's regions and k has cards at s in t; BUSY the
    fleet entries that serve something."""
    line = data.timeline
    n, years = line.n, line.years
    accs = spec.accelerators
    for s in data.SITES:
        for entry in spec.sites[s].existing_fleet:
            k = entry.accelerator
            for t in range(n):
                if entry.age_years + t * years < accs[k].lifetime_years and entry.cards > 0:
                    key = (k, s, entry.cooling, t)
                    data.existing_cards[key] = data.existing_cards.get(key, 0.0) + entry.cards
                    if accs[k].maintenance_rate:
                        data.costs.constant.append(
                            (t, "maintenance", accs[k].maintenance_rate * years
                             * data.price_per_card[k, 0] * entry.cards))
    first_buy = {k: data.periods.index(accs[k].available_from) if accs[k].available_from
                 else 0 for k in data.ACCELERATORS}
    fleet_keys: set[KSCT] = set(data.existing_cards)
    for (k, s, c) in data.KSC:
        u = data.cards_per_unit[k]
        lifetime = data.lifetime_years[k]
        life = line.life_periods(lifetime)
        for tau in range(n):
            supply = data.supply_cards.get((k, tau))
            if tau < first_buy[k] or (supply is not None and supply < u):
                continue
            # supply stays in its own row (not in this bound) so that its shadow price and
            # its relaxation (when no plan exists) can be read there
            units_max = math.floor(data.max_cards[s] / u)
            if units_max < 1:
                continue
            key = (k, s, c, tau)
            data.BUY.append(key)
            data.buy_units_max[key] = units_max
            fleet_keys.update((k, s, c, t) for t in line.alive(tau, lifetime))
            if tau + life < n:
                data.fleet_retires[k, s, c, tau + life] = key
    first_alive: dict[tuple[str, str, str], int] = {}
    for (k, s, c, t) in fleet_keys:
        first_alive[k, s, c] = min(t, first_alive.get((k, s, c), n))
    data.FLEET = sorted((k, s, c, t) for (k, s, c), t0 in first_alive.items()
                        for t in range(t0, n))
    data.fleet_first = first_alive

    workloads = spec.workloads
    regions_ok = {(w, s) for w in data.WORKLOADS for s in data.SITES
                  if workloads[w].regions is None or data.region[s] in workloads[w].regions}
    fleet_ks_t = {(k, s, t) for (k, s, _, t) in data.FLEET}
    demand_set = set(data.DEMAND)
    data.SERVE = sorted((w, k, s, t) for (k, s, t) in fleet_ks_t for w in data.WORKLOADS
                        if (k, w) in data.throughput and (w, s) in regions_ok
                        and (w, t) in demand_set)
    serving_ks_t = {(k, s, t) for (_, k, s, t) in data.SERVE}
    data.BUSY = [key for key in data.FLEET if (key[0], key[1], key[3]) in serving_ks_t]
