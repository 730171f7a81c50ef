"""Re-planning (shared/design/procurement.md, "Re-planning"): what a previous plan did before
a period becomes fact, and today's instance is planned from that period on.

What becomes fact, from the previous plan's tables:

- cards delivered before PERIOD join ``existing_fleet`` at their site and cooling, with
  ``age_years`` their age at the start of PERIOD; the instance's own existing fleet ages the
  same way, and its cards on order that arrived before PERIOD join it too;
- orders placed before PERIOD that arrive at or after it become ``on_order``;
- cooling built before PERIOD is added to ``existing_it_mw``; sites opened before PERIOD are
  ``open: true`` (their opening cost is sunk).

The instance (today's forecasts and prices) is read as describing the same fleet at the start
of its horizon as the instance the previous plan was made on; its periods before PERIOD must
be the previous plan's. The new horizon is its periods from PERIOD on (discounting restarts
there); period-indexed values of earlier periods and ``from`` dates before PERIOD are dropped
(a rule in force before PERIOD stays in force).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from optimizer.errors import UsageError
from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.output.results import Plan, read_plan

LIFETIME_TOLERANCE = 1e-9
PERIOD_LABEL_FIELDS = ("from", "available_from")
"""Fields holding one period label: dropped when the period is before the new horizon."""


@dataclass
class RolledInstance:
    """Today's instance rolled forward to ``from_period``.

    Attributes:
        data: the new instance as a mapping (what ``--write-instance`` writes).
        from_period: the first period of the new horizon.
        fixed: what became fact (cards delivered, cards on order, MW built, sites opened).
    """

    data: dict[str, Any]
    from_period: str
    fixed: dict[str, Any] = field(default_factory=dict)


def _label_index(periods: list[str], label: Any) -> int | None:
    label = str(label)
    return periods.index(label) if label in periods else None


def _drop_past(value: Any, past: set[str], periods: set[str]) -> Any:
    """``value`` without the entries of past periods: mappings keyed by periods lose the
    past keys, period labels before the horizon (``from``, ``available_from``) go."""
    if isinstance(value, dict):
        if value and all(str(key) in periods for key in value):
            return {key: _drop_past(v, past, periods) for key, v in value.items()
                    if str(key) not in past}
        out = {}
        for key, v in value.items():
            if key in PERIOD_LABEL_FIELDS and str(v) in past:
                continue
            out[key] = _drop_past(v, past, periods)
        return out
    if isinstance(value, list):
        return [_drop_past(v, past, periods) for v in value]
    return value


def _column(frame: pd.DataFrame, name: str, fallback: str) -> pd.Series:
    return (frame[name] if name in frame else frame[fallback]).astype(str)


def roll_forward(instance: Instance, previous: Plan, from_period: str) -> RolledInstance:
    """Today's ``instance`` from ``from_period`` on, with the ``previous`` plan's decisions
    before it as fact (see the module docstring).

    Raises:
        UsageError: ``from_period`` is not a period of the instance, is its first, or the
            previous plan did not plan the periods before it.
    """
    spec = instance.spec
    periods = list(spec.horizon.periods)
    if from_period not in periods:
        raise UsageError(f"--from {from_period}: not a period of {instance.path.name} "
                         f"({', '.join(periods)})")
    start = periods.index(from_period)
    past = periods[:start]
    planned = [str(p) for p in previous.tables.get("costs", pd.DataFrame()).get("period", [])]
    if not previous.status.has_plan or not planned:
        raise UsageError("the previous results directory holds no plan to re-plan from")
    if planned[:start] != past:
        raise UsageError(f"the previous plan's periods ({', '.join(planned)}) do not start with "
                         f"{instance.path.name}'s periods before {from_period} "
                         f"({', '.join(past) or 'none'})")
    years = spec.horizon.period_years
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data["horizon"]["periods"] = periods[start:]
    accs = spec.accelerators
    fixed: dict[str, Any] = {"delivered_cards": 0, "on_order_cards": 0, "built_mw": 0.0,
                             "opened_sites": [], "retired_cards": 0}

    def alive(k: str, age_years: float) -> bool:
        return age_years < accs[k].lifetime_years - LIFETIME_TOLERANCE

    fleets: dict[str, list[dict]] = {s: [] for s in spec.sites}
    orders: dict[str, list[dict]] = {s: [] for s in spec.sites}
    for s, site in spec.sites.items():
        for entry in site.existing_fleet:
            age = entry.age_years + start * years
            if alive(entry.accelerator, age):
                fleets[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "age_years": age})
        for entry in site.on_order:
            arrives = periods.index(entry.arrives)
            if arrives >= start:
                orders[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "arrives": entry.arrives})
            elif alive(entry.accelerator, (start - arrives) * years):
                fleets[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "age_years": (start - arrives) * years})
    purchases = previous.tables.get("purchases", pd.DataFrame())
    if len(purchases):
        ordered = _column(purchases, "order_period", "period")
        delivered = _column(purchases, "delivery_period", "period")
        for row, order, delivery in zip(purchases.itertuples(), ordered, delivered):
            o, d = _label_index(periods, order), _label_index(periods, delivery)
            if o is None or d is None or o >= start:
                continue
            k, s = str(row.accelerator), str(row.site)
            cards = int(row.cards)
            if d >= start:
                orders[s].append({"accelerator": k, "cooling": str(row.cooling),
                                  "cards": cards, "arrives": periods[d]})
                fixed["on_order_cards"] += cards
            elif alive(k, (start - d) * years):
                fleets[s].append({"accelerator": k, "cooling": str(row.cooling),
                                  "cards": cards, "age_years": (start - d) * years})
                fixed["delivered_cards"] += cards
            else:
                fixed["retired_cards"] += cards
    built = previous.tables.get("builds", pd.DataFrame())
    extra_mw: dict[tuple[str, str], float] = {}
    for row in built.itertuples() if len(built) else []:
        t = _label_index(periods, row.period)
        if t is not None and t < start:
            key = (str(row.site), str(row.cooling))
            extra_mw[key] = extra_mw.get(key, 0.0) + float(row.it_mw)
    openings = previous.tables.get("openings", pd.DataFrame())
    opened = {str(row.site) for row in (openings.itertuples() if len(openings) else [])
              if (t := _label_index(periods, row.period)) is not None and t < start}
    for s, site in data["sites"].items():
        site["existing_fleet"] = _merged(fleets[s])
        site["on_order"] = _merged(orders[s], key="arrives")
        for (bs, c), mw in extra_mw.items():
            if bs == s:
                mode = site["cooling"][c]
                mode["existing_it_mw"] = mode.get("existing_it_mw", 0.0) + mw
                fixed["built_mw"] += mw
        if s in opened and not site.get("open", True):
            site["open"] = True
            fixed["opened_sites"].append(s)
        if not site["existing_fleet"]:
            del site["existing_fleet"]
        if not site["on_order"]:
            del site["on_order"]
    data = _drop_past(data, set(past), set(periods))
    data["horizon"]["periods"] = periods[start:]
    name = data.get("name") or instance.path.stem
    data["name"] = f"{name} (re-planned from {from_period})"
    return RolledInstance(data=data, from_period=from_period, fixed=fixed)


def _merged(entries: list[dict], key: str = "age_years") -> list[dict]:
    """Entries of the same accelerator, cooling and age (or arrival) added together."""
    total: dict[tuple, int] = {}
    for entry in entries:
        index = (entry["accelerator"], entry["cooling"], entry[key])
        total[index] = total.get(index, 0) + entry["cards"]
    return [{"accelerator": k, "cooling": c, "cards": cards, key: value}
            for (k, c, value), cards in sorted(total.items(), key=lambda i: str(i[0]))]


def rolled_instance(instance: Instance, previous: Plan, from_period: str) -> tuple[
        Instance, RolledInstance]:
    """The rolled-forward instance, validated (errors name today's instance file)."""
    rolled = roll_forward(instance, previous, from_period)
    return instance_from_raw(copy.deepcopy(rolled.data), instance.path,
                             file_digest=instance.input_sha256), rolled


def changes_against(previous: Plan, plan: Plan, from_period: str,
                    periods: list[str]) -> list[dict[str, Any]]:
    """Orders from ``from_period`` on that differ between the previous plan and the new one:
    accelerator, site, cooling, order period, cards before and now."""
    start = periods.index(from_period)
    keep = set(periods[start:])

    def orders(frame: pd.DataFrame | None) -> dict[tuple, float]:
        if frame is None or not len(frame):
            return {}
        when = _column(frame, "order_period", "period")
        out: dict[tuple, float] = {}
        for row, order in zip(frame.itertuples(), when):
            if order in keep:
                key = (str(row.accelerator), str(row.site), str(row.cooling), order)
                out[key] = out.get(key, 0.0) + float(row.cards)
        return out
    before, now = orders(previous.tables.get("purchases")), orders(plan.tables.get("purchases"))
    rows = []
    for key in sorted(set(before) | set(now), key=lambda k: (periods.index(k[3]), k[:3])):
        a, b = before.get(key, 0.0), now.get(key, 0.0)
        if abs(a - b) > 1e-9:
            rows.append({"accelerator": key[0], "site": key[1], "cooling": key[2],
                         "order_period": key[3], "cards_before": int(a), "cards_now": int(b),
                         "change": int(b - a)})
    return rows


def replan(previous: str | Path | Plan, instance: Instance, from_period: str,
           **options: Any) -> Plan:
    """Re-plan ``instance`` from ``from_period`` on with what the ``previous`` plan (a results
    directory or a :class:`Plan`) did before it as fact (see the module docstring).

    Args:
        options: as for :func:`optimizer.solve` (time_limit, mip_gap, ...).
    Returns:
        The new plan; ``summary["replan"]`` holds the previous directory, the first period,
        what became fact and the orders that changed against the previous plan.
    Raises:
        UsageError: not a plan to re-plan from, or ``from_period`` does not fit it.
        InstanceError: the rolled-forward instance is not valid (naming the field).
    """
    from optimizer.planning import solve
    earlier = previous if isinstance(previous, Plan) else read_plan(previous)
    today, rolled = rolled_instance(instance, earlier, from_period)
    plan = solve(today, **options)
    attach_changes(plan, earlier, rolled, list(instance.spec.horizon.periods),
                   None if isinstance(previous, Plan) else str(previous))
    return plan


def attach_changes(plan: Plan, earlier: Plan, rolled: RolledInstance, periods: list[str],
                   source: str | None) -> None:
    """Record in ``plan.summary["replan"]`` what became fact and what changed."""
    plan.summary["replan"] = {
        "previous": source, "from": rolled.from_period, "fixed": rolled.fixed,
        "changes": changes_against(earlier, plan, rolled.from_period, periods)
        if plan.status.has_plan else [],
    }


def rolled_yaml(rolled: RolledInstance | Mapping[str, Any]) -> str:
    """The rolled-forward instance as YAML a planner can read and edit."""
    import yaml
    data = rolled.data if isinstance(rolled, RolledInstance) else dict(rolled)
    header = ("# Rolled forward by accelplan replan: what the previous plan did before "
              f"{rolled.from_period if isinstance(rolled, RolledInstance) else 'the new horizon'}"
              " is existing fleet, cards on order, existing cooling and open sites.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
