"""Decision variables of the planning MILP (names follow shared/design/model.md)."""
from __future__ import annotations

import pyomo.environ as pyo

from optimizer.problem import ProblemData

PLACEMENT_POSITIONS = {"units_bought": (0, 1), "fleet": (0, 1), "busy": (0, 1),
                       "serve": (1, 2)}
"""Variable families that belong to an (accelerator, site) placement, and where accelerator
and site sit in their index (for column generation over placements)."""

PURCHASES = "units_bought"
"""The purchase counts (rounded first when a first plan is made from the relaxation)."""


def add_sets(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """Sparse index sets: only tuples that can carry a decision exist."""
    model.PERIODS = pyo.RangeSet(0, data.n_periods - 1)
    model.BUY = pyo.Set(initialize=data.BUY, dimen=4, ordered=True)
    model.FLEET = pyo.Set(initialize=data.FLEET, dimen=4, ordered=True)
    model.BUSY = pyo.Set(initialize=data.BUSY, dimen=4, ordered=True)
    model.SERVE = pyo.Set(initialize=data.SERVE, dimen=4, ordered=True)
    model.DEMAND = pyo.Set(initialize=data.DEMAND, dimen=2, ordered=True)
    model.CAPACITY = pyo.Set(initialize=[(s, c, t) for (s, c) in data.SC
                                         for t in range(data.n_periods)], dimen=3, ordered=True)
    model.BUILD = pyo.Set(initialize=data.BUILD, dimen=3, ordered=True)
    model.OPENING = pyo.Set(initialize=data.OPENING, dimen=2, ordered=True)
    model.MODE_CHOICE = pyo.Set(initialize=[(s, c) for (s, c) in data.SC
                                            if s in data.EXCLUSIVE], dimen=2, ordered=True)
    model.UNMET = pyo.Set(initialize=data.UNMET, dimen=2, ordered=True)
    model.RENT = pyo.Set(initialize=data.RENT, dimen=2, ordered=True)
    model.RENT_SERVE = pyo.Set(initialize=data.RENT_SERVE, dimen=3, ordered=True)
    model.PPA = pyo.Set(initialize=data.PPA, dimen=3, ordered=True)


def add_variables(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """Variables with bounds taken from the data (tight bounds help the MIP).

    - ``units_bought[k,s,c,t]``: purchase units (``cards_per_unit`` cards each), integer.
    - ``fleet[k,s,c,t]``: cards alive (defined by ``fleet_definition``).
    - ``serve[w,k,s,t]``: peak serving, in ``token_unit`` tokens/s.
    - ``busy[k,s,c,t]``: average busy cards.
    - ``capacity_mw[s,c,t]``: IT MW of cooling capacity of mode c.
    - ``build[s,c,t]``: cooling built in t, in units of ``build_unit_mw`` MW (integer when the
      mode has a ``build_step_mw``).
    - ``site_open[s,t]``: 1 when a site with ``open: false`` is open in t.
    - ``cooling_mode[s,c]``: 1 when an exclusive-cooling site uses mode c.
    - ``unmet[w,t]``: peak demand not served, in ``token_unit`` tokens/s.
    - ``cards_rented[r,t]``: cards of rental r rented through period t, integer.
    - ``rented_serve[w,r,t]``: peak serving of w on rented cards, in ``token_unit`` tokens/s.
    - ``ppa_mwh[s,p,t]``: MWh bought from supply contract p of site s in period t.

    ``units_bought`` is indexed by the delivery period d; its order is placed in d - lead
    time (``ProblemData.order_period``).
    """
    max_cards = data.max_cards
    model.units_bought = pyo.Var(model.BUY, domain=pyo.NonNegativeIntegers,
                                 bounds=lambda m, k, s, c, t: (0, data.buy_units_max[k, s, c, t]))
    model.fleet = pyo.Var(model.FLEET, domain=pyo.NonNegativeReals,
                          bounds=lambda m, k, s, c, t: (0, max_cards[s]))
    model.serve = pyo.Var(model.SERVE, domain=pyo.NonNegativeReals)
    model.busy = pyo.Var(model.BUSY, domain=pyo.NonNegativeReals,
                         bounds=lambda m, k, s, c, t: (0, max_cards[s]))
    # no upper bound from the grid here: the grid row implies it, and a duplicate bound would
    # take the grid's shadow price away from the grid row
    model.capacity_mw = pyo.Var(model.CAPACITY, domain=pyo.NonNegativeReals)
    model.build = pyo.Var(model.BUILD, within=lambda m, s, c, t: (
        pyo.NonNegativeIntegers if (s, c) in data.STEPPED else pyo.NonNegativeReals))
    model.site_open = pyo.Var(model.OPENING, domain=pyo.Binary)
    model.cooling_mode = pyo.Var(model.MODE_CHOICE, domain=pyo.Binary)
    model.unmet = pyo.Var(model.UNMET, domain=pyo.NonNegativeReals)
    # the rental cap is a row (rental_limit), so that binding.csv and explanations read it
    model.cards_rented = pyo.Var(model.RENT, domain=pyo.NonNegativeIntegers)
    model.rented_serve = pyo.Var(model.RENT_SERVE, domain=pyo.NonNegativeReals)
    model.ppa_mwh = pyo.Var(model.PPA, domain=pyo.NonNegativeReals,
                            bounds=lambda m, s, p, t: (0, data.ppa_max_mwh[s, p, t]))
