"""Readable terminal output (rich tables) for the CLI."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.table import Table

from optimizer.analysis.actions import first_actions, rented_against_owned
from optimizer.analysis.units import count, money, percent


def _console() -> Console:
    """A console as wide as the terminal (or ``COLUMNS``; 100 when the output is a file)."""
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in __import__("os").environ:
        console = Console(highlight=False, soft_wrap=False, width=100)
    return console


SHOWN_ROWS = 10
"""Rows of a long table printed in the summary (the rest are in the CSV files)."""


def _span(periods: list[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}-{periods[-1]}"


def _shown_periods(console: Console, periods: list[str], label_width: int) -> list[str]:
    """The period columns that fit the console: all, or evenly spaced ones and the last."""
    room = max(console.width - label_width - 4, 10)
    fits = max(room // 11, 2)
    if len(periods) <= fits:
        return periods
    step = -(-len(periods) // fits)
    chosen = periods[::step]
    if chosen[-1] != periods[-1]:
        chosen = chosen[:-1] + [periods[-1]]
    return chosen


def _more(console: Console, hidden: int, what: str, where: str) -> None:
    if hidden > 0:
        console.print(f"  ... and {hidden:,} more {what} (see {where})")


def print_description(description: dict[str, Any]) -> None:
    """Print what an instance holds (``accelplan validate``)."""
    console = _console()
    console.print(f"[bold]{description['name'] or description['file']}[/bold]: valid "
                  f"({description['file']})", markup=True)
    for warning in description.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
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
    _print_procurement(console, description.get("procurement") or {})
    _print_energy(console, description.get("energy") or {})


def _print_energy(console: Console, energy: dict) -> None:
    """Grid carbon, water and supply contracts per site; the carbon price and cap."""
    if energy.get("sites"):
        table = Table(title="Energy, carbon and water", title_justify="left")
        for column in ("site", "grid kg CO2/MWh", "WUE L/kWh", "water price/m3",
                       "water cap m3/year", "supply contracts"):
            table.add_column(column)
        for row in energy["sites"]:
            low, high = row["grid_carbon_kg_per_mwh"]
            table.add_row(row["site"], f"{low:g}" if low == high else f"{low:g}-{high:g}",
                          _cell(row["wue_l_per_kwh"]) or "-", f"{row['water_price_per_m3']:g}",
                          _cell(row["max_water_m3_per_year"]),
                          "; ".join(f"{p}: {c['max_mw']:g} MW x {c['capacity_factor']:g} at "
                                    f"{c['price_per_mwh']:g}/MWh, {c['carbon_kg_per_mwh']:g} kg"
                                    for p, c in row["ppa"].items()) or "-")
        console.print(table)
    for key, label in (("carbon_price_per_t", "carbon price per tonne"),
                       ("carbon_cap_t_per_year", "carbon cap, tonnes a year")):
        if energy.get(key) is not None:
            console.print(f"{label}: {_cell(energy[key])}")


def _print_procurement(console: Console, procurement: dict) -> None:
    """Orders on the way, lead times and deposits, rentals, bans and tariffs, memory fit."""
    rows = {
        "Orders on the way": (("site", "accelerator", "cooling", "cards", "arrives"),
                              procurement.get("on_order", [])),
        "Lead times and deposits": (("accelerator", "lead_time_periods", "deposit_fraction"),
                                    procurement.get("lead_times", [])),
        "Rentals": (("rental", "accelerator", "region", "price_per_card_hour", "max_cards"),
                    procurement.get("rentals", [])),
        "Bans and tariffs in force": (("rule", "accelerators", "from", "installed", "rate"),
                                      procurement.get("rules", [])),
        "Pairs dropped by memory fit (model does not fit)": (
            ("accelerator", "workload", "memory_gb", "scale_up_cards", "model_memory_gb"),
            procurement.get("memory_dropped", [])),
    }
    for title, (columns, entries) in rows.items():
        if not entries:
            continue
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column.replace("_", " "))
        for entry in entries:
            table.add_row(*(_cell(entry.get(column)) for column in columns))
        console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:g}" if isinstance(v, (int, float)) else f"{k}: {v}"
                         for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _money(value: float | None, currency: str) -> str:
    return money(value, currency)


def print_plan(plan: Any, output: str | None) -> None:
    """Print a solved plan as a planner reads it: what to do first (orders, cooling builds,
    openings), the key figures with their units and time span, the fleet by vendor, the sites
    against their caps, marginal costs and what makes them jump, binding caps, the solver."""
    console = _console()
    summary = plan.summary
    currency = summary.get("instance", {}).get("currency", "")
    status = summary["status"]
    gap = summary.get("mip_gap")
    name = summary["instance"]["name"] or summary["instance"]["file"]
    headline = f"[bold]{name}[/bold]: {status}"
    if gap is not None:
        headline += f" within {gap:.3%} of the proven bound"
    if summary.get("interrupted"):
        headline += " [bold red](interrupted: the best plan found so far)[/bold red]"
    console.print(headline)
    if not plan.status.has_plan:
        reason = (summary.get("stochastic") or {}).get("reason")
        console.print(f"no plan was found: {reason}" if reason
                      else "no plan was found within the limits")
        return
    if "stochastic" in summary:
        _print_stochastic(console, plan, currency)
        if output is not None:
            console.print(f"results written to {output}/ (first_stage.csv, scenarios.csv, "
                          "and each table with a scenario column)")
        return
    periods = [str(p) for p in plan.tables["costs"]["period"]]
    if summary.get("replan"):
        _print_replan(console, summary["replan"])
    _print_actions(console, plan.tables, periods, currency)
    _print_key_figures(console, summary.get("kpis", {}), periods, currency)
    _print_fleet(console, plan.tables, periods)
    _print_sites(console, plan.tables, periods)
    _print_marginal(console, plan.tables, periods, currency)
    _print_carbon(console, plan.tables, currency)
    for sentence in summary.get("marginal_cost_jumps") or []:
        console.print(f"  {sentence}")
    top = summary.get("binding_top") or []
    if top:
        console.print("[bold]Binding caps[/bold] (all in binding.csv):")
        for message in top:
            console.print(f"  {message}")
    if summary.get("explain_note"):
        console.print(summary["explain_note"])
    model = summary.get("model", {})
    console.print(f"solver: HiGHS {summary['solver']['version']}, {model.get('rows', 0):,} rows, "
                  f"{model.get('columns', 0):,} columns, {model.get('integers', 0):,} integers; "
                  f"build {summary['build_seconds']:.2f} s, hand-over "
                  f"{summary['transfer_seconds']:.2f} s, solve {summary['solve_seconds']:.2f} s"
                  f"; {summary['solver'].get('model_status', '')}")
    if output:
        console.print(f"results written to {output}/")


def _print_replan(console: Console, replan: dict) -> None:
    """What became fact before the new horizon, and the orders that changed."""
    fixed = replan.get("fixed", {})
    console.print(f"[bold]Re-planned from {replan['from']}[/bold]: fact before it: "
                  f"{fixed.get('delivered_cards', 0):,} cards delivered, "
                  f"{fixed.get('on_order_cards', 0):,} on order, "
                  f"{fixed.get('built_mw', 0.0):,.2f} MW of cooling built, sites opened: "
                  f"{', '.join(fixed.get('opened_sites', [])) or 'none'}")
    changes = replan.get("changes", [])
    if not changes:
        console.print("  orders from then on: as in the previous plan")
        return
    table = Table(title="Orders changed against the previous plan", title_justify="left")
    for column in ("order period", "accelerator", "site", "cooling", "before", "now"):
        table.add_column(column, justify="right" if column in ("before", "now") else "left")
    for row in changes[:SHOWN_ROWS]:
        table.add_row(row["order_period"], row["accelerator"], row["site"], row["cooling"],
                      f"{row['cards_before']:,}", f"{row['cards_now']:,}")
    console.print(table)
    _more(console, len(changes) - SHOWN_ROWS, "changed orders", "summary.json")
    if replan.get("changes_note"):
        console.print(f"  {replan['changes_note']}")


def _print_actions(console: Console, tables: dict, periods: list[str], currency: str) -> None:
    actions = first_actions(tables, periods)
    if actions.period is None:
        console.print("[bold]What to do[/bold]: nothing to order, rent, build or open over "
                      f"{_span(periods)}")
        return
    title = f"What to do in {actions.period}" if actions.now else (
        f"Nothing to do in {actions.first_period}; first actions in {actions.period}")
    console.print(f"[bold]{title}[/bold]")
    if actions.orders:
        table = Table(title=f"Order ({actions.period})", title_justify="left")
        staged = any(str(row.get("delivery_period", actions.period)) != actions.period
                     or row.get("balance", 0) > 0 for row in actions.orders)
        columns = ["accelerator", "vendor", "site", "cooling", "cards"] + (
            ["delivered", f"due {actions.period}", "due on delivery"] if staged else ["money"])
        for column in columns:
            table.add_column(column, justify="left" if column in (
                "accelerator", "vendor", "site", "cooling") else "right")
        for row in actions.orders[:SHOWN_ROWS]:
            cells = [row["accelerator"], row["vendor"], row["site"], row["cooling"],
                     f"{int(row['cards']):,}"]
            cells += ([str(row["delivery_period"]), money(row["deposit"], currency),
                       money(row["balance"], currency)] if staged
                      else [money(row["capex"], currency)])
            table.add_row(*cells)
        console.print(table)
        _more(console, len(actions.orders) - SHOWN_ROWS, "orders", "purchases.csv")
    else:
        console.print(f"  no cards to order in {actions.period}")
    for build in actions.builds[:SHOWN_ROWS]:
        console.print(f"  build {build['it_mw']:,.2f} MW of {build['cooling']} cooling at "
                      f"{build['site']} ({money(build['capex'], currency)})")
    _more(console, len(actions.builds) - SHOWN_ROWS, "cooling builds", "builds.csv")
    for opening in actions.openings:
        console.print(f"  open {opening['site']} ({money(opening['open_cost'], currency)})")
    for rental in actions.rentals[:SHOWN_ROWS]:
        console.print(f"  rent {int(round(rental['cards'])):,} {rental['accelerator']} cards "
                      f"({rental['rental']}, {money(rental['cost'], currency)} in "
                      f"{actions.period})")
    _more(console, len(actions.rentals) - SHOWN_ROWS, "rentals", "rentals.csv")
    rented = rented_against_owned(tables)
    if len(rented):
        table = Table(title="Rented against owned cards", title_justify="left")
        for column in ("period", "owned", "rented", "rented share"):
            table.add_column(column, justify="right")
        for row in rented.itertuples():
            table.add_row(row.period, f"{int(row.cards_owned):,}", f"{int(row.cards_rented):,}",
                          percent(row.rented_share))
        console.print(table)


def _print_key_figures(console: Console, kpis: dict, periods: list[str], currency: str) -> None:
    span, last = _span(periods), periods[-1]
    table = Table(title="Key figures", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(f"NPV of total cost of ownership, {span}", money(kpis.get("npv_total"),
                                                                    currency))
    cpm = kpis.get("cost_per_million_tokens")
    table.add_row(f"cost per million tokens served (levelised), {span}",
                  "-" if cpm is None else f"{cpm:,.4f} {currency}")
    table.add_row(f"capex {span} (undiscounted)", money(kpis.get("capex_total"), currency))
    table.add_row(f"opex {span} (undiscounted)", money(kpis.get("opex_total"), currency))
    if kpis.get("unmet_cost_total"):
        table.add_row(f"penalty for tokens not served, {span}",
                      money(kpis["unmet_cost_total"], currency))
    table.add_row(f"salvage at the end of {last}", money(kpis.get("salvage_total"), currency))
    table.add_row(f"tokens served, {span}", f"{count(kpis.get('tokens_served_total'))} tokens")
    if kpis.get("unmet_tokens_total"):
        table.add_row(f"tokens not served, {span}",
                      f"{count(kpis['unmet_tokens_total'])} tokens")
    table.add_row(f"cards installed in {last}", f"{kpis.get('cards_final_period', 0):,.0f}")
    for tag, share in (kpis.get("tag_shares_final_period") or {}).items():
        table.add_row(f"share of {tag} cards in {last}", percent(share))
    if kpis.get("emissions_note"):
        table.add_row(f"CO2 emitted, {span}", kpis["emissions_note"])
    if kpis.get("emissions_total_t") is not None:
        table.add_row(f"CO2 emitted, {span}", f"{count(kpis['emissions_total_t'])} t")
        table.add_row(f"CO2 a year in {last}",
                      f"{count(kpis['emissions_final_period_t_per_year'])} t")
        if kpis.get("carbon_cost_total"):
            table.add_row(f"carbon cost, {span}", money(kpis["carbon_cost_total"], currency))
        if kpis.get("water_total_m3"):
            table.add_row(f"water used, {span}", f"{count(kpis['water_total_m3'])} m3")
    console.print(table)


def _print_carbon(console: Console, tables: dict, currency: str) -> None:
    """The marginal carbon cost: the carbon cap's shadow price where it binds."""
    binding = tables.get("binding")
    if binding is None or not len(binding) or "constraint" not in binding:
        return
    rows = binding[binding["constraint"] == "carbon_cap"]
    for row in rows.itertuples():
        if row.shadow_price == row.shadow_price and row.shadow_price is not None:
            console.print(f"marginal carbon cost in {row.period}: {money(row.shadow_price)} "
                          f"{currency} per tonne (the carbon cap binds)")


def _print_fleet(console: Console, tables: dict, periods: list[str]) -> None:
    fleet = tables["fleet"]
    if not len(fleet):
        return
    pivot = fleet.pivot_table(index="vendor", columns="period", values="cards",
                              aggfunc="sum", fill_value=0)
    shown = [p for p in _shown_periods(console, periods, 14) if p in pivot.columns]
    table = Table(title="Installed cards by vendor", title_justify="left",
                  caption=None if len(shown) == len(periods) else
                  f"{len(shown)} of {len(periods)} periods shown (all in fleet.csv)")
    table.add_column("vendor")
    for period in shown:
        table.add_column(str(period), justify="right")
    for vendor, row in pivot.iterrows():
        table.add_row(str(vendor), *(f"{int(row[p]):,}" for p in shown))
    console.print(table)


def _print_sites(console: Console, tables: dict, periods: list[str]) -> None:
    sites = tables["sites"]
    last = periods[-1]
    final = sites[sites["period"].astype(str) == last].groupby("site").agg(
        facility_mw=("facility_mw", "sum"), used_mw=("facility_mw_used", "sum"),
        grid_mw=("grid_mw", "first"), cards=("cards", "sum"), max_cards=("max_cards", "first"))
    final = final.sort_values("facility_mw", ascending=False)
    table = Table(title=f"Sites in {last} against their caps (facility MW provisioned and "
                        "used, at the meter)", title_justify="left")
    for column in ("site", "facility MW", "used MW", "grid MW", "cards", "max cards"):
        table.add_column(column, justify="left" if column == "site" else "right")
    for site, row in final.head(SHOWN_ROWS).iterrows():
        table.add_row(str(site), f"{row.facility_mw:,.2f}", f"{row.used_mw:,.2f}",
                      f"{row.grid_mw:,.2f}", f"{int(row.cards):,}", f"{int(row.max_cards):,}")
    console.print(table)
    _more(console, len(final) - SHOWN_ROWS, "sites", "sites.csv")


def _print_marginal(console: Console, tables: dict, periods: list[str], currency: str) -> None:
    marginal = tables.get("marginal_costs")
    if marginal is None or not len(marginal):
        return
    shown = _shown_periods(console, periods, 30)
    table = Table(title=f"Marginal cost of one more million tokens ({currency}, money of "
                        "each period)", title_justify="left")
    table.add_column("workload")
    for period in shown:
        table.add_column(str(period), justify="right")
    for workload, rows in marginal.groupby("workload"):
        by_period = rows.set_index(rows["period"].astype(str))
        for column, label in (("cost_per_million_tokens_long_run", "capacity may grow"),
                              ("cost_per_million_tokens", "fleet as planned")):
            values = [by_period[column].get(p) for p in shown]
            table.add_row(f"{workload} ({label})", *(
                "-" if v is None or v != v else f"{v:,.4f}" for v in values))
    console.print(table)


@contextlib.contextmanager
def sweep_progress(total: int, enabled: bool = True, label: str = "sweep"
                   ) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal): solves done, elapsed and time left;
    yields the callback the sweep (or frontier) calls."""
    stderr = Console(stderr=True)
    if not enabled or not stderr.is_terminal:
        yield lambda done, of: None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), console=stderr,
                  transient=True) as progress:
        task = progress.add_task("variants", total=total)
        yield lambda done, of: progress.update(task, completed=done)


def print_sweep(frame: Any, paths: list[str], output: str) -> None:
    """Print the sweep table: varied values, status, NPV, cost per million tokens, gap, time."""
    console = _console()
    table = Table(title=f"Sweep: {len(frame)} variants", title_justify="left")
    columns = ["variant", *paths, "status", "npv", "cost_per_million_tokens", "mip_gap", "seconds"]
    for column in columns:
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            value = row.get(column)
            if value is None or (isinstance(value, float) and value != value):
                cells.append("-")
            elif column == "npv":
                cells.append(f"{value:,.0f}")
            elif column in ("cost_per_million_tokens",):
                cells.append(f"{value:.4f}")
            elif column == "mip_gap":
                cells.append(f"{value:.2%}")
            elif column == "seconds":
                cells.append(f"{value:.2f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)
    failed = frame[~frame["status"].isin(["optimal", "feasible"])]
    for _, row in failed.iterrows():
        reason = row.get("explanation") if isinstance(row.get("explanation"), str) else row.get("error")
        console.print(f"variant {row['variant']}: {row['status']}: {reason}")
    console.print(f"written to {output}/sweep.csv and {output}/variants/")


def print_comparison(comparison: dict[str, Any]) -> None:
    """Print KPIs side by side with deltas, and purchases and sites that changed."""
    console = _console()
    console.print(f"A: {comparison['a']} ({comparison['status']['a']})   "
                  f"B: {comparison['b']} ({comparison['status']['b']})")
    table = Table(title="Key figures", title_justify="left")
    for column in ("kpi", "A", "B", "B - A", "change"):
        table.add_column(column, justify="left" if column == "kpi" else "right")

    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float) and abs(value) < 100:
            return f"{value:,.4f}"
        return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)
    for row in comparison["kpis"]:
        relative = row["relative"]
        table.add_row(row["kpi"], fmt(row["a"]), fmt(row["b"]), fmt(row["delta"]),
                      "-" if relative is None else f"{relative:+.1%}")
    console.print(table)
    for label, reasons in (comparison.get("no_plan") or {}).items():
        console.print(f"{label.upper()} has no plan ({comparison['status'][label]}), so "
                      "purchases and sites are not compared; what would have to give:")
        for reason in reasons:
            console.print(f"  - {reason}")
    if comparison.get("no_plan"):
        return
    for name, title, value in (("purchases", "Purchases that changed (cards)", "cards"),
                               ("sites", "Cooling capacity that changed (IT MW)", "MW")):
        rows = comparison[name]
        if not rows:
            console.print(f"{title}: none")
            continue
        table = Table(title=title, title_justify="left")
        keys = [k for k in rows[0] if k not in ("a", "b", "delta")]
        for column in keys + ["A", "B", "B - A"]:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(row[k]) for k in keys), f"{row['a']:,.6g}", f"{row['b']:,.6g}",
                          f"{row['delta']:+,.6g}")
        console.print(table)


def _text(value: Any) -> str:
    """A table cell: empty for a missing value (NaN from a table read back)."""
    return "" if value is None or value != value else str(value)


def first_stage_cells(row: dict[str, Any], currency: str) -> list[str]:
    """One first-stage decision as the cells a planner reads: decision, period, what, where,
    amount, capex and (an order's) delivery."""
    kind = row.get("decision", "order")
    if kind == "order":
        what, where = _text(row.get("accelerator")), f"{row['site']} ({row['cooling']})"
        amount = f"{int(row['cards']):,} cards"
    elif kind == "rental":
        what, where = _text(row.get("accelerator")), _text(row.get("rental"))
        amount = f"{int(row['cards']):,} cards rented"
    elif kind == "build":
        what, where = f"{row['cooling']} cooling", _text(row.get("site"))
        amount = f"{float(row['it_mw']):,.3g} MW"
    else:
        what, where, amount = "site opening", _text(row.get("site")), ""
    capex = row.get("capex")
    arrives = _text(row.get("delivery_period")) if kind == "order" else ""
    return [kind, _text(row.get("period")), what, where, amount,
            "" if capex is None or capex != capex else _money(capex, currency), arrives]


def _print_stochastic(console: Console, plan: Any, currency: str) -> None:
    """First-stage plan, each scenario's NPV, expected NPV, VSS and EVPI."""
    st = plan.summary["stochastic"]
    table = Table(title="Stochastic plan", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("expected NPV (probability-weighted)", _money(st["expected_npv"], currency))
    table.add_row(f"first-stage capex (periods 1..{st['commit_periods']})",
                  _money(st["first_stage_capex"], currency))
    for key, label in (("ev_npv", "mean-demand plan's own NPV (EV)"),
                       ("eev", "expected NPV committing to the mean plan (EEV)"),
                       ("vss", "value of the stochastic solution (EEV - SP)"),
                       ("ws", "expected NPV with perfect information (WS)"),
                       ("evpi", "expected value of perfect information (SP - WS)")):
        if st.get(key) is not None:
            table.add_row(label, _money(st[key], currency))
    if st.get("vss_note"):
        table.add_row("VSS", st["vss_note"])
    risk = st.get("risk") or {}
    if risk.get("cvar_npv") is not None:
        alpha = risk.get("alpha", 0.9)
        table.add_row(f"VaR / CVaR at alpha {alpha:g} (NPV)",
                      f"{_money(risk['var_npv'], currency)} / {_money(risk['cvar_npv'], currency)}")
        table.add_row("worst / best NPV", f"{_money(risk['worst_npv'], currency)} / "
                      f"{_money(risk['best_npv'], currency)}")
    out = st.get("out_of_sample") or {}
    if out:
        table.add_row(f"out of sample ({out['count']} futures, seed {out['seed']})",
                      f"{_money(out['mean'], currency)} (95 % CI {_money(out['ci95_low'], currency)}"
                      f" to {_money(out['ci95_high'], currency)})" if "mean" in out
                      else out.get("note", "not computed"))
    if st.get("tree"):
        tree = st["tree"]
        table.add_row("scenario tree", f"stages {', '.join(tree['stages'])}; branching "
                      f"{tree['branching']}; {tree['nodes']} nodes (nodes.csv)")
    console.print(table)
    first = plan.tables["first_stage"]
    table = Table(title="Decided now (shared by every scenario): orders placed, rentals, "
                        "builds and openings", title_justify="left")
    for column in ("decision", "period", "what", "where", "amount", "capex", "arrives"):
        table.add_column(column, justify="right" if column in ("amount", "capex") else "left")
    for row in first.to_dict("records"):
        table.add_row(*first_stage_cells(row, currency))
    if first.empty:
        table.add_row("-", "", "nothing is decided now", "", "", "", "")
    console.print(table)
    table = Table(title="Scenarios: recourse and NPV", title_justify="left")
    for column in ("scenario", "probability", "demand (x forecast)", "NPV",
                   "cards (last period)", "cost per million tokens"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in st["scenarios"]:
        cpm = row["cost_per_million_tokens"]
        ratio = row.get("demand_vs_instance")
        table.add_row(row["scenario"], f"{row['probability']:.2f}",
                      "-" if ratio is None else f"{ratio:.2f}",
                      _money(row["npv"], currency), f"{row['cards_final_period']:,}",
                      "-" if cpm is None else f"{cpm:.4f}")
    console.print(table)
    summary = plan.summary
    if st.get("method") == "decomposed":
        tried = ", ".join(f"{c['source']} {_money(c['expected_npv'], currency)}"
                          if c["expected_npv"] is not None else f"{c['source']} {c['outcome']}"
                          for c in st["candidates"])
        proven = (st.get("bound_note", "no proven bound") if st["lower_bound"] is None else
                  f"proven bound {_money(st['lower_bound'], currency)} "
                  f"({'wait and see' if st.get('bundle_size') == 1 else 'bundles'}), gap "
                  f"{st['gap']:.3%}")
        without = st.get("bundles_without_plan")
        console.print(f"scenario decomposition: {st['solves']} solves on {st['workers']} "
                      f"worker(s) in {summary.get('solve_seconds_total', 0):.2f} s; {proven}; "
                      + (f"bundles without a plan: {'; '.join(without)}; "
                         if without else "")
                      + (f"failed solves: {'; '.join(st['failed_solves'])}; "
                         if st.get("failed_solves") else "") + f"first stages tried: {tried}")
        return
    model = summary.get("model", {})
    console.print(f"extensive form: {model.get('rows', 0):,} rows, {model.get('columns', 0):,} "
                  f"columns, {model.get('integers', 0):,} integers; solve "
                  f"{summary['solve_seconds']:.2f} s; all solves "
                  f"{summary.get('solve_seconds_total', 0):.2f} s")


def print_pareto(frame: Any, output: str) -> None:
    """The cost-against-carbon frontier (or expected NPV against CVaR), a row a point."""
    console = _console()
    if "cvar_weight" in frame:
        table = Table(title="Expected NPV against CVaR (risk-neutral first)",
                      title_justify="left")
        for column in ("point", "cvar weight", "expected NPV", "CVaR", "worst NPV", "status"):
            table.add_column(column, justify="left" if column == "status" else "right")

        def shown(value: Any) -> str:
            return "-" if value is None or value != value else money(value)
        for row in frame.itertuples():
            table.add_row(str(row.point), f"{row.cvar_weight:.3g}", shown(row.expected_npv),
                          shown(row.cvar_npv), shown(row.worst_npv), str(row.status))
        console.print(table)
        console.print(f"results written to {output}/ (pareto.csv, points/)")
        return
    table = Table(title="Cost against carbon (cheapest first)", title_justify="left")
    for column in ("point", "emissions cap t", "emissions t", "NPV", "cost per M tokens",
                   "status"):
        table.add_column(column, justify="left" if column == "status" else "right")
    for row in frame.itertuples():
        cap = "none" if row.emissions_cap_t is None or row.emissions_cap_t != row.emissions_cap_t \
            else count(row.emissions_cap_t)
        table.add_row(str(row.point), cap, count(row.emissions_total_t), money(row.npv_total),
                      "-" if row.cost_per_million_tokens is None
                      or row.cost_per_million_tokens != row.cost_per_million_tokens
                      else f"{row.cost_per_million_tokens:.4f}", str(row.status))
    console.print(table)
    console.print(f"results written to {output}/ (pareto.csv, points/)")


def print_ranges(frame: Any, output: str) -> None:
    """Near-optimal ranges: a row per slack and member, min and max cards with their NPVs;
    an unproven end shows its proven bound beside it."""
    console = _console()
    table = Table(title="Near-optimal ranges: cards installed within each slack of the optimum",
                  title_justify="left")
    for column in ("slack", "group", "member", "optimum", "least", "most", "NPV at least",
                   "NPV at most", "status"):
        table.add_column(column, justify="left" if column in ("group", "member", "status")
                         else "right")

    def cards(value: Any, bound: Any, proven: bool) -> str:
        if value is None or value != value:
            return "-"
        if proven or bound is None or bound != bound:
            return count(value)
        return f"{count(value)} (bound {count(bound)})"
    unproven = 0
    for row in frame.to_dict("records"):
        low_ok, high_ok = row["min_status"] == "optimal", row["max_status"] == "optimal"
        unproven += (not low_ok) + (not high_ok)
        status = str(row["status"]) + ("" if row["status"] == "optimal" or row["gap"] is None
                                       or row["gap"] != row["gap"]
                                       else f" (gap {percent(row['gap'])})")
        table.add_row(f"{row['slack']:.3g}", str(row["group"]), _text(row["member"]),
                      count(row["optimum_cards"]),
                      cards(row["min_cards"], row["min_cards_bound"], low_ok),
                      cards(row["max_cards"], row["max_cards_bound"], high_ok),
                      money(row["npv_at_min"]), money(row["npv_at_max"]), status)
    console.print(table)
    if unproven:
        console.print(f"  {unproven} range end(s) not proven: their cards are where the search "
                      "stopped, the bound is as far as the truth can lie")
    even = frame.attrs.get("diverse")
    if even is not None and len(even):
        table = Table(title=f"The most even plan by {even['group'].iloc[0]} within each slack",
                      title_justify="left")
        for column in ("slack", "largest share", "optimum's", "no plan below", "NPV", "compare"):
            table.add_column(column, justify="left" if column == "compare" else "right")
        for row in even.to_dict("records"):
            below = row["proven_below"]
            table.add_row(f"{row['slack']:.3g}", percent(row["largest_share"]),
                          percent(row["optimum_largest_share"]),
                          "unproven" if below is None or below != below else percent(below),
                          money(row["npv_total"]),
                          f"accelplan compare {output}/optimum {output}/{row['results_dir']}")
        console.print(table)
    console.print(f"results written to {output}/ (ranges.csv, optimum/, ends/"
                  + (", diverse.csv, diverse/" if even is not None else "") + ")")


def print_contingencies(frame: Any, currency: str, output: str) -> None:
    """A row per lost vendor: what it costs from its period on, or what goes unserved."""
    console = _console()
    table = Table(title="Losing a vendor: the optimum's earlier decisions stand, the rest "
                  "re-optimised", title_justify="left")
    for column in ("vendor", "from", "on order", "extra cost", "unserved tokens/day",
                   "buy instead", "status"):
        table.add_column(column, justify="left" if column in (
            "vendor", "on order", "buy instead", "status") else "right")
    for row in frame.to_dict("records"):
        extra = row["extra_cost"]
        unmet = row["unmet_tokens_per_day"]
        table.add_row(_text(row["vendor"]), str(row["from"]), str(row["on_order"]),
                      "no plan" if extra is None or extra != extra else money(extra, currency),
                      "-" if unmet is None or unmet != unmet else count(unmet),
                      _text(row["buy_instead"]), str(row["status"]))
    console.print(table)
    for row in frame.to_dict("records"):
        extra, unmet = row["extra_cost"], row["unmet_tokens_per_day"]
        if extra is not None and extra == extra:
            console.print(f"  losing {row['vendor']} from {row['from']} costs "
                          f"{money(extra, currency)} (NPV from {row['from']} on)")
        elif unmet is not None and unmet == unmet:
            console.print(f"  losing {row['vendor']} from {row['from']} leaves "
                          f"{count(unmet)} tokens a day unserved (on average from then on)")
    console.print(f"results written to {output}/ (contingency.csv, optimum/, base-*/, lose-*/)")


def print_hedge(hedge: Any, currency: str) -> None:
    """The hedge against the optimum's first stage, scenario by scenario."""
    console = _console()
    if not hedge.plan.status.has_plan:
        console.print("  the hedge found no plan")
        return
    table = Table(title="A first stage hedged against the contingencies", title_justify="left")
    for column in ("scenario", "probability", "NPV with the hedge",
                   "NPV with the optimum's first stage", "the hedge saves"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in hedge.rows:
        table.add_row(_text(row["scenario"]), f"{row['probability']:.3g}",
                      money(row["hedge_npv"], currency),
                      money(row["optimum_first_stage_npv"], currency),
                      money(row["hedge_saves"], currency))
    console.print(table)
    if hedge.saving is not None:
        console.print(f"  in expectation the hedge saves {money(hedge.saving, currency)}; "
                      "where nothing is lost it costs what the 'none' row shows")
