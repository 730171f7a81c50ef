"""A scenario plan's tables and figures from its scenarios' own, written once for the
extensive form and the decomposition: the merged tables (a ``scenario`` column), the first
stage (what every scenario shares), one row a scenario with its NPV and its place in the risk
tail, and the risk figures of uncertainty.md (expected, VaR, CVaR, worst and best NPV)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from optimizer.scenarios.scenario_set import expected_kpis

DEFAULT_CVAR_ALPHA = 0.9
"""The confidence level risk figures are reported at when the instance sets no ``risk``."""

FIRST_STAGE_COLUMNS = ["decision", "period", "order_period", "delivery_period", "accelerator",
                       "vendor", "site", "cooling", "rental", "units", "cards", "it_mw",
                       "capex", "deposit", "balance", "cost", "used_in_share"]
"""first_stage.csv: one row per order, rental, build and opening decided in the committed
periods. ``period`` is the period the decision is taken in (an order's order period);
``used_in_share`` is, for an order, the probability of the scenarios in which its card serves
tokens at its site in its delivery period (1: every future uses it; low: a hedge)."""


@dataclass
class ScenarioOutcome:
    """One scenario of a solved scenario plan.

    Attributes:
        name, probability, demand_scale: the scenario.
        npv: its NPV (currency).
        tables: its result tables.
        kpis: its key figures.
        demand_vs_instance: its total demand against the instance's.
    """

    name: str
    probability: float
    demand_scale: float
    npv: float
    tables: dict[str, pd.DataFrame]
    kpis: dict[str, Any] = field(default_factory=dict)
    demand_vs_instance: float | None = None


def tail_figures(npv: Mapping[str, float], probability: Mapping[str, float],
                 alpha: float) -> dict[str, Any]:
    """VaR_alpha (the smallest NPV with P(NPV <= it) >= alpha), CVaR_alpha (the expected NPV
    of the worst 1 - alpha of probability: VaR + E[(NPV - VaR)+] / (1 - alpha), as the
    Rockafellar-Uryasev objective reads at its optimum), the expected, worst and best NPV, and
    which scenarios lie in the tail (an NPV above VaR, or at it with tail mass left)."""
    names = sorted(npv, key=lambda n: (npv[n], n))
    cumulative, var = 0.0, npv[names[-1]]
    for name in names:
        cumulative += probability[name]
        if cumulative >= alpha - 1e-12:
            var = npv[name]
            break
    excess = sum(probability[n] * max(npv[n] - var, 0.0) for n in names)
    cvar = var + excess / (1.0 - alpha) if alpha < 1 else npv[names[-1]]
    tail = {n: npv[n] > var + 1e-9 * max(1.0, abs(var)) for n in names}
    above = sum(probability[n] for n in names if tail[n])
    if above < 1.0 - alpha - 1e-12:
        for n in names:
            if abs(npv[n] - var) <= 1e-9 * max(1.0, abs(var)):
                tail[n] = True
    ranked = sorted(names, key=lambda n: (-npv[n], n))
    return {"alpha": alpha, "expected_npv": sum(probability[n] * npv[n] for n in names),
            "var_npv": var, "cvar_npv": cvar, "worst_npv": npv[names[-1]],
            "best_npv": npv[names[0]], "in_tail": tail,
            "tail_rank": {n: i + 1 for i, n in enumerate(ranked)}}


def first_stage_table(tables: dict[str, pd.DataFrame], commit_labels: list[str]) -> pd.DataFrame:
    """What one scenario's tables decide in the committed periods (every scenario decides the
    same there): orders placed then, whatever their delivery, rentals, cooling builds and
    openings. Read by column name."""
    keep = set(map(str, commit_labels))
    rows: list[dict[str, Any]] = []
    purchases = tables.get("purchases", pd.DataFrame())
    for row in purchases.to_dict("records"):
        ordered = str(row.get("order_period", row["period"]))
        if ordered in keep:
            rows.append({**{k: row.get(k) for k in ("accelerator", "vendor", "site", "cooling",
                                                    "units", "cards", "capex", "deposit",
                                                    "balance")},
                         "decision": "order", "period": ordered, "order_period": ordered,
                         "delivery_period": str(row.get("delivery_period", row["period"]))})
    for row in tables.get("rentals", pd.DataFrame()).to_dict("records"):
        if str(row["period"]) in keep:
            rows.append({"decision": "rental", "period": str(row["period"]),
                         "rental": row["rental"], "accelerator": row["accelerator"],
                         "vendor": row["vendor"], "cards": row["cards"], "cost": row["cost"],
                         "capex": 0.0})
    for row in tables.get("builds", pd.DataFrame()).to_dict("records"):
        if str(row["period"]) in keep:
            rows.append({"decision": "build", "period": str(row["period"]), "site": row["site"],
                         "cooling": row["cooling"], "it_mw": row["it_mw"],
                         "capex": row["capex"]})
    for row in tables.get("openings", pd.DataFrame()).to_dict("records"):
        if str(row["period"]) in keep:
            rows.append({"decision": "opening", "period": str(row["period"]),
                         "site": row["site"], "capex": row["open_cost"]})
    return pd.DataFrame(rows, columns=FIRST_STAGE_COLUMNS)


def used_in_share(first: pd.DataFrame, outcomes: list[ScenarioOutcome]) -> list[float | None]:
    """For each order of ``first``: the probability of the scenarios whose serving table has
    its accelerator serving at its site in its delivery period; None for other decisions."""
    served: list[tuple[float, set[tuple[str, str, str]]]] = []
    for outcome in outcomes:
        serving = outcome.tables.get("serving", pd.DataFrame())
        keys: set[tuple[str, str, str]] = set()
        if len(serving):
            own = serving[(serving.get("source", "site") == "site")
                          & (serving["peak_tokens_per_s"] > 0)]
            keys = {(str(a), str(s), str(p)) for a, s, p in
                    zip(own["accelerator"], own["site"], own["period"])}
        served.append((outcome.probability, keys))
    shares: list[float | None] = []
    for row in first.to_dict("records"):
        if row["decision"] != "order":
            shares.append(None)
            continue
        key = (str(row["accelerator"]), str(row["site"]), str(row["delivery_period"]))
        shares.append(float(sum(p for p, keys in served if key in keys)))
    return shares


def assemble(outcomes: list[ScenarioOutcome], commit_labels: list[str],
             alpha: float = DEFAULT_CVAR_ALPHA) -> tuple[dict[str, pd.DataFrame], dict[str, Any],
                                                         dict[str, Any]]:
    """The merged tables, the ``stochastic`` block and the ``kpis`` of a scenario plan.

    Returns:
        tables (each scenario's with a ``scenario`` column, plus ``first_stage`` and
        ``scenarios``), the summary's ``stochastic`` block (first stage, scenario rows, risk
        figures) and its ``kpis`` (probability-weighted means and the risk figures).
    """
    npv = {o.name: o.npv for o in outcomes}
    probability = {o.name: o.probability for o in outcomes}
    risk = tail_figures(npv, probability, alpha)
    rows = [{"scenario": o.name, "probability": o.probability, "demand_scale": o.demand_scale,
             "demand_vs_instance": o.demand_vs_instance, "npv": o.npv,
             "tail_rank": risk["tail_rank"][o.name],
             "in_cvar_tail": "yes" if risk["in_tail"][o.name] else "no",
             "cost_per_million_tokens": o.kpis.get("cost_per_million_tokens"),
             "cards_final_period": o.kpis.get("cards_final_period")} for o in outcomes]
    merged: dict[str, list[pd.DataFrame]] = {}
    for outcome in outcomes:
        for name, frame in outcome.tables.items():
            merged.setdefault(name, []).append(frame.assign(scenario=outcome.name))
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in merged.items()}
    first = first_stage_table(outcomes[0].tables, commit_labels)
    first["used_in_share"] = used_in_share(first, outcomes)
    tables["first_stage"] = first
    tables["scenarios"] = pd.DataFrame(rows)
    figures = {k: v for k, v in risk.items() if k not in ("in_tail", "tail_rank")}
    stochastic = {"commit_periods": len(commit_labels), "expected_npv": risk["expected_npv"],
                  "scenarios": rows, "first_stage": first.to_dict(orient="records"),
                  "first_stage_capex": float(first["capex"].fillna(0.0).sum()),
                  "risk": figures}
    kpis = {**expected_kpis([(o.probability, o.kpis) for o in outcomes]),
            "npv_total": risk["expected_npv"], "expected_npv": risk["expected_npv"],
            "var_npv": risk["var_npv"], "cvar_npv": risk["cvar_npv"], "cvar_alpha": alpha,
            "worst_npv": risk["worst_npv"], "best_npv": risk["best_npv"],
            "first_stage_capex": stochastic["first_stage_capex"]}
    return tables, stochastic, kpis


NODE_COLUMNS = ["node", "stage", "parent", "probability", "scenarios"] + FIRST_STAGE_COLUMNS
"""nodes.csv: a tree's decisions node by node (uncertainty.md, "Results")."""


def node_table(outcomes: list[ScenarioOutcome], nodes: list[Any],
               labels: list[str]) -> pd.DataFrame:
    """Each node's decisions (orders placed in its periods, rentals, builds, openings), read
    from the first scenario under it (every scenario under it decides the same there); a node
    that decides nothing has one row with only its node columns."""
    frames = []
    for node in nodes:
        own = outcomes[node.members[0]]
        decided = first_stage_table(own.tables, labels[node.first_period:node.end_period])
        head = {"node": node.name, "stage": node.stage, "parent": node.parent,
                "probability": node.probability,
                "scenarios": " ".join(outcomes[i].name for i in node.members)}
        if decided.empty:
            decided = pd.DataFrame([{}], columns=FIRST_STAGE_COLUMNS)
        frames.append(decided.assign(**head))
    return pd.concat(frames, ignore_index=True)[NODE_COLUMNS]
