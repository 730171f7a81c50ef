"""Marginal cost of tokens: the dual of each demand row, per extra million tokens, in money of
its period."""
from __future__ import annotations

from typing import Any

import pandas as pd

from optimizer.problem import DAYS_PER_YEAR, SECONDS_PER_DAY, ProblemData

MARGINAL_COLUMNS = ["period", "workload", "cost_per_million_tokens",
                    "cost_per_million_tokens_long_run"]


def marginal_costs(data: ProblemData, duals_fixed: dict | None,
                   duals_long_run: dict | None) -> pd.DataFrame:
    """Cost of one more million tokens of workload w in period t, in money of period t:
    dual(demand(w,t)) * P(w) * 1e6 / (86400 * 365 * L) / d_m(t) (dual in money per tokens/s).

    ``cost_per_million_tokens`` uses the LP with every integer fixed at the plan, as
    shared/design/model.md says (the fleet as planned: the short-run cost, energy only while
    there is room); ``cost_per_million_tokens_long_run`` the LP with only the on/off decisions
    fixed (purchases and builds may grow: what one more million tokens costs when capacity
    follows demand).
    """
    rows = []
    seconds = SECONDS_PER_DAY * DAYS_PER_YEAR * data.period_years
    for (w, t) in data.DEMAND:
        values = []
        for duals in (duals_fixed, duals_long_run):
            if duals is None or ("demand", (w, t)) not in duals:
                values.append(None)
                continue
            per_token_s = duals["demand", (w, t)] * data.money_unit / data.token_unit
            values.append(per_token_s * data.peak_to_average[w] * 1e6 / seconds
                          / data.timeline.middle(t))
        rows.append([data.periods[t], w, *values])
    return pd.DataFrame(rows, columns=MARGINAL_COLUMNS)


JUMP = 0.25
"""A rise in marginal cost from one period to the next above this share is explained."""


def marginal_cost_jumps(marginal: pd.DataFrame, binding: pd.DataFrame, periods: list[str],
                        currency: str, most: int = 3, data: Any = None) -> list[str]:
    """Sentences for the largest rises in marginal cost (long run where known) of more than
    ``JUMP`` from one period to the next: which workloads, by how much, and the cap that binds
    most dearly then (or, when none binds then, the next period a cap binds: cards bought
    earlier still hold their slots and power there). Rules that start in the period (a ban,
    a tariff, an availability date, the end of a lead time's wait) are named as causes
    (``data``: the problem data); where nothing known explains it, it says so."""
    if marginal is None or not len(marginal):
        return []
    column = ("cost_per_million_tokens_long_run"
              if marginal["cost_per_million_tokens_long_run"].notna().any()
              else "cost_per_million_tokens")
    order = {p: i for i, p in enumerate(periods)}
    rises: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    for workload, rows in marginal.groupby("workload", sort=True):
        rows = rows.assign(_at=rows["period"].astype(str).map(order)).sort_values("_at")
        previous = None
        for row in rows.itertuples(index=False):
            value = getattr(row, column)
            if value is None or value != value:
                previous = None
                continue
            if previous is not None and previous[1] > 0 and value > previous[1] * (1 + JUMP):
                rises.setdefault((previous[0], str(row.period)), []).append(
                    (workload, previous[1], value))
            previous = (str(row.period), value)
    ranked = sorted(rises.items(), key=lambda item: -max(v / p for _, p, v in item[1]))
    found = []
    for (before, period), workloads in ranked[:most]:
        ratio = max(v / p for _, p, v in workloads)
        change = f"{ratio:.1f}x" if ratio >= 2 else f"{ratio - 1:.0%}"
        names = ", ".join(w for w, _, _ in workloads)
        events = _events(data, periods.index(period)) if data is not None else []
        found.append(f"marginal cost of {names} rises {change} from {before} to {period}; "
                     + _cause(binding, periods, period, events))
    return found


def _events(data: Any, t: int) -> list[str]:
    """What starts in period t that can raise marginal costs: bans, tariffs, cards first
    available, the first deliveries of a card with a lead time."""
    periods = data.periods
    found = []
    for k, start in sorted(data.banned_from.items()):
        if start == t:
            found.append(f"the ban on {k} starts (no delivery or rental from {periods[t]})")
    for k in data.ACCELERATORS:
        if data.tariff_rate.get((k, t), 0.0) > data.tariff_rate.get((k, t - 1), 0.0) and t > 0:
            found.append(f"a tariff on {k} starts ({data.tariff_rate[k, t]:.0%})")
    first: dict[str, int] = {}
    for (k, _, _, d) in data.BUY:
        first[k] = min(d, first.get(k, d))
    for k, d in sorted(first.items()):
        if d == t and t > 0:
            lead = data.lead_time_periods.get(k, 0)
            found.append(f"{k} is first delivered then" + (f" (lead time {lead})" if lead
                                                          else " (available from then)"))
    return found


def _cause(binding: pd.DataFrame | None, periods: list[str], period: str,
           events: list[str] = ()) -> str:
    unknown = ("no cap binds, and no ban, tariff, availability date or lead time starts then: "
               "the cause is not known (prices or demand may explain it)")
    if events:
        starts = "; ".join(events)
        caps = (binding[binding["period"].astype(str) == period]
                if binding is not None and len(binding) else None)
        if caps is not None and len(caps):
            return f"in {period} {starts}, and {caps.iloc[0]['message']}"
        return f"in {period} {starts}"
    if binding is None or not len(binding):
        return unknown
    at = binding["period"].astype(str)
    for later in periods[periods.index(period):]:
        caps = binding[at == later]
        if len(caps):
            message = caps.iloc[0]["message"]
            if later == period:
                return f"because {message}"
            return (f"no cap binds in {period}, but {message} (what is bought in {period} "
                    "still holds its slot and power then)")
    return unknown
