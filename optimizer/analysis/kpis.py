"""Key figures of a plan (the ``kpis`` block of summary.json), and their typed form."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

import pandas as pd

from optimizer.problem import DAYS_PER_YEAR, ProblemData
from optimizer.problem.costs import CAPEX_KINDS, OPEX_KINDS


def plan_kpis(tables: dict[str, pd.DataFrame], data: ProblemData, npv: float) -> dict[str, Any]:
    """NPV, capex, opex, the unmet-demand penalty, levelised cost per million tokens, final
    fleet and shares.

    ``cost_per_million_tokens`` = (NPV - the discounted unmet-demand penalty) /
    (sum_t d_m(t) * tokens served over period t / 1e6): what the tokens that are served cost,
    counting the tokens of demand met (capacity beyond demand serves nothing). The penalty for
    tokens not served is its own figure (``unmet_cost_total``), not opex.
    """
    costs = tables["costs"]
    capex = float(costs[[k for k in CAPEX_KINDS if k in costs]].to_numpy().sum())
    opex = float(costs[[k for k in OPEX_KINDS if k in costs and k != "unmet"]].to_numpy().sum())
    unmet_cost = float(costs["unmet"].sum())
    unmet_npv = sum(data.discount_mid[t] * float(value)
                    for t, value in enumerate(costs["unmet"].to_numpy()))
    salvage = float(costs["salvage"].sum())
    days = DAYS_PER_YEAR * data.period_years
    tokens_by_period = tables["demand"].groupby("period")["served_tokens_per_day"].sum() * days
    discounted_millions = sum(data.discount_mid[t] * tokens_by_period.get(p, 0.0) / 1e6
                              for t, p in enumerate(data.periods))
    last = data.periods[-1]
    fleet = tables["fleet"]
    final = fleet[fleet["period"] == last]
    cards_final = int(final["cards"].sum())
    by_vendor = {v: int(final[final["vendor"] == v]["cards"].sum()) for v in data.VENDORS}
    # shares of the fleet the share rules count: owned and rented cards alike
    rentals_table = tables.get("rentals")
    rented_final = (rentals_table[rentals_table["period"] == last]
                    if rentals_table is not None and len(rentals_table) else None)
    counted = final[["accelerator", "cards"]]
    if rented_final is not None and len(rented_final):
        counted = pd.concat([counted, rented_final[["accelerator", "cards"]]], ignore_index=True)
    counted_total = float(counted["cards"].sum())
    tags = sorted({tag for k in data.ACCELERATORS for tag in data.tags[k]})
    tag_shares = {}
    for tag in tags:
        tagged = [k for k in data.ACCELERATORS if tag in data.tags[k]]
        count = float(counted[counted["accelerator"].isin(tagged)]["cards"].sum())
        tag_shares[tag] = count / counted_total if counted_total else 0.0
    sites = tables["sites"]
    final_sites = sites[sites["period"] == last].groupby("site")
    kpis: dict[str, Any] = {
        "npv_total": npv,
        "capex_total": capex,
        "opex_total": opex,
        "salvage_total": salvage,
        "cost_per_million_tokens": ((npv - unmet_npv) / discounted_millions
                                    if discounted_millions else None),
        "unmet_cost_total": unmet_cost,
        "tokens_served_total": float(tokens_by_period.sum()),
        "cards_final_period": cards_final,
        "cards_by_vendor_final_period": by_vendor,
        "tag_shares_final_period": tag_shares,
        "tag_shares_basis": "cards installed and rented in the final period",
        "facility_mw_final_period": {s: float(g["facility_mw"].sum()) for s, g in final_sites},
        "cards_bought_total": int(tables["purchases"]["cards"].sum()),
    }
    energy = tables.get("energy")
    carbon_given = any(v > 0 for v in data.grid_carbon_kg_per_mwh.values()) or any(
        v > 0 for v in data.ppa_carbon_kg_per_mwh.values())
    if energy is not None and len(energy):
        if carbon_given:
            kpis["emissions_total_t"] = float(energy["emissions_t"].sum())
            kpis["emissions_final_period_t_per_year"] = float(
                energy[energy["period"] == last]["emissions_t"].sum() / data.period_years)
            kpis["carbon_cost_total"] = float(costs["carbon"].sum())
        else:
            kpis["emissions_note"] = ("not given: the instance has no grid carbon "
                                      "(grid_carbon_kg_per_mwh) and no contract carbon")
        kpis["water_total_m3"] = float(energy["water_m3"].sum())
    rentals = tables.get("rentals")
    if data.RENT:
        kpis["rental_cost_total"] = float(costs["rental"].sum())
        kpis["cards_rented_final_period"] = (
            int(rentals[rentals["period"] == last]["cards"].sum()) if rentals is not None else 0)
    if "domestic" in tag_shares:
        kpis["domestic_share"] = tag_shares["domestic"]
    unmet = tables.get("unmet")
    if unmet is not None and len(unmet):
        kpis["unmet_tokens_total"] = float(unmet["average_tokens_per_day"].sum() * days)
    return kpis


@dataclass(frozen=True)
class KPIs:
    """A plan's key figures, the same fields for deterministic and scenario plans (a scenario
    plan's are probability-weighted means; its own figures come last). Money in the
    instance's currency, undiscounted except the NPV; tokens over the horizon.
    """

    npv_total: float | None = None
    capex_total: float | None = None
    opex_total: float | None = None
    salvage_total: float | None = None
    cost_per_million_tokens: float | None = None
    tokens_served_total: float | None = None
    cards_final_period: float | None = None
    cards_bought_total: float | None = None
    domestic_share: float | None = None
    unmet_tokens_total: float | None = None
    unmet_cost_total: float | None = None
    rental_cost_total: float | None = None
    emissions_total_t: float | None = None
    emissions_final_period_t_per_year: float | None = None
    carbon_cost_total: float | None = None
    water_total_m3: float | None = None
    cards_rented_final_period: float | None = None
    cards_by_vendor_final_period: dict[str, float] = field(default_factory=dict)
    tag_shares_final_period: dict[str, float] = field(default_factory=dict)
    facility_mw_final_period: dict[str, float] = field(default_factory=dict)
    expected_npv: float | None = None
    first_stage_capex: float | None = None
    vss: float | None = None
    evpi: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "KPIs":
        """The typed figures of a summary's ``kpis`` block (unknown keys kept in ``extra``)."""
        values = dict(values or {})
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: values.pop(k) for k in list(values) if k in names}
        return cls(**known, extra=values)

    def as_dict(self) -> dict[str, Any]:
        """The summary's ``kpis`` block (figures that are not known are left out)."""
        out = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None
               and v != {}}
        out.update(self.extra)
        return out
