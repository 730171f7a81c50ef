"""The report's plots (matplotlib, Agg, no display), each returned as base64 PNG so that the
HTML needs no other file and no network."""
from __future__ import annotations

import base64
import io
from typing import Any

import pandas as pd

COST_KINDS = [("capex_cards", "cards"), ("capex_cooling", "cooling"), ("capex_sites", "sites"),
              ("energy", "energy"), ("maintenance", "maintenance"), ("fixed", "fixed"),
              ("unmet", "unmet demand"), ("rental", "rentals"), ("carbon", "carbon"),
              ("water", "water")]
PLAN = ("optimal", "feasible")
MOST_LABELS = 12
"""Period labels on an axis before only every n-th is written."""


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
                         "legend.fontsize": 8, "legend.frameon": False})
    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _money_axis(ax, currency: str, scale: float, label: str) -> None:
    unit = {1e9: "billion", 1e6: "million", 1e3: "thousand", 1.0: ""}[scale]
    ax.set_ylabel(f"{label} ({unit} {currency})".replace("( ", "("))


def _scale(values: pd.Series | list[float]) -> float:
    peak = max((abs(v) for v in values), default=0.0)
    for scale in (1e9, 1e6, 1e3):
        if peak >= scale:
            return scale
    return 1.0


def period_axis(ax, periods: list[str]) -> None:
    """Period labels that stay legible: rotated, and only every n-th when there are many."""
    ax.tick_params(axis="x", rotation=45 if len(periods) > 6 else 0)
    if len(periods) > MOST_LABELS:
        step = -(-len(periods) // MOST_LABELS)
        last = len(periods) - 1
        for number, label in enumerate(ax.get_xticklabels()):
            label.set_visible(number == last or (number % step == 0
                                                 and last - number >= (step + 1) // 2))


def _top(frame: pd.DataFrame, most: int = 8) -> pd.DataFrame:
    """At most ``most`` columns (the largest), the rest summed as ``other``."""
    if frame.shape[1] <= most:
        return frame
    order = frame.sum().sort_values(ascending=False).index
    kept = frame[order[:most - 1]].copy()
    kept["other"] = frame[order[most - 1:]].sum(axis=1)
    return kept


def _stacked_bars(ax, frame: pd.DataFrame, ylabel: str) -> None:
    frame = _top(frame)
    bottom = None
    periods = [str(p) for p in frame.index]
    for column in frame.columns:
        values = frame[column].to_numpy()
        ax.bar(periods, values, bottom=bottom, label=str(column))
        bottom = values if bottom is None else bottom + values
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", ncols=2)
    period_axis(ax, periods)


def _every_period(tables: dict[str, pd.DataFrame], frame: pd.DataFrame, columns: str,
                  values: str) -> pd.DataFrame:
    """``values`` summed by period and ``columns``, with a row for every period of the plan
    (zero where the frame has none)."""
    pivot = frame.pivot_table(index="period", columns=columns, values=values, aggfunc="sum",
                              fill_value=0)
    periods = tables["costs"]["period"] if "costs" in tables else pivot.index
    return pivot.reindex([str(p) for p in periods], fill_value=0)


def plan_figures(summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Title -> base64 PNG of every plot of a plan."""
    plt = _pyplot()
    currency = summary.get("instance", {}).get("currency", "")
    figures: dict[str, str] = {}

    fleet = tables.get("fleet", pd.DataFrame())
    if not fleet.empty:
        pivot = fleet.pivot_table(index="period", columns="vendor", values="cards", aggfunc="sum",
                                  fill_value=0)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        _stacked_bars(ax, pivot, "installed cards")
        ax.set_title("Installed cards by vendor")
        figures["Installed cards by vendor per period"] = _png(fig)

    purchases = tables.get("purchases", pd.DataFrame())
    if not purchases.empty:
        pivot = _every_period(tables, purchases, "accelerator", "cards")
        fig, ax = plt.subplots(figsize=(7, 3.4))
        _stacked_bars(ax, pivot, "cards bought")
        ax.set_title("Purchases by accelerator")
        figures["Purchases per period by accelerator"] = _png(fig)

    sites = tables.get("sites", pd.DataFrame())
    if not sites.empty:
        per_site = sites.groupby(["site", "period"], sort=False).agg(
            facility_mw=("facility_mw", "sum"), facility_mw_used=("facility_mw_used", "sum"),
            grid_mw=("grid_mw", "first")).reset_index()
        names = list(dict.fromkeys(per_site["site"]))
        shown = sorted(names, key=lambda s: -per_site[per_site.site == s].facility_mw.max())[:12]
        cols = min(3, len(shown))
        rows = (len(shown) + cols - 1) // cols
        size = (7, 3.2) if cols == 1 else (3.3 * cols, 2.5 * rows)
        fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, sharex=True)
        for ax, site in zip(axes.flat, shown):
            part = per_site[per_site.site == site]
            periods = part["period"].astype(str)
            ax.bar(periods, part["facility_mw"], color="#9ecae1", label="provisioned")
            ax.plot(periods, part["facility_mw_used"], "o-", color="#08519c", ms=3, label="drawn at full load")
            ax.plot(periods, part["grid_mw"], "--", color="#d62728", label="grid cap")
            ax.set_title(site, fontsize=9)
            ax.set_ylabel("MW at the meter")
            period_axis(ax, list(periods))
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        axes.flat[0].legend(loc="upper left")
        fig.suptitle("Facility MW per site against its grid cap"
                     + (f" (12 largest of {len(names)} sites)" if len(names) > 12 else ""))
        fig.tight_layout()
        figures["Facility MW per site against the grid cap"] = _png(fig)

        last = sites["period"].astype(str).iloc[-1]
        final = sites[sites["period"].astype(str) == last].pivot_table(
            index="site", columns="cooling", values="it_mw_capacity", aggfunc="sum", fill_value=0)
        final = final.loc[final.sum(axis=1).sort_values(ascending=False).index[:20]]
        fig, ax = plt.subplots(figsize=(7, 0.8 + 0.35 * max(len(final), 3)))
        left = None
        for mode in final.columns:
            values = final[mode].to_numpy()
            ax.barh(final.index.astype(str), values, left=left, label=mode, height=0.6)
            left = values if left is None else left + values
        ax.invert_yaxis()
        ax.set_xlabel("IT MW of cooling capacity")
        ax.set_title(f"Cooling capacity by mode per site ({last})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        figures["Cooling capacity by mode per site"] = _png(fig)

    if not fleet.empty:
        pivot = fleet.pivot_table(index="period", columns="site", values="cards", aggfunc="sum",
                                  fill_value=0)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        _stacked_bars(ax, pivot, "installed cards")
        ax.set_title("Installed cards by site")
        figures["Installed cards per period by site"] = _png(fig)

    builds = tables.get("builds", pd.DataFrame())
    if not builds.empty:
        builds = builds.assign(where=builds["site"] + " " + builds["cooling"])
        pivot = _every_period(tables, builds, "where", "it_mw")
        fig, ax = plt.subplots(figsize=(7, 3.2))
        _stacked_bars(ax, pivot, "IT MW of cooling built")
        ax.set_title("Cooling build schedule by site and mode")
        figures["Cooling build schedule"] = _png(fig)

    costs = tables.get("costs", pd.DataFrame())
    if not costs.empty:
        frame = costs.set_index("period")
        kinds = [(c, label) for c, label in COST_KINDS if c in frame and frame[c].abs().sum() > 0]
        scale = _scale(list(frame[[c for c, _ in kinds]].sum(axis=1)) + list(frame["salvage"]))
        fig, ax = plt.subplots(figsize=(7, 3.6))
        periods = frame.index.astype(str)
        bottom = pd.Series(0.0, index=frame.index)
        for column, label in kinds:
            ax.bar(periods, frame[column] / scale, bottom=bottom / scale, label=label)
            bottom = bottom + frame[column]
        if frame["salvage"].abs().sum() > 0:
            ax.bar(periods, -frame["salvage"] / scale, color="#7f7f7f", label="salvage (credit)")
        ax.axhline(0, color="black", lw=0.8)
        _money_axis(ax, currency, scale, "cost, undiscounted")
        ax.set_title("Cost per period by kind")
        period_axis(ax, list(periods))
        ax.legend(loc="upper left", ncols=3)
        figures["Cost per period by kind"] = _png(fig)

        if "cost_per_million_tokens" in frame:
            fig, ax = plt.subplots(figsize=(7, 3.0))
            ax.plot(periods, frame["cost_per_million_tokens"], "o-", label="period (capex spread straight-line)")
            levelised = summary.get("kpis", {}).get("cost_per_million_tokens")
            if levelised is not None:
                ax.axhline(levelised, ls="--", color="#d62728", label=f"levelised over the horizon: {levelised:.4g}")
            ax.set_ylabel(f"{currency} per million tokens")
            ax.set_title("Cost per million tokens")
            ax.set_ylim(bottom=0)
            ax.legend()
            period_axis(ax, list(periods))
            figures["Cost per million tokens per period"] = _png(fig)

    energy = tables.get("energy", pd.DataFrame())
    if not energy.empty and (energy["emissions_t"].abs().sum() > 0
                             or energy["water_m3"].abs().sum() > 0):
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        for ax, column, label in ((left, "emissions_t", "t CO2"), (right, "water_m3", "m3 of water")):
            pivot = _every_period(tables, energy, "site", column)
            _stacked_bars(ax, pivot, label)
            ax.set_title(("Emissions" if column == "emissions_t" else "Water") + " by site")
        fig.tight_layout()
        figures["Emissions and water by site per period"] = _png(fig)

    demand = tables.get("demand", pd.DataFrame())
    utilisation = tables.get("utilisation", pd.DataFrame())
    if not demand.empty:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        for workload, part in demand.groupby("workload", sort=False):
            periods = part["period"].astype(str)
            line, = left.plot(periods, part["demand_tokens_per_day"], "o--", ms=3, label=f"{workload} demand")
            left.plot(periods, part["served_tokens_per_day"], "-", color=line.get_color(), label=f"{workload} served")
        left.set_ylabel("average tokens per day")
        left.set_yscale("log")
        left.set_title("Demand and tokens served per workload")
        left.legend(ncols=2)
        period_axis(left, list(dict.fromkeys(demand["period"].astype(str))))
        if not utilisation.empty:
            periods = utilisation["period"].astype(str)
            right.bar(periods, utilisation["cards_available"], color="#c6dbef", label="cards available")
            right.plot(periods, utilisation["cards_needed_at_peak"], "o-", label="needed at peak")
            right.plot(periods, utilisation["cards_busy_average"], "s-", label="busy on average")
            right.set_ylabel("cards")
            right.set_title("Capacity against demand (all workloads)")
            right.legend()
            period_axis(right, list(periods))
        fig.tight_layout()
        figures["Demand against capacity per workload"] = _png(fig)
    return figures


def sweep_figures(frame: pd.DataFrame) -> dict[str, str]:
    """KPIs against the varied parameters of a sweep."""
    plt = _pyplot()
    fixed = {"variant", "status", "npv", "cost_per_million_tokens", "mip_gap", "seconds",
             "explanation", "error", "results_dir", "domestic_share"}
    varied = [c for c in frame.columns if c not in fixed and not c.startswith(("cards_", "mw_"))]
    figures: dict[str, str] = {}
    if not varied:
        return figures
    x = varied[0]
    groups = [(None, frame)] if len(varied) == 1 else list(frame.groupby(varied[1]))
    for kpi, label in (("npv", "NPV of total cost of ownership"),
                       ("cost_per_million_tokens", "cost per million tokens")):
        fig, ax = plt.subplots(figsize=(7, 3.4))
        scale = _scale(frame[kpi].dropna().tolist()) if kpi == "npv" else 1.0
        marked = False
        for key, part in groups:
            ok = part[part["status"].isin(PLAN)]
            ax.plot(ok[x], ok[kpi] / scale, "o-", label=None if key is None else str(key))
            bad = part[~part["status"].isin(PLAN)]
            for value in bad[x]:
                ax.axvline(value, color="#d62728", alpha=0.3)
            if len(bad):
                low = ax.get_ylim()[0]
                ax.scatter(bad[x], [low] * len(bad), marker="x", color="#d62728", zorder=5,
                           label=None if marked else "no plan")
                marked = True
        ax.set_xlabel(x)
        unit = {1e9: " (billions)", 1e6: " (millions)", 1e3: " (thousands)", 1.0: ""}[scale]
        ax.set_ylabel(label + unit)
        ax.set_title(f"{label} against {x}" + (" (red: no plan)" if (~frame["status"].isin(["optimal", "feasible"])).any() else ""))
        if len(groups) > 1 or marked:
            ax.legend(title=varied[1] if len(groups) > 1 else None)
        figures[f"{label} against the varied parameters"] = _png(fig)
    return figures




FEW_SCENARIOS = 12
"""Up to this many scenarios are drawn one by one; more as a distribution and a fan."""


def scenario_figures(summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """A scenario plan: each scenario's NPV against the expected one, and each scenario's
    installed cards per period (scenarios are never added together)."""
    plt = _pyplot()
    stochastic = summary["stochastic"]
    currency = summary.get("instance", {}).get("currency", "")
    figures: dict[str, str] = {}
    rows = pd.DataFrame(stochastic["scenarios"])
    risk = stochastic.get("risk") or {}
    if len(rows):
        scale = _scale(rows["npv"].dropna().tolist())
        fig, ax = plt.subplots(figsize=(7, 3.2))
        if len(rows) <= FEW_SCENARIOS:
            labels = [f"{r.scenario}\n(p = {r.probability:.2f})" for r in rows.itertuples()]
            ax.bar(labels, rows["npv"] / scale, color="#9ecae1")
            marks = ax.axhline
        else:        # the distribution: a histogram weighted by probability
            ax.hist(rows["npv"] / scale, bins=min(30, max(10, len(rows) // 5)),
                    weights=rows["probability"], color="#9ecae1")
            ax.set_ylabel("probability")
            marks = ax.axvline
        marks(stochastic["expected_npv"] / scale, ls="--", color="#2ca02c",
              label="expected NPV")
        if risk.get("var_npv") is not None:
            marks(risk["var_npv"] / scale, ls=":", color="#ff7f0e",
                  label=f"VaR {risk.get('alpha', 0.9):g}")
            marks(risk["cvar_npv"] / scale, ls="-.", color="#d62728",
                  label=f"CVaR {risk.get('alpha', 0.9):g}")
        if len(rows) <= FEW_SCENARIOS:
            _money_axis(ax, currency, scale, "NPV")
        else:
            unit = {1e9: " (billions)", 1e6: " (millions)", 1e3: " (thousands)",
                    1.0: ""}[scale]
            ax.set_xlabel(f"NPV {currency}{unit}")
        ax.set_title("NPV across the futures (the first stage shared)")
        ax.legend()
        figures["NPV distribution with VaR and CVaR"] = _png(fig)
    fleet = tables.get("fleet", pd.DataFrame())
    if not fleet.empty and "scenario" in fleet:
        pivot = fleet.pivot_table(index="period", columns="scenario", values="cards",
                                  aggfunc="sum", fill_value=0)
        fig, ax = plt.subplots(figsize=(7, 3.2))
        periods = [str(p) for p in pivot.index]
        if pivot.shape[1] <= FEW_SCENARIOS:
            for scenario in pivot.columns:
                ax.plot(periods, pivot[scenario], "o-", ms=3, label=str(scenario))
            title = "Installed cards in each scenario"
        else:        # the fan: quantiles across the futures, period by period
            q = pivot.quantile([0.0, 0.1, 0.5, 0.9, 1.0], axis=1).T
            x = range(len(periods))
            ax.fill_between(x, q[0.0], q[1.0], color="#c6dbef", label="min to max")
            ax.fill_between(x, q[0.1], q[0.9], color="#6baed6", label="10 % to 90 %")
            ax.plot(x, q[0.5], "o-", ms=3, color="#08519c", label="median")
            ax.set_xticks(list(x))
            title = f"Installed cards across {pivot.shape[1]} futures (fan)"
        commit = stochastic.get("commit_periods", 0)
        if 0 < commit < len(periods):
            ax.axvline(commit - 0.5, color="#7f7f7f", ls=":", label="end of the shared first stage")
        ax.set_ylabel("installed cards")
        ax.set_title(title)
        ax.legend(ncols=2)
        period_axis(ax, periods)
        figures[title.split(" (")[0] if "fan" in title else title] = _png(fig)
    return figures


def risk_frontier_figures(frame: pd.DataFrame) -> dict[str, str]:
    """Expected NPV against CVaR, a point per cvar_weight."""
    plt = _pyplot()
    ok = frame[frame["status"].isin(PLAN)].sort_values("cvar_weight")
    if ok.empty:
        return {}
    scale = _scale(ok["expected_npv"].tolist() + ok["cvar_npv"].tolist())
    unit = {1e9: " (billions)", 1e6: " (millions)", 1e3: " (thousands)", 1.0: ""}[scale]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(ok["cvar_npv"] / scale, ok["expected_npv"] / scale, "o-")
    for row in ok.itertuples():
        ax.annotate(f"w={row.cvar_weight:.2g}", (row.cvar_npv / scale, row.expected_npv / scale),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    alpha = ok["cvar_alpha"].iloc[0]
    ax.set_xlabel(f"CVaR at alpha {alpha:g} of NPV{unit}")
    ax.set_ylabel("expected NPV" + unit)
    ax.set_title("Expected cost against tail cost (w = cvar_weight)")
    return {"Expected NPV against CVaR": _png(fig)}


def pareto_figures(frame: pd.DataFrame) -> dict[str, str]:
    """The cost-against-carbon frontier: NPV against total emissions, point by point."""
    if "cvar_weight" in frame:
        return risk_frontier_figures(frame)
    plt = _pyplot()
    ok = frame[frame["status"].isin(PLAN)].sort_values("emissions_total_t")
    if ok.empty:
        return {}
    scale = _scale(ok["npv_total"].tolist())
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(ok["emissions_total_t"], ok["npv_total"] / scale, "o-")
    for row in ok.itertuples():
        ax.annotate(str(row.point), (row.emissions_total_t, row.npv_total / scale),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    unit = {1e9: " (billions)", 1e6: " (millions)", 1e3: " (thousands)", 1.0: ""}[scale]
    ax.set_xlabel("total emissions over the horizon (t CO2)")
    ax.set_ylabel("NPV of total cost of ownership" + unit)
    ax.set_title("Cost against carbon (0: cheapest, last: cleanest)")
    return {"Cost against carbon": _png(fig)}


def range_figures(frame: pd.DataFrame) -> dict[str, str]:
    """Near-optimal ranges as PyPSA's MGA plots draw them: per slack a panel, per member a bar
    from its least to its most installed cards and a mark at the optimum; an end not proven
    is drawn hatched, out to its proven bound."""
    plt = _pyplot()
    figures: dict[str, str] = {}
    for group, rows in frame.groupby("group", sort=False):
        slacks = sorted(rows["slack"].unique())
        fig, axes = plt.subplots(1, len(slacks), figsize=(3.2 * len(slacks) + 1.5,
                                                          0.45 * rows["member"].nunique() + 1.6),
                                 sharey=True, squeeze=False)
        for ax, slack in zip(axes[0], slacks):
            part = rows[rows["slack"] == slack].reset_index(drop=True)
            for i, row in part.iterrows():
                low, high = row["min_cards"], row["max_cards"]
                if pd.isna(low) or pd.isna(high):
                    ax.text(0, i, "no range", va="center", fontsize=8, color="#b00")
                    continue
                ax.barh(i, high - low, left=low, color="#6baed6", height=0.6)
                for end, bound in (("min", row["min_cards_bound"]), ("max", row["max_cards_bound"])):
                    if row[f"{end}_status"] != "optimal" and not pd.isna(bound):
                        edge = low if end == "min" else high
                        ax.barh(i, bound - edge, left=edge, color="none", edgecolor="#d62728",
                                hatch="//", height=0.6)
                ax.plot([row["optimum_cards"]], [i], marker="|", markersize=16, color="black")
            ax.set_yticks(range(len(part)))
            ax.set_yticklabels([str(m) for m in part["member"]])
            ax.set_title(f"within {slack:.3g} of the optimum", fontsize=9)
            ax.set_xlabel(f"cards installed in {part['period'].iloc[0]}")
        fig.suptitle(f"Near-optimal ranges by {group} (bar: least to most; mark: the optimum; "
                     "hatched: not proven)", fontsize=9, y=1.0)
        fig.subplots_adjust(top=0.82)
        figures[f"Near-optimal ranges by {group}"] = _png(fig)
    return figures
