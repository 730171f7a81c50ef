"""Fleet and facility families: fleet definition, site cards, cooling capacity, grid, site
opening, exclusive cooling."""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def add_fleet_definition(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """fleet_definition(k,s,c,t): fleet[k,s,c,t] = fleet[k,s,c,t-1]
    + cards_per_unit(k) * (units_bought[k,s,c,t] - units_bought[k,s,c,t-life(k)])
    + existing(k,s,c,t) - existing(k,s,c,t-1).

    Units: cards. A state recursion (at most four terms a row): a purchase delivered in tau
    (ordered lead_time periods before, procurement.md) is alive in t when tau <= t and
    (t - tau) * L < lifetime, i.e. for life(k) = ceil(lifetime / L) periods; existing cards
    while age_years + y_t < lifetime, cards on order from their arrival. A ban with
    ``installed: retire`` ends the rows (no fleet) from its period. Equivalent to the direct
    sum fleet = existing + on order + sum of living deliveries of shared/design/model.md.
    """
    if not data.FLEET:
        return
    bought = set(data.BUY)

    def rule(m, k, s, c, t):
        u = data.cards_per_unit[k]
        first = data.fleet_first[k, s, c]
        previous = m.fleet[k, s, c, t - 1] if t > first else 0.0
        change = data.existing_cards.get((k, s, c, t), 0.0) - (
            data.existing_cards.get((k, s, c, t - 1), 0.0) if t > first else 0.0)
        added = u * m.units_bought[k, s, c, t] if (k, s, c, t) in bought else 0.0
        retired = data.fleet_retires.get((k, s, c, t))
        removed = u * m.units_bought[retired] if retired is not None else 0.0
        return m.fleet[k, s, c, t] - previous - added + removed == change
    model.fleet_definition = pyo.Constraint(model.FLEET, rule=rule)


def _fleet_by(data: ProblemData, model: pyo.ConcreteModel, key) -> dict:
    groups = defaultdict(list)
    for index in data.FLEET:
        groups[key(index)].append((index, model.fleet[index]))
    return groups


def add_site_cards(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """site_cards(s,t): sum_{k,c} fleet[k,s,c,t] <= max_cards(s) * site_open[s,t].

    Units: cards. ``site_open`` is 1 for sites already operating.
    """
    if not data.FLEET:
        return
    groups = _fleet_by(data, model, lambda i: (i[1], i[3]))
    index = sorted(groups)

    def rule(m, s, t):
        cards = pyo.quicksum((x for _, x in groups[s, t]))
        cap = data.max_cards[s]
        return cards <= (cap * m.site_open[s, t] if s in data.OPENABLE else cap)
    model.site_cards = pyo.Constraint(index, rule=rule)


def add_cooling_capacity(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """cooling_capacity(s,c,t): sum_k power_kw(k) * fleet[k,s,c,t] <= 1000 * capacity_mw[s,c,t];
    capacity_definition(s,c,t): capacity_mw[s,c,t] = capacity_mw[s,c,t-1] + build_mw[s,c,t]
    (existing_it_mw before the first period).

    Units: kW of IT load on the cooling row, MW on the capacity row.
    """
    groups = _fleet_by(data, model, lambda i: (i[1], i[2], i[3]))
    index = sorted(groups)
    if index:
        def rule(m, s, c, t):
            load = pyo.quicksum((data.power_kw_per_card[i[0]] * x
                                 for i, x in groups[s, c, t]))
            return load <= 1000.0 * m.capacity_mw[s, c, t]
        model.cooling_capacity = pyo.Constraint(index, rule=rule)
    built = set(data.BUILD)

    def recursion(m, s, c, t):
        previous = m.capacity_mw[s, c, t - 1] if t > 0 else data.existing_it_mw[s, c]
        added = data.build_unit_mw[s, c] * m.build[s, c, t] if (s, c, t) in built else 0.0
        return m.capacity_mw[s, c, t] == previous + added
    model.capacity_definition = pyo.Constraint(model.CAPACITY, rule=recursion)


def add_grid(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """grid(s,t): sum_c pue(s,c) * capacity_mw[s,c,t] <= grid_mw(s,t) * site_open[s,t].

    Units: MW at the meter. Provisioned facility power must fit the connection. For sites with
    ``open: false`` the right-hand side carries ``site_open`` (see :func:`add_site_open`);
    operating sites have site_open = 1.
    """
    if not data.SC:
        return
    modes = defaultdict(list)
    for (s, c) in data.SC:
        modes[s].append(c)
    index = [(s, t) for s in sorted(modes) for t in range(data.n_periods)]
    openable = set(data.OPENABLE)

    def rule(m, s, t):
        facility = pyo.quicksum(data.pue[s, c] * m.capacity_mw[s, c, t] for c in modes[s])
        if s in openable:
            return facility - data.grid_mw[s, t] * m.site_open[s, t] <= 0
        return facility <= data.grid_mw[s, t]
    model.grid = pyo.Constraint(index, rule=rule)


def add_site_open(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """site_open(s,t): site_open[s,t] >= site_open[s,t-1] (a site stays open once opened).

    Only for sites with ``open: false``. Capacity at a closed site is zero through the grid
    row, sum_c pue(s,c) * capacity_mw[s,c,t] <= grid_mw(s,t) * site_open[s,t], which implies
    the model document's capacity_mw[s,c,t] <= (grid_mw(s,t) / pue(s,c)) * site_open[s,t] for
    every mode and is at least as tight; cards through site_cards.
    """
    if not data.OPENABLE:
        return
    order = [(s, t) for s in data.OPENABLE for t in range(1, data.n_periods)]
    if order:
        model.site_open_order = pyo.Constraint(
            order, rule=lambda m, s, t: m.site_open[s, t] >= m.site_open[s, t - 1])


def add_exclusive_cooling(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """exclusive_cooling(s): sum_c cooling_mode[s,c] <= 1;
    exclusive_cooling_capacity(s,c,t): capacity_mw[s,c,t] <= (grid_mw(s,t)/pue(s,c)) *
    cooling_mode[s,c].

    Units: MW. Only for sites with ``exclusive_cooling: true``.
    """
    if not data.EXCLUSIVE:
        return
    modes = defaultdict(list)
    for (s, c) in data.SC:
        if s in data.EXCLUSIVE:
            modes[s].append(c)
    model.exclusive_cooling = pyo.Constraint(
        sorted(modes), rule=lambda m, s: pyo.quicksum(m.cooling_mode[s, c] for c in modes[s]) <= 1)
    index = [(s, c, t) for s in sorted(modes) for c in modes[s] for t in range(data.n_periods)]

    def rule(m, s, c, t):
        return (m.capacity_mw[s, c, t]
                <= data.grid_mw[s, t] / data.pue[s, c] * m.cooling_mode[s, c])
    model.exclusive_cooling_capacity = pyo.Constraint(index, rule=rule)
