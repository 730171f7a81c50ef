"""What changed between two results directories: KPIs, purchases, sites."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.output.results import read_results_directory

KPI_ORDER = ("npv_total", "capex_total", "opex_total", "salvage_total", "cost_per_million_tokens",
             "cards_final_period", "cards_bought_total", "domestic_share", "unmet_tokens_total")


def _read_results(directory: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    summary, tables = read_results_directory(directory)
    return summary, {name: tables.get(name, pd.DataFrame()) for name in ("purchases", "sites")}


def compare_results(dir_a: str | Path, dir_b: str | Path) -> dict[str, Any]:
    """KPIs side by side with deltas, purchases that changed, site capacity that changed."""
    summary_a, tables_a = _read_results(dir_a)
    summary_b, tables_b = _read_results(dir_b)
    kpis_a, kpis_b = summary_a.get("kpis") or {}, summary_b.get("kpis") or {}
    kpis = []
    for name in KPI_ORDER:
        a, b = kpis_a.get(name), kpis_b.get(name)
        if a is None and b is None:
            continue
        delta = (b - a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        relative = delta / a if delta is not None and a else None
        kpis.append({"kpi": name, "a": a, "b": b, "delta": delta, "relative": relative})

    no_plan = {label: _why(summary) for label, summary in (("a", summary_a), ("b", summary_b))
               if summary.get("status") not in PLAN_STATUSES}
    purchases: list[dict] = []
    sites: list[dict] = []
    if not no_plan:        # a side without a plan has nothing to compare line by line
        keys = ["period", "accelerator", "site", "cooling"]
        purchases = _changed(tables_a["purchases"], tables_b["purchases"], keys, "cards")
        site_keys = ["period", "site", "cooling"]
        sites = _changed(tables_a["sites"], tables_b["sites"], site_keys, "it_mw_capacity")
    return {"a": str(dir_a), "b": str(dir_b),
            "status": {"a": summary_a.get("status"), "b": summary_b.get("status")},
            "kpis": kpis, "purchases": purchases, "sites": sites, "no_plan": no_plan}


PLAN_STATUSES = ("optimal", "feasible")


def _why(summary: dict[str, Any]) -> list[str]:
    """Why a results directory holds no plan: its explanation, or its status."""
    reasons = [r.get("message", "") for r in summary.get("explanation") or []]
    return reasons or [f"status {summary.get('status')}: no plan was found"]


def _changed(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], value: str) -> list[dict]:
    if a.empty and b.empty:
        return []
    frames = []
    for frame, label in ((a, "a"), (b, "b")):
        if frame.empty:
            frames.append(pd.DataFrame(columns=keys + [label]))
        else:
            grouped = frame.astype({"period": str}).groupby(keys, as_index=False)[value].sum()
            frames.append(grouped.rename(columns={value: label}))
    merged = frames[0].merge(frames[1], on=keys, how="outer").fillna({"a": 0, "b": 0})
    merged["delta"] = merged["b"] - merged["a"]
    changed = merged[merged["delta"].abs() > 1e-6].sort_values(keys)
    return changed.to_dict(orient="records")
