"""What the studio shows of a plan, read from its results directory: the decisions to take
first (orders with the money due when, rentals, cooling builds, site openings) and, for a
scenario plan, the NPV of each future with the risk figures."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.output.results import read_table
from optimizer.scenarios.assemble import first_stage_table

ACTION_TABLES = ("purchases", "rentals", "builds", "openings")


def _tables(directory: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    return {name: read_table(directory / f"{name}.csv") for name in names
            if (directory / f"{name}.csv").is_file()}


def _periods(directory: Path) -> list[str]:
    """The horizon's periods in order (costs.csv has one row per period)."""
    costs = directory / "costs.csv"
    if not costs.is_file():
        return []
    return list(dict.fromkeys(str(p) for p in read_table(costs)["period"]))


def first_decisions(directory: Path) -> dict[str, Any]:
    """The decisions a planner signs first.

    A scenario plan: its first stage (``first_stage.csv``: the same in every future), each
    order with the share of the futures that use it. A plan of one future: every order placed,
    card rented, cooling built and site opened in the first period that has any of them.

    Returns:
        ``{"period": the first period with a decision (None: nothing to do), "first_period":
        the horizon's first, "scenario_plan": bool, "rows": [decision rows as first_stage.csv:
        decision, period, delivery_period, accelerator, vendor, site, cooling, rental, cards,
        it_mw, capex (money), deposit (due when ordered), balance (due on delivery), cost (a
        rental's), used_in_share]}``.
    """
    periods = _periods(directory)
    first_period = periods[0] if periods else None
    if (directory / "first_stage.csv").is_file():
        rows = read_table(directory / "first_stage.csv")
        when = sorted({str(p) for p in rows["period"]}, key=_order(periods)) if len(rows) else []
        return {"period": when[0] if when else None, "first_period": first_period,
                "scenario_plan": True, "rows": rows.to_dict("records")}
    tables = _tables(directory, ACTION_TABLES)
    busy: set[str] = set()
    for name, frame in tables.items():
        column = "order_period" if name == "purchases" and "order_period" in frame else "period"
        busy.update(str(p) for p in frame[column])
    period = next((p for p in periods if p in busy), None)
    rows = first_stage_table(tables, [period]) if period else pd.DataFrame()
    return {"period": period, "first_period": first_period, "scenario_plan": False,
            "rows": rows.to_dict("records")}


def _order(periods: list[str]) -> Any:
    rank = {p: i for i, p in enumerate(periods)}
    return lambda p: rank.get(p, len(rank))


def distribution(directory: Path, summary: dict[str, Any]) -> dict[str, Any] | None:
    """A scenario plan's futures: name, probability, NPV, whether in the CVaR tail, cards in
    the final period; with expected, VaR, CVaR (and alpha), worst and best NPV from the
    summary's KPIs. None for a plan of one future."""
    path = directory / "scenarios.csv"
    if not path.is_file():
        return None
    frame = read_table(path)
    kpis = summary.get("kpis") or {}
    keep = [c for c in ("scenario", "probability", "npv", "in_cvar_tail", "cards_final_period")
            if c in frame]
    return {"futures": frame[keep].to_dict("records"),
            **{k: kpis.get(k) for k in ("expected_npv", "var_npv", "cvar_npv", "cvar_alpha",
                                        "worst_npv", "best_npv", "out_of_sample")}}
