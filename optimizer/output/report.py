"""A self-contained HTML report of a results directory (a plan, a scenario plan or a sweep),
and an Excel export whose numbers are numbers.

Plots come from :mod:`optimizer.output.figures`, embedded as base64 PNG: the file needs no
network access and no other file. Numbers in tables carry thousands separators, money its
currency, and no scientific notation; wide tables scroll inside the page.
"""
from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.analysis.actions import first_actions, rented_against_owned
from optimizer.analysis.units import count, money
from optimizer.output.directories import write_file_atomically
from optimizer.output.results import read_results_directory
from optimizer.output.figures import (
    pareto_figures, plan_figures, range_figures, scenario_figures, sweep_figures,
)

REPORT_FILE = "report.html"
WORKBOOK_FILE = "results.xlsx"

MONEY_COLUMNS = ("capex", "money", "deposit", "balance", "cost", "total", "discounted_total",
                 "capex_cards", "capex_cooling", "capex_sites", "energy", "maintenance", "fixed",
                 "unmet", "salvage", "depreciation", "npv", "expected_npv", "open_cost",
                 "shadow_price", "rental", "carbon", "water")
"""Columns in the instance's currency."""

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.scroll{overflow-x:auto;max-width:100%}
table.data,table.kpi{border-collapse:collapse;font-size:0.85em}table.data td,table.data th,table.kpi td,
table.kpi th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
table.kpi td:first-child,table.kpi th:first-child,table.data td.text{text-align:left}
.note{color:#666;font-size:0.85em}img{max-width:100%}.status{font-weight:bold}
"""


def _read(directory: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    return read_results_directory(directory)


def _cell(column: str, value: Any, currency: str) -> tuple[str, bool]:
    """A table cell as text (and whether it is text rather than a number)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-", False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value), True
    if column in MONEY_COLUMNS or column.endswith(("_cost", "capex", "_npv")):
        return money(float(value), currency), False
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}", False
    if abs(value) >= 1e15:
        return count(float(value)), False
    if abs(value) >= 100:
        return f"{value:,.1f}", False
    if abs(value) >= 1:
        return f"{value:,.3f}", False
    return f"{value:.4f}" if abs(value) >= 1e-4 else f"{value:.2e}".replace("e", " x 10^"), False


def table_html(frame: pd.DataFrame, currency: str, limit: int = 60) -> str:
    """An HTML table with formatted numbers, scrolling when wide; the first ``limit`` rows."""
    shown = frame.head(limit)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, row):
            text, is_text = _cell(str(column), value, currency)
            css = " class=text" if is_text else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    out = (f"<div class=scroll><table class=data><tr>{head}</tr>" + "".join(body)
           + "</table></div>")
    if len(frame) > limit:
        out += f"<p class=note>first {limit} of {len(frame):,} rows; the full table is in the CSV</p>"
    return out


def kpi_figures(summary: dict[str, Any]) -> list[tuple[str, float | str | None, str]]:
    """(figure, value, unit) of the key figures, values as numbers (for the workbook)."""
    kpis = summary.get("kpis") or {}
    currency = summary.get("instance", {}).get("currency", "")
    rows: list[tuple[str, float | str | None, str]] = [
        ("status", summary.get("status"), ""), ("MIP gap", summary.get("mip_gap"), "fraction")]
    for key, label, unit in (
            ("npv_total", "NPV of total cost of ownership", currency),
            ("expected_npv", "expected NPV (probability-weighted)", currency),
            ("vss", "value of the stochastic solution", currency),
            ("evpi", "expected value of perfect information", currency),
            ("first_stage_capex", "first-stage capex", currency),
            ("capex_total", "capex (undiscounted)", currency),
            ("opex_total", "opex (undiscounted)", currency),
            ("unmet_cost_total", "penalty for tokens not served", currency),
            ("salvage_total", "salvage at the horizon end", currency),
            ("cost_per_million_tokens", "cost per million tokens served (levelised)",
             f"{currency} per million tokens"),
            ("tokens_served_total", "tokens served", "tokens"),
            ("unmet_tokens_total", "tokens not served", "tokens"),
            ("cards_final_period", "cards in the last period", "cards")):
        if kpis.get(key) is not None and not (key == "unmet_cost_total" and not kpis[key]):
            rows.append((label, kpis[key], unit))
    for tag, share in (kpis.get("tag_shares_final_period") or {}).items():
        rows.append((f"share of {tag} cards (last period)", share, "fraction"))
    return rows


def _kpi_table(summary: dict[str, Any]) -> str:
    currency = summary.get("instance", {}).get("currency", "")
    parts = ["<table class=kpi>"]
    for label, value, unit in kpi_figures(summary):
        if isinstance(value, str) or value is None:
            text = "-" if value is None else value
        elif unit == "fraction":
            text = f"{value:.3%}" if label == "MIP gap" else f"{value:.1%}"
        elif unit == currency:
            text = money(value, currency)
        elif unit == "tokens":
            text = f"{count(value)} tokens"
        elif unit == "cards":
            text = f"{value:,.0f}"
        else:
            text = f"{value:,.4f} {unit}"
        parts.append(f"<tr><td>{html.escape(label)}</td><td>{html.escape(text)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def _page(title: str, body: list[str]) -> str:
    return "\n".join([f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>"
                      f"{html.escape(title)}</title><style>{STYLE}</style></head><body>"
                      f"<h1>{html.escape(title)}</h1>"] + body + ["</body></html>"])


def _figures_html(figures: dict[str, str]) -> list[str]:
    return [f"<h2>{html.escape(caption)}</h2><img alt=\"{html.escape(caption)}\" "
            f"src=\"data:image/png;base64,{png}\">" for caption, png in figures.items()]


def _actions_html(tables: dict[str, pd.DataFrame], currency: str) -> list[str]:
    periods = [str(p) for p in tables["costs"]["period"]] if "costs" in tables else []
    actions = first_actions(tables, periods)
    if actions.period is None:
        return ["<h2>What to do</h2><p>nothing to order, rent, build or open</p>"]
    title = (f"What to do in {actions.period}" if actions.now else
             f"Nothing to do in {actions.first_period}; first actions in {actions.period}")
    parts = [f"<h2>{html.escape(title)}</h2>"]
    if actions.orders:
        parts.append(table_html(pd.DataFrame(actions.orders), currency))
    items = [f"build {b['it_mw']:,.2f} MW of {b['cooling']} cooling at {b['site']} "
             f"({money(b['capex'], currency)})" for b in actions.builds]
    items += [f"open {o['site']} ({money(o['open_cost'], currency)})" for o in actions.openings]
    items += [f"rent {int(round(r['cards'])):,} {r['accelerator']} cards ({r['rental']}, "
              f"{money(r['cost'], currency)} in {actions.period})" for r in actions.rentals]
    if items:
        parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
    rented = rented_against_owned(tables)
    if len(rented):
        parts += ["<h2>Rented against owned cards</h2>", table_html(rented, currency)]
    return parts


def provenance(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """What made a plan, as (what, value) lines: the instance, its file and the file's
    SHA-256, the what-ifs applied (overrides), and, for a studio run, the run and its levers
    (``summary["provenance"]``)."""
    instance = summary.get("instance", {}) or {}
    lines = [("instance", str(instance.get("name", ""))), ("file", str(instance.get("file", ""))),
             ("input SHA-256", str(summary.get("input_sha256", "")))]
    overrides = instance.get("overrides") or {}
    lines.append(("overrides", "; ".join(f"{k} = {json.dumps(v, default=str)}"
                                         for k, v in overrides.items()) or "none"))
    if instance.get("override_files"):
        lines.append(("override files", ", ".join(map(str, instance["override_files"]))))
    studio = summary.get("provenance") or {}
    if studio:
        if studio.get("file_sha256"):
            lines.append(("file SHA-256", str(studio["file_sha256"])))
        lines.append(("studio run", str(studio.get("run", ""))))
        lines.append(("levers", "; ".join(studio.get("changes") or []) or "as in the file"))
        if studio.get("created"):
            lines.append(("run created", str(studio["created"])))
    return lines


def _provenance_html(summary: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                   for k, v in provenance(summary))      # names, paths and hashes as written
    return f"<h2>Made from</h2><table class=provenance>{rows}</table>"


def render_plan_report(directory: Path) -> str:
    """The HTML text of a results directory's report (a plan or a scenario plan)."""
    summary, tables = _read(directory)
    if "stochastic" in summary:
        return render_scenario_report(summary, tables, directory)
    instance = summary.get("instance", {})
    currency = instance.get("currency", "")
    body = [f"<p class=note>instance {html.escape(str(instance.get('file', '')))}; input "
            f"SHA-256 {html.escape(str(summary.get('input_sha256', ''))[:16])}...</p>"]
    if summary.get("interrupted"):
        body.append("<p class=status>Interrupted: the best plan found so far.</p>")
    if summary.get("explanation"):
        body.append("<h2>No plan: what would have to give</h2><ul>")
        body += [f"<li>{html.escape(r['message'])}</li>" for r in summary["explanation"]]
        body.append("</ul>")
    elif "costs" in tables:
        body += _actions_html(tables, currency)
    body += ["<h2>Key figures</h2>", _kpi_table(summary)]
    if summary.get("binding_top"):
        body.append("<h2>Binding caps</h2><ul>")
        body += [f"<li>{html.escape(m)}</li>" for m in summary["binding_top"]]
        body += [f"<li>{html.escape(m)}</li>" for m in summary.get("marginal_cost_jumps") or []]
        body.append("</ul>")
    body += _figures_html(plan_figures(summary, tables))
    for name in ("purchases", "builds", "fleet", "marginal_costs", "binding", "costs"):
        if name in tables and not tables[name].empty:
            body.append(f"<h2>Table: {name}</h2>" + table_html(tables[name], currency))
    body.append(_provenance_html(summary))
    return _page(f"accelplan plan: {instance.get('name') or directory.name}", body)


def render_scenario_report(summary: dict[str, Any], tables: dict[str, pd.DataFrame],
                           directory: Path) -> str:
    """A scenario plan: the shared first stage, each scenario, VSS and EVPI."""
    instance = summary.get("instance", {})
    currency = instance.get("currency", "")
    stochastic = summary["stochastic"]
    body = [f"<p class=note>instance {html.escape(str(instance.get('file', '')))}; "
            f"{len(stochastic['scenarios'])} scenarios; the first "
            f"{stochastic['commit_periods']} period(s) shared by all</p>",
            "<h2>Key figures (expected over the scenarios)</h2>", _kpi_table(summary)]
    for key in ("vss_note", "evpi_note"):
        if stochastic.get(key):
            body.append(f"<p class=note>{html.escape(stochastic[key])}</p>")
    body.append("<h2>Decided now (shared by every scenario): orders placed, rentals, builds "
                "and openings</h2>")
    first = tables.get("first_stage", pd.DataFrame())
    shown = first.dropna(axis=1, how="all") if len(first) else first
    body.append(table_html(shown, currency) if len(first) else
                "<p>nothing is decided now</p>")
    out = (summary.get("kpis") or {}).get("out_of_sample") or {}
    if out:
        text = (f"out of sample ({out['count']} futures of an independent draw, seed "
                f"{out['seed']}): mean NPV {out['mean']:,.0f} {currency}, 95 % confidence "
                f"interval {out['ci95_low']:,.0f} to {out['ci95_high']:,.0f}"
                if "mean" in out else f"out of sample: {out.get('note', 'not computed')}")
        if out.get("recourse"):
            text += f" ({out['recourse']})"
        body.append(f"<p class=note>{html.escape(text)}</p>")
    nodes = tables.get("nodes", pd.DataFrame())
    if len(nodes):
        body.append("<h2>Decisions per node of the tree</h2>"
                    + table_html(nodes.dropna(axis=1, how="all"), currency, limit=500))
    body.append("<h2>Scenarios</h2>" + table_html(pd.DataFrame(stochastic["scenarios"]),
                                                  currency))
    body += _figures_html(scenario_figures(summary, tables))
    body.append(_provenance_html(summary))
    return _page(f"accelplan scenario plan: {instance.get('name') or directory.name}", body)


def render_sweep_report(directory: Path) -> str:
    """The HTML text of a sweep directory's report."""
    frame = pd.read_csv(directory / "sweep.csv")
    planned = int(frame["status"].isin(["optimal", "feasible"]).sum())
    body = [f"<p>{len(frame)} variants, {planned} with a plan.</p>"]
    body += _figures_html(sweep_figures(frame))
    body.append("<h2>Variants</h2>" + table_html(frame, "", limit=500))
    return _page(f"accelplan sweep: {directory.name}", body)


def render_pareto_report(directory: Path) -> str:
    """The HTML text of a frontier directory's report: the frontier plot and its table."""
    frame = pd.read_csv(directory / "pareto.csv")
    planned = int(frame["status"].isin(["optimal", "feasible"]).sum())
    body = [f"<p>{len(frame)} points from the cheapest to the cleanest plan, {planned} with a "
            "plan.</p>" if "cvar_weight" not in frame else
            f"<p>{len(frame)} points from the risk-neutral plan (cvar_weight 0) to the least "
            f"CVaR (cvar_weight 1), {planned} with a plan.</p>"]
    body += _figures_html(pareto_figures(frame))
    body.append("<h2>Points</h2>" + table_html(frame, "", limit=500))
    return _page(f"accelplan cost against carbon: {directory.name}", body)


def render_ranges_report(directory: Path) -> str:
    """A ranges directory (``accelplan alternatives``): the range chart, the ranges (each
    end's status and gap; an unproven end's proven bound), the most even plans."""
    frame = pd.read_csv(directory / "ranges.csv")
    unproven = int((frame["min_status"] != "optimal").sum() + (frame["max_status"] != "optimal")
                   .sum())
    body = [f"<p>{len(frame)} ranges; {unproven} range end(s) not proven"
            + (": their cards are where the search stopped, the bound is as far as the truth "
               "can lie." if unproven else ".") + "</p>"]
    body += _figures_html(range_figures(frame))
    body.append("<h2>Ranges</h2>" + table_html(frame, "", limit=1000))
    if (directory / "diverse.csv").is_file():
        body.append("<h2>The most even plan within each slack</h2>"
                    + table_html(pd.read_csv(directory / "diverse.csv"), "", limit=100))
    return _page(f"accelplan near-optimal ranges: {directory.name}", body)


def write_report(directory: str | Path) -> Path:
    """Write ``report.html`` into a results or sweep directory; return its path."""
    directory = Path(directory)
    if (directory / "ranges.csv").is_file():
        text = render_ranges_report(directory)
    elif (directory / "sweep.csv").is_file():
        text = render_sweep_report(directory)
    elif (directory / "pareto.csv").is_file():
        text = render_pareto_report(directory)
    else:
        text = render_plan_report(directory)
    target = directory / REPORT_FILE
    write_file_atomically(target, text.encode("utf-8"))
    return target


def write_workbook(directory: str | Path) -> Path:
    """Write ``results.xlsx``: a sheet of key figures (numbers, with their units) and one
    sheet per table."""
    directory = Path(directory)
    if (directory / "ranges.csv").is_file():
        tables = {name: pd.read_csv(directory / f"{name}.csv") for name in ("ranges", "diverse")
                  if (directory / f"{name}.csv").is_file()}
        kpis = pd.DataFrame()
    elif (directory / "sweep.csv").is_file():
        tables = {"sweep": pd.read_csv(directory / "sweep.csv")}
        kpis = pd.DataFrame()
    elif (directory / "pareto.csv").is_file():
        tables = {"pareto": pd.read_csv(directory / "pareto.csv")}
        kpis = pd.DataFrame()
    else:
        summary, tables = _read(directory)
        kpis = pd.DataFrame(kpi_figures(summary), columns=["figure", "value", "unit"])
        made_from = pd.DataFrame(provenance(summary), columns=["what", "value"])
    target = directory / WORKBOOK_FILE
    staging = target.with_name(f".{target.name}.tmp.xlsx")
    with pd.ExcelWriter(staging, engine="openpyxl") as writer:
        if not kpis.empty:
            kpis.to_excel(writer, sheet_name="kpis", index=False)
            made_from.to_excel(writer, sheet_name="made_from", index=False)
        for name, frame in tables.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    os.replace(staging, target)
    return target
