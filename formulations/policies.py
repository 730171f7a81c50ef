"""Portfolio policies: minimum tagged share, maximum vendor share.

Both are written on per-period fleet aggregates (``policy_fleet``), so that each share row has
two terms instead of one per (accelerator, site, mode): far sparser for the solver.
"""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def add_policy_fleet(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """policy_fleet(group,t): fleet_total[group,t] = sum_{k in group} m_k sum_{s,c} fleet[k,s,c,t]
    for the groups the policies need (:meth:`ProblemData.fleet_groups`): all cards, each
    vendor's cards, and for each min_share policy its weighted total and weighted tagged cards.

    Rented cards count with the owned fleet, by their accelerator: F_k(t) also holds
    sum_r cards_rented[r,t] for the rentals of k.

    Units: cards (or TFLOPS scaled by the largest peak_tflops for ``by: tflops``).
    """
    rules = data.share_policies
    if not rules:
        return
    periods = sorted({t for rule in rules for t in range(rule.start, data.n_periods)})
    groups = data.fleet_groups()
    by_period = defaultdict(list)
    for (k, s, c, t) in data.FLEET:
        by_period[t].append((k, model.fleet[k, s, c, t]))
    for (r, t) in data.RENT:
        by_period[t].append((data.rental_accelerator[r], model.cards_rented[r, t]))
    index = [(g, t) for g in groups for t in periods]
    model.POLICY_GROUPS = pyo.Set(initialize=index, dimen=2, ordered=True)
    model.fleet_total = pyo.Var(model.POLICY_GROUPS, domain=pyo.NonNegativeReals)

    def rule(m, group, t):
        weight = groups[group]
        terms = [weight[k] * x for k, x in by_period.get(t, []) if k in weight]
        return m.fleet_total[group, t] == pyo.quicksum(terms) if terms else \
            m.fleet_total[group, t] == 0
    model.policy_fleet = pyo.Constraint(model.POLICY_GROUPS, rule=rule)


def add_min_share(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """min_share(policy,t): sum_{k tagged} m_k F_k(t) >= share * sum_k m_k F_k(t),
    written as tagged[policy,t] - share * weighted[policy,t] >= 0 on the aggregates.

    Units: cards (``by: cards``) or TFLOPS scaled by the largest peak_tflops (``by: tflops``).
    """
    if not data.min_share:
        return
    share = {rule.key: rule.share for rule in data.min_share}
    index = sorted((rule.key, t) for rule in data.min_share
                   for t in range(rule.start, data.n_periods))

    def rule(m, policy, t):
        return (m.fleet_total[f"tagged:{policy}", t]
                - share[policy] * m.fleet_total[f"weighted:{policy}", t] >= 0)
    model.min_share = pyo.Constraint(index, rule=rule)


def add_max_vendor_share(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """max_vendor_share(v,t): sum_{k of v} F_k(t) <= share * sum_k F_k(t), written as
    vendor[v,t] - share * all[t] <= 0 on the aggregates.

    Units: cards.
    """
    if not data.vendor_share:
        return
    share = {rule.key: rule.share for rule in data.vendor_share}
    index = sorted((rule.key, t) for rule in data.vendor_share
                   for t in range(rule.start, data.n_periods))

    def rule(m, vendor, t):
        return m.fleet_total[f"vendor:{vendor}", t] - share[vendor] * m.fleet_total["all", t] <= 0
    model.max_vendor_share = pyo.Constraint(index, rule=rule)
