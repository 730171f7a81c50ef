"""Cost against carbon (shared/design/energy.md, "Cost against carbon"): N plans from the
cheapest (no cap) to the cleanest (least total emissions; among those the cheapest), the ones
between under a cap on total emissions at evenly spaced levels (the epsilon-constraint method).

The points between the ends are independent solves: they run like a sweep's variants (worker
processes or Dask), each job carrying the instance data; the client writes the results.
"""
from __future__ import annotations

import functools
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pyomo.environ as pyo

from optimizer.errors import Interrupted, UsageError
from optimizer.studies.sweep import NOT_RUN, denoised, one_line

PARETO_FILE = "pareto.csv"
POINTS_DIR = "points"
PARETO_COLUMNS = ["point", "emissions_cap_t", "emissions_total_t", "npv_total",
                  "cost_per_million_tokens", "status", "mip_gap", "results_dir"]
CLEANEST_TOLERANCE = 1e-6
"""Relative slack on the least emissions when the cleanest plan's cost is minimised."""


@dataclass(frozen=True)
class EmissionsLimit:
    """An extra family: total emissions over the horizon <= ``tonnes``
    (``emissions_limit``, tonnes of CO2)."""

    tonnes: float

    def __call__(self, model: pyo.ConcreteModel, data: Any) -> None:
        from formulations.energy import total_emissions
        model.emissions_limit = pyo.Constraint(expr=total_emissions(model, data) <= self.tonnes)


@dataclass(frozen=True)
class MinimiseEmissions:
    """An extra family that replaces the objective by total emissions (tonnes of CO2)."""

    def __call__(self, model: pyo.ConcreteModel, data: Any) -> None:
        from formulations.energy import total_emissions
        model.npv.deactivate()
        model.least_emissions = pyo.Objective(expr=total_emissions(model, data),
                                              sense=pyo.minimize)


@dataclass(frozen=True)
class ParetoJob:
    """One point: the instance as read, its overrides, the emissions cap, solver options."""

    raw: Mapping[str, Any]
    path: str
    digest: str
    overrides: Mapping[str, Any]
    point: int
    cap_t: float | None
    solver: Mapping[str, Any]


def solve_point(job: ParetoJob, cancel: Any = None
                ) -> tuple[dict[str, Any], tuple[dict, dict] | None]:
    """A frontier point's row and (summary, tables) of its plan; never an exception."""
    from optimizer.instance.loader import instance_from_raw
    from optimizer.planning import solve
    from optimizer.parallel import worker_stop_flag
    cancel = cancel if cancel is not None else worker_stop_flag()
    row: dict[str, Any] = {"point": job.point, "emissions_cap_t": job.cap_t}
    try:
        instance = instance_from_raw(dict(job.raw), job.path, job.overrides, job.digest)
        extra = [] if job.cap_t is None else [EmissionsLimit(job.cap_t)]
        plan = solve(instance, raise_on_infeasible=False, extra_constraints=extra,
                     cancel=cancel, **job.solver)
    except Interrupted:
        row.update(status=NOT_RUN, error="interrupted before a plan was found")
        return row, None
    except Exception as exc:  # noqa: BLE001 - one point must not sink the frontier
        row.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        return row, None
    kpis = plan.summary.get("kpis") or {}
    row.update(emissions_total_t=kpis.get("emissions_total_t"), npv_total=plan.objective,
               cost_per_million_tokens=kpis.get("cost_per_million_tokens"),
               status=plan.status.value, mip_gap=plan.mip_gap,
               results_dir=f"{POINTS_DIR}/{job.point:04d}")
    return row, (plan.summary, plan.tables)


@dataclass
class Frontier:
    """The frontier: one row per point (columns of ``pareto.csv``)."""

    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PARETO_COLUMNS))


def emits(spec: Any) -> bool:
    """Whether any plan of the instance can emit: some site's grid carbon or some supply
    contract's carbon is above 0."""
    for site in spec.sites.values():
        carbon = site.grid_carbon_kg_per_mwh
        if (max(carbon.values(), default=0.0) if isinstance(carbon, dict) else carbon) > 0:
            return True
        if any(contract.carbon_kg_per_mwh > 0 for contract in site.ppa.values()):
            return True
    return False


def least_emissions(instance: Any, solver: Mapping[str, Any], cancel: Any = None) -> float:
    """The least total emissions any plan of ``instance`` has (tonnes)."""
    from optimizer.planning import solve
    plan = solve(instance, raise_on_infeasible=False, explain=False,
                 extra_constraints=[MinimiseEmissions()], cancel=cancel, **solver)
    if not plan.status.has_plan:
        raise UsageError("no plan exists, so there is no frontier (solve the instance to see "
                         "what would have to give)")
    return float((plan.summary.get("kpis") or {}).get("emissions_total_t") or 0.0)


def run_pareto(instance_path: str | Path, points: int, output_dir: str | Path | None = None,
               *, overrides: Mapping[str, Any] | None = None, override_files=(),
               solver: Mapping[str, Any] | None = None, workers: int | None = None,
               backend: str = "local", scheduler: str | None = None, force: bool = False,
               data_dir: str | Path | None = None, max_bytes: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: Any = None) -> pd.DataFrame:
    """``points`` plans from the cheapest to the cleanest (see the module docstring); return
    (and write) ``pareto.csv`` with one results directory per point. ``cancel`` stops it: the
    points done are written, the rest listed as ``not_run``.

    Raises:
        UsageError: fewer than 2 points, an instance that emits nothing (no trade-off), or
            no plan exists.
    """
    import os

    from optimizer.instance.loader import instance_from_raw, read_raw_instance
    from optimizer.output.directories import check_destination
    from optimizer.parallel import Runner
    if points < 2:
        raise UsageError("--points must be at least 2 (the cheapest and the cleanest plans)")
    read = read_raw_instance(instance_path, override_files, data_dir, max_bytes)
    overrides = dict(overrides or {})
    instance = instance_from_raw(read.raw, instance_path, overrides, read.digest)
    if not emits(instance.spec):
        raise UsageError(f"{instance_path}: no emissions (every site's grid_carbon_kg_per_mwh "
                         "and every supply contract's carbon is 0), so no cost-against-carbon "
                         "trade-off to trace")
    target = check_destination(output_dir, force) if output_dir is not None else None
    solver = dict(solver or {})
    workers = workers or os.cpu_count() or 1

    def job(point: int, cap: float | None) -> ParetoJob:
        return ParetoJob(raw=read.raw, path=str(instance_path), digest=read.digest,
                         overrides=overrides, point=point, cap_t=cap, solver=solver)
    cheapest_row, cheapest_plan = solve_point(job(0, None), cancel)
    if cheapest_row.get("status") == NOT_RUN:
        raise Interrupted("interrupted before the cheapest plan was found; nothing was written")
    if cheapest_row.get("status") not in ("optimal", "feasible"):
        raise UsageError("no plan exists, so there is no frontier (solve the instance to see "
                         "what would have to give)")
    high = float(cheapest_row.get("emissions_total_t") or 0.0)
    low = least_emissions(instance, {k: v for k, v in solver.items() if k != "explain"},
                          cancel)
    levels = [high - (high - low) * i / (points - 1) for i in range(1, points)]
    levels[-1] = low * (1 + CLEANEST_TOLERANCE) + CLEANEST_TOLERANCE
    jobs = [job(i + 1, cap) for i, cap in enumerate(levels)]
    results = [(cheapest_row, cheapest_plan)]
    done = 1
    if progress:
        progress(done, points)
    if workers > 1 and solver.get("threads") is None:
        solver["threads"] = 1
    in_process = min(workers, len(jobs)) <= 1 and backend == "local"
    work = functools.partial(solve_point, cancel=cancel) if in_process else solve_point
    with Runner(min(workers, len(jobs)), backend, scheduler, cancel=cancel) as runner:
        for _, outcome in runner.run(work, jobs):
            results.append(outcome)
            done += 1
            if progress:
                progress(done, points)
    solved = {row["point"] for row, _ in results}
    results += [({"point": j.point, "emissions_cap_t": j.cap_t, "status": NOT_RUN,
                  "error": "not run: the frontier was interrupted"}, None)
                for j in jobs if j.point not in solved]
    rows = sorted((row for row, _ in results), key=lambda r: r["point"])
    frame = pd.DataFrame(rows)
    for column in PARETO_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = denoised(frame[PARETO_COLUMNS + [c for c in frame.columns if c not in PARETO_COLUMNS]])
    if target is not None:
        write_frontier(target, results, frame)
    return frame


def write_frontier(target: Path, results: list[tuple[dict[str, Any], Any]],
                   frame: pd.DataFrame) -> None:
    """A frontier directory, staged then promoted whole: ``points/NNNN/`` for each point with
    a plan ((row, (summary, tables)) of ``results``) and ``pareto.csv`` (``frame``)."""
    from optimizer.output.directories import promote, staging_directory
    from optimizer.output.results import write_results
    staging = staging_directory(target)
    try:
        for row, plan_data in results:
            if plan_data is not None:
                write_results(staging / POINTS_DIR / f"{row['point']:04d}", *plan_data)
        frame.to_csv(staging / PARETO_FILE, index=False, float_format="%.10g")
        promote(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def frontier_is_monotone(frame: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Whether, over the points with a plan, cost never falls as emissions fall."""
    ok = frame[frame["status"].isin(["optimal", "feasible"])].sort_values("point")
    costs = ok["npv_total"].to_list()
    return all(b >= a - tolerance * max(1.0, abs(a)) for a, b in zip(costs, costs[1:])
               if not (math.isnan(a) or math.isnan(b)))
