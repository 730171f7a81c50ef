"""A solved plan: its tables, its summary and the atomic results directory."""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import Relaxation, UsageError
from optimizer.status import Status

RESULT_FILES = ("purchases", "fleet", "serving", "sites", "costs", "marginal_costs", "binding",
                "unmet")
"""Tables written as ``<name>.csv`` (when the plan has them)."""


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
        decisions: (variable, index) -> value of every purchase, cooling build and site
            opening (what a stochastic plan commits to).
    """

    status: Status
    objective: float | None
    best_bound: float | None
    mip_gap: float | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    explanation: list[Relaxation] = field(default_factory=list)
    start_values: dict[str, float] = field(default_factory=dict, repr=False)
    decisions: dict[tuple[str, Any], float] = field(default_factory=dict, repr=False)

    def write(self, directory: str | Path, force: bool = False) -> Path:
        """Write the results directory atomically (a temporary folder beside it, renamed into
        place when complete). An existing directory is replaced only with ``force``."""
        return write_results(directory, self.summary, self.tables, force=force)


def check_destination(directory: str | Path, force: bool) -> Path:
    """Refuse an existing results directory unless ``force`` (checked before solving).

    Raises:
        UsageError: the directory exists (or is a file) and ``force`` is not set.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory")
    if target.exists() and not force:
        raise UsageError(f"{target}: results directory exists; use --force to replace it")
    return target


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


def staging_directory(target: Path) -> Path:
    """An empty folder beside ``target`` to write into before :func:`promote`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))


def promote(staging: Path, target: Path) -> None:
    """Put a complete ``staging`` folder in place of ``target`` (renames only)."""
    if target.exists():
        retired = staging.with_name(staging.name + ".old")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)


def write_results(directory: str | Path, summary: dict[str, Any],
                  tables: dict[str, pd.DataFrame], force: bool = False) -> Path:
    """Write ``summary.json`` and one CSV per table into ``directory``, atomically."""
    target = check_destination(directory, force)
    staging = staging_directory(target)
    try:
        (staging / "summary.json").write_text(summary_json(summary) + "\n")
        for name, frame in tables.items():
            frame.to_csv(staging / f"{name}.csv", index=False, float_format="%.10g")
        promote(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
