"""Why the plan looks as it does, and what must give when no plan exists.

- Marginal costs: dual of each demand row, per extra million tokens, in money of its period.
- Binding caps: grid, cooling, card, supply, budget and policy rows that are tight in the plan,
  with their slack and shadow price in natural units.
- Infeasibility: fast checks before the solve, then an elastic re-solve that finds the smallest
  (weighted) relaxation of demand, grid, cards, supply, budget and policies.

Marginal costs come from the LP around the MILP plan with every integer fixed (as
shared/design/model.md says), and again with only the on/off decisions fixed (the long-run
figure, in its own column). Shadow prices of caps come from the second: with every integer
fixed the fleet could not change and every capacity dual would be zero.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from optimizer.errors import Relaxation
from optimizer.problem import DAYS_PER_YEAR, SECONDS_PER_DAY, ProblemData

BINDING_COLUMNS = ["constraint", "index", "period", "slack", "slack_unit", "shadow_price",
                   "shadow_price_unit", "message"]
MARGINAL_COLUMNS = ["period", "workload", "cost_per_million_tokens",
                    "cost_per_million_tokens_long_run"]
CAP_FAMILIES = ("grid", "cooling_capacity", "site_cards", "supply", "budget", "min_share",
                "max_vendor_share")
TIGHT = 1e-6


def _label(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def marginal_costs(data: ProblemData, duals_fixed: dict | None,
                   duals_long_run: dict | None) -> pd.DataFrame:
    """Cost of one more million tokens of workload w in period t, in money of period t:
    dual(demand(w,t)) * P(w) * 1e6 / (86400 * 365 * L) / d_m(t) (dual in money per tokens/s).

    ``cost_per_million_tokens`` uses the LP with every integer fixed at the plan, as
    shared/design/model.md says (the fleet as planned: the short-run cost, energy only while
    there is room); ``cost_per_million_tokens_long_run`` the LP with only the on/off decisions
    fixed (purchases and builds may grow: what one more million tokens costs when capacity
    follows demand).
    """
    rows = []
    seconds = SECONDS_PER_DAY * DAYS_PER_YEAR * data.period_years
    for (w, t) in data.DEMAND:
        values = []
        for duals in (duals_fixed, duals_long_run):
            if duals is None or ("demand", (w, t)) not in duals:
                values.append(None)
                continue
            per_token_s = duals["demand", (w, t)] * data.money_unit / data.token_unit
            values.append(per_token_s * data.peak_to_average[w] * 1e6 / seconds
                          / data.discount_mid[t])
        rows.append([data.periods[t], w, *values])
    return pd.DataFrame(rows, columns=MARGINAL_COLUMNS)


def share_base(model: pyo.ConcreteModel, data: ProblemData, family: str, policy: str,
               t: int) -> float:
    """The fleet a share row is a share of: sum_k m_k F_k(t), with m_k the policy's weight
    scaled as in the model (1 per card, or peak_tflops / the largest peak_tflops)."""
    spec = data.instance.spec
    weight = {k: 1.0 for k in data.ACCELERATORS}
    if family == "min_share" and spec.policies.min_share[int(policy)].by == "tflops":
        top = max(acc.peak_tflops for acc in spec.accelerators.values())
        weight = {k: spec.accelerators[k].peak_tflops / top for k in data.ACCELERATORS}
    return sum(weight[k] * (model.fleet[k, s, c, tt].value or 0.0)
               for (k, s, c, tt) in data.FLEET if tt == t)


def binding_rows(model: pyo.ConcreteModel, data: ProblemData, duals: dict | None
                 ) -> pd.DataFrame:
    """Cap rows that are tight in the plan, with slack and shadow price in natural units.

    ``shadow_price`` is the NPV saved by one more unit of the cap (MW, card, currency unit,
    percentage point of share); it is positive when relaxing the cap helps.
    """
    spec = data.instance.spec
    money = data.money_unit
    currency = spec.currency
    buildable = {(s, c) for (s, c, _) in data.BUILD}
    rows = []
    for family in CAP_FAMILIES:
        component = getattr(model, family, None)
        if component is None:
            continue
        for index, con in component.items():
            if family == "cooling_capacity" and (index[0], index[1]) in buildable:
                continue  # built to fit the load: a cap only where nothing can be built
            body = pyo.value(con.body)
            if con.upper is not None:
                slack_model, bound = pyo.value(con.upper) - body, pyo.value(con.upper)
            else:
                slack_model, bound = body - pyo.value(con.lower), pyo.value(con.lower)
            dual = (duals or {}).get((family, index))
            key = _label(index)
            t = key[-1]
            period = data.periods[t]
            if family in ("min_share", "max_vendor_share"):
                scale = max(share_base(model, data, family, key[0], t), 1.0)
                tolerance = TIGHT * scale
                slack = slack_model / scale          # share (fraction) beyond the requirement
                per_point = 0.01 * scale             # row units in one percentage point
                # min_share is a >= row (dual >= 0), max_vendor_share a <= row (dual <= 0)
                shadow = None if dual is None else abs(dual) * money * per_point
                slack_unit, price_unit = "share", f"{currency} per percentage point"
                what = (f"minimum share policy {key[0]}" if family == "min_share"
                        else f"vendor share cap for {key[0]}")
            else:
                tolerance = TIGHT * max(1.0, abs(bound))
                factor, slack_unit, price_unit = {
                    "grid": (1.0, "MW", f"{currency} per MW"),
                    "cooling_capacity": (1000.0, "MW", f"{currency} per MW"),
                    "site_cards": (1.0, "cards", f"{currency} per card"),
                    "supply": (1.0, "cards", f"{currency} per card"),
                    "budget": (1.0 / money, currency, f"{currency} per {currency}"),
                }[family]
                slack = slack_model / factor
                shadow = None if dual is None else -dual * money * factor
                what = _cap_name(family, key)
            if slack_model > tolerance:
                continue
            unit_word = price_unit.split(" per ")[-1]
            message = f"{what} in {period} binds"
            if shadow is not None and abs(shadow) > 1e-9 * money:
                step = "-1" if family == "min_share" else "+1"
                message += f": {step} {unit_word} saves {_money(shadow)} {currency}"
            rows.append([family, "|".join(map(str, key[:-1])) or "-", period, max(slack, 0.0),
                         slack_unit, shadow, price_unit, message])
    frame = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    if len(frame):
        frame = frame.sort_values("shadow_price", ascending=False, key=lambda s: s.abs(),
                                  na_position="last").reset_index(drop=True)
    return frame


def _cap_name(family: str, key: tuple) -> str:
    if family == "grid":
        return f"grid at {key[0]}"
    if family == "cooling_capacity":
        return f"{key[1]} cooling at {key[0]}"
    if family == "site_cards":
        return f"card slots at {key[0]}"
    if family == "supply":
        return f"supply of {key[0]}"
    return "capex budget"


def _money(value: float) -> str:
    for unit, label in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= unit:
            return f"{value / unit:,.2f}{label}"
    return f"{value:,.2f}"


# ---------------------------------------------------------------------------------------------
# infeasibility
# ---------------------------------------------------------------------------------------------

def precheck(data: ProblemData) -> list[Relaxation]:
    """Obvious reasons no plan can exist, found before building the model.

    - a workload has demand in a period where no accelerator can serve it (none bought yet,
      none with a throughput, none allowed at the sites of its regions);
    - demand above what every card slot of its regions could serve with the best accelerator.

    Soft demand (``unmet_demand_cost_per_million_tokens`` set) always has a plan: what cannot be
    served is unmet and priced, so nothing is reported.
    """
    spec = data.instance.spec
    found: list[Relaxation] = []
    if spec.policies.unmet_demand_cost_per_million_tokens is not None:
        return found
    serving = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        serving[w, t].append((k, s))
    for (w, t) in data.DEMAND:
        peak = data.demand_peak[w, t] * data.token_unit
        options = serving.get((w, t))
        if not options:
            found.append(Relaxation("demand", (w, data.periods[t]), peak, "tokens/s",
                                    f"{w} demand in {data.periods[t]}: {peak:,.0f} tokens/s "
                                    "(peak) cannot be served: no accelerator that serves it "
                                    "can be installed at a site of its regions by then"))
            continue
        best = {}
        for k, s in options:
            rate = data.throughput[k, w] * spec.accelerators[k].availability
            best[s] = max(best.get(s, 0.0), rate)
        ceiling = sum(rate * spec.sites[s].max_cards for s, rate in best.items())
        if peak > ceiling * (1 + 1e-9):
            found.append(Relaxation("demand", (w, data.periods[t]), peak - ceiling, "tokens/s",
                                    f"{w} demand in {data.periods[t]}: {peak:,.0f} tokens/s "
                                    f"(peak) but every card slot of its sites filled with the "
                                    f"fastest card serves {ceiling:,.0f}; "
                                    f"{peak - ceiling:,.0f} tokens/s cannot be served"))
    return found


def elastic_weights(data: ProblemData, row_keys: list[tuple[str, Any, int]]) -> dict[int, float]:
    """Row position -> cost of one unit of relaxation, relative to the row's size, so that the
    smallest relative relaxation is found; demand is relaxed only as a last resort."""
    spec = data.instance.spec
    fleet_scale = max(1.0, float(sum(site.max_cards for site in spec.sites.values())))
    weights: dict[int, float] = {}
    for position, (family, index, sense) in enumerate(row_keys):
        if sense == 0:
            continue
        if family == "demand":
            weights[position] = 100.0 / max(data.demand_peak[index], 1e-9)
        elif family == "grid":
            weights[position] = 1.0 / max(data.grid_mw[index], 1e-3)
        elif family == "site_cards":
            weights[position] = 1.0 / max(spec.sites[index[0]].max_cards, 1.0)
        elif family == "supply":
            weights[position] = 1.0 / max(data.supply_cards[index],
                                          data.cards_per_unit[index[0]])
        elif family == "budget":
            weights[position] = 1.0 / max(data.budget[index], 1e-6)
        elif family in ("min_share", "max_vendor_share"):
            weights[position] = 1.0 / fleet_scale
    return weights


def describe_relaxations(model: pyo.ConcreteModel, data: ProblemData,
                         row_keys: list[tuple[str, Any, int]], slack: dict[int, float]
                         ) -> list[Relaxation]:
    """Turn the elastic solve's slacks into planner-facing relaxations."""
    spec = data.instance.spec
    currency = spec.currency
    found: list[Relaxation] = []
    shares = {("min_share", (p, t)): coef for p, t, coef in data.min_share_rows}
    shares.update({("max_vendor_share", (v, t)): coef for v, t, coef in data.vendor_share_rows})
    for position, amount in sorted(slack.items(), key=lambda item: -item[1]):
        family, index, _ = row_keys[position]
        key = _label(index)
        period = data.periods[key[-1]]
        if family == "demand":
            w = key[0]
            peak = amount * data.token_unit
            found.append(Relaxation("demand", (w, period), peak, "tokens/s",
                                    f"{w} demand in {period}: {peak:,.0f} tokens/s (peak) "
                                    "cannot be served"))
        elif family == "grid":
            cap = data.grid_mw[index]
            if key[0] in data.OPENABLE and round(model.site_open[index].value or 0) == 0:
                cap = 0.0
            found.append(Relaxation("grid", (key[0], period), amount, "MW",
                                    f"site {key[0]} grid: needs {cap + amount:.3f} MW, cap "
                                    f"{cap:.3f} MW in {period}"))
        elif family == "site_cards":
            cap = spec.sites[key[0]].max_cards
            found.append(Relaxation("site_cards", (key[0], period), amount, "cards",
                                    f"site {key[0]} card slots: needs {cap + amount:,.0f}, "
                                    f"max_cards {cap:,} in {period}"))
        elif family == "supply":
            cap = data.supply_cards[index]
            found.append(Relaxation("supply", (key[0], period), amount, "cards",
                                    f"{key[0]} supply: needs {cap + amount:,.0f} cards, cap "
                                    f"{cap:,.0f} in {period}"))
        elif family == "budget":
            cap = data.budget[index] * data.money_unit
            need = amount * data.money_unit
            found.append(Relaxation("budget", (period,), need, currency,
                                    f"capex budget: needs {cap + need:,.0f} {currency}, cap "
                                    f"{cap:,.0f} {currency} in {period}"))
        elif family in ("min_share", "max_vendor_share"):
            coef = shares[family, index]
            t = key[-1]
            total = tagged = 0.0
            for (k, s, c, tt) in data.FLEET:
                if tt == t:
                    cards = model.fleet[k, s, c, tt].value or 0.0
                    total += cards
                    if family == "min_share":
                        tagged += cards if coef[k] > 0 else 0.0
                    else:
                        tagged += cards if spec.accelerators[k].vendor == key[0] else 0.0
            reached = tagged / total if total else 0.0
            if family == "min_share":
                rule = spec.policies.min_share[int(key[0])]
                found.append(Relaxation("min_share", (key[0], period), rule.share - reached,
                                        "share", f"policy min_share {key[0]} "
                                        f"({'/'.join(rule.tags)} >= {rule.share:.0%} by "
                                        f"{rule.by}): reaches only {reached:.1%} in {period}"))
            else:
                rule = spec.policies.max_vendor_share
                cap = rule if isinstance(rule, float) else rule.share
                found.append(Relaxation("max_vendor_share", (key[0], period), reached - cap,
                                        "share", f"vendor share cap {cap:.0%}: {key[0]} needs "
                                        f"{reached:.1%} in {period}"))
    return found
