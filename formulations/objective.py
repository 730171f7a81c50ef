"""The objective: minimum net present value of total cost of ownership."""
from __future__ import annotations

import pyomo.environ as pyo

from optimizer.problem import ProblemData
from optimizer.problem.entries import DECISIONS


def add_objective(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """min NPV = sum_t d_s(t) [card capex + cooling builds + site openings]
    + sum_t d_m(t) [energy + maintenance + fixed site cost + unmet demand + rentals
    + carbon + water]
    - d_e * salvage (card capex split into deposit at order and balance at delivery).

    Units: ``money_unit``. The per-variable coefficients (maintenance and salvage folded into
    the purchase cost, energy split into idle and busy power times PUE) are computed in
    :func:`optimizer.problem.build_problem_data`; costs that no decision changes (existing
    fleet maintenance, fixed costs of operating sites) form the constant.
    """
    terms = [coef * getattr(model, family.variable)[key] for family in DECISIONS
             for key, coef in data.objective_cost.get(family.variable, {}).items() if coef]
    model.npv = pyo.Objective(expr=pyo.quicksum(terms) + data.cost_constant,
                              sense=pyo.minimize)
