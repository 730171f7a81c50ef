"""Sweeps: one solve per combination of varied values, in one process per worker.

Each worker reads the instance file once, then for each of its variants applies the overrides,
validates, builds and solves, offering the previous variant's plan as a MIP start. Variants
run in-process (one worker), in local worker processes, or on a Dask distributed cluster.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import shutil
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from optimizer.errors import AccelplanError, InfeasibleError, InstanceError, Interrupted
from optimizer.instance.overrides import OVERRIDE_SOURCE
from optimizer.instance.safe_yaml import parse_yaml_text
from optimizer.parallel import Runner, worker_stop_flag

SWEEP_FILE = "sweep.csv"
VARIANTS_DIR = "variants"
NOT_RUN = "not_run"
"""The status of a variant (or frontier point) that an interruption left unsolved."""
FAILED = ("error", "bad_input")
"""Statuses of a variant that failed (the command then does not exit 0)."""


def one_line(text: str, limit: int = 300) -> str:
    """An error as one line of a table (a multi-line message folded, a long one cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


@dataclass(frozen=True)
class Variation:
    """One varied field: a dotted path and the values it takes."""

    path: str
    values: tuple[Any, ...]


def parse_vary(text: str) -> Variation:
    """``PATH=V1,V2,...`` or ``PATH=START:STOP:STEP`` (inclusive of STOP) -> :class:`Variation`.

    Raises:
        InstanceError: malformed text (exit code 2 at the command line).
    """
    path, sep, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise InstanceError(OVERRIDE_SOURCE, text, "expected PATH=V1,V2,... or PATH=START:STOP:STEP")
    if spec.count(":") == 2 and "," not in spec:
        return Variation(path, _range(text, spec))
    values = tuple(parse_yaml_text(part.strip(), f"{OVERRIDE_SOURCE} {path}")
                   for part in spec.split(","))
    if any(v is None for v in values):
        raise InstanceError(OVERRIDE_SOURCE, text, "an empty value in the list")
    return Variation(path, values)


def _range(text: str, spec: str) -> tuple[float, ...]:
    try:
        start, stop, step = (Decimal(part.strip()) for part in spec.split(":"))
    except InvalidOperation:
        raise InstanceError(OVERRIDE_SOURCE, text, "a range is START:STOP:STEP with numbers, "
                            "e.g. 0.5:2.0:0.25") from None
    if step <= 0 or stop < start:
        raise InstanceError(OVERRIDE_SOURCE, text, "a range needs STEP > 0 and STOP >= START")
    count = int((stop - start) / step) + 1
    if count > 10_000:
        raise InstanceError(OVERRIDE_SOURCE, text, f"{count:,} values; at most 10,000")
    return tuple(float(start + i * step) for i in range(count))


def variant_grid(variations: Sequence[Variation]) -> list[dict[str, Any]]:
    """The cartesian product of the variations, as override mappings (in a stable order)."""
    if not variations:
        return [{}]
    paths = [v.path for v in variations]
    return [dict(zip(paths, combo)) for combo in itertools.product(*(v.values for v in variations))]


@dataclass(frozen=True)
class SweepJob:
    """A batch of variants for one worker. It carries the instance itself (CSV tables read
    in), so it can travel to a process or to a Dask worker on another machine, and it brings
    the plans back: the client writes every results directory.

    Attributes:
        raw: the instance as read, its tables inlined; ``path`` names it in messages.
        digest: SHA-256 of the files read.
        base_overrides: the sweep's ``--set`` values, under each variant's.
        variants: (variant number, overrides) in the order they are solved.
        solver: keyword arguments of :func:`optimizer.solve`.
        keep_plans: bring back each plan's summary and tables (to write them).
    """

    raw: Mapping[str, Any]
    path: str
    digest: str
    base_overrides: Mapping[str, Any]
    variants: tuple[tuple[int, Mapping[str, Any]], ...]
    solver: Mapping[str, Any]
    explain: bool = True
    keep_plans: bool = True
    warm_start: bool = True


def solve_job(job: SweepJob, cancel: Any = None) -> list[tuple[dict[str, Any], Any]]:
    """Solve a batch of variants: for each, its sweep row and (with ``keep_plans``) its plan's
    summary and tables; never an exception. Each variant's plan is offered to the next as a
    MIP start. ``cancel`` (in-process runs) stops the batch: the variant running keeps its
    best plan so far, the rest are not run."""
    from optimizer.instance.loader import instance_from_raw
    from optimizer.planning import solve

    cancel = cancel if cancel is not None else worker_stop_flag()
    out = []
    start_values: dict[str, float] | None = None
    for variant_id, overrides in job.variants:
        if cancel is not None and cancel.is_set():
            break
        began = time.perf_counter()
        row: dict[str, Any] = {"variant": variant_id, **{k: v for k, v in overrides.items()}}
        merged = {**job.base_overrides, **overrides}
        plan_data = None
        try:
            instance = instance_from_raw(dict(job.raw), job.path, merged, job.digest)
            plan = solve(instance, raise_on_infeasible=False, explain=job.explain,
                         start=start_values, cancel=cancel, **job.solver)
            row.update(_plan_row(plan))
            if plan.status.has_plan and job.warm_start:
                start_values = plan.start_values
            if job.keep_plans:
                plan_data = (plan.summary, plan.tables)
                row["results_dir"] = str(Path(VARIANTS_DIR) / f"{variant_id:04d}")
        except InstanceError as exc:
            row.update(status="bad_input", error=one_line(str(exc)))
        except Interrupted:
            row.update(status=NOT_RUN, error="interrupted before a plan was found")
        except (InfeasibleError, AccelplanError) as exc:
            row.update(status="error", error=one_line(str(exc)))
        except Exception as exc:  # noqa: BLE001 - one variant must not sink the sweep
            row.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        row["seconds"] = time.perf_counter() - began
        out.append((row, plan_data))
    return out


def _check_path(raw: dict, instance_path: str | Path, variation: Variation) -> None:
    """Raise :class:`InstanceError` when ``variation.path`` is not a field of the instance
    (a value it may not take is a row of the sweep, not an error)."""
    from optimizer.instance.loader import instance_from_raw
    try:
        instance_from_raw(raw, instance_path, {variation.path: variation.values[0]})
    except InstanceError as exc:
        if exc.path == OVERRIDE_SOURCE and exc.reason.startswith(("unknown key",
                                                                  f"{variation.path} is not")):
            raise
        if exc.field.startswith(variation.path) and exc.reason.startswith("unknown key"):
            raise InstanceError(OVERRIDE_SOURCE, f"--vary {variation.path}",
                                exc.reason) from None


def _plan_row(plan: Any) -> dict[str, Any]:
    summary = plan.summary
    row: dict[str, Any] = {"status": summary["status"], "npv": summary.get("objective"),
                           "mip_gap": summary.get("mip_gap")}
    kpis = summary.get("kpis") or {}
    row["cost_per_million_tokens"] = kpis.get("cost_per_million_tokens")
    for vendor, cards in (kpis.get("cards_by_vendor_final_period") or {}).items():
        row[f"cards_{vendor}"] = cards
    for site, mw in (kpis.get("facility_mw_final_period") or {}).items():
        row[f"mw_{site}"] = mw
    if "domestic_share" in kpis:
        row["domestic_share"] = kpis["domestic_share"]
    if plan.explanation:
        row["explanation"] = "; ".join(r.message for r in plan.explanation)
    return row


def _batches(variants: list[tuple[int, dict]], workers: int) -> list[list[tuple[int, dict]]]:
    """Contiguous batches (neighbours warm-start each other): one per worker for a short
    sweep (a spare batch would leave a core idle at the end), a few per worker for balance
    from four variants a worker on."""
    if workers <= 1:
        return [variants]
    per_worker = 1 if len(variants) < 4 * workers else 2
    size = max(1, math.ceil(len(variants) / (workers * per_worker)))
    return [variants[i:i + size] for i in range(0, len(variants), size)]


def run_sweep(instance_path: str | Path, variations: Sequence[Variation],
              output_dir: str | Path | None = None, *, base_overrides: Mapping[str, Any] | None = None,
              override_files: Iterable[str | Path] = (), solver: Mapping[str, Any] | None = None,
              workers: int | None = None, backend: str = "local", scheduler: str | None = None,
              force: bool = False, explain: bool = True,
              progress: Callable[[int, int], None] | None = None,
              data_dir: str | Path | None = None, max_bytes: int | None = None,
              warm_start: bool = True, cancel: Any = None) -> pd.DataFrame:
    """Solve every combination of ``variations``; return (and write) the sweep table.

    Args:
        output_dir: where ``sweep.csv`` and one results directory per variant go (written
            atomically: staged beside it, renamed into place at the end).
        workers: worker processes (default: the machine's cores); 1 runs in this process.
        backend: ``local`` or ``dask`` (``scheduler`` the address of a running cluster; none:
            a LocalCluster with ``workers`` workers).
        progress: called with (variants done, variants in all).
        warm_start: offer each variant's plan to the next of its batch as a MIP start.
        cancel: an event; once set, the variants still running end (keeping their best plan
            where they run in this process), none more start, and the table and results of
            those done are written, the rest listed as ``not_run``.
    """
    from optimizer.instance.loader import read_raw_instance
    from optimizer.instance.overrides import DEMAND_SCALE
    from optimizer.output.directories import check_destination, promote, staging_directory
    from optimizer.output.results import write_results

    # the files are read once, here (bad files fail before any work); the jobs carry them
    read = read_raw_instance(instance_path, override_files, data_dir, max_bytes)
    raw, digest = read.raw, read.digest
    for variation in variations:           # a path that leads nowhere is bad input, at once
        if variation.path != DEMAND_SCALE:
            _check_path(raw, instance_path, variation)
    target = check_destination(output_dir, force) if output_dir is not None else None
    grid = variant_grid(variations)
    variants = list(enumerate(grid))
    workers = workers or os.cpu_count() or 1
    solver = dict(solver or {})
    if workers > 1 and solver.get("threads") is None:
        solver["threads"] = 1          # processes share the cores; one HiGHS thread each
    staging = staging_directory(target) if target is not None else None
    jobs = [SweepJob(raw=raw, path=str(instance_path), digest=digest,
                     base_overrides=dict(base_overrides or {}), variants=tuple(batch),
                     solver=solver, explain=explain, keep_plans=staging is not None,
                     warm_start=warm_start)
            for batch in _batches(variants, workers)]

    def keep(variant: int, summary: dict, tables: dict) -> None:
        write_results(staging / VARIANTS_DIR / f"{variant:04d}", summary, tables)
    try:
        rows = _execute(jobs, workers, backend, scheduler, len(variants), progress,
                        keep if staging is not None else None, cancel)
        solved = {row["variant"] for row in rows}
        rows += [{"variant": i, **overrides, "status": NOT_RUN,
                  "error": "not run: the sweep was interrupted"}
                 for i, overrides in variants if i not in solved]
        frame = _sweep_frame(rows, [v.path for v in variations])
        if staging is not None:
            frame.to_csv(staging / SWEEP_FILE, index=False, float_format="%.10g")
            promote(staging, target)
        return frame
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _execute(jobs: list[SweepJob], workers: int, backend: str, scheduler: str | None,
             total: int, progress: Callable[[int, int], None] | None,
             keep: Callable[[int, dict, dict], None] | None = None,
             cancel: Any = None) -> list[dict]:
    """Run the jobs; the client (this process) writes each plan with ``keep`` as it comes."""
    rows: list[dict] = []

    def record(batch: list[tuple[dict, Any]]) -> None:
        for row, plan_data in batch:
            rows.append(row)
            if keep is not None and plan_data is not None:
                keep(row["variant"], *plan_data)
        if progress:
            progress(len(rows), total)

    in_process = workers <= 1 and backend == "local"
    work = functools.partial(solve_job, cancel=cancel) if in_process else solve_job
    with Runner(workers, backend, scheduler, cancel=cancel) as runner:
        for _, batch in runner.run(work, jobs):
            record(batch)
    return rows


def _sweep_frame(rows: list[dict], paths: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).sort_values("variant").reset_index(drop=True)
    first = ["variant", *paths, "status", "npv", "cost_per_million_tokens", "mip_gap", "seconds"]
    for column in first:
        if column not in frame:
            frame[column] = None
    rest = sorted(c for c in frame.columns if c not in first)
    return denoised(frame[first + rest])


NOISE = 1e-12
"""Figures this close to 0 (a gap of 1.2e-16, a share of 3e-17) are written as 0."""


def denoised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the solver's float noise around zero set to 0 in its number columns."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            values = out[column]
            out[column] = values.where(~(values.abs() < NOISE), 0.0)
    return out
