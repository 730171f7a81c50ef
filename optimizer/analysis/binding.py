"""Binding caps: the rows of cap families (the registry's ``cap``) that are tight in the plan,
with their slack and shadow price in natural units and a sentence a planner reads."""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyomo.environ as pyo

from formulations.registry import BY_NAME, CAP_FAMILIES
from optimizer.analysis.units import money
from optimizer.problem import ProblemData, SharePolicy

BINDING_COLUMNS = ["constraint", "index", "period", "slack", "slack_unit", "shadow_price",
                   "shadow_price_unit", "message"]
TIGHT = 1e-6
SINGULAR = {"cards": "card", "t": "tonne"}


def _label(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def share_rule(data: ProblemData, family: str, key: str) -> SharePolicy:
    """The share policy behind a min_share or max_vendor_share row."""
    rules = data.min_share if family == "min_share" else data.vendor_share
    return next(rule for rule in rules if rule.key == key)


def share_base(model: pyo.ConcreteModel, data: ProblemData, rule: SharePolicy, t: int) -> float:
    """The fleet a share row is a share of: sum_k m_k F_k(t), with the rule's weights."""
    return sum(rule.weight[k] * (model.fleet[k, s, c, tt].value or 0.0)
               for (k, s, c, tt) in data.FLEET if tt == t)


def cap_name(family: str, key: tuple) -> str:
    """The cap as a planner names it."""
    if family == "grid":
        return f"grid at {key[0]}"
    if family == "cooling_capacity":
        return f"{key[1]} cooling at {key[0]}"
    if family == "site_cards":
        return f"card slots at {key[0]}"
    if family == "supply":
        return f"supply of {key[0]}"
    if family == "rental_limit":
        return f"rental cap of {key[0]}"
    if family == "carbon_cap":
        return "carbon cap"
    if family == "water_cap":
        return f"water cap at {key[0]}"
    return "capex budget"


PERIOD_MONEY = ("carbon_cap", "water_cap")
"""Families whose shadow price is reported in money of the row's period (energy.md): the
NPV dual divided by d_m(t)."""


def binding_rows(model: pyo.ConcreteModel, data: ProblemData, duals: dict | None,
                 fixed_duals: dict | None = None) -> pd.DataFrame:
    """Cap rows that are tight in the plan, with slack and shadow price in natural units.

    ``shadow_price`` is the NPV saved by one more unit of the cap (MW, card, currency unit,
    percentage point of share) with the fleet free to grow (``duals``: openings and modes
    fixed); it is positive when relaxing the cap helps. The carbon and water caps follow
    energy.md instead: money of the row's period per tonne (per m3), with every integer fixed
    (``fixed_duals``).
    """
    currency = data.currency
    buildable = {(s, c) for (s, c, _) in data.BUILD}
    rows = []
    for family in CAP_FAMILIES:
        component = getattr(model, family, None)
        if component is None:
            continue
        spec = BY_NAME[family]
        for index, con in component.items():
            if family == "cooling_capacity" and (index[0], index[1]) in buildable:
                continue  # built to fit the load: a cap only where nothing can be built
            body = pyo.value(con.body)
            if con.upper is not None:
                slack_model, bound = pyo.value(con.upper) - body, pyo.value(con.upper)
            else:
                slack_model, bound = body - pyo.value(con.lower), pyo.value(con.lower)
            source = fixed_duals if family in PERIOD_MONEY else duals
            dual = (source or {}).get((family, index))
            key = _label(index)
            t = key[-1]
            period = data.periods[t]
            if spec.unit == "share":
                rule = share_rule(data, family, key[0])
                scale = max(share_base(model, data, rule, t), 1.0)
                tolerance = TIGHT * scale
                slack = slack_model / scale          # share (fraction) beyond the requirement
                per_point = 0.01 * scale             # row units in one percentage point
                # min_share is a >= row (dual >= 0), max_vendor_share a <= row (dual <= 0)
                shadow = None if dual is None else abs(dual) * data.money_unit * per_point
                slack_unit, price_unit = "share", f"{currency} per percentage point"
                what = f"policy {rule.description}"
            else:
                tolerance = TIGHT * max(1.0, abs(bound))
                factor = 1.0 / data.money_unit if spec.row_scale == "money" else spec.row_scale
                unit = currency if spec.unit == "currency" else spec.unit
                slack_unit, price_unit = unit, f"{currency} per {SINGULAR.get(unit, unit)}"
                slack = slack_model / factor
                shadow = None if dual is None else -dual * data.money_unit * factor
                if shadow is not None and family in PERIOD_MONEY:
                    shadow /= data.timeline.middle(t)
                    price_unit = f"{currency} of {period} per {SINGULAR.get(unit, unit)}"
                what = cap_name(family, key)
            if slack_model > tolerance:
                continue
            unit_word = price_unit.split(" per ")[-1]
            message = f"{what} in {period} binds"
            if shadow is not None and abs(shadow) > 1e-9 * data.money_unit:
                step = "-1" if family == "min_share" else "+1"
                message += f": {step} {unit_word} saves {money(shadow)} {currency}"
                if family in PERIOD_MONEY:
                    message += f" of {period}"
            rows.append([family, "|".join(map(str, key[:-1])) or "-", period, max(slack, 0.0),
                         slack_unit, shadow, price_unit, message])
    frame = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    frame["shadow_price"] = pd.to_numeric(frame["shadow_price"])
    if len(frame):
        frame = frame.sort_values("shadow_price", ascending=False, key=lambda s: s.abs(),
                                  na_position="last").reset_index(drop=True)
    return frame
