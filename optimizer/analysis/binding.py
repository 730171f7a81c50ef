"""Binding caps: the rows of cap families (the registry's ``cap``) that are tight in the plan,
with their slack and shadow price in natural units and a sentence a planner reads."""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from formulations.registry import BY_NAME, CAP_FAMILIES
from optimizer.analysis.units import money
from optimizer.analysis.shares import share_rule, share_totals
from optimizer.problem import ProblemData

BINDING_COLUMNS = ["constraint", "index", "period", "slack", "slack_unit", "shadow_price",
                   "shadow_price_unit", "basis", "message"]
"""binding.csv. ``basis`` says what the shadow price is in (model.md): ``npv`` (money of the
NPV, the fleet free to grow) or ``period`` (money of the row's period, every integer fixed);
rows are ranked within a basis, never across."""
TIGHT = 1e-6
SINGULAR = {"cards": "card", "t": "tonne"}


def _label(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _empty(con: Any) -> bool:
    """A row with no variable in it (a constant): no row at all."""
    return not any(True for _ in identify_variables(con.body, include_fixed=False))


def binding_rows(model: pyo.ConcreteModel, data: ProblemData, duals: dict | None,
                 fixed_duals: dict | None = None) -> pd.DataFrame:
    """Cap rows that are tight in the plan, with slack and shadow price in natural units.

    A row's shadow price is on its family's basis (the registry's ``Family.basis``): ``npv``
    rows give the NPV saved by one more unit of the cap (MW, card, currency unit, percentage
    point of share) with the fleet free to grow (``duals``: openings and modes fixed);
    ``period`` rows (the carbon and water caps, energy.md) give money of the row's period per
    tonne (per m3), with every integer fixed (``fixed_duals``). It is positive when relaxing
    the cap helps. A share rule's percentage point is one of the fleet the rule counts, owned
    and rented cards alike (:mod:`optimizer.analysis.shares`).
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
            if _empty(con):
                continue
            body = pyo.value(con.body)
            if con.upper is not None:
                slack_model, bound = pyo.value(con.upper) - body, pyo.value(con.upper)
            else:
                slack_model, bound = body - pyo.value(con.lower), pyo.value(con.lower)
            source = fixed_duals if spec.basis == "period" else duals
            dual = (source or {}).get((family, index))
            key = _label(index)
            t = key[-1]
            period = data.periods[t]
            if spec.unit == "share":
                rule = share_rule(data, family, key[0])
                scale = max(share_totals(model, data, family, key[0], t)[1], 1.0)
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
                if shadow is not None and spec.basis == "period":
                    shadow /= data.timeline.middle(t)
                    price_unit = f"{currency} of {period} per {SINGULAR.get(unit, unit)}"
                what = spec.display(key[:-1])
            if slack_model > tolerance:
                continue
            unit_word = price_unit.split(" per ")[-1]
            message = f"{what} in {period} binds"
            if shadow is not None and abs(shadow) > 1e-9 * data.money_unit:
                step = "-1" if family == "min_share" else "+1"
                message += f": {step} {unit_word} saves {money(shadow)} {currency}"
                if spec.basis == "period":
                    message += f" of {period}"
            rows.append([family, "|".join(map(str, key[:-1])) or "-", period, max(slack, 0.0),
                         slack_unit, shadow, price_unit, spec.basis, message])
    frame = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    frame["shadow_price"] = pd.to_numeric(frame["shadow_price"])
    if len(frame):
        frame["_rank"] = frame["shadow_price"].abs()
        frame = frame.sort_values(["basis", "_rank"], ascending=[True, False],
                                  na_position="last").drop(columns="_rank")
        frame = frame.reset_index(drop=True)
    return frame
