"""Portfolio policies: minimum tagged share, maximum vendor share.

Both are written on per-period fleet aggregates (``policy_fleet``), so that each share row has
two terms instead of one per (accelerator, site, mode): far sparser for the solver.
"""
from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from optimizer.problem import ProblemData


def _weights(data: ProblemData, policy: str) -> dict[str, float]:
    """m_k of a min_share policy, scaled as in the problem data (1, or TFLOPS / largest)."""
    spec = data.instance.spec
    rule = spec.policies.min_share[int(policy)]
    if rule.by != "tflops":
        return {k: 1.0 for k in data.ACCELERATORS}
    top = max(acc.peak_tflops for acc in spec.accelerators.values())
    return {k: spec.accelerators[k].peak_tflops / top for k in data.ACCELERATORS}


def add_policy_fleet(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """policy_fleet(group,t): fleet_total[group,t] = sum_{k in group} m_k sum_{s,c} fleet[k,s,c,t]
    for the groups the policies need: all cards, each vendor's cards, and for each min_share
    policy its weighted total and weighted tagged cards.

    Units: cards (or TFLOPS scaled by the largest peak_tflops for ``by: tflops``).
    """
    if not data.min_share_rows and not data.vendor_share_rows:
        return
    spec = data.instance.spec
    periods = sorted({t for _, t, _ in data.min_share_rows + data.vendor_share_rows})
    groups: dict[str, dict[str, float]] = {}
    if data.vendor_share_rows:
        groups["all"] = {k: 1.0 for k in data.ACCELERATORS}
        for vendor in data.VENDORS:
            groups[f"vendor:{vendor}"] = {k: 1.0 for k in data.ACCELERATORS
                                          if spec.accelerators[k].vendor == vendor}
    for policy in sorted({p for p, _, _ in data.min_share_rows}):
        weight = _weights(data, policy)
        tags = set(spec.policies.min_share[int(policy)].tags)
        groups[f"weighted:{policy}"] = weight
        groups[f"tagged:{policy}"] = {k: w for k, w in weight.items()
                                      if tags & set(spec.accelerators[k].tags)}
    by_period = defaultdict(list)
    for (k, s, c, t) in data.FLEET:
        by_period[t].append((k, model.fleet[k, s, c, t]))
    wanted = set(periods)
    index = [(g, t) for g in groups for t in periods if t in wanted]
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
    if not data.min_share_rows:
        return
    spec = data.instance.spec
    index = sorted({(p, t) for p, t, _ in data.min_share_rows})

    def rule(m, policy, t):
        share = spec.policies.min_share[int(policy)].share
        return (m.fleet_total[f"tagged:{policy}", t]
                - share * m.fleet_total[f"weighted:{policy}", t] >= 0)
    model.min_share = pyo.Constraint(index, rule=rule)


def add_max_vendor_share(model: pyo.ConcreteModel, data: ProblemData) -> None:
    """max_vendor_share(v,t): sum_{k of v} F_k(t) <= share * sum_k F_k(t), written as
    vendor[v,t] - share * all[t] <= 0 on the aggregates.

    Units: cards.
    """
    if not data.vendor_share_rows:
        return
    rule_spec = data.instance.spec.policies.max_vendor_share
    share = rule_spec if isinstance(rule_spec, float) else rule_spec.share
    index = sorted({(v, t) for v, t, _ in data.vendor_share_rows})

    def rule(m, vendor, t):
        return m.fleet_total[f"vendor:{vendor}", t] - share * m.fleet_total["all", t] <= 0
    model.max_vendor_share = pyo.Constraint(index, rule=rule)
