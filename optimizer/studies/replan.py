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

from optimizer.errors import AccelplanError, UsageError
from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.output.results import Decisions, Plan, decisions_from_tables, read_plan
from optimizer.problem.time import Timeline

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


def previous_tables(previous: Plan, start: int, periods: list[str]) -> dict[str, pd.DataFrame]:
    """The tables of ``previous`` that say what was done before ``periods[start]``. A scenario
    plan (tables with a ``scenario`` column) re-plans from its first stage only: what every
    scenario shares. A period past its committed periods is refused when the scenarios did
    different things before it, naming them.

    Raises:
        UsageError: the scenarios disagree on what was done before the period.
    """
    tables = previous.tables
    purchases = tables.get("purchases", pd.DataFrame())
    if "scenario" not in purchases and "scenario" not in tables.get("costs", pd.DataFrame()):
        return tables
    names = [str(row["scenario"]) for row in previous.summary.get("stochastic", {}).get(
        "scenarios", [])] or sorted({str(x) for x in tables["costs"]["scenario"]})
    past = set(periods[:start])

    def facts(name: str) -> dict[str, Any]:
        own = {key: frame[frame["scenario"].astype(str) == name].drop(columns="scenario")
               for key, frame in tables.items() if "scenario" in frame}
        bought = own.get("purchases", pd.DataFrame())
        orders = sorted((str(r["accelerator"]), str(r["site"]), str(r["cooling"]),
                         str(r.get("order_period", r["period"])), str(r["period"]),
                         int(r["cards"])) for r in bought.to_dict("records")
                        if str(r.get("order_period", r["period"])) in past)
        built = sorted((str(r["site"]), str(r["cooling"]), str(r["period"]),
                        round(float(r["it_mw"]), 9))
                       for r in own.get("builds", pd.DataFrame()).to_dict("records")
                       if str(r["period"]) in past)
        opened = sorted((str(r["site"]), str(r["period"]))
                        for r in own.get("openings", pd.DataFrame()).to_dict("records")
                        if str(r["period"]) in past)
        return {"tables": own, "key": (orders, built, opened)}
    seen = {name: facts(name) for name in names}
    reference = names[0]
    differ = [name for name in names[1:] if seen[name]["key"] != seen[reference]["key"]]
    commit = previous.summary.get("stochastic", {}).get("commit_periods")
    if differ:
        shared = f" (its first {commit} period(s) are shared)" if commit is not None else ""
        raise UsageError(f"--from {periods[start]}: the previous plan is a scenario plan"
                         f"{shared} whose scenarios did different things before "
                         f"{periods[start]}: {', '.join(differ)} differ from {reference}; "
                         "re-plan from a period within its committed periods, or from one "
                         "scenario's plan")
    return seen[reference]["tables"]


def roll_forward(previous: Plan | str | Path, instance: Instance, from_period: str
                 ) -> RolledInstance:
    """Today's ``instance`` from ``from_period`` on, with the ``previous`` plan's decisions
    before it as fact (see the module docstring); ``previous`` is a :class:`Plan` or a
    results directory, in :func:`replan`'s argument order. ``.data`` of the result is the
    rolled-forward instance as a mapping.

    Raises:
        UsageError: ``from_period`` is not a period of the instance, is its first, the
            previous plan did not plan the periods before it, or a scenario plan's scenarios
            disagree before it.
    """
    if isinstance(previous, (str, Path)):
        previous = read_plan(previous)
    if not isinstance(previous, Plan) or not hasattr(instance, "spec"):
        raise UsageError("roll_forward(previous, instance, from_period): previous is a Plan "
                         "or a results directory, instance a loaded instance")
    spec = instance.spec
    periods = list(spec.horizon.periods)
    if from_period not in periods:
        raise UsageError(f"--from {from_period}: not a period of {instance.path.name} "
                         f"({', '.join(periods)})")
    start = periods.index(from_period)
    if start == 0:
        raise UsageError(f"--from {from_period}: the first period of {instance.path.name}; "
                         "nothing before it is fact, so solve the instance instead")
    past = periods[:start]
    if not previous.status.has_plan:
        raise UsageError("the previous results directory holds no plan to re-plan from")
    tables = previous_tables(previous, start, periods)
    planned = [str(p) for p in tables.get("costs", pd.DataFrame()).get("period", [])]
    if not planned:
        raise UsageError("the previous results directory holds no plan to re-plan from")
    if planned[:start] != past:
        raise UsageError(f"the previous plan's periods ({', '.join(planned)}) do not start with "
                         f"{instance.path.name}'s periods before {from_period} "
                         f"({', '.join(past) or 'none'})")
    _check_known(tables, spec, instance.path.name)
    line = Timeline(tuple(periods), spec.horizon.period_years, spec.horizon.discount_rate)
    years = line.years
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data["horizon"]["periods"] = periods[start:]
    accs = spec.accelerators
    fixed: dict[str, Any] = {"delivered_cards": 0, "on_order_cards": 0, "built_mw": 0.0,
                             "opened_sites": [], "retired_cards": 0, "balance_due": 0.0}

    def first_price(k: str) -> float:
        price = accs[k].price_per_card
        return float(price[periods[0]] if isinstance(price, dict) else price)

    def alive(k: str, age_years: float) -> bool:
        return line.is_alive(age_years, accs[k].lifetime_years)

    fleets: dict[str, list[dict]] = {s: [] for s in spec.sites}
    orders: dict[str, list[dict]] = {s: [] for s in spec.sites}
    for s, site in spec.sites.items():
        for entry in site.existing_fleet:
            age = entry.age_years + start * years
            paid = entry.price_paid_per_card
            if alive(entry.accelerator, age):
                fleets[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "age_years": age,
                                  "price_paid_per_card": first_price(entry.accelerator)
                                  if paid is None else paid})
        for entry in site.on_order:
            arrives = periods.index(entry.arrives)
            paid = (first_price(entry.accelerator) if entry.price_paid_per_card is None
                    else entry.price_paid_per_card)
            if arrives >= start:
                orders[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "arrives": entry.arrives,
                                  "balance_per_card": entry.balance_per_card,
                                  "price_paid_per_card": paid})
                fixed["balance_due"] += entry.cards * entry.balance_per_card
            elif alive(entry.accelerator, (start - arrives) * years):
                fleets[s].append({"accelerator": entry.accelerator, "cooling": entry.cooling,
                                  "cards": entry.cards, "age_years": (start - arrives) * years,
                                  "price_paid_per_card": paid})
    for row in tables.get("purchases", pd.DataFrame()).to_dict("records"):
        o = _label_index(periods, row.get("order_period", row["period"]))
        d = _label_index(periods, row.get("delivery_period", row["period"]))
        if o is None or d is None or o >= start:
            continue
        k, s, c = str(row["accelerator"]), str(row["site"]), str(row["cooling"])
        cards = int(row["cards"])
        price = float(row.get("price_per_card", row["capex"] / max(cards, 1)))
        if d >= start:
            balance = float(row.get("balance", 0.0)) / max(cards, 1)
            orders[s].append({"accelerator": k, "cooling": c, "cards": cards,
                              "arrives": periods[d], "balance_per_card": balance,
                              "price_paid_per_card": price})
            fixed["on_order_cards"] += cards
            fixed["balance_due"] += balance * cards
        elif alive(k, (start - d) * years):
            fleets[s].append({"accelerator": k, "cooling": c, "cards": cards,
                              "age_years": (start - d) * years, "price_paid_per_card": price})
            fixed["delivered_cards"] += cards
        else:
            fixed["retired_cards"] += cards
    extra_mw: dict[tuple[str, str], float] = {}
    for row in tables.get("builds", pd.DataFrame()).to_dict("records"):
        t = _label_index(periods, row["period"])
        if t is not None and t < start:
            key = (str(row["site"]), str(row["cooling"]))
            extra_mw[key] = extra_mw.get(key, 0.0) + float(row["it_mw"])
    opened = {str(row["site"]) for row in tables.get("openings", pd.DataFrame()).to_dict("records")
              if (t := _label_index(periods, row["period"])) is not None and t < start}
    for s, site in data["sites"].items():
        site["existing_fleet"] = _merged(fleets[s], "age_years")
        site["on_order"] = _merged(orders[s], "arrives")
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


def _check_known(tables: dict[str, pd.DataFrame], spec: Any, file: str) -> None:
    """Everything the previous plan holds (accelerators, sites, cooling modes) is defined by
    today's instance.

    Raises:
        UsageError: naming what the previous plan holds that the instance does not define.
    """
    missing: list[str] = []
    for name in ("purchases", "builds", "openings"):
        for row in tables.get(name, pd.DataFrame()).to_dict("records"):
            k, s, c = row.get("accelerator"), row.get("site"), row.get("cooling")
            if k is not None and str(k) not in spec.accelerators:
                missing.append(f"accelerator {k}")
            if s is not None and str(s) not in spec.sites:
                missing.append(f"site {s}")
            elif (s is not None and c is not None and str(c) == str(c)
                  and str(c) not in spec.sites[str(s)].cooling):
                missing.append(f"cooling {c} at site {s}")
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise UsageError(f"the previous plan holds {names}, which {file} does not define: "
                         "re-plan on the instance the plan was made for (or one that still "
                         "defines them)")


MERGE_FIELDS = ("price_paid_per_card", "balance_per_card")
"""Fields besides accelerator, cooling and age (or arrival) that keep entries apart."""


def _merged(entries: list[dict], key: str) -> list[dict]:
    """Entries of the same accelerator, cooling, age (or arrival), price paid and balance
    added together."""
    total: dict[tuple, int] = {}
    for entry in entries:
        index = (entry["accelerator"], entry["cooling"], entry[key]) + tuple(
            entry.get(f) for f in MERGE_FIELDS)
        total[index] = total.get(index, 0) + entry["cards"]
    out = []
    for index, cards in sorted(total.items(), key=lambda i: str(i[0])):
        k, c, value = index[:3]
        entry = {"accelerator": k, "cooling": c, "cards": cards, key: value}
        entry.update({f: v for f, v in zip(MERGE_FIELDS, index[3:]) if v is not None})
        out.append(entry)
    return out


def rolled_instance(instance: Instance, previous: Plan, from_period: str) -> tuple[
        Instance, RolledInstance]:
    """The rolled-forward instance, validated (errors name today's instance file)."""
    rolled = roll_forward(previous, instance, from_period)
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
                   None if isinstance(previous, Plan) else str(previous), today, options)
    return plan


def attach_changes(plan: Plan, earlier: Plan, rolled: RolledInstance, periods: list[str],
                   source: str | None, today: Instance | None = None,
                   options: Mapping[str, Any] | None = None) -> None:
    """Record in ``plan.summary["replan"]`` what became fact and what changed. With
    ``today`` (the rolled-forward instance), changes are judged: the previous plan's
    decisions from the period on are costed in it, and changes that save no more than the
    plan's gap are marked ``within_gap`` (they are noise of the solve, not a reason to
    change an order)."""
    changes = (changes_against(earlier, plan, rolled.from_period, periods)
               if plan.status.has_plan else [])
    record: dict[str, Any] = {"previous": source, "from": rolled.from_period,
                              "fixed": rolled.fixed, "changes": changes}
    if changes and today is not None:
        record.update(judge_changes(plan, earlier, rolled, today, options or {}))
    plan.summary["replan"] = record


def judge_changes(plan: Plan, earlier: Plan, rolled: RolledInstance, today: Instance,
                  options: Mapping[str, Any]) -> dict[str, Any]:
    """The previous plan's decisions from the new horizon's start on, fixed in ``today``:
    what keeping them costs, and whether the re-plan's changes save more than its gap."""
    from optimizer.planning import solve
    if "scenario" in earlier.tables.get("costs", pd.DataFrame()):
        return {}         # a scenario plan's later orders are each scenario's own
    new = list(today.spec.horizon.periods)
    kept = decisions_from_tables(earlier.tables)
    keep = set(new)
    decisions = Decisions(
        {k: v for k, v in kept.purchases.items() if kept.order_period(k) in keep},
        {k: v for k, v in kept.builds_mw.items() if k[-1] in keep},
        {k: v for k, v in kept.openings.items() if k[-1] in keep},
        {k: v for k, v in kept.rentals.items() if k[-1] in keep},
        {k: v for k, v in kept.ordered.items() if v in keep})
    allowed = {k: v for k, v in options.items()
               if k in ("time_limit", "mip_gap", "threads", "seed")}
    try:
        fixed = solve(today, fix_first_stage=(len(new), decisions), explain=False,
                      raise_on_infeasible=False, scenarios=False, **allowed)
    except AccelplanError:
        return {"keeping_previous_npv": None,
                "changes_note": "the previous plan's orders could not be costed here"}
    if not fixed.status.has_plan:
        return {"keeping_previous_npv": None, "within_gap": False,
                "changes_note": "the previous plan's orders have no plan here: they must change"}
    saving = fixed.objective - plan.objective
    gap = (plan.mip_gap or 0.0) * abs(plan.objective) + 1e-9 * max(1.0, abs(plan.objective))
    within = saving <= gap
    return {"keeping_previous_npv": fixed.objective, "saving": saving, "within_gap": within,
            "changes_note": (f"keeping the previous orders costs {saving:,.0f} more, within the "
                             "plan's gap: these changes are not worth making on this evidence"
                             if within else f"the changes save {saving:,.0f}")}


def rolled_yaml(rolled: RolledInstance | Mapping[str, Any]) -> str:
    """The rolled-forward instance as YAML a planner can read and edit."""
    import yaml
    data = rolled.data if isinstance(rolled, RolledInstance) else dict(rolled)
    header = ("# Rolled forward by accelplan replan: what the previous plan did before "
              f"{rolled.from_period if isinstance(rolled, RolledInstance) else 'the new horizon'}"
              " is existing fleet, cards on order, existing cooling and open sites.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
