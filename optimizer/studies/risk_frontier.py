"""Expected NPV against CVaR (uncertainty.md, "Risk"): ``accelplan pareto FILE --risk``.

Point i of N plans the scenario instance with ``scenarios.risk.cvar_weight`` w = i / (N - 1),
from w = 0 (risk-neutral: the least expected NPV) to w = 1 (the least CVaR), at the file's
``cvar_alpha`` (0.9 when it sets none). Each point's row gives its expected NPV and CVaR (and
VaR, worst NPV, its status and gap); ``pareto.csv`` holds the rows and ``points/NNNN/`` each
plan. The points are independent solves, run as a sweep's are.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from optimizer.errors import Interrupted, UsageError
from optimizer.studies.pareto import POINTS_DIR, write_frontier
from optimizer.studies.sweep import NOT_RUN, one_line

RISK_COLUMNS = ["point", "cvar_weight", "cvar_alpha", "objective", "expected_npv", "cvar_npv",
                "var_npv", "worst_npv", "first_stage_capex", "status", "mip_gap", "results_dir",
                "error"]
"""pareto.csv of a risk frontier."""


@dataclass(frozen=True)
class RiskJob:
    """One point of the risk frontier (picklable)."""

    raw: dict
    path: str
    digest: str
    overrides: Mapping[str, Any]
    point: int
    weight: float
    solver: Mapping[str, Any]


def solve_risk_point(job: RiskJob, cancel: Any = None
                     ) -> tuple[dict[str, Any], tuple[dict, dict] | None]:
    """A point's row and (summary, tables) of its plan; never an exception."""
    from optimizer.instance.loader import instance_from_raw
    from optimizer.parallel import worker_stop_flag
    from optimizer.planning import solve
    cancel = cancel if cancel is not None else worker_stop_flag()
    raw = copy.deepcopy(dict(job.raw))
    risk = dict(raw["scenarios"].get("risk") or {})
    risk["cvar_weight"] = job.weight
    raw["scenarios"] = {**raw["scenarios"], "risk": risk}
    row: dict[str, Any] = {"point": job.point, "cvar_weight": job.weight}
    try:
        instance = instance_from_raw(raw, job.path, job.overrides, job.digest)
        row["cvar_alpha"] = instance.spec.scenarios.risk.cvar_alpha
        plan = solve(instance, raise_on_infeasible=False, cancel=cancel, **job.solver)
    except Interrupted:
        row.update(status=NOT_RUN, error="interrupted before a plan was found")
        return row, None
    except Exception as exc:  # noqa: BLE001 - one point must not sink the frontier
        row.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        return row, None
    kpis = plan.summary.get("kpis") or {}
    row.update(objective=plan.objective, expected_npv=kpis.get("expected_npv"),
               cvar_npv=kpis.get("cvar_npv"), var_npv=kpis.get("var_npv"),
               worst_npv=kpis.get("worst_npv"), first_stage_capex=kpis.get("first_stage_capex"),
               status=plan.status.value, mip_gap=plan.mip_gap,
               results_dir=f"{POINTS_DIR}/{job.point:04d}" if plan.status.has_plan else None)
    return row, (plan.summary, plan.tables) if plan.status.has_plan else None


def run_risk_frontier(instance_path: str | Path, points: int,
                      output_dir: str | Path | None = None, *,
                      overrides: Mapping[str, Any] | None = None, override_files=(),
                      solver: Mapping[str, Any] | None = None, workers: int | None = None,
                      backend: str = "local", scheduler: str | None = None,
                      force: bool = False, data_dir: str | Path | None = None,
                      max_bytes: int | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      cancel: Any = None) -> pd.DataFrame:
    """``points`` plans from w = 0 to w = 1 (see the module docstring); return (and write)
    ``pareto.csv`` with one results directory per point with a plan.

    Raises:
        UsageError: fewer than 2 points, or an instance without scenarios.
    """
    import os

    from optimizer.instance.loader import instance_from_raw, read_raw_instance
    from optimizer.output.directories import check_destination
    from optimizer.parallel import Runner
    if points < 2:
        raise UsageError("--points must be at least 2 (w = 0 and w = 1)")
    read = read_raw_instance(instance_path, override_files, data_dir, max_bytes)
    overrides = dict(overrides or {})
    instance = instance_from_raw(read.raw, instance_path, overrides, read.digest)
    if instance.spec.scenarios is None:
        raise UsageError(f"{instance_path}: no scenarios, so no risk to trade against the "
                         "expected cost (pareto --risk needs a scenarios block)")
    target = check_destination(output_dir, force) if output_dir is not None else None
    solver = dict(solver or {})
    workers = workers or os.cpu_count() or 1
    if workers > 1 and solver.get("threads") is None:
        solver["threads"] = 1
    jobs = [RiskJob(raw=read.raw, path=str(instance_path), digest=read.digest,
                    overrides=overrides, point=i, weight=i / (points - 1), solver=solver)
            for i in range(points)]
    results: list[tuple[dict[str, Any], Any]] = []
    in_process = min(workers, len(jobs)) <= 1 and backend == "local"
    work = functools.partial(solve_risk_point, cancel=cancel) if in_process else solve_risk_point
    with Runner(min(workers, len(jobs)), backend, scheduler, cancel=cancel) as runner:
        for _, outcome in runner.run(work, jobs):
            results.append(outcome)
            if progress:
                progress(len(results), points)
    solved = {row["point"] for row, _ in results}
    results += [({"point": j.point, "cvar_weight": j.weight, "status": NOT_RUN,
                  "error": "not run: the frontier was interrupted"}, None)
                for j in jobs if j.point not in solved]
    frame = pd.DataFrame(sorted((row for row, _ in results), key=lambda r: r["point"]))
    for column in RISK_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame[RISK_COLUMNS]
    if target is not None:
        write_frontier(target, results, frame)
    return frame
