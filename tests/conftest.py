"""Shared helpers for the tests: write small instances and run the CLI."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
INSTANCES = REPO / "instances"


def base_instance() -> dict[str, Any]:
    """A tiny valid instance: one workload, two accelerators, one site, two periods."""
    return copy.deepcopy({
        "format": 1,
        "name": "tiny",
        "horizon": {"periods": ["2026", "2027"], "period_years": 1.0, "discount_rate": 0.0},
        "workloads": {"chat": {"peak_to_average": 1.0}},
        "demand": {"chat": {"2026": 86400.0, "2027": 86400.0}},
        "accelerators": {
            "A": {"vendor": "VA", "tags": ["domestic"], "price_per_card": 100.0,
                  "power_kw_per_card": 1.0, "cooling": ["air"], "lifetime_years": 5,
                  "throughput": {"chat": 1.0}},
            "B": {"vendor": "VB", "tags": ["imported"], "price_per_card": 150.0,
                  "power_kw_per_card": 0.5, "cooling": ["air", "liquid"], "lifetime_years": 5,
                  "throughput": {"chat": 1.0}},
        },
        "sites": {
            "s1": {"region": "R", "max_cards": 10, "grid_mw": 1.0,
                   "electricity_price_per_mwh": 0.0,
                   "cooling": {"air": {"pue": 1.0, "existing_it_mw": 0.5},
                               "liquid": {"pue": 1.0}}},
        },
    })


def write_instance(directory: Path, data: dict[str, Any] | str | bytes,
                   name: str = "instance.yaml") -> Path:
    """Write ``data`` (a mapping dumped as YAML, or raw text/bytes) to ``directory/name``."""
    path = directory / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``accelplan ARGS`` in a subprocess (as a planner would) and capture its output."""
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})


@pytest.fixture
def tiny() -> dict[str, Any]:
    return base_instance()
