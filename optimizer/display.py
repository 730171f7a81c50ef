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
