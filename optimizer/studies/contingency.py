"""What losing a vendor would cost: the optimum's decisions before period F stand (orders
already placed, cooling built, sites opened), and from F on the vendor delivers nothing (a ban
on its accelerators from F, installed cards kept). Cards on order from it arrive as ordered
(``on_order="arrive"``) or never (``"lost"``: their deposits are sunk, their balances never
paid). The rest is re-optimised.

Both sides are the re-plan of :mod:`optimizer.studies.replan` from F: the *base* is the
optimum re-planned from F with nothing lost (its own continuation, or better), the
*contingency* the same with the vendor lost. Their NPVs are money of F on, discounted to F
(the re-plan's convention), so the extra cost is the contingency's NPV minus the base's, and
what was spent before F (the same on both sides) is in neither.

Where no plan covers the loss, the contingency is solved again with demand soft at
``UNMET_PROBE_PER_MILLION_TOKENS`` so that it says how many tokens a day would go unserved.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from optimizer.errors import UsageError

UNMET_PROBE_PER_MILLION_TOKENS = 1e4
"""Price of unserved demand when a lost vendor leaves no plan: far above any card's cost per
token, so the probe serves everything it can and reports what it cannot."""

CONTINGENCY_COLUMNS = ["vendor", "from", "on_order", "npv_from", "base_npv_from", "extra_cost",
                       "unmet_tokens_per_day", "status", "mip_gap", "buy_instead",
                       "results_dir"]
"""contingency.csv: a row per contingency. ``npv_from`` and ``base_npv_from`` are NPVs of
``from`` on (discounted to it); ``extra_cost`` their difference (None without a plan);
``unmet_tokens_per_day`` the average over the periods from ``from`` (0 with a plan);
``buy_instead`` the cards bought from ``from`` on that the base did not buy, by accelerator."""


@dataclass
class Contingency:
    """One lost vendor: the plans on both sides and what the loss costs."""

    vendor: str
    from_period: str
    on_order: str
    base: Any = None
    plan: Any = None
    probe: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def extra_cost(self) -> float | None:
        if self.plan is None or not self.plan.status.has_plan or self.base is None \
                or not self.base.status.has_plan:
            return None
        return self.plan.objective - self.base.objective


def vendor_accelerators(spec: Any, vendor: str) -> list[str]:
    """The accelerators of ``vendor`` (UsageError naming the vendors when it has none)."""
    found = [k for k, a in spec.accelerators.items() if a.vendor == vendor]
    if not found:
        vendors = sorted({a.vendor for a in spec.accelerators.values()})
        raise UsageError(f"--lose vendor={vendor}: no accelerator of that vendor; vendors are "
                         f"{', '.join(vendors)}")
    return found


def lost_vendor_data(rolled: Mapping[str, Any], accelerators: list[str], from_period: str,
                     on_order: str) -> dict[str, Any]:
    """The rolled-forward instance with the vendor's accelerators banned from
    ``from_period`` (installed cards kept) and, when ``on_order`` is "lost", its cards on
    order removed."""
    data = copy.deepcopy(dict(rolled))
    policies = data.setdefault("policies", {}) or {}
    data["policies"] = policies
    policies["ban"] = list(policies.get("ban") or []) + [
        {"accelerators": list(accelerators), "from": from_period, "installed": "keep"}]
    if on_order == "lost":
        for site in (data.get("sites") or {}).values():
            kept = [entry for entry in site.get("on_order") or []
                    if entry.get("accelerator") not in accelerators]
            if kept:
                site["on_order"] = kept
            else:
                site.pop("on_order", None)
    return data


def _unmet_per_day(plan: Any, periods: int, period_years: float) -> float:
    total = (plan.summary.get("kpis") or {}).get("unmet_tokens_total") or 0.0
    days = periods * period_years * 365.0
    return float(total) / days if days else 0.0


def buy_instead(plan: Any, base: Any) -> dict[str, int]:
    """Cards the contingency buys (from its first period) beyond the base's, by accelerator."""
    def bought(p: Any) -> dict[str, float]:
        frame = p.tables.get("purchases", pd.DataFrame())
        if not len(frame):
            return {}
        return frame.groupby("accelerator")["cards"].sum().to_dict()
    mine, theirs = bought(plan), bought(base)
    return {k: int(round(v - theirs.get(k, 0.0))) for k, v in sorted(mine.items())
            if round(v - theirs.get(k, 0.0)) > 0}


def run_contingency(instance: Any, optimum: Any, vendor: str, from_period: str,
                    on_order: str = "arrive", solver: Mapping[str, Any] | None = None,
                    cancel: Any = None) -> Contingency:
    """The contingency of losing ``vendor`` from ``from_period`` after ``optimum``'s first
    decisions (module docstring).

    Raises:
        UsageError: an unknown vendor or period, the first period (nothing is fact before it),
            or ``on_order`` not "arrive" or "lost".
    """
    from optimizer.instance.loader import instance_from_raw
    from optimizer.planning import solve
    from optimizer.studies.replan import roll_forward
    if on_order not in ("arrive", "lost"):
        raise UsageError(f"--on-order {on_order}: arrive or lost")
    accelerators = vendor_accelerators(instance.spec, vendor)
    solver = dict(solver or {})
    rolled = roll_forward(optimum, instance, from_period)
    outcome = Contingency(vendor, from_period, on_order)

    def made(data: Mapping[str, Any]) -> Any:
        return instance_from_raw(dict(data), instance.path, file_digest=instance.input_sha256)
    outcome.base = solve(made(rolled.data), raise_on_infeasible=False, cancel=cancel, **solver)
    lost = lost_vendor_data(rolled.data, accelerators, from_period, on_order)
    outcome.plan = solve(made(lost), raise_on_infeasible=False, cancel=cancel, **solver)
    if not outcome.plan.status.has_plan:
        probe = copy.deepcopy(lost)
        probe["policies"]["unmet_demand_cost_per_million_tokens"] = \
            UNMET_PROBE_PER_MILLION_TOKENS
        outcome.probe = solve(made(probe), raise_on_infeasible=False, explain=False,
                              cancel=cancel, **solver)
        outcome.notes.append("no plan serves every token without the vendor")
    return outcome


def contingency_row(c: Contingency, instance: Any, results_dir: str | None) -> dict[str, Any]:
    """The contingency as a row of contingency.csv."""
    periods = list(instance.spec.horizon.periods)
    left = len(periods) - periods.index(c.from_period)
    years = instance.spec.horizon.period_years
    has = c.plan is not None and c.plan.status.has_plan
    unmet = (_unmet_per_day(c.plan, left, years) if has else
             _unmet_per_day(c.probe, left, years) if c.probe is not None
             and c.probe.status.has_plan else None)
    instead = buy_instead(c.plan if has else c.probe, c.base) if (
        (has or (c.probe is not None and c.probe.status.has_plan))
        and c.base is not None and c.base.status.has_plan) else {}
    return {"vendor": c.vendor, "from": c.from_period, "on_order": c.on_order,
            "npv_from": c.plan.objective if has else None,
            "base_npv_from": c.base.objective if c.base is not None
            and c.base.status.has_plan else None,
            "extra_cost": c.extra_cost, "unmet_tokens_per_day": unmet,
            "status": c.plan.status.value if c.plan is not None else "not_run",
            "mip_gap": c.plan.mip_gap if has else None,
            "buy_instead": "; ".join(f"{k} {v:,}" for k, v in instead.items()) or "nothing",
            "results_dir": results_dir}


def write_contingencies(target: Path, optimum: Any, found: list[Contingency],
                        frame: pd.DataFrame, hedge: Any = None) -> None:
    """The contingency directory, staged then promoted whole: optimum/, base-<from>/,
    lose-<vendor>-<from>/ (the probe's plan where none serves everything) and
    contingency.csv."""
    import shutil

    from optimizer.output.directories import promote, staging_directory
    staging = staging_directory(target)
    try:
        optimum.write(staging / "optimum", force=True)
        for c in found:
            if c.base is not None and c.base.status.has_plan:
                c.base.write(staging / f"base-{c.from_period}", force=True)
            shown = c.plan if c.plan is not None and c.plan.status.has_plan else c.probe
            if shown is not None and shown.status.has_plan:
                shown.write(staging / contingency_dir(c), force=True)
        frame.to_csv(staging / "contingency.csv", index=False, float_format="%.10g")
        if hedge is not None:
            if hedge.plan.status.has_plan:
                hedge.plan.write(staging / "hedge", force=True)
            pd.DataFrame(hedge.rows).to_csv(staging / "hedge.csv", index=False,
                                            float_format="%.10g")
        promote(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def contingency_dir(c: Contingency) -> str:
    clean = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c.vendor)
    return f"lose-{clean}-{c.from_period}"


UNCAPPED_RENTAL_CARDS = 10**9
"""A rental with no cap, written as a cap by period (the scenario caps it at 0 later)."""

HEDGE_TARIFF_RATE = 1000.0
"""In a hedge's contingency scenario, orders of the lost vendor placed from its period pay
price x (1 + this): none is ever placed. (A tariff is keyed by the order's period, so the
cards ordered before it still arrive, as ``--on-order arrive`` has it; a ban would stop
their delivery.)"""


def hedge_data(raw: Mapping[str, Any], spec: Any, vendors: list[str], from_period: str,
               probability: float) -> dict[str, Any]:
    """The instance with a scenario per lost vendor (each of ``probability``) and one with
    nothing lost (the rest), sharing the decisions of the periods before ``from_period``.
    In a vendor's scenario its orders placed from then on are prohibitively tariffed
    (``HEDGE_TARIFF_RATE``) and its rentals hold no card from then on."""
    periods = [str(p) for p in spec.horizon.periods]
    later = periods[periods.index(from_period):]
    data = copy.deepcopy(dict(raw))
    tariffs = list((data.get("policies") or {}).get("tariff") or [])
    block: dict[str, Any] = {"none": {"probability": 1.0 - probability * len(vendors)}}
    for vendor in vendors:
        accelerators = vendor_accelerators(spec, vendor)
        fragment: dict[str, Any] = {"policies": {"tariff": tariffs + [
            {"accelerators": accelerators, "from": from_period, "rate": HEDGE_TARIFF_RATE}]}}
        rentals = {}
        for name, rental in spec.rentals.items():
            if rental.accelerator in accelerators:
                cap = rental.max_cards
                def before(p: str) -> Any:
                    value = cap.get(p) if isinstance(cap, dict) else cap
                    return UNCAPPED_RENTAL_CARDS if value is None else value
                rentals[name] = {"max_cards": {p: 0 if p in later else before(p)
                                               for p in periods}}
        if rentals:
            fragment["rentals"] = rentals
        block[f"lose-{vendor}"] = {"probability": probability, "overrides": fragment}
    block["commit_periods"] = periods.index(from_period)
    data["scenarios"] = block
    return data


@dataclass
class Hedge:
    """A first stage planned against the contingencies: the hedge's plan, the optimum's first
    stage in the same scenarios, and each scenario's NPV under both."""

    plan: Any
    optimum_in_scenarios: Any
    rows: list[dict[str, Any]]

    @property
    def saving(self) -> float | None:
        """Expected NPV of the optimum's first stage minus the hedge's (>= 0 at the optimum
        of the hedge)."""
        if not self.plan.status.has_plan or not self.optimum_in_scenarios.status.has_plan:
            return None
        return self.optimum_in_scenarios.objective - self.plan.objective


def run_hedge(instance: Any, raw: Mapping[str, Any], optimum: Any, vendors: list[str],
              from_period: str, probability: float, solver: Mapping[str, Any] | None = None,
              cancel: Any = None) -> Hedge:
    """Plan the periods before ``from_period`` against losing each of ``vendors`` (each with
    ``probability``) and compare with the optimum's first stage in the same scenarios.

    Raises:
        UsageError: probabilities that do not leave a share for "nothing lost".
    """
    from optimizer.instance.loader import instance_from_raw
    from optimizer.planning import solve
    if not 0 < probability or probability * len(vendors) >= 1:
        raise UsageError(f"--hedge {probability:g}: each contingency's probability, > 0 and "
                         f"below 1 / {len(vendors)} (the rest is nothing lost)")
    data = hedge_data(raw, instance.spec, vendors, from_period, probability)
    scenarios = instance_from_raw(data, instance.path, dict(instance.overrides))
    solver = {k: v for k, v in dict(solver or {}).items() if v is not None}
    plan = solve(scenarios, raise_on_infeasible=False, cancel=cancel,
                 value_of_information=False, **solver)
    commit = data["scenarios"]["commit_periods"]
    fixed = solve(scenarios, raise_on_infeasible=False, cancel=cancel,
                  value_of_information=False, fix_first_stage=(commit, optimum.decisions),
                  **solver)
    rows = []
    hedge_npv = _scenario_npv(plan)
    optimum_npv = _scenario_npv(fixed)
    for name, probability_s in _probabilities(plan).items():
        a, b = hedge_npv.get(name), optimum_npv.get(name)
        rows.append({"scenario": name, "probability": probability_s, "hedge_npv": a,
                     "optimum_first_stage_npv": b,
                     "hedge_saves": None if a is None or b is None else b - a})
    return Hedge(plan, fixed, rows)


def _scenario_npv(plan: Any) -> dict[str, float]:
    table = plan.tables.get("scenarios") if plan.status.has_plan else None
    return {} if table is None else table.set_index("scenario")["npv"].to_dict()


def _probabilities(plan: Any) -> dict[str, float]:
    table = plan.tables.get("scenarios") if plan.status.has_plan else None
    return {} if table is None else table.set_index("scenario")["probability"].to_dict()


@dataclass
class ContingencyStudy:
    """Every contingency of a run, with the optimum and (asked for) the hedge."""

    frame: pd.DataFrame
    optimum: Any
    found: list[Contingency]
    hedge: Hedge | None = None


def run_contingencies(instance: Any, raw: Mapping[str, Any], vendors: list[str],
                      from_period: str, on_order: str = "arrive",
                      hedge_probability: float | None = None,
                      output_dir: str | Path | None = None, force: bool = False,
                      solver: Mapping[str, Any] | None = None,
                      cancel: Any = None) -> ContingencyStudy:
    """Solve the optimum, then one contingency per vendor of ``vendors`` (an empty list:
    every vendor), and the hedge when ``hedge_probability`` is given; write the directory
    (:func:`write_contingencies`) when ``output_dir`` is given.

    Raises:
        UsageError: a scenario instance, an unknown vendor, --from not after the first period,
            a hedge probability out of range, or no plan without a contingency.
    """
    from optimizer.output.directories import check_destination
    from optimizer.planning import solve
    spec = instance.spec
    if spec.scenarios is not None:
        raise UsageError(f"{instance.path}: a contingency is of a plan of one future; this "
                         "instance has scenarios (remove them with --set scenarios=null)")
    vendors = list(vendors) or sorted({a.vendor for a in spec.accelerators.values()})
    for vendor in vendors:
        vendor_accelerators(spec, vendor)
    periods = [str(p) for p in spec.horizon.periods]
    if from_period not in periods[1:]:
        raise UsageError(f"--from {from_period}: a period after the first "
                         f"({', '.join(periods[1:])})")
    if on_order not in ("arrive", "lost"):
        raise UsageError(f"--on-order {on_order}: arrive or lost")
    if hedge_probability is not None and not (
            0 < hedge_probability and hedge_probability * len(vendors) < 1):
        raise UsageError(f"--hedge {hedge_probability:g}: each contingency's probability, > 0 "
                         f"and below 1 / {len(vendors)} (the rest is nothing lost)")
    target = check_destination(output_dir, force) if output_dir is not None else None
    solver = dict(solver or {})
    optimum = solve(instance, raise_on_infeasible=False, cancel=cancel, **solver)
    if not optimum.status.has_plan:
        raise UsageError("no plan exists without a contingency (solve the instance to see what "
                         "would have to give)")
    found = [run_contingency(instance, optimum, v, from_period, on_order, solver, cancel)
             for v in vendors]
    hedge = (run_hedge(instance, raw, optimum, vendors, from_period, hedge_probability, solver,
                       cancel) if hedge_probability is not None else None)
    frame = pd.DataFrame([contingency_row(c, instance, contingency_dir(c)) for c in found],
                         columns=CONTINGENCY_COLUMNS)
    if target is not None:
        write_contingencies(target, optimum, found, frame, hedge)
    return ContingencyStudy(frame, optimum, found, hedge)
