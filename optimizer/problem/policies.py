"""Step builder: policies (capex budgets, share rules, soft demand) and site costs."""
from __future__ import annotations

from optimizer.instance.derived import per_period
from optimizer.problem.data import ProblemData, SharePolicy


def add_site_costs(data: ProblemData, spec) -> None:
    """Fixed costs of operating sites, a constant (sites that may open carry theirs on
    site_open[s,t], see :func:`optimizer.problem.entries.opening_entries`)."""
    for s in data.SITES:
        if s not in data.OPENABLE and data.fixed_cost_per_year[s]:
            for t in range(data.n_periods):
                data.costs.constant.append((t, "fixed",
                                            data.fixed_cost_per_year[s] * data.period_years))


def _percent(share: float) -> str:
    return f"{share * 100:.4g} %"


def add_policies(data: ProblemData, spec) -> None:
    """budget(t) in money_unit; min_share and max_vendor_share rules with their weights and
    members; unmet demand (soft demand) with its price per million tokens."""
    pol = spec.policies
    periods = data.periods
    budget = per_period(pol.budget_per_period, periods)
    data.budget = {t: b / data.money_unit for t, b in enumerate(budget) if b is not None}
    accs = spec.accelerators
    for i, rule in enumerate(pol.min_share):
        start = periods.index(rule.from_period) if rule.from_period else 0
        if rule.by == "tflops":
            top = max(acc.peak_tflops for acc in accs.values())
            weight = {k: accs[k].peak_tflops / top for k in data.ACCELERATORS}
        else:
            weight = {k: 1.0 for k in data.ACCELERATORS}
        members = frozenset(k for k in data.ACCELERATORS if data.tags[k] & set(rule.tags))
        since = f" from {periods[start]}" if start else ""
        measure = " by TFLOPS" if rule.by == "tflops" else ""
        data.min_share.append(SharePolicy(
            key=str(i), share=rule.share, start=start, weight=weight, members=members,
            description=f"{'/'.join(rule.tags)} share{measure} >= {_percent(rule.share)}"
                        f"{since}"))
    vendor_rule = pol.max_vendor_share
    if vendor_rule is not None:
        share = vendor_rule if isinstance(vendor_rule, float) else vendor_rule.share
        label = None if isinstance(vendor_rule, float) else vendor_rule.from_period
        start = periods.index(label) if label else 0
        since = f" from {periods[start]}" if start else ""
        for v in data.VENDORS:
            data.vendor_share.append(SharePolicy(
                key=v, share=share, start=start, weight={k: 1.0 for k in data.ACCELERATORS},
                members=frozenset(k for k in data.ACCELERATORS if data.vendor[k] == v),
                description=f"{v} share <= {_percent(share)}{since}"))
    data.unmet_price_per_million_tokens = pol.unmet_demand_cost_per_million_tokens
    if data.unmet_price_per_million_tokens is not None:
        data.UNMET = list(data.DEMAND)
