"""The instance tables a planner edits in the studio's page: the demand forecast, prices by
period, site caps and the accelerator catalogue. Each cell shows the file's value (after its
CSV tables are read) and knows the override its edit becomes:

- a row by period (a workload's demand, a card's price, a site's grid) is written back whole,
  ``path = {period: value, ...}`` (a scalar in the file becomes a path by period);
- a single value (a site's card slots, a catalogue field) is ``path = value``.

The overrides are those ``--set`` takes, saved with the run like the levers'.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

import yaml

from optimizer.instance.overrides import DEMAND_SCALE, apply_overrides

CATALOGUE_FIELDS = ("power_kw_per_card", "memory_gb", "lifetime_years", "lead_time_periods",
                    "maintenance_rate", "availability", "cards_per_unit")
"""Catalogue fields offered in the grid (numbers; what a card is, not what it costs)."""

SITE_FIELDS = ("max_cards", "open_cost", "fixed_cost_per_year")
"""Single-value site caps and costs offered beside the grid path."""


def _by_period(value: Any, periods: list[str]) -> dict[str, Any]:
    """A path by period (a mapping: its values; a scalar: the same in every period)."""
    if isinstance(value, Mapping):
        return {p: value.get(p) for p in periods}
    return {p: value for p in periods}


def _period_row(label: str, path: str, value: Any, periods: list[str]) -> dict[str, Any]:
    return {"label": label, "row_path": path, "cells": {
        p: {"value": v} for p, v in _by_period(value, periods).items()}}


def _field_row(label: str, prefix: str, values: Mapping[str, Any],
               fields: tuple[str, ...]) -> dict[str, Any]:
    return {"label": label, "row_path": None, "cells": {
        f: {"value": values.get(f), "path": f"{prefix}.{f}"} for f in fields}}


def edit_tables(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The editable tables of an instance as read (``raw``): name, title, columns and rows
    (label, ``row_path`` for a row by period, and cells with the file's value and, for a
    single value, its own ``path``)."""
    periods = [str(p) for p in (raw.get("horizon") or {}).get("periods", [])]
    demand = raw.get("demand") or {}
    accelerators = raw.get("accelerators") or {}
    sites = raw.get("sites") or {}
    tables = [{"name": "demand", "title": "demand forecast (average tokens per day)",
               "columns": periods,
               "rows": [_period_row(w, f"demand.{w}", series, periods)
                        for w, series in demand.items() if isinstance(series, Mapping)]},
              {"name": "prices", "title": "price per card by period",
               "columns": periods,
               "rows": [_period_row(a, f"accelerators.{a}.price_per_card",
                                    spec.get("price_per_card"), periods)
                        for a, spec in accelerators.items()]},
              {"name": "grid", "title": "site grid connection by period (MW)",
               "columns": periods,
               "rows": [_period_row(s, f"sites.{s}.grid_mw", spec.get("grid_mw"), periods)
                        for s, spec in sites.items()]},
              {"name": "sites", "title": "site caps and costs", "columns": list(SITE_FIELDS),
               "rows": [_field_row(s, f"sites.{s}", spec, SITE_FIELDS)
                        for s, spec in sites.items()]},
              {"name": "catalogue", "title": "accelerator catalogue",
               "columns": list(CATALOGUE_FIELDS),
               "rows": [_field_row(a, f"accelerators.{a}", spec, CATALOGUE_FIELDS)
                        for a, spec in accelerators.items()]}]
    return [t for t in tables if t["rows"]]


def edited_yaml(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    """The instance as YAML with ``overrides`` applied (``demand_scale`` multiplies every
    demand figure): what a planner takes away to run with the CLI.

    Raises:
        InstanceError: an override that does not lead into the instance (named).
    """
    data, scale = apply_overrides(copy.deepcopy(dict(raw)), {
        k: v for k, v in overrides.items() if k != DEMAND_SCALE})
    scale *= float(overrides.get(DEMAND_SCALE, 1.0))
    if scale != 1.0:
        for series in (data.get("demand") or {}).values():
            if isinstance(series, dict):
                for period, value in series.items():
                    series[period] = float(value) * scale
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
