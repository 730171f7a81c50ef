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


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs in CI (.ci/run), not in the default "
                            "`python -m pytest`, which stays within a few minutes")


def fast_first(values, fast: int) -> list:
    """Parameters: the first ``fast`` run by default, the rest marked slow (CI runs them)."""
    return [v if i < fast else pytest.param(v, marks=pytest.mark.slow)
            for i, v in enumerate(values)]


@pytest.fixture(autouse=True)
def every_plan_is_checked(monkeypatch):
    """Every plan a test solves through the library is checked by the independent plan
    checker (tests/plan_checker.py): caps on its tables, costs adding up to the NPV, a
    scenario plan's committed decisions shared."""
    import optimizer.planning
    from plan_checker import check_plan
    solve = optimizer.planning.solve

    def checked(instance, *args, **kwargs):
        plan = solve(instance, *args, **kwargs)
        check_plan(plan, instance)
        return plan
    monkeypatch.setattr(optimizer.planning, "solve", checked)


@pytest.fixture
def tiny() -> dict[str, Any]:
    return base_instance()


def accelerator(vendor: str = "VA", price: Any = 100.0, power_kw: float = 0.0,
                cooling: list[str] | None = None, lifetime: float = 1.0, throughput: float = 1.0,
                **extra: Any) -> dict[str, Any]:
    """An accelerator with 1 token/s per card, no idle/maintenance surprises unless asked."""
    acc = {"vendor": vendor, "price_per_card": price, "power_kw_per_card": power_kw,
           "cooling": cooling or ["air"], "lifetime_years": lifetime,
           "throughput": {"chat": throughput}}
    acc.update(extra)
    return acc


def instance(accelerators: dict[str, Any], demand_tokens_per_s: float | list[float] = 10.0,
             periods: list[str] | None = None, sites: dict[str, Any] | None = None,
             **top: Any) -> dict[str, Any]:
    """A hand-checkable instance: one workload ``chat`` with peak_to_average 1, discount 0,
    one-year periods; demand given in tokens/s (converted to tokens/day)."""
    periods = periods or ["2026"]
    if not isinstance(demand_tokens_per_s, list):
        demand_tokens_per_s = [demand_tokens_per_s] * len(periods)
    data = {
        "format": 1, "name": "hand",
        "horizon": {"periods": periods, "period_years": 1.0, "discount_rate": 0.0},
        "workloads": {"chat": {"peak_to_average": 1.0}},
        "demand": {"chat": {p: d * 86400.0 for p, d in zip(periods, demand_tokens_per_s)}},
        "accelerators": accelerators,
        "sites": sites or {"s1": site()},
    }
    data.update(top)
    return data


def site(max_cards: int = 1000, grid_mw: Any = 10.0, electricity: float = 0.0,
         modes: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A site with free air cooling (PUE 1) unless ``modes`` says otherwise."""
    data = {"region": "R", "max_cards": max_cards, "grid_mw": grid_mw,
            "electricity_price_per_mwh": electricity,
            "cooling": modes or {"air": {"pue": 1.0}}}
    data.update(extra)
    return data


def solve_data(tmp_path: Path, data: dict[str, Any], **options: Any):
    """Write ``data``, load it and solve it with the library; return the plan."""
    from optimizer import load_instance, solve
    return solve(load_instance(write_instance(tmp_path, data)), **options)


def cards_bought(plan, accelerator: str | None = None, period: str | None = None,
                 site: str | None = None) -> int:
    """Cards bought, filtered."""
    frame = plan.tables["purchases"]
    if accelerator is not None:
        frame = frame[frame["accelerator"] == accelerator]
    if period is not None:
        frame = frame[frame["period"] == period]
    if site is not None:
        frame = frame[frame["site"] == site]
    return int(frame["cards"].sum())


def budget_instance() -> dict[str, Any]:
    """A budget that binds. A: 100 capex, 2 kW; B: 150 capex, 0.5 kW; power always drawn
    (idle fraction 1); electricity 10 per MWh over 8760 h: energy A 175.2, B 43.8 per
    card-year, so TCO per card A 275.2, B 193.8. 10 cards needed; budget 1200 per period."""
    return instance({"A": accelerator(price=100, power_kw=2.0, idle_power_fraction=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5,
                                      idle_power_fraction=1.0)},
                    sites={"s1": site(grid_mw=1.0, electricity=10.0)},
                    policies={"budget_per_period": 1200})


def assert_feasible_for_model(compiled, x) -> None:
    """``x`` (HiGHS column values) is a plan of ``compiled``'s model, checked independently of
    the code that made it: bounds, integrality, every row (relative tolerance 1e-6)."""
    import numpy as np
    tolerance = 1e-6
    assert np.all(x >= compiled.lower - tolerance) and np.all(x <= compiled.upper + tolerance)
    integers = x[compiled.integer]
    assert np.allclose(integers, np.round(integers), atol=1e-6)
    activity = compiled.matrix @ x
    scale = 1 + np.abs(activity)
    assert np.all(activity >= compiled.row_lower - tolerance * scale)
    assert np.all(activity <= compiled.row_upper + tolerance * scale)


def assert_field_refused(tmp_path: Path, data: dict[str, Any], where: tuple[str, ...],
                         value: Any, field: str) -> None:
    """Set ``data[where...] = value``: ``accelplan validate`` exits 2 naming ``field``, with no
    traceback."""
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    out = run_cli("validate", str(write_instance(tmp_path, data)))
    assert out.returncode == 2, out.stdout + out.stderr
    assert field in out.stderr and "Traceback" not in out.stderr
