"""Portfolio policies: minimum tagged share, maximum vendor share."""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def _fleet_by_period(model: pyo.ConcreteModel, data: ProblemData) -> dict:
    groups = defaultdict(list)
    for (k, s, c, t) in data.FLEET:
        groups[t].append((k, model.fleet[k, s, c, t]))
    return groups


def add_min_share(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """min_share(policy,t): sum_{k tagged} m_k F_k(t) >= share * sum_k m_k F_k(t),
    written as sum_k m_k (tagged_k - share) F_k(t) >= 0.

    Units: cards (``by: cards``) or TFLOPS scaled by the largest peak_tflops (``by: tflops``).
    """
    if not data.min_share_rows:
        return
    groups = _fleet_by_period(model, data)
    rows = {(policy, t): coef for policy, t, coef in data.min_share_rows}

    def rule(m, policy, t):
        coef = rows[policy, t]
        terms = [coef[k] * x for k, x in groups.get(t, []) if coef[k]]
        if not terms:
            return pyo.Constraint.Skip
        return pyo.quicksum(terms) >= 0
    model.min_share = pyo.Constraint(sorted(rows), rule=rule)


def add_max_vendor_share(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """max_vendor_share(v,t): sum_{k of v} F_k(t) <= share * sum_k F_k(t),
    written as sum_k (vendor_k == v - share) F_k(t) <= 0.

    Units: cards.
    """
    if not data.vendor_share_rows:
        return
    groups = _fleet_by_period(model, data)
    rows = {(vendor, t): coef for vendor, t, coef in data.vendor_share_rows}

    def rule(m, vendor, t):
        coef = rows[vendor, t]
        terms = [coef[k] * x for k, x in groups.get(t, []) if coef[k]]
        if not terms:
            return pyo.Constraint.Skip
        return pyo.quicksum(terms) <= 0
    model.max_vendor_share = pyo.Constraint(sorted(rows), rule=rule)
