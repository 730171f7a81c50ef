"""The registry of constraint families: each family's name (the Pyomo component of its rows),
the function that builds it, its inequality, and how explanations read it.

``binding.csv`` and the infeasibility explanation (``optimizer.analysis``) read this table
instead of naming families themselves: a new family appears in them by being listed here with
``cap`` (its tight rows are reported with a shadow price) and ``relax`` (the elastic re-solve
may loosen it to explain a plan that does not exist).

A user's extra constraints: pass ``extra=[Family(...)]`` (or plain functions ``f(model,
data)``) to :func:`formulations.build_model`, or ``extra_constraints=`` to
``optimizer.solve``; they are built after the families here, on the same model and data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from formulations.energy import (
    add_carbon_cap, add_energy_supply, add_site_emissions, add_water_cap,
)
from formulations.facilities import (
    add_cooling_capacity, add_exclusive_cooling, add_fleet_definition, add_grid, add_site_cards,
    add_site_open,
)
from formulations.policies import add_max_vendor_share, add_min_share, add_policy_fleet
from formulations.purchasing import add_budget, add_supply
from formulations.serving import (
    add_average_load, add_demand, add_rental_capacity, add_rental_limit,
    add_serving_capacity,
)


@dataclass(frozen=True)
class Family:
    """One constraint family.

    Attributes:
        name: the Pyomo component its rows are (``model.<name>``).
        build: ``build(model, data)`` adds the rows (an early return when its index is empty).
        inequality: the rows as a formula, for readers and explanations.
        unit: the natural unit of one unit of the row's right-hand side (MW, cards, ...);
            ``share`` for share rules.
        cap: its tight rows are caps a planner can move (listed in binding.csv).
        relax: the elastic re-solve may loosen it when no plan exists.
        row_scale: natural units per unit of the row as built (e.g. 1000 kW per MW on the
            cooling row); ``money`` means per money_unit (the budget).
        label: how a planner names one row, formatted with the row's index but its period
            (``grid at {0}``); share rules are named by their policy instead.
        basis: what a shadow price of the row is measured in (model.md, "Reported
            figures"): ``npv`` (money of the NPV, the fleet free to grow) or ``period`` (money
            of the row's period, every integer fixed).
    """

    name: str
    build: Callable[[Any, Any], None]
    inequality: str
    unit: str = ""
    cap: bool = False
    relax: bool = False
    row_scale: float | str = 1.0
    label: str = ""
    basis: str = "npv"

    def display(self, index: tuple) -> str:
        """The row as a planner names it (its index without the period)."""
        return (self.label or self.name.replace("_", " ")).format(*index)


FAMILIES: tuple[Family, ...] = (
    Family("fleet_definition", add_fleet_definition,
           "fleet[k,s,c,t] = fleet[k,s,c,t-1] + u_k (delivered[t] - delivered[t-life]) + installed "
           "and on order (t < a retiring ban)", "cards"),
    Family("demand", add_demand,
           "sum_{k,s} serve[w,k,s,t] + sum_r rented_serve[w,r,t] + unmet[w,t] >= D(w,t) P(w) / 86400",
           "tokens/s", relax=True),
    Family("serving_capacity", add_serving_capacity,
           "sum_w serve[w,k,s,t] / theta(k,w) <= availability(k) sum_c fleet[k,s,c,t]", "cards"),
    Family("rental_capacity", add_rental_capacity,
           "sum_w rented_serve[w,r,t] / theta(k(r),w) <= availability(k(r)) cards_rented[r,t]",
           "cards"),
    Family("rental_limit", add_rental_limit, "cards_rented[r,t] <= max_cards(r,t)", "cards",
           cap=True, relax=True, label="rental cap of {0}"),
    Family("average_load", add_average_load,
           "sum_c busy[k,s,c,t] = sum_w serve / (theta P); busy <= availability fleet", "cards"),
    Family("site_cards", add_site_cards,
           "sum_{k,c} fleet[k,s,c,t] <= max_cards(s) open[s,t]", "cards", cap=True, relax=True,
           label="card slots at {0}"),
    Family("cooling_capacity", add_cooling_capacity,
           "sum_k kW(k) fleet[k,s,c,t] <= 1000 capacity_mw[s,c,t]", "MW", cap=True,
           row_scale=1000.0, label="{1} cooling at {0}"),
    Family("grid", add_grid, "sum_c pue(s,c) capacity_mw[s,c,t] <= grid_mw(s,t) open[s,t]", "MW",
           cap=True, relax=True, label="grid at {0}"),
    Family("site_open_order", add_site_open, "open[s,t] >= open[s,t-1]", ""),
    Family("exclusive_cooling", add_exclusive_cooling,
           "sum_c mode[s,c] <= 1; capacity_mw[s,c,t] <= grid/pue mode[s,c]", ""),
    Family("supply", add_supply, "sum_{s,c} u_k delivered[k,s,c,d] <= supply(k,d)", "cards",
           cap=True, relax=True, label="supply of {0}"),
    Family("budget", add_budget, "capex(t) (deposits of orders of t, balances of deliveries "
           "of t, balances of cards on order arriving in t) <= budget(t)", "currency", cap=True,
           relax=True, row_scale="money", label="capex budget"),
    Family("energy_supply", add_energy_supply, "sum_p ppa_mwh[s,p,t] <= energy_mwh(s,t)", "MWh"),
    Family("site_emissions", add_site_emissions,
           "emissions_t[s,t] = (grid_carbon grid_mwh + sum_p carbon(p) ppa_mwh) / 1000", "t"),
    Family("carbon_cap", add_carbon_cap, "sum_s emissions_t[s,t] <= cap(t) L", "t",
           cap=True, relax=True, label="carbon cap", basis="period"),
    Family("water_cap", add_water_cap,
           "sum_c wue(s,c) it_mwh(s,c,t) <= max_water_m3_per_year(s) L", "m3", cap=True,
           relax=True, label="water cap at {0}", basis="period"),
    Family("policy_fleet", add_policy_fleet,
           "fleet_total[group,t] = sum_{k in group} m_k sum_{s,c} fleet[k,s,c,t]", "cards"),
    Family("min_share", add_min_share,
           "sum_{k tagged} m_k F_k(t) >= share sum_k m_k F_k(t)", "share", cap=True, relax=True,
           label="minimum share rule {0}"),
    Family("max_vendor_share", add_max_vendor_share,
           "sum_{k of v} F_k(t) <= share sum_k F_k(t)", "share", cap=True, relax=True,
           label="share of vendor {0}"),
)
"""Every constraint family, in build order."""

BY_NAME = {family.name: family for family in FAMILIES}
"""Family name -> Family."""

CAP_FAMILIES = tuple(family.name for family in FAMILIES if family.cap)
"""Families whose tight rows binding.csv reports."""

RELAXABLE = tuple(family.name for family in FAMILIES if family.relax)
"""Families the elastic re-solve may loosen."""
