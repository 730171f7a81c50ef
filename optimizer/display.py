"""Readable terminal output (rich tables) for the CLI."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=120)


def print_description(description: dict[str, Any]) -> None:
    """Print what an instance holds (``accelplan validate``)."""
    console = _console()
    console.print(f"[bold]{description['name'] or description['file']}[/bold]: valid "
                  f"({description['file']})")
    console.print(f"periods: {', '.join(description['periods'])} "
                  f"({description['period_years']:g} year each, discount rate "
                  f"{description['discount_rate']:.1%})")
    table = Table(title="Workloads", title_justify="left")
    for column in ("workload", "regions", "peak/avg", "total tokens", "tokens/day (last period)"):
        table.add_column(column, justify="right" if column not in ("workload", "regions") else "left")
    for w in description["workloads"]:
        table.add_row(w["workload"], ", ".join(w["regions"]), f"{w['peak_to_average']:g}",
                      f"{w['total_tokens']:.3g}", f"{w['tokens_per_day_last_period']:.3g}")
    console.print(table)
    table = Table(title="Accelerators by vendor", title_justify="left")
    table.add_column("vendor")
    table.add_column("accelerators")
    for vendor, names in description["accelerators_by_vendor"].items():
        table.add_row(vendor, ", ".join(names))
    console.print(table)
    table = Table(title="Sites", title_justify="left")
    for column in ("site", "region", "open", "grid MW", "max cards", "cooling", "existing IT MW",
                   "existing cards"):
        table.add_column(column)
    for s in description["sites"]:
        grid = (f"{s['grid_mw_min']:g}" if s["grid_mw_min"] == s["grid_mw_max"]
                else f"{s['grid_mw_min']:g}-{s['grid_mw_max']:g}")
        table.add_row(s["site"], s["region"], "yes" if s["open"] else "may open", grid,
                      f"{s['max_cards']:,}", ", ".join(s["cooling"]), f"{s['existing_it_mw']:g}",
                      f"{s['existing_cards']:,}")
    console.print(table)
    if description["scenarios"]:
        console.print(f"scenarios: {', '.join(description['scenarios'])}")


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    for unit, label in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= unit:
            return f"{value / unit:,.2f} {label} {currency}"
    return f"{value:,.2f} {currency}"


def print_plan(plan: Any, output: str | None) -> None:
    """Print a solved plan: KPIs, fleet by vendor per period, sites against caps, solver."""
    console = _console()
    summary = plan.summary
    currency = summary["instance"]["currency"]
    kpis = summary.get("kpis", {})
    status = summary["status"]
    gap = summary.get("mip_gap")
    console.print(f"[bold]{summary['instance']['name'] or summary['instance']['file']}[/bold]: "
                  f"{status}" + (f" (gap {gap:.3%})" if gap is not None else ""))
    if not plan.status.has_plan:
        console.print("no plan was found within the limits")
        return
    table = Table(title="Key figures", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("NPV of total cost of ownership", _money(kpis.get("npv_total"), currency))
    cpm = kpis.get("cost_per_million_tokens")
    table.add_row("cost per million tokens (levelised)",
                  f"{cpm:,.4f} {currency}" if cpm is not None else "-")
    table.add_row("capex (undiscounted)", _money(kpis.get("capex_total"), currency))
    table.add_row("opex (undiscounted)", _money(kpis.get("opex_total"), currency))
    table.add_row("salvage at horizon end", _money(kpis.get("salvage_total"), currency))
    table.add_row("cards in the last period", f"{kpis.get('cards_final_period', 0):,}")
    for tag, share in kpis.get("tag_shares_final_period", {}).items():
        table.add_row(f"share of {tag} cards (last period)", f"{share:.1%}")
    if kpis.get("unmet_tokens_total"):
        table.add_row("tokens not served", f"{kpis['unmet_tokens_total']:.3g}")
    console.print(table)

    fleet = plan.tables["fleet"]
    if len(fleet):
        pivot = fleet.pivot_table(index="vendor", columns="period", values="cards",
                                  aggfunc="sum", fill_value=0)
        table = Table(title="Installed cards by vendor", title_justify="left")
        table.add_column("vendor")
        for period in pivot.columns:
            table.add_column(str(period), justify="right")
        for vendor, row in pivot.iterrows():
            table.add_row(str(vendor), *(f"{int(v):,}" for v in row))
        console.print(table)

    sites = plan.tables["sites"]
    grouped = sites.groupby(["site", "period"], sort=False).agg(
        facility_mw=("facility_mw", "sum"), facility_mw_used=("facility_mw_used", "sum"),
        grid_mw=("grid_mw", "first"), cards=("cards", "sum"), max_cards=("max_cards", "first"))
    table = Table(title="Sites: facility MW (provisioned / used) against grid cap, cards against "
                  "max", title_justify="left")
    for column in ("site", "period", "facility MW", "used MW", "grid MW", "cards", "max cards"):
        table.add_column(column, justify="left" if column in ("site", "period") else "right")
    for (site, period), row in grouped.iterrows():
        table.add_row(site, str(period), f"{row.facility_mw:,.2f}", f"{row.facility_mw_used:,.2f}",
                      f"{row.grid_mw:,.2f}", f"{int(row.cards):,}", f"{int(row.max_cards):,}")
    console.print(table)

    marginal = plan.tables.get("marginal_costs")
    if marginal is not None and len(marginal):
        pivot = marginal.pivot_table(index="workload", columns="period",
                                     values="cost_per_million_tokens", aggfunc="first")
        table = Table(title=f"Marginal cost of one more million tokens ({currency}, money of "
                      "each period)", title_justify="left")
        table.add_column("workload")
        for period in pivot.columns:
            table.add_column(str(period), justify="right")
        for workload, row in pivot.iterrows():
            table.add_row(str(workload), *("-" if v != v else f"{v:,.4f}" for v in row))
        console.print(table)
    top = summary.get("binding_top") or []
    if top:
        console.print("[bold]Binding caps[/bold] (see binding.csv):")
        for message in top:
            console.print(f"  {message}")

    model = summary.get("model", {})
    console.print(f"solver: HiGHS {summary['solver']['version']}, {model.get('rows', 0):,} rows, "
                  f"{model.get('columns', 0):,} columns, {model.get('integers', 0):,} integers; "
                  f"build {summary['build_seconds']:.2f} s, hand-over "
                  f"{summary['transfer_seconds']:.2f} s, solve {summary['solve_seconds']:.2f} s")
    if output:
        console.print(f"results written to {output}/")
