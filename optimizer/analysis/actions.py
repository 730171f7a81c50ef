"""What a plan asks a planner to do first: the orders to sign, the cards to rent, the cooling
to build and the sites to open, in the first period that has any (read from the plan's
tables)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class FirstActions:
    """The first period's decisions.

    Attributes:
        period: the period they fall in (None: the plan decides nothing at all).
        first_period: the horizon's first period (to say "nothing now" when they differ).
        orders: accelerator, vendor, site, cooling, cards, capex; with lead times also
            delivery_period, deposit (due at order) and balance (due at delivery).
        builds: site, cooling, it_mw, capex.
        openings: site, open_cost.
        rentals: rental, accelerator, vendor, region, cards, cost (money of the period).
    """

    period: str | None
    first_period: str | None
    orders: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    openings: list[dict[str, Any]] = field(default_factory=list)
    rentals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def now(self) -> bool:
        """Whether the actions are due in the horizon's first period."""
        return self.period is not None and self.period == self.first_period


def first_actions(tables: dict[str, pd.DataFrame], periods: list[str]) -> FirstActions:
    """The decisions of the first period in which the plan orders, rents, builds or opens."""
    purchases = tables.get("purchases", pd.DataFrame())
    builds = tables.get("builds", pd.DataFrame())
    openings = tables.get("openings", pd.DataFrame())
    rentals = tables.get("rentals", pd.DataFrame())
    when = "order_period" if "order_period" in purchases else "period"
    busy = set()
    for frame, column in ((purchases, when), (builds, "period"), (openings, "period"),
                          (rentals, "period")):
        if len(frame):
            busy.update(str(p) for p in frame[column])
    first = periods[0] if periods else None
    period = next((p for p in periods if p in busy), None)
    actions = FirstActions(period=period, first_period=first)
    if period is None:
        return actions
    if len(purchases):
        rows = purchases[purchases[when].astype(str) == period]
        group = [c for c in ("accelerator", "vendor", "site", "cooling", "delivery_period")
                 if c in rows] or ["accelerator", "vendor", "site", "cooling", "period"]
        amounts = [c for c in ("cards", "capex", "deposit", "balance") if c in rows]
        summed = rows.groupby(group, as_index=False)[amounts].sum()
        actions.orders = summed.sort_values("capex", ascending=False).to_dict("records")
    if len(builds):
        rows = builds[builds["period"].astype(str) == period]
        actions.builds = rows.sort_values("capex", ascending=False).to_dict("records")
    if len(openings):
        actions.openings = openings[openings["period"].astype(str) == period].to_dict("records")
    if len(rentals):
        rows = rentals[rentals["period"].astype(str) == period]
        actions.rentals = rows.sort_values("cost", ascending=False).to_dict("records")
    return actions


def rented_against_owned(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per period: owned cards installed and cards rented (empty when nothing is rented)."""
    rentals = tables.get("rentals", pd.DataFrame())
    utilisation = tables.get("utilisation", pd.DataFrame())
    if not len(rentals) or not len(utilisation) or "cards_rented" not in utilisation:
        return pd.DataFrame(columns=["period", "cards_owned", "cards_rented", "rented_share"])
    frame = pd.DataFrame({"period": utilisation["period"].astype(str),
                          "cards_owned": utilisation["cards_installed"].round(),
                          "cards_rented": utilisation["cards_rented"].round()})
    total = frame["cards_owned"] + frame["cards_rented"]
    frame["rented_share"] = (frame["cards_rented"] / total.where(total > 0)).fillna(0.0)
    return frame
