"""Step builder: the fleet (installed cards alive by period, purchases and the cards they
make alive, who may serve what) and the purchase costs."""
from __future__ import annotations

import math

from optimizer.problem.data import KSCT, ProblemData
from optimizer.problem.procurement import delivery_allowed


def add_fleet(data: ProblemData, spec) -> None:
    """BUY: (k,s,c,d) by delivery period d, from k's ``available_from`` on, ordered inside the
    horizon (d - lead time >= 0) and before any ban, where a whole unit fits the supply and the
    site's slots (``buy_units_max``: slots / cards per unit). A purchase lives
    ``Timeline.life_periods`` periods from delivery (cut where a ban retires it); FLEET runs
    from the first living card of (k,s,c) to the horizon end or the retirement (a state
    recursion, see fleet_definition). Installed cards are alive while age_years + y_t <
    lifetime, cards on order from their arrival for their lifetime; both pay maintenance at the
    price paid (``price_paid_per_card``, default the first period's price; a constant) and
    are cut where a ban retires them; cards on order owe their ``balance_per_card`` on arrival
    (a constant capex of that period, ``on_order_balance``). One alive rule for every card:
    :meth:`Timeline.alive`.
    SERVE: (w,k,s,t) where k serves w, s is in w's regions and k has cards at s in t; BUSY the
    fleet entries that serve something."""
    line = data.timeline
    n, years = line.n, line.years
    accs = spec.accelerators
    installed = [(s, e, 0, e.age_years, 0.0)
                 for s in data.SITES for e in spec.sites[s].existing_fleet]
    installed += [(s, e, data.periods.index(e.arrives), 0.0, e.balance_per_card)
                  for s in data.SITES for e in spec.sites[s].on_order]
    for s, entry, arrives, age_years, balance in installed:
        k, cards = entry.accelerator, entry.cards
        retired = data.retired_from.get(k, n)
        if cards <= 0 or arrives >= retired:      # retired before it arrives: never comes
            continue
        if balance:
            data.costs.constant.append((arrives, "on_order_balance", balance * cards))
        paid = (entry.price_paid_per_card if entry.price_paid_per_card is not None
                else data.price_per_card[k, 0])
        for t in line.alive(arrives, accs[k].lifetime_years, age_years):
            if t >= retired:
                break
            key = (k, s, entry.cooling, t)
            data.existing_cards[key] = data.existing_cards.get(key, 0.0) + cards
            if accs[k].maintenance_rate:
                data.costs.constant.append(
                    (t, "maintenance", accs[k].maintenance_rate * years * paid * cards))
    first_buy = {k: data.periods.index(accs[k].available_from) if accs[k].available_from
                 else 0 for k in data.ACCELERATORS}
    fleet_keys: set[KSCT] = set(data.existing_cards)
    for (k, s, c) in data.KSC:
        u = data.cards_per_unit[k]
        lifetime = data.lifetime_years[k]
        life = line.life_periods(lifetime)
        for tau in range(n):
            supply = data.supply_cards.get((k, tau))
            if not delivery_allowed(data, k, tau, first_buy[k]) or (
                    supply is not None and supply < u):
                continue
            # supply stays in its own row (not in this bound) so that its shadow price and
            # its relaxation (when no plan exists) can be read there
            units_max = math.floor(data.max_cards[s] / u)
            if units_max < 1:
                continue
            key = (k, s, c, tau)
            data.BUY.append(key)
            data.buy_units_max[key] = units_max
            fleet_keys.update((k, s, c, t) for t in data.alive(k, tau))
            if tau + life < min(n, data.retired_from.get(k, n)):
                data.fleet_retires[k, s, c, tau + life] = key
    first_alive: dict[tuple[str, str, str], int] = {}
    for (k, s, c, t) in fleet_keys:
        first_alive[k, s, c] = min(t, first_alive.get((k, s, c), n))
    data.FLEET = sorted((k, s, c, t) for (k, s, c), t0 in first_alive.items()
                        for t in range(t0, data.retired_from.get(k, n)))
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
