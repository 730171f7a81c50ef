"""What else costs almost the same (modelling to generate alternatives, as PyPSA's
``optimize_mga``): for each slack e and each member of each group (a vendor, a site, a cooling
mode, an accelerator), the least and the most cards of that member installed in period P over
every plan whose NPV is at most (1 + e) x the optimum's.

Each range end is a MILP: the optimum's model with the row ``NPV <= (1 + e) x optimum``
(``npv_ceiling``) and the objective replaced by the member's installed cards in P, minimised
or maximised (``member_cards``). Its status and gap are the card objective's: an unproven end
is a bound's distance from the truth, not a fact, and says so. The end's plan is then costed
as it stands (its decisions fixed, :func:`optimizer.planning.solve` with
``fix_first_stage``) so its NPV and its results directory are those of any other plan.

The range ends are independent solves: they run like a sweep's variants (worker processes or
Dask), each warm-started from the optimum's plan (feasible in every end: it meets the NPV row
at e >= 0).
"""
from __future__ import annotations

import functools
import math
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pyomo.environ as pyo

from optimizer.errors import Interrupted, UsageError
from optimizer.studies.sweep import NOT_RUN, denoised, one_line

SLACK_MAX = 10.0
"""Largest slack (1000 % above the optimum): beyond it the NPV row no longer binds anything a
planner would sign, and a slack like 1e308 would make the row's bound infinite."""

RANGES_FILE = "ranges.csv"
DIVERSE_FILE = "diverse.csv"
DIVERSE_DIR = "diverse"
ENDS_DIR = "ends"
OPTIMUM_DIR = "optimum"
GROUPS = ("vendor", "site", "cooling", "accelerator")
RANGE_COLUMNS = ["slack", "group", "member", "period", "optimum_cards", "min_cards",
                 "max_cards", "npv_at_min", "npv_at_max", "status", "gap", "min_status",
                 "max_status", "min_gap", "max_gap", "min_cards_bound", "max_cards_bound",
                 "min_dir", "max_dir", "error"]
"""ranges.csv. ``status`` is ``optimal`` only when both ends are proven (within the gap);
``gap`` the larger of the two ends' gaps. An unproven end's ``*_cards_bound`` is the proven
limit beyond which no plan goes: the true least lies in [min_cards_bound, min_cards], the
true most in [max_cards, max_cards_bound]."""


@dataclass(frozen=True)
class NpvCeiling:
    """An extra family: the plan's NPV <= ``limit`` (currency) (``npv_ceiling``)."""

    limit: float

    def __call__(self, model: pyo.ConcreteModel, data: Any) -> None:
        model.npv_ceiling = pyo.Constraint(expr=model.npv.expr <= self.limit / data.money_unit)


@dataclass(frozen=True)
class MemberCards:
    """An extra family that replaces the objective by the cards installed in ``period`` of
    the accelerators, sites and cooling modes given (None: any), minimised (``sense`` "min")
    or maximised ("max", as the minimum of their negative): ``member_cards``."""

    period: str
    sense: str
    accelerators: tuple[str, ...] | None = None
    sites: tuple[str, ...] | None = None
    coolings: tuple[str, ...] | None = None

    def terms(self, data: Any) -> list[tuple[str, str, str, int]]:
        t = list(data.periods).index(self.period)
        return [(k, s, c, tt) for (k, s, c, tt) in data.FLEET if tt == t
                and (self.accelerators is None or k in self.accelerators)
                and (self.sites is None or s in self.sites)
                and (self.coolings is None or c in self.coolings)]

    def __call__(self, model: pyo.ConcreteModel, data: Any) -> None:
        cards = pyo.quicksum(model.fleet[key] for key in self.terms(data))
        model.npv.deactivate()
        model.member_cards = pyo.Objective(expr=cards if self.sense == "min" else -cards,
                                           sense=pyo.minimize)


@dataclass(frozen=True)
class ShareCap:
    """An extra family: each member's installed cards in ``period`` at most ``share`` of all
    installed cards then (``diverse_share``): cards_m(P) - share x cards(P) <= 0."""

    period: str
    share: float
    selections: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]

    def __call__(self, model: pyo.ConcreteModel, data: Any) -> None:
        every = MemberCards(self.period, "min").terms(data)
        if not every:
            return
        total = pyo.quicksum(model.fleet[key] for key in every)
        rows = []
        for selection in self.selections:
            mine = MemberCards(self.period, "min", **dict(selection)).terms(data)
            if mine:
                rows.append(pyo.quicksum(model.fleet[key] for key in mine)
                            - self.share * total <= 0)
        if rows:
            model.diverse_share = pyo.ConstraintList()
            for row in rows:
                model.diverse_share.add(row)


DIVERSE_TOLERANCE = 1e-3
"""The bisection on the largest share stops when its interval is this narrow."""


@dataclass
class DiversePlan:
    """The most even plan within a slack: the smallest largest share of installed cards in
    ``period`` among ``group``'s members over the plans with NPV <= ``npv_limit``.

    Attributes:
        share: the largest member's share in the plan found; proven_below: no plan within the
            slack has a largest share under this (the bisection's proven lower end; None when
            a step could not be decided in its time limit).
        plan: the plan (None: none found); steps: (share cap, outcome) of the bisection.
    """

    slack: float
    group: str
    period: str
    npv_limit: float
    share: float | None = None
    proven_below: float | None = None
    plan: Any = None
    steps: list[tuple[float, str]] | None = None
    optimum_share: float | None = None


def diverse_plan(instance: Any, group: str, slack: float, period: str, optimum: Any,
                 solver: Mapping[str, Any], cancel: Any = None) -> DiversePlan:
    """Bisect the cap on every member's share (each step: the cheapest plan under the cap)
    until the smallest cap with a plan within the slack is known to ``DIVERSE_TOLERANCE``.
    A step decides "within the slack" by a plan whose NPV is under the ceiling, and "not" by
    infeasibility or a proven bound above it; an undecided step (time limit) counts as not,
    and the lower end is then no longer proven."""
    from optimizer.planning import solve
    found = members(instance.spec, group)
    selections = tuple(tuple(sorted(select.items())) for select in found.values())
    vendors = {k: a.vendor for k, a in instance.spec.accelerators.items()}
    limit = (1 + slack) * optimum.objective
    result = DiversePlan(slack, group, period, limit, steps=[])

    def largest(plan: Any) -> float:
        total = installed_cards(plan.tables, period, {}, vendors)
        if total <= 0:
            return 0.0
        return max(installed_cards(plan.tables, period, select, vendors)
                   for select in found.values()) / total
    result.share, result.plan = largest(optimum), optimum
    result.optimum_share = result.share
    low, high, proven = 1.0 / max(len(found), 1) - DIVERSE_TOLERANCE, result.share, True
    while high - low > DIVERSE_TOLERANCE and not (cancel is not None and cancel.is_set()):
        cap = (low + high) / 2
        plan = solve(instance, raise_on_infeasible=False, explain=False, cancel=cancel,
                     extra_constraints=[ShareCap(period, cap, selections)],
                     start=None, **solver)
        if plan.status.has_plan and plan.objective <= limit * (1 + 1e-9):
            result.share, result.plan, high = largest(plan), plan, largest(plan)
            result.steps.append((cap, f"a plan within the slack, largest share {high:.4f}"))
        else:
            decided = plan.status.value == "infeasible" or (
                plan.best_bound is not None and plan.best_bound > limit)
            proven = proven and decided
            low = cap
            result.steps.append((cap, "no plan within the slack" if decided else
                                 f"undecided in the time limit ({plan.status.value})"))
    result.proven_below = max(low, 0.0) if proven else None
    return result


def members(spec: Any, group: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """The members of ``group`` and what selects each (MemberCards' keyword arguments)."""
    accelerators = spec.accelerators
    if group == "vendor":
        vendors = sorted({a.vendor for a in accelerators.values()})
        return {v: {"accelerators": tuple(k for k, a in accelerators.items() if a.vendor == v)}
                for v in vendors}
    if group == "accelerator":
        return {k: {"accelerators": (k,)} for k in accelerators}
    if group == "site":
        return {s: {"sites": (s,)} for s in spec.sites}
    if group == "cooling":
        modes = sorted({c for site in spec.sites.values() for c in site.cooling})
        return {c: {"coolings": (c,)} for c in modes}
    raise UsageError(f"--by {group}: groups are {', '.join(GROUPS)}")


def installed_cards(tables: Mapping[str, pd.DataFrame], period: str,
                    select: Mapping[str, tuple[str, ...]], vendors: Mapping[str, str]) -> float:
    """Cards installed in ``period`` (fleet.csv) of the accelerators, sites and coolings in
    ``select``."""
    fleet = tables.get("fleet", pd.DataFrame())
    if not len(fleet):
        return 0.0
    rows = fleet[fleet["period"].astype(str) == period]
    for column, key in (("accelerator", "accelerators"), ("site", "sites"),
                        ("cooling", "coolings")):
        if key in select:
            rows = rows[rows[column].isin(select[key])]
    return float(rows["cards"].sum())


@dataclass(frozen=True)
class EndJob:
    """One range end: the instance as read, the slack's NPV ceiling, the member, the sense."""

    raw: Mapping[str, Any]
    path: str
    digest: str
    overrides: Mapping[str, Any]
    slack: float
    group: str
    member: str
    select: Mapping[str, tuple[str, ...]]
    period: str
    sense: str
    npv_limit: float
    solver: Mapping[str, Any]
    start: Mapping[str, float] | None = None

    @property
    def name(self) -> str:
        clean = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in self.member)
        return f"{self.slack:g}-{self.group}-{clean}-{self.sense}"


def solve_end(job: EndJob, cancel: Any = None) -> tuple[dict[str, Any], tuple | None]:
    """A range end: its cards, status, gap and proven bound, its plan costed as it stands
    (NPV, results). Never an exception."""
    from optimizer.instance.loader import instance_from_raw
    from optimizer.parallel import worker_stop_flag
    from optimizer.planning import solve
    cancel = cancel if cancel is not None else worker_stop_flag()
    row: dict[str, Any] = {"slack": job.slack, "group": job.group, "member": job.member,
                           "sense": job.sense}
    try:
        instance = instance_from_raw(dict(job.raw), job.path, job.overrides, job.digest)
        family = MemberCards(job.period, job.sense, **job.select)
        plan = solve(instance, raise_on_infeasible=False, explain=False, cancel=cancel,
                     extra_constraints=[NpvCeiling(job.npv_limit), family],
                     start=dict(job.start) if job.start else None, **job.solver)
        if not plan.status.has_plan:
            row.update(status=plan.status.value, error="no plan found for this end")
            return row, None
        vendors = {k: a.vendor for k, a in instance.spec.accelerators.items()}
        cards = installed_cards(plan.tables, job.period, job.select, vendors)
        gap = plan.mip_gap
        bound = None
        if gap is not None and math.isfinite(gap):
            slack_cards = gap * abs(cards)
            bound = cards - slack_cards if job.sense == "min" else cards + slack_cards
            bound = max(bound, 0.0)
        costed = solve(instance, raise_on_infeasible=False, explain=False, cancel=cancel,
                       fix_first_stage=(len(instance.spec.horizon.periods), plan.decisions),
                       **job.solver)
    except Interrupted:
        row.update(status=NOT_RUN, error="interrupted before a plan was found")
        return row, None
    except Exception as exc:  # noqa: BLE001 - one end must not sink the ranges
        row.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        return row, None
    row.update(cards=cards, status=plan.status.value, gap=gap, bound=bound,
               npv=costed.objective if costed.status.has_plan else None)
    return row, ((costed.summary, costed.tables) if costed.status.has_plan else None)


def run_alternatives(instance_path: str | Path, slacks: list[float], groups: list[str],
                     output_dir: str | Path | None = None, *, period: str | None = None,
                     overrides: Mapping[str, Any] | None = None, override_files=(),
                     solver: Mapping[str, Any] | None = None, workers: int | None = None,
                     backend: str = "local", scheduler: str | None = None,
                     force: bool = False, data_dir: str | Path | None = None,
                     max_bytes: int | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Any = None, diverse: str | None = None) -> pd.DataFrame:
    """Near-optimal ranges (module docstring): solve the optimum, then every range end; return
    (and write) ``ranges.csv``, ``optimum/`` and ``ends/<slack>-<group>-<member>-<min|max>/``.
    With ``diverse`` (a group), also the most even plan of that group within each slack
    (:func:`diverse_plan`): ``diverse.csv`` and ``diverse/<slack>/``.

    Raises:
        UsageError: a slack below 0, an unknown group or period, a scenario instance, or no
            plan exists.
    """
    from optimizer.instance.loader import instance_from_raw, read_raw_instance
    from optimizer.output.directories import check_destination
    from optimizer.parallel import Runner
    from optimizer.planning import solve
    if not slacks or any(not math.isfinite(e) or e < 0 or e > SLACK_MAX for e in slacks):
        raise UsageError(f"--slack: fractions from 0 to {SLACK_MAX:g} (0.01 for 1 % above the "
                         "optimum)")
    read = read_raw_instance(instance_path, override_files, data_dir, max_bytes)
    overrides = dict(overrides or {})
    instance = instance_from_raw(read.raw, instance_path, overrides, read.digest)
    spec = instance.spec
    if spec.scenarios is not None:
        raise UsageError(f"{instance_path}: ranges are of a plan of one future; this instance "
                         "has scenarios (remove them with --set scenarios=null)")
    periods = [str(p) for p in spec.horizon.periods]
    period = periods[-1] if period is None else str(period)
    if period not in periods:
        raise UsageError(f"--period {period}: periods are {', '.join(periods)}")
    chosen = {group: members(spec, group) for group in groups}
    target = check_destination(output_dir, force) if output_dir is not None else None
    solver = dict(solver or {})
    optimum = solve(instance, raise_on_infeasible=False, cancel=cancel, **solver)
    if cancel is not None and cancel.is_set() and not optimum.status.has_plan:
        raise Interrupted("interrupted before the optimum was found; nothing was written")
    if not optimum.status.has_plan:
        raise UsageError("no plan exists, so there are no near-optimal plans (solve the "
                         "instance to see what would have to give)")
    vendors = {k: a.vendor for k, a in spec.accelerators.items()}
    jobs = [EndJob(raw=read.raw, path=str(instance_path), digest=read.digest,
                   overrides=overrides, slack=e, group=group, member=member, select=select,
                   period=period, sense=sense, npv_limit=(1 + e) * optimum.objective,
                   solver={k: v for k, v in solver.items() if k != "explain"},
                   start=optimum.start_values)
            for e in slacks for group, found in chosen.items()
            for member, select in found.items() for sense in ("min", "max")]
    total = len(jobs) + 1
    if progress:
        progress(1, total)
    workers = workers or os.cpu_count() or 1
    if workers > 1 and solver.get("threads") is None:
        jobs = [replace(job, solver={**job.solver, "threads": 1}) for job in jobs]
    results: dict[str, tuple[dict[str, Any], Any]] = {}
    in_process = min(workers, len(jobs)) <= 1 and backend == "local"
    work = functools.partial(solve_end, cancel=cancel) if in_process else solve_end
    with Runner(min(workers, max(len(jobs), 1)), backend, scheduler, cancel=cancel) as runner:
        for job, outcome in runner.run(work, jobs):
            results[job.name] = outcome
            if progress:
                progress(len(results) + 1, total)
    rows = []
    for e in slacks:
        for group, found in chosen.items():
            for member, select in found.items():
                ends = {}
                for sense in ("min", "max"):
                    name = EndJob(read.raw, "", "", {}, e, group, member, select, period, sense,
                                  0.0, {}).name
                    ends[sense] = results.get(name, ({"status": NOT_RUN, "error": "not run: "
                                                      "the ranges were interrupted"}, None))[0]
                    ends[sense]["dir"] = (f"{ENDS_DIR}/{name}" if results.get(name, (0, None))[1]
                                          is not None else None)
                rows.append(_range_row(e, group, member, period, ends,
                                       installed_cards(optimum.tables, period, select, vendors)))
    frame = denoised(pd.DataFrame(rows, columns=RANGE_COLUMNS))
    even: list[DiversePlan] = []
    if diverse is not None:
        members(spec, diverse)                       # a bad group is refused before solving
        even = [diverse_plan(instance, diverse, e, period, optimum,
                             {k: v for k, v in solver.items() if k != "explain"}, cancel)
                for e in slacks]
    if target is not None:
        _write(target, optimum, results, frame, even)
    frame.attrs["diverse"] = diverse_table(even, optimum) if even else None
    return frame


DIVERSE_COLUMNS = ["slack", "group", "period", "largest_share", "proven_below",
                   "optimum_largest_share", "npv_total", "npv_limit", "status", "results_dir"]


def diverse_table(even: list[DiversePlan], optimum: Any) -> pd.DataFrame:
    """diverse.csv: a row per slack."""
    rows = []
    for d in even:
        rows.append({"slack": d.slack, "group": d.group, "period": d.period,
                     "largest_share": d.share, "proven_below": d.proven_below,
                     "optimum_largest_share": d.optimum_share,
                     "npv_total": d.plan.objective if d.plan is not None else None,
                     "npv_limit": d.npv_limit,
                     "status": "proven" if d.proven_below is not None else "unproven",
                     "results_dir": f"{DIVERSE_DIR}/{d.slack:g}"})
    return pd.DataFrame(rows, columns=DIVERSE_COLUMNS)


def _range_row(slack: float, group: str, member: str, period: str,
               ends: Mapping[str, Mapping[str, Any]], optimum_cards: float) -> dict[str, Any]:
    low, high = ends["min"], ends["max"]
    proven = all(end.get("status") == "optimal" for end in (low, high))
    has = all(end.get("status") in ("optimal", "feasible") for end in (low, high))
    gaps = [end.get("gap") for end in (low, high) if end.get("gap") is not None]
    return {"slack": slack, "group": group, "member": member, "period": period,
            "optimum_cards": optimum_cards, "min_cards": low.get("cards"),
            "max_cards": high.get("cards"), "npv_at_min": low.get("npv"),
            "npv_at_max": high.get("npv"),
            "status": "optimal" if proven else ("feasible" if has else
                                                low.get("status") if low.get("status") not in
                                                ("optimal", "feasible") else high.get("status")),
            "gap": max(gaps) if gaps else None, "min_status": low.get("status"),
            "max_status": high.get("status"), "min_gap": low.get("gap"),
            "max_gap": high.get("gap"), "min_cards_bound": low.get("bound"),
            "max_cards_bound": high.get("bound"), "min_dir": low.get("dir"),
            "max_dir": high.get("dir"), "error": low.get("error") or high.get("error")}


def _write(target: Path, optimum: Any, results: Mapping[str, tuple[dict, Any]],
           frame: pd.DataFrame, even: list[DiversePlan]) -> None:
    """The ranges directory, staged then promoted whole."""
    from optimizer.output.directories import promote, staging_directory
    from optimizer.output.results import write_results
    staging = staging_directory(target)
    try:
        optimum.write(staging / OPTIMUM_DIR, force=True)
        if even:
            for d in even:
                if d.plan is not None:
                    d.plan.write(staging / DIVERSE_DIR / f"{d.slack:g}", force=True)
            diverse_table(even, optimum).to_csv(staging / DIVERSE_FILE, index=False,
                                                float_format="%.10g")
        for name, (_, plan_data) in results.items():
            if plan_data is not None:
                write_results(staging / ENDS_DIR / name, *plan_data)
        frame.to_csv(staging / RANGES_FILE, index=False, float_format="%.10g")
        promote(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
