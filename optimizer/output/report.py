"""A self-contained HTML report of a results directory (or a sweep), and an Excel export.

Plots are drawn with matplotlib (Agg, no display) and embedded as base64 PNG, so the file
needs no network access and no other file to be read.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import UsageError

REPORT_FILE = "report.html"
WORKBOOK_FILE = "results.xlsx"
COST_KINDS = [("capex_cards", "cards"), ("capex_cooling", "cooling"), ("capex_sites", "sites"),
              ("energy", "energy"), ("maintenance", "maintenance"), ("fixed", "fixed"),
              ("unmet", "unmet demand")]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
                         "legend.fontsize": 8, "legend.frameon": False})
    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _read(directory: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    summary_path = directory / "summary.json"
    if not summary_path.is_file():
        raise UsageError(f"{directory}: not a results directory (no summary.json)")
    summary = json.loads(summary_path.read_text())
    tables = {}
    for path in sorted(directory.glob("*.csv")):
        try:
            tables[path.stem] = pd.read_csv(path, dtype={"period": str})
        except pd.errors.EmptyDataError:
            tables[path.stem] = pd.DataFrame()
    return summary, tables


def _money_axis(ax, currency: str, scale: float, label: str) -> None:
    unit = {1e9: "billion", 1e6: "million", 1e3: "thousand", 1.0: ""}[scale]
    ax.set_ylabel(f"{label} ({unit} {currency})".replace("( ", "("))


def _scale(values: pd.Series | list[float]) -> float:
    peak = max((abs(v) for v in values), default=0.0)
    for scale in (1e9, 1e6, 1e3):
        if peak >= scale:
            return scale
    return 1.0


def _stacked_bars(ax, frame: pd.DataFrame, ylabel: str) -> None:
    bottom = None
    periods = [str(p) for p in frame.index]
    for column in frame.columns:
        values = frame[column].to_numpy()
        ax.bar(periods, values, bottom=bottom, label=str(column))
        bottom = values if bottom is None else bottom + values
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", ncols=2)


def plan_figures(summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Title -> base64 PNG of every plot of a plan."""
    plt = _pyplot()
    currency = summary.get("instance", {}).get("currency", "")
    figures: dict[str, str] = {}

    fleet = tables.get("fleet", pd.DataFrame())
    if not fleet.empty:
        pivot = fleet.pivot_table(index="period", columns="vendor", values="cards", aggfunc="sum",
                                  fill_value=0)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        _stacked_bars(ax, pivot, "installed cards")
        ax.set_title("Installed cards by vendor")
        figures["Installed cards by vendor per period"] = _png(fig)

    purchases = tables.get("purchases", pd.DataFrame())
    if not purchases.empty:
        pivot = purchases.pivot_table(index="period", columns="accelerator", values="cards",
                                      aggfunc="sum", fill_value=0)
        periods = tables["costs"]["period"] if "costs" in tables else pivot.index
        pivot = pivot.reindex([str(p) for p in periods], fill_value=0)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        _stacked_bars(ax, pivot, "cards bought")
        ax.set_title("Purchases by accelerator")
        figures["Purchases per period by accelerator"] = _png(fig)

    sites = tables.get("sites", pd.DataFrame())
    if not sites.empty:
        per_site = sites.groupby(["site", "period"], sort=False).agg(
            facility_mw=("facility_mw", "sum"), facility_mw_used=("facility_mw_used", "sum"),
            grid_mw=("grid_mw", "first")).reset_index()
        names = list(dict.fromkeys(per_site["site"]))
        shown = sorted(names, key=lambda s: -per_site[per_site.site == s].facility_mw.max())[:12]
        cols = min(3, len(shown))
        rows = (len(shown) + cols - 1) // cols
        size = (7, 3.2) if cols == 1 else (3.3 * cols, 2.5 * rows)
        fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, sharex=True)
        for ax, site in zip(axes.flat, shown):
            part = per_site[per_site.site == site]
            periods = part["period"].astype(str)
            ax.bar(periods, part["facility_mw"], color="#9ecae1", label="provisioned")
            ax.plot(periods, part["facility_mw_used"], "o-", color="#08519c", ms=3, label="drawn at full load")
            ax.plot(periods, part["grid_mw"], "--", color="#d62728", label="grid cap")
            ax.set_title(site, fontsize=9)
            ax.set_ylabel("MW at the meter")
            ax.tick_params(axis="x", rotation=45)
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        axes.flat[0].legend(loc="upper left")
        fig.suptitle("Facility MW per site against its grid cap"
                     + (f" (12 largest of {len(names)} sites)" if len(names) > 12 else ""))
        fig.tight_layout()
        figures["Facility MW per site against the grid cap"] = _png(fig)

        last = sites["period"].astype(str).iloc[-1]
        final = sites[sites["period"].astype(str) == last].pivot_table(
            index="site", columns="cooling", values="it_mw_capacity", aggfunc="sum", fill_value=0)
        final = final.loc[final.sum(axis=1).sort_values(ascending=False).index[:20]]
        fig, ax = plt.subplots(figsize=(7, 0.8 + 0.35 * max(len(final), 3)))
        left = None
        for mode in final.columns:
            values = final[mode].to_numpy()
            ax.barh(final.index.astype(str), values, left=left, label=mode, height=0.6)
            left = values if left is None else left + values
        ax.invert_yaxis()
        ax.set_xlabel("IT MW of cooling capacity")
        ax.set_title(f"Cooling capacity by mode per site ({last})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        figures["Cooling capacity by mode per site"] = _png(fig)

    costs = tables.get("costs", pd.DataFrame())
    if not costs.empty:
        frame = costs.set_index("period")
        kinds = [(c, label) for c, label in COST_KINDS if c in frame and frame[c].abs().sum() > 0]
        scale = _scale(list(frame[[c for c, _ in kinds]].sum(axis=1)) + list(frame["salvage"]))
        fig, ax = plt.subplots(figsize=(7, 3.6))
        periods = frame.index.astype(str)
        bottom = pd.Series(0.0, index=frame.index)
        for column, label in kinds:
            ax.bar(periods, frame[column] / scale, bottom=bottom / scale, label=label)
            bottom = bottom + frame[column]
        if frame["salvage"].abs().sum() > 0:
            ax.bar(periods, -frame["salvage"] / scale, color="#7f7f7f", label="salvage (credit)")
        ax.axhline(0, color="black", lw=0.8)
        _money_axis(ax, currency, scale, "cost, undiscounted")
        ax.set_title("Cost per period by kind")
        ax.legend(loc="upper left", ncols=3)
        figures["Cost per period by kind"] = _png(fig)

        if "cost_per_million_tokens" in frame:
            fig, ax = plt.subplots(figsize=(7, 3.0))
            ax.plot(periods, frame["cost_per_million_tokens"], "o-", label="period (capex spread straight-line)")
            levelised = summary.get("kpis", {}).get("cost_per_million_tokens")
            if levelised is not None:
                ax.axhline(levelised, ls="--", color="#d62728", label=f"levelised over the horizon: {levelised:.4g}")
            ax.set_ylabel(f"{currency} per million tokens")
            ax.set_title("Cost per million tokens")
            ax.set_ylim(bottom=0)
            ax.legend()
            figures["Cost per million tokens per period"] = _png(fig)

    demand = tables.get("demand", pd.DataFrame())
    utilisation = tables.get("utilisation", pd.DataFrame())
    if not demand.empty:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        for workload, part in demand.groupby("workload", sort=False):
            periods = part["period"].astype(str)
            line, = left.plot(periods, part["demand_tokens_per_day"], "o--", ms=3, label=f"{workload} demand")
            left.plot(periods, part["served_tokens_per_day"], "-", color=line.get_color(), label=f"{workload} served")
        left.set_ylabel("average tokens per day")
        left.set_yscale("log")
        left.set_title("Demand and tokens served per workload")
        left.legend(ncols=2)
        if not utilisation.empty:
            periods = utilisation["period"].astype(str)
            right.bar(periods, utilisation["cards_available"], color="#c6dbef", label="cards available")
            right.plot(periods, utilisation["cards_needed_at_peak"], "o-", label="needed at peak")
            right.plot(periods, utilisation["cards_busy_average"], "s-", label="busy on average")
            right.set_ylabel("cards")
            right.set_title("Capacity against demand (all workloads)")
            right.legend()
        fig.tight_layout()
        figures["Demand against capacity per workload"] = _png(fig)
    return figures


def sweep_figures(frame: pd.DataFrame) -> dict[str, str]:
    """KPIs against the varied parameters of a sweep."""
    plt = _pyplot()
    fixed = {"variant", "status", "npv", "cost_per_million_tokens", "mip_gap", "seconds",
             "explanation", "error", "results_dir", "domestic_share"}
    varied = [c for c in frame.columns if c not in fixed and not c.startswith(("cards_", "mw_"))]
    figures: dict[str, str] = {}
    if not varied:
        return figures
    x = varied[0]
    groups = [(None, frame)] if len(varied) == 1 else list(frame.groupby(varied[1]))
    for kpi, label in (("npv", "NPV of total cost of ownership"),
                       ("cost_per_million_tokens", "cost per million tokens")):
        fig, ax = plt.subplots(figsize=(7, 3.4))
        scale = _scale(frame[kpi].dropna().tolist()) if kpi == "npv" else 1.0
        for key, part in groups:
            ok = part[part["status"].isin(["optimal", "feasible"])]
            ax.plot(ok[x], ok[kpi] / scale, "o-", label=None if key is None else str(key))
            bad = part[~part["status"].isin(["optimal", "feasible"])]
            for value in bad[x]:
                ax.axvline(value, color="#d62728", alpha=0.3)
        ax.set_xlabel(x)
        unit = {1e9: " (billions)", 1e6: " (millions)", 1e3: " (thousands)", 1.0: ""}[scale]
        ax.set_ylabel(label + unit)
        ax.set_title(f"{label} against {x}" + (" (red: no plan)" if (~frame["status"].isin(["optimal", "feasible"])).any() else ""))
        if len(groups) > 1:
            ax.legend(title=varied[1])
        figures[f"{label} against the varied parameters"] = _png(fig)
    return figures


def _table_html(frame: pd.DataFrame, limit: int = 60) -> str:
    shown = frame.head(limit)
    text = shown.to_html(index=False, float_format=lambda v: f"{v:,.4g}", border=0,
                         classes="data", na_rep="-")
    if len(frame) > limit:
        text += f"<p class=note>first {limit} of {len(frame)} rows; the full table is in the CSV</p>"
    return text


STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table.data,table.kpi{border-collapse:collapse;font-size:0.85em}table.data td,table.data th,table.kpi td,
table.kpi th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}table.kpi td:first-child,
table.kpi th:first-child{text-align:left}.note{color:#666;font-size:0.85em}img{max-width:100%}
.status{font-weight:bold}
"""


def _kpi_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    kpis = summary.get("kpis") or {}
    currency = summary.get("instance", {}).get("currency", "")
    rows = [("status", str(summary.get("status"))),
            ("MIP gap", "-" if summary.get("mip_gap") is None else f"{summary['mip_gap']:.3%}")]
    for key, label in (("npv_total", "NPV of total cost of ownership"),
                       ("capex_total", "capex (undiscounted)"), ("opex_total", "opex (undiscounted)"),
                       ("salvage_total", "salvage at the horizon end")):
        if kpis.get(key) is not None:
            rows.append((label, f"{kpis[key]:,.0f} {currency}"))
    if kpis.get("cost_per_million_tokens") is not None:
        rows.append(("cost per million tokens (levelised)",
                     f"{kpis['cost_per_million_tokens']:,.4f} {currency}"))
    if kpis.get("cards_final_period") is not None:
        rows.append(("cards in the last period", f"{kpis['cards_final_period']:,}"))
    for tag, share in (kpis.get("tag_shares_final_period") or {}).items():
        rows.append((f"share of {tag} cards (last period)", f"{share:.1%}"))
    rows.append(("solve", f"build {summary.get('build_seconds', 0):.2f} s, hand-over "
                          f"{summary.get('transfer_seconds', 0):.2f} s, HiGHS "
                          f"{summary.get('solve_seconds', 0):.2f} s"))
    return rows


def render_plan_report(directory: Path) -> str:
    """The HTML text of a results directory's report."""
    summary, tables = _read(directory)
    instance = summary.get("instance", {})
    title = f"accelplan plan: {instance.get('name') or directory.name}"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
             f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class=note>instance {html.escape(str(instance.get('file', '')))}; "
             f"input SHA-256 {html.escape(str(summary.get('input_sha256', ''))[:16])}...</p>",
             "<h2>Key figures</h2><table class=kpi>"]
    parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
              for k, v in _kpi_rows(summary)]
    parts.append("</table>")
    if summary.get("explanation"):
        parts.append("<h2>No plan: what would have to give</h2><ul>")
        parts += [f"<li>{html.escape(r['message'])}</li>" for r in summary["explanation"]]
        parts.append("</ul>")
    if summary.get("binding_top"):
        parts.append("<h2>Binding caps</h2><ul>")
        parts += [f"<li>{html.escape(m)}</li>" for m in summary["binding_top"]]
        parts.append("</ul>")
    for caption, png in plan_figures(summary, tables).items():
        parts.append(f"<h2>{html.escape(caption)}</h2>"
                     f"<img alt=\"{html.escape(caption)}\" src=\"data:image/png;base64,{png}\">")
    for name in ("purchases", "marginal_costs", "binding", "costs"):
        if name in tables and not tables[name].empty:
            parts.append(f"<h2>Table: {name}</h2>" + _table_html(tables[name]))
    parts.append("</body></html>")
    return "\n".join(parts)


def render_sweep_report(directory: Path) -> str:
    """The HTML text of a sweep directory's report."""
    frame = pd.read_csv(directory / "sweep.csv")
    title = f"accelplan sweep: {directory.name}"
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
             f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{len(frame)} variants, {int(frame['status'].isin(['optimal', 'feasible']).sum())} "
             "with a plan.</p>"]
    for caption, png in sweep_figures(frame).items():
        parts.append(f"<h2>{html.escape(caption)}</h2>"
                     f"<img alt=\"{html.escape(caption)}\" src=\"data:image/png;base64,{png}\">")
    parts.append("<h2>Variants</h2>" + _table_html(frame, limit=500))
    parts.append("</body></html>")
    return "\n".join(parts)


def _atomic_write(path: Path, data: bytes) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_bytes(data)
    os.replace(staging, path)


def write_report(directory: str | Path) -> Path:
    """Write ``report.html`` into a results or sweep directory; return its path."""
    directory = Path(directory)
    if (directory / "sweep.csv").is_file():
        text = render_sweep_report(directory)
    else:
        text = render_plan_report(directory)
    target = directory / REPORT_FILE
    _atomic_write(target, text.encode("utf-8"))
    return target


def write_workbook(directory: str | Path) -> Path:
    """Write ``results.xlsx``: a sheet of key figures and one sheet per table."""
    directory = Path(directory)
    if (directory / "sweep.csv").is_file():
        tables = {"sweep": pd.read_csv(directory / "sweep.csv")}
        kpis = pd.DataFrame()
    else:
        summary, tables = _read(directory)
        kpis = pd.DataFrame(_kpi_rows(summary), columns=["figure", "value"])
    target = directory / WORKBOOK_FILE
    staging = target.with_name(f".{target.name}.tmp.xlsx")
    with pd.ExcelWriter(staging, engine="openpyxl") as writer:
        if not kpis.empty:
            kpis.to_excel(writer, sheet_name="kpis", index=False)
        for name, frame in tables.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    os.replace(staging, target)
    return target
