"""A rolling re-plan: how a plan re-made every period on the forecast fares on the demand that
actually comes, against a plan made with perfect foresight.

At each period t the planner knows the demand of t (the period's bookings) and plans the rest
of the horizon on the forecast; the orders placed in t, the cooling built and the sites opened
in t are signed; at t+1 the plan is re-made (:mod:`optimizer.studies.replan`) with those as
fact. At the end the signed decisions, all fixed, are costed on the actual demand path (NPV
over the whole horizon, as the perfect-foresight plan is), so the two NPVs compare like for
like; their difference is the cost of not knowing the future.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from optimizer.errors import UsageError
from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.output.results import Decisions, Plan
from optimizer.studies.replan import roll_forward


@dataclass
class RollingOutcome:
    """A rolling re-plan and its perfect-foresight benchmark.

    Attributes:
        steps: per period: period, NPV planned then (from that period on), cards ordered,
            cards rented, orders signed.
        decisions: everything signed, by delivery period.
        rolling_npv: NPV of the signed decisions on the actual demand (None: no plan).
        foresight_npv: NPV of the plan made knowing the actual demand from the start.
        rolling: the costed rolling plan; foresight: the perfect-foresight plan.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    decisions: Decisions = field(default_factory=Decisions)
    rolling_npv: float | None = None
    foresight_npv: float | None = None
    rolling: Plan | None = None
    foresight: Plan | None = None

    @property
    def regret(self) -> float | None:
        """rolling NPV - perfect-foresight NPV (currency): what the forecast's errors cost."""
        if self.rolling_npv is None or self.foresight_npv is None:
            return None
        return self.rolling_npv - self.foresight_npv

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps)


def _with_demand(data: dict[str, Any], actual: Mapping[str, Mapping[str, float]],
                 periods: list[str]) -> dict[str, Any]:
    """``data`` with the actual demand of ``periods`` (the forecast elsewhere)."""
    data = copy.deepcopy(data)
    for w, series in actual.items():
        for p in periods:
            if p in series:
                data.setdefault("demand", {}).setdefault(w, {})[p] = float(series[p])
    return data


def rolling_replan(forecast: Instance, actual: Mapping[str, Mapping[str, float]],
                   **options: Any) -> RollingOutcome:
    """Re-plan ``forecast`` period by period as the ``actual`` demand (workload -> period ->
    average tokens/day) comes in; cost what was signed on the actual demand; compare with
    perfect foresight. ``options`` go to every solve (time_limit, mip_gap, ...).

    Raises:
        UsageError: a step has no plan (the surprise cannot be served: allow rentals or soft
            demand), or ``actual`` names an unknown workload or period.
    """
    from optimizer.planning import solve
    spec = forecast.spec
    periods = list(spec.horizon.periods)
    for w, series in actual.items():
        if w not in spec.workloads:
            raise UsageError(f"actual demand: unknown workload {w!r}")
        for p in series:
            if p not in periods:
                raise UsageError(f"actual demand of {w}: unknown period {p!r}")
    options = {"explain": False, **options, "raise_on_infeasible": False}
    base = spec.model_dump(by_alias=True, exclude_none=True)
    outcome = RollingOutcome()
    purchases: dict[tuple, float] = {}
    ordered: dict[tuple, str] = {}
    builds: dict[tuple, float] = {}
    openings: dict[tuple, float] = {}
    rentals_signed: dict[tuple, float] = {}
    current = instance_from_raw(_with_demand(base, actual, periods[:1]), forecast.path,
                                file_digest=forecast.input_sha256)
    for t, period in enumerate(periods):
        plan = solve(current, **options)
        if not plan.status.has_plan:
            raise UsageError(f"rolling re-plan: no plan in {period} once its demand was "
                             "known (a surprise no order can meet in time); allow rentals or "
                             "unmet demand")
        tables = plan.tables
        bought = tables["purchases"]
        signed = bought[bought["order_period"].astype(str) == period] if len(bought) else bought
        for row in signed.itertuples():
            key = (row.accelerator, row.site, row.cooling, str(row.delivery_period))
            purchases[key] = purchases.get(key, 0.0) + float(row.units)
            if key[-1] != period:
                ordered[key] = period
        built = tables.get("builds", pd.DataFrame())
        for row in (built[built["period"].astype(str) == period].itertuples()
                    if len(built) else []):
            builds[row.site, row.cooling, period] = float(row.it_mw)
        opened = tables.get("openings", pd.DataFrame())
        for row in (opened[opened["period"].astype(str) == period].itertuples()
                    if len(opened) else []):
            for later in periods[t:]:
                openings[row.site, later] = 1.0
        rentals = tables.get("rentals", pd.DataFrame())
        rented = rentals[rentals["period"].astype(str) == period] if len(rentals) else rentals
        for row in rented.itertuples() if len(rented) else []:
            rentals_signed[str(row.rental), period] = float(row.cards)
        outcome.steps.append({"period": period, "npv_planned_from_here": plan.objective,
                              "cards_ordered": int(signed["cards"].sum()) if len(signed) else 0,
                              "cards_rented": int(rented["cards"].sum()) if len(rented) else 0})
        if t + 1 < len(periods):
            rolled = roll_forward(plan, current, periods[t + 1])
            current = instance_from_raw(_with_demand(rolled.data, actual, [periods[t + 1]]),
                                        forecast.path, file_digest=forecast.input_sha256)
    # openings of sites that were open from the start are not decisions
    openable = {s for s, site in spec.sites.items() if not site.open}
    outcome.decisions = Decisions(purchases, builds,
                                  {k: v for k, v in openings.items() if k[0] in openable},
                                  rentals_signed, ordered)
    truth = instance_from_raw(_with_demand(base, actual, periods), forecast.path,
                              file_digest=forecast.input_sha256)
    outcome.rolling = solve(truth, fix_first_stage=(len(periods), outcome.decisions), **options)
    outcome.foresight = solve(truth, **options)
    if outcome.rolling.status.has_plan:
        outcome.rolling_npv = outcome.rolling.objective
    if outcome.foresight.status.has_plan:
        outcome.foresight_npv = outcome.foresight.objective
    return outcome
