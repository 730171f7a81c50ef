"""The planning MILP of shared/design/model.md as a Pyomo model, one family per function."""
from __future__ import annotations

import gc

import pyomo.environ as pyo

from formulations.facilities import (
    add_cooling_capacity, add_exclusive_cooling, add_fleet_definition, add_grid, add_site_cards,
    add_site_open,
)
from formulations.objective import add_objective
from formulations.policies import add_max_vendor_share, add_min_share, add_policy_fleet
from formulations.purchasing import add_budget, add_supply
from formulations.serving import add_average_load, add_demand, add_serving_capacity
from formulations.variables import add_sets, add_variables
from optimizer.problem import ProblemData

FAMILIES = (add_fleet_definition, add_demand, add_serving_capacity, add_average_load,
            add_site_cards, add_cooling_capacity, add_grid, add_site_open, add_exclusive_cooling,
            add_supply, add_budget, add_policy_fleet, add_min_share, add_max_vendor_share)
"""Every constraint family, in build order."""


def build_model(data: ProblemData) -> pyo.ConcreteModel:
    """Build the Pyomo model of ``data`` (garbage collector paused while building)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = pyo.ConcreteModel(name=data.instance.spec.name or "accelplan")
        add_sets(model, data)
        add_variables(model, data)
        for family in FAMILIES:
            family(model, data)
        add_objective(model, data)
        return model
    finally:
        if was_enabled:
            gc.enable()
