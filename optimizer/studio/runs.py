"""Runs: each solve of an instance with its what-if levers, in a background thread through
the library API (``optimizer.solve`` with a progress callback and a cancel flag), its inputs
frozen with it, its results directory and record kept in the studio's folder (so the list
survives a restart)."""
from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from optimizer.cancel import Cancel
from optimizer.errors import Interrupted
from optimizer.studio.catalog import Catalog
from optimizer.studio.levers import lever_overrides

STATUSES = ("queued", "running", "optimal", "feasible", "infeasible", "no_solution", "error",
            "cancelled")
RECORD_FILE = "run.json"
DEFAULT_TIME_LIMIT_S = 120.0
"""A run's wall-time limit unless it says otherwise (a what-if should answer in a meeting)."""


@dataclass
class Run:
    """One run: what was asked (frozen) and what came of it.

    Attributes:
        id: the run's id; instance: the instance id; name: the instance's name.
        overrides: what the run changes (dotted path -> value), as ``--set`` takes them: the
            levers' overrides, then the form's own ``path=value`` lines.
        levers: the form's levers as set (:mod:`optimizer.studio.levers`).
        changes: one sentence a change, relative to the file.
        time_limit: seconds; status: one of ``STATUSES``.
        progress: (seconds, best plan's NPV or None, proven bound or None, what is being
            solved: "plan" or a sentence) as HiGHS finds them.
        phase: what the run is doing now ("queued", "starting the solver", "solving", ...).
        interrupted: the run was cancelled (or the studio shut down) after a plan was found:
            its plan is the best so far, within its gap, and its analysis was not run.
        started: UNIX time the run left the queue.
        summary: the plan's summary (as summary.json) once done; explanation: what would have
            to give when no plan exists; error: why a run failed.
        created: UNIX time of the request; seconds: wall time of the solve.
    """

    id: str
    instance: str
    name: str
    overrides: dict[str, Any]
    time_limit: float | None
    status: str = "queued"
    progress: list[list[float | None]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    explanation: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    created: float = field(default_factory=time.time)
    seconds: float | None = None
    levers: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    phase: str = "queued"
    interrupted: bool = False
    started: float | None = None

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["elapsed_seconds"] = (None if self.started is None else
                                  self.seconds if self.seconds is not None else
                                  time.time() - self.started)
        return out


RUN_FIELDS = set(Run.__dataclass_fields__)


class RunStore:
    """Runs by id: started in a thread pool (``workers`` at once), cancelled by flag,
    recorded in ``folder/<id>/`` (the results directory plus ``run.json``)."""

    def __init__(self, catalog: Catalog, folder: Path, workers: int = 2,
                 start_from_previous: bool = True) -> None:
        self.catalog, self.folder = catalog, folder
        folder.mkdir(parents=True, exist_ok=True)
        self._runs: dict[str, Run] = {}
        self._cancel: dict[str, Cancel] = {}
        self._starts: dict[str, dict[str, float]] = {}     # instance -> last plan's values
        self._studies: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="accelplan-run")
        self.start_from_previous = start_from_previous
        self._load()

    # ---- persistence ---------------------------------------------------------------------

    def _load(self) -> None:
        for record in sorted(self.folder.glob(f"*/{RECORD_FILE}")):
            try:
                data = json.loads(record.read_text())
                run = Run(**{k: v for k, v in data.items() if k in RUN_FIELDS})
            except (ValueError, TypeError):
                continue
            if run.status in ("queued", "running"):
                run.status, run.error = "cancelled", "the studio stopped before the run ended"
                run.phase = "done"
            self._runs[run.id] = run

    def _save(self, run: Run) -> None:
        directory = self.folder / run.id
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{RECORD_FILE}.tmp"
        staging.write_text(json.dumps(run.public(), default=str))
        staging.replace(directory / RECORD_FILE)

    # ---- runs ----------------------------------------------------------------------------

    def submit(self, instance_id: str, overrides: Mapping[str, Any],
               time_limit: float | None = DEFAULT_TIME_LIMIT_S,
               levers: Mapping[str, Any] | None = None) -> Run:
        """Validate the what-if at once (bad levers raise :class:`InstanceError` naming the
        field; an unknown instance raises KeyError), then queue its solve. ``levers`` become
        overrides first (:func:`optimizer.studio.levers.lever_overrides`), then
        ``overrides`` (the form's ``path=value`` lines) apply."""
        entry = self.catalog.get(instance_id)
        made, changes = lever_overrides(entry.raw, levers or {})
        for path, value in overrides.items():
            if path not in made or made[path] != value:
                changes.append(f"{path} = {json.dumps(value, default=str)} (as set)")
            made[path] = value
        instance = self.catalog.instance(instance_id, made)
        run = Run(id=secrets.token_hex(4), instance=instance_id, name=entry.name,
                  overrides=made, time_limit=time_limit, levers=dict(levers or {}),
                  changes=changes)
        with self._lock:
            self._runs[run.id] = run
            self._cancel[run.id] = Cancel()
        self._save(run)
        self._pool.submit(self._solve, run, instance)
        return run

    def _solve(self, run: Run, instance: Any) -> None:
        from optimizer import solve
        cancel = self._cancel[run.id]
        if cancel.is_set():
            return
        run.status, run.phase, run.started = "running", "starting the solver", time.time()
        self._save(run)
        began = time.perf_counter()

        def progress(event: Mapping[str, Any]) -> None:
            stage = event.get("stage", "plan")
            run.phase = "solving" if stage == "plan" else stage
            run.progress.append([event.get("seconds"), event.get("objective"),
                                 event.get("bound"), stage])
        try:
            start = self._starts.get(run.instance) if self.start_from_previous else None
            plan = solve(instance, time_limit=run.time_limit, raise_on_infeasible=False,
                         cancel=cancel, progress=progress, start=start,
                         started_at=began)
            if plan.status.has_plan:
                self._starts[run.instance] = plan.start_values
            if cancel.is_set() and plan.status.has_plan:
                plan.summary["interrupted"] = True      # the report says so too
            plan.write(self.folder / run.id / "results", force=True)
            run.summary = plan.summary
            run.explanation = list(plan.summary.get("explanation") or [])
            run.status = "cancelled" if cancel.is_set() and not plan.status.has_plan \
                else plan.status.value
            run.interrupted = cancel.is_set() and plan.status.has_plan
        except Interrupted:
            run.status, run.error = "cancelled", "cancelled before a plan was found"
        except Exception as exc:  # noqa: BLE001 - a run reports its failure, never raises
            run.status, run.error = "error", f"{type(exc).__name__}: {exc}"
        run.seconds = time.perf_counter() - began
        run.phase = "done"
        self._save(run)

    def warm(self) -> None:
        """Load the solver's modules in the background now, so that the first run does not
        wait for them ("starting the solver" for seconds)."""
        def load() -> None:
            import pyomo.environ  # noqa: F401

            import optimizer.planning  # noqa: F401
            import optimizer.solver.highs  # noqa: F401  (HiGHS itself, through its adapter)
        self._pool.submit(load)

    def clear(self) -> list[str]:
        """Forget every finished run (and delete its folder); returns their ids."""
        with self._lock:
            gone = [r.id for r in self._runs.values() if r.status not in ("queued", "running")]
            for run_id in gone:
                del self._runs[run_id]
                self._cancel.pop(run_id, None)
        for run_id in gone:
            shutil.rmtree(self.folder / run_id, ignore_errors=True)
        return gone

    # ---- studies of a run: near-optimal ranges, vendor contingencies ----------------------

    STUDIES = ("ranges", "contingency")

    def start_study(self, run_id: str, kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Start ``kind`` ("ranges": :func:`run_alternatives` with ``slacks``, ``groups``,
        ``period``; "contingency": :func:`run_contingencies` with ``from_period``,
        ``on_order``) on the run's instance and overrides, each solve within ``time_limit``
        seconds; its state is :meth:`study`'s. KeyError: no such finished run."""
        run = self.get(run_id)
        self.results(run_id)
        key = (run_id, kind)
        with self._lock:
            if self._studies.get(key, {}).get("state") == "running":
                return self._studies[key]
            self._studies[key] = {"state": "running", "kind": kind, "params": dict(params)}
        self._pool.submit(self._study, run, kind, dict(params))
        return self._studies[key]

    def _study(self, run: Run, kind: str, params: dict[str, Any]) -> None:
        import pandas as pd
        key = (run.id, kind)
        folder = self.folder / run.id / kind
        entry = self.catalog.get(run.instance)
        solver = {"time_limit": float(params.get("time_limit") or 30.0)}
        try:
            if kind == "ranges":
                from optimizer.studies.alternatives import run_alternatives
                frame = run_alternatives(entry.file, list(params["slacks"]),
                                         list(params["groups"]), folder,
                                         period=params.get("period"),
                                         overrides=run.overrides, solver=solver, workers=1,
                                         force=True)
            else:
                from optimizer.studies.contingency import run_contingencies
                instance = self.catalog.instance(run.instance, run.overrides)
                frame = run_contingencies(instance, entry.raw, list(params.get("vendors") or []),
                                          str(params["from_period"]),
                                          params.get("on_order", "arrive"), None, folder,
                                          True, solver).frame
            rows = frame.astype(object).where(pd.notna(frame), None).to_dict("records")
            state = {"state": "done", "rows": rows}
        except Exception as exc:  # noqa: BLE001 - a study reports its failure
            state = {"state": "error", "error": f"{exc}"}
        with self._lock:
            self._studies[key] = {**self._studies[key], **state}

    def study(self, run_id: str, kind: str) -> dict[str, Any]:
        """A study's state: running, done (with its rows) or error (with why); KeyError: none
        was started."""
        with self._lock:
            return dict(self._studies[(run_id, kind)])

    def open_result(self, run_id: str, kind: str, relative: str) -> Run:
        """A study's plan (a range end, a contingency) as a run of its own, so that the page
        opens it like any other; ``relative`` is its directory inside the study's folder."""
        from optimizer.output.results import read_table  # noqa: F401 - results readable
        base = (self.folder / run_id / kind).resolve()
        source = (base / relative).resolve()
        if not source.is_relative_to(base) or not (source / "summary.json").is_file():
            raise KeyError(relative)
        parent = self.get(run_id)
        summary = json.loads((source / "summary.json").read_text())
        run = Run(id=secrets.token_hex(4), instance=parent.instance, name=parent.name,
                  overrides=dict(parent.overrides), time_limit=parent.time_limit,
                  status=summary.get("status", "feasible"), summary=summary, phase="done",
                  changes=list(parent.changes) + [f"{kind}: {relative}"], seconds=0.0,
                  started=time.time())
        shutil.copytree(source, self.folder / run.id / "results")
        with self._lock:
            self._runs[run.id] = run
        self._save(run)
        return run

    def cancel(self, run_id: str) -> Run:
        run = self.get(run_id)
        flag = self._cancel.get(run_id)
        if flag is not None:
            flag.set()
        if run.status == "queued":
            run.status = "cancelled"
            self._save(run)
        return run

    def get(self, run_id: str) -> Run:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise KeyError(run_id)
        return run

    def all(self) -> list[Run]:
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: r.created)

    def results(self, run_id: str) -> Path:
        """The results directory of a finished run (KeyError: none)."""
        self.get(run_id)
        directory = self.folder / run_id / "results"
        if not (directory / "summary.json").is_file():
            raise KeyError(run_id)
        return directory

    def shutdown(self) -> None:
        for flag in self._cancel.values():
            flag.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
