"""Marginal cost of tokens: the dual of each demand row, per extra million tokens, in money of
its period."""
from __future__ import annotations

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
