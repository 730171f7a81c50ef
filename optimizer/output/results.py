"""A solved plan: its tables, its summary and the atomic results directory."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.analysis.kpis import KPIs
from optimizer.errors import Relaxation, UsageError
from optimizer.output.directories import check_destination, write_atomically
from optimizer.status import Status

RESULT_FILES = ("purchases", "fleet", "serving", "sites", "costs", "marginal_costs", "binding",
                "unmet", "rentals", "energy")
"""Tables written as ``<name>.csv`` (when the plan has them)."""


@dataclass(frozen=True)
class Decisions:
    """What a plan decides, keyed by readable labels (period labels, not positions).

    Attributes:
        purchases: (accelerator, site, cooling, delivery period) -> purchase units delivered.
        builds_mw: (site, cooling, period) -> IT MW of cooling built.
        openings: (site, period) -> 1 where a site that may open is open.
        rentals: (rental, period) -> cards rented.
        ordered: (accelerator, site, cooling, delivery period) -> the period the order is
            placed in, where it differs from the delivery (a lead time).
    """

    purchases: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    builds_mw: dict[tuple[str, str, str], float] = field(default_factory=dict)
    openings: dict[tuple[str, str], float] = field(default_factory=dict)
    rentals: dict[tuple[str, str], float] = field(default_factory=dict)
    ordered: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def order_period(self, key: tuple[str, str, str, str]) -> str:
        """The period the purchase ``key`` (by delivery) is ordered in."""
        return self.ordered.get(key, key[-1])

    def first_stage(self, periods: list[str]) -> "Decisions":
        """What is decided in ``periods`` (a stochastic plan's committed periods): orders
        placed then, whatever their delivery, and the builds, openings and rentals of those
        periods (model.md, "Stochastic planning")."""
        keep = set(periods)
        purchases = {k: v for k, v in self.purchases.items() if self.order_period(k) in keep}
        return Decisions(purchases,
                         {k: v for k, v in self.builds_mw.items() if k[-1] in keep},
                         {k: v for k, v in self.openings.items() if k[-1] in keep},
                         {k: v for k, v in self.rentals.items() if k[-1] in keep},
                         {k: v for k, v in self.ordered.items() if k in purchases})

    def same_as(self, other: "Decisions", tolerance: float = 1e-6) -> bool:
        """Whether both decide the same (up to ``tolerance``)."""
        return all(
            all(abs(mine.get(k, 0.0) - theirs.get(k, 0.0)) < tolerance
                for k in set(mine) | set(theirs))
            for mine, theirs in ((self.purchases, other.purchases),
                                 (self.builds_mw, other.builds_mw),
                                 (self.openings, other.openings),
                                 (self.rentals, other.rentals)))


@dataclass
class Plan:
    """The outcome of :func:`optimizer.solve`.

    Attributes:
        status: optimal, feasible, infeasible or no_solution.
        objective: NPV of total cost of ownership in the instance currency (None without plan).
        best_bound: proven lower bound on the NPV (currency).
        mip_gap: relative gap between objective and bound.
        tables: result tables (pandas DataFrames) by name, columns as in the CSV files.
        summary: the content of summary.json.
        explanation: what would have to give, when infeasible.
        start_values: the plan's integer decisions by variable name (a MIP start for the
            next solve of a similar instance).
        decisions: every purchase, cooling build and site opening (what a stochastic plan
            commits to, and what a re-plan keeps).
    """

    status: Status
    objective: float | None
    best_bound: float | None
    mip_gap: float | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    explanation: list[Relaxation] = field(default_factory=list)
    start_values: dict[str, float] = field(default_factory=dict, repr=False)
    decisions: Decisions = field(default_factory=Decisions, repr=False)

    @property
    def kpis(self) -> KPIs:
        """The key figures (the same fields for deterministic and scenario plans)."""
        return KPIs.from_mapping(self.summary.get("kpis"))

    @property
    def termination(self) -> str:
        """Why the solve ended, in HiGHS's or the strategy's words."""
        return str(self.summary.get("solver", {}).get("model_status", ""))

    def write(self, directory: str | Path, force: bool = False) -> Path:
        """Write the results directory atomically (a temporary folder beside it, renamed into
        place when complete). An existing directory is replaced only with ``force``."""
        return write_results(directory, self.summary, self.tables, force=force)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Status):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def clean_json(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def summary_json(summary: dict[str, Any]) -> str:
    """summary.json's text."""
    return json.dumps(clean_json(summary), indent=2, default=_json_default)


def write_results(directory: str | Path, summary: dict[str, Any],
                  tables: dict[str, pd.DataFrame], force: bool = False) -> Path:
    """Write ``summary.json`` and one CSV per table into ``directory``, atomically (see
    :mod:`optimizer.output.directories`: ``force`` replaces only a previous results
    directory)."""
    target = check_destination(directory, force)

    def fill(staging: Path) -> None:
        began = time.perf_counter()
        for name, frame in tables.items():
            frame.to_csv(staging / f"{name}.csv", index=False, float_format="%.10g")
        if isinstance(summary.get("timings"), dict):
            summary["timings"]["write_seconds"] = time.perf_counter() - began
        (staging / "summary.json").write_text(summary_json(summary) + "\n")
    return write_atomically(target, fill)


def read_plan(directory: str | Path) -> Plan:
    """A :class:`Plan` from a results directory (status, objective, tables, KPIs, the
    explanation and the decisions), to compare or re-plan without solving again.

    Raises:
        UsageError: not a results directory, or its summary is not valid JSON.
    """
    directory = Path(directory)
    summary, tables = read_results_directory(directory)
    try:
        status = Status(summary.get("status"))
    except ValueError:
        raise UsageError(f"{directory / 'summary.json'}: unknown status {summary.get('status')!r}") from None
    explanation = [Relaxation(r["constraint"], tuple(r["index"]), r["amount"], r["unit"],
                              r["message"], r.get("note", ""))
                   for r in summary.get("explanation") or []]
    return Plan(status=status, objective=summary.get("objective"),
                best_bound=summary.get("best_bound"), mip_gap=summary.get("mip_gap"),
                tables=tables, summary=summary, explanation=explanation,
                decisions=decisions_from_tables(tables))


LABEL_COLUMNS = {"period": str, "order_period": str, "delivery_period": str}
"""Columns of the result tables that hold period labels (read as text: "2026", "2026H1")."""


def read_table(path: Path) -> pd.DataFrame:
    """One result table, period labels as text (an empty file is an empty table)."""
    try:
        return pd.read_csv(path, dtype=LABEL_COLUMNS)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def read_results_directory(directory: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """A results directory's summary and its tables by name.

    Raises:
        UsageError: no summary.json, or one that is not valid JSON.
    """
    directory = Path(directory)
    summary_path = directory / "summary.json"
    if not summary_path.is_file():
        raise UsageError(f"{directory}: not a results directory (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{summary_path}: not valid JSON ({exc})") from None
    return summary, {path.stem: read_table(path) for path in sorted(directory.glob("*.csv"))}


def decisions_from_tables(tables: dict[str, pd.DataFrame]) -> Decisions:
    """The decisions a results directory's tables record (purchases.csv with its order
    periods, rentals.csv, sites.csv), read by column name. A scenario plan's tables (with a
    ``scenario`` column) record no single plan: its decisions are empty."""
    def rows(name: str) -> list[dict[str, Any]]:
        frame = tables.get(name)
        if frame is None or not len(frame) or "scenario" in frame:
            return []
        return frame.to_dict("records")
    purchases: dict = {}
    ordered: dict = {}
    for row in rows("purchases"):
        key = (str(row["accelerator"]), str(row["site"]), str(row["cooling"]), str(row["period"]))
        purchases[key] = purchases.get(key, 0.0) + float(row["units"])
        order = str(row.get("order_period", row["period"]))
        if order != key[-1]:
            ordered[key] = order
    rentals: dict = {}
    for row in rows("rentals"):
        key = (str(row["rental"]), str(row["period"]))
        rentals[key] = rentals.get(key, 0.0) + float(row["cards"])
    builds: dict = {}
    openings: dict = {}
    for row in rows("sites"):
        if row.get("it_mw_built", 0.0):
            builds[str(row["site"]), str(row["cooling"]), str(row["period"])] = float(
                row["it_mw_built"])
        if "open" in row:
            openings[str(row["site"]), str(row["period"])] = float(row["open"])
    return Decisions(purchases, builds, openings, rentals, ordered)
