"""The studio's web application: the JSON API of issue "accelplan studio" and the page.

FastAPI (typed routes, a test client, OpenAPI docs at /docs) served by uvicorn; the page is
plain HTML and JavaScript with Plotly.js served from the ``plotly`` package, so the studio
works offline. Every route reads only the studio's catalog (the files it was given, its
uploads) and its own run folder.
"""


import io
import math
import shutil
import zipfile
from pathlib import Path
from typing import Any

from optimizer.errors import InstanceError, UsageError
from optimizer.studio.catalog import Catalog
from optimizer.studio.runs import RunStore

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
"""Sent with every page and API answer: scripts only from the studio itself (no inline
script, so a name from an uploaded file can never run as code); Plotly sets inline styles."""

try:
    from pydantic import BaseModel, ConfigDict, Field

    class RunRequest(BaseModel):
        """POST /api/runs: the instance, its levers (dotted path -> value), the time limit."""

        model_config = ConfigDict(extra="forbid")
        instance: str
        levers: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        time_limit: float | None = Field(default=120.0, gt=0, le=3600)
except ImportError:  # pragma: no cover - pydantic is a base dependency
    RunRequest = None  # type: ignore[assignment,misc]
TABLE_ROWS_MAX = 5000


def _clean(value: Any) -> Any:
    """JSON-safe values (NaN and infinities as null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def create_app(files: list[str | Path], folder: str | Path, workers: int = 2) -> Any:
    """The studio application over ``files`` (instances), keeping uploads and runs in
    ``folder``."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, File, HTTPException, UploadFile
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

    from optimizer.instance.describe import describe_instance

    folder = Path(folder)
    catalog = Catalog(list(files), folder / "uploads")
    runs = RunStore(catalog, folder / "runs", workers=workers)

    @asynccontextmanager
    async def lifespan(_: Any):
        yield
        runs.shutdown()
    app = FastAPI(title="accelplan studio", version="1", lifespan=lifespan)
    app.state.catalog, app.state.runs = catalog, runs

    @app.middleware("http")
    async def security_headers(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def bad(error: Exception, status: int = 400) -> JSONResponse:
        body: dict[str, Any] = {"error": str(error)}
        if isinstance(error, InstanceError):
            body["field"] = error.field
        return JSONResponse(body, status_code=status)

    # ---- the page --------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def index() -> Any:
        return HTMLResponse((STATIC / "index.html").read_text())

    @app.get("/static/{name}")
    def static(name: str) -> Any:
        if name == "plotly.min.js":
            import plotly
            path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        else:
            path = STATIC / name
            if path.parent != STATIC or not path.is_file():
                raise HTTPException(404, "no such file")
        return FileResponse(path)

    # ---- instances ---------------------------------------------------------------------------

    @app.get("/api/instances")
    def list_instances() -> Any:
        return [entry.public() for entry in catalog.all()]

    @app.get("/api/instances/{key}")
    def show_instance(key: str) -> Any:
        try:
            entry = catalog.get(key)
        except KeyError:
            raise HTTPException(404, f"no instance {key}")
        if entry.error:
            return {**entry.public(), "description": None}
        instance = catalog.instance(key)
        spec = instance.spec
        return _clean({**entry.public(), "description": describe_instance(instance),
                       "demand": {w: dict(series) for w, series in spec.demand.items()},
                       "levers": _levers(spec)})

    @app.post("/api/instances")
    async def upload_instance(file: UploadFile = File(...)) -> Any:
        content = await file.read()
        try:
            entry = catalog.upload(file.filename or "upload.yaml", content)
        except UsageError as exc:
            return bad(exc, 413)
        return entry.public()

    # ---- runs ---------------------------------------------------------------------------------

    @app.post("/api/runs")
    def create_run(request: RunRequest) -> Any:
        try:
            run = runs.submit(request.instance, request.overrides, request.time_limit,
                              request.levers)
        except KeyError:
            return bad(UsageError(f"no instance {request.instance}"), 404)
        except (InstanceError, UsageError) as exc:
            return bad(exc)
        return {"id": run.id}

    @app.get("/api/runs")
    def list_runs() -> Any:
        return [_brief(run) for run in runs.all()]

    @app.get("/api/runs/{run_id}")
    def show_run(run_id: str) -> Any:
        try:
            return _clean(runs.get(run_id).public())
        except KeyError:
            raise HTTPException(404, f"no run {run_id}")

    @app.post("/api/runs/{run_id}/cancel")
    def cancel_run(run_id: str) -> Any:
        try:
            return _brief(runs.cancel(run_id))
        except KeyError:
            raise HTTPException(404, f"no run {run_id}")

    def results(run_id: str) -> Path:
        try:
            return runs.results(run_id)
        except KeyError:
            raise HTTPException(404, f"run {run_id} has no results")

    @app.get("/api/runs/{run_id}/tables/{name}")
    def run_table(run_id: str, name: str) -> Any:
        from optimizer.output.results import read_table
        directory = results(run_id)
        path = directory / f"{name}.csv"
        if not name.replace("_", "").isalnum() or not path.is_file():
            raise HTTPException(404, f"no table {name}")
        frame = read_table(path)
        return _clean(frame.head(TABLE_ROWS_MAX).to_dict(orient="records"))

    @app.get("/api/runs/{run_id}/first")
    def run_first_decisions(run_id: str) -> Any:
        from optimizer.studio.views import first_decisions
        return _clean(first_decisions(results(run_id)))

    @app.get("/api/runs/{run_id}/distribution")
    def run_distribution(run_id: str) -> Any:
        from optimizer.studio.views import distribution
        found = distribution(results(run_id), runs.get(run_id).summary or {})
        if found is None:
            raise HTTPException(404, f"run {run_id} is a plan of one future")
        return _clean(found)

    @app.get("/api/runs/{a}/compare/{b}")
    def compare_runs(a: str, b: str) -> Any:
        from optimizer.studies.compare import compare_results
        return _clean(compare_results(results(a), results(b)))

    @app.get("/api/runs/{run_id}/download/{kind}")
    def download(run_id: str, kind: str) -> Any:
        from optimizer.output.report import write_report, write_workbook
        directory = results(run_id)
        if kind == "report":
            return FileResponse(write_report(directory), media_type="text/html",
                                filename=f"accelplan-{run_id}.html")
        if kind == "xlsx":
            return FileResponse(write_workbook(directory), filename=f"accelplan-{run_id}.xlsx")
        if kind == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(directory.iterdir()):
                    if path.is_file():
                        archive.write(path, f"{run_id}/{path.name}")
            return Response(buffer.getvalue(), media_type="application/zip", headers={
                "Content-Disposition": f'attachment; filename="accelplan-{run_id}.zip"'})
        raise HTTPException(404, f"no download {kind}")

    return app


def _brief(run: Any) -> dict[str, Any]:
    summary = run.summary or {}
    return _clean({"id": run.id, "instance": run.instance, "name": run.name,
                   "status": run.status, "overrides": run.overrides, "changes": run.changes,
                   "objective": summary.get("objective"), "mip_gap": summary.get("mip_gap"),
                   "created": run.created, "seconds": run.seconds})


def _levers(spec: Any) -> dict[str, Any]:
    """What the form offers, with the file's values for its defaults: sites with their grid
    (the largest of a path) and card caps, accelerators with their first period's price, the
    periods, the budget (the largest of a path) and the domestic share in force. Each lever's
    meaning is :mod:`optimizer.studio.levers`'s."""
    from optimizer.instance.derived import per_period
    periods = list(spec.horizon.periods)
    budget = per_period(spec.policies.budget_per_period, periods)
    domestic = [rule.share for rule in spec.policies.min_share if "domestic" in rule.tags]
    return {
        "periods": periods,
        "sites": [{"site": s, "grid_mw": max(per_period(site.grid_mw, periods)),
                   "max_cards": site.max_cards} for s, site in spec.sites.items()],
        "accelerators": [{"accelerator": k, "vendor": a.vendor, "tags": list(a.tags),
                          "price_per_card": per_period(a.price_per_card, periods)[0]}
                         for k, a in spec.accelerators.items()],
        "tags": sorted({t for a in spec.accelerators.values() for t in a.tags}),
        "budget_per_period": max((b for b in budget if b is not None), default=None),
        "domestic_share": domestic[0] if domestic else None,
        "scenarios": spec.scenarios is not None,
        "cvar_weight": (spec.scenarios.risk.cvar_weight if spec.scenarios is not None
                        and spec.scenarios.risk is not None else 0.0),
    }


def remove_folder(folder: str | Path) -> None:
    """Delete a studio folder (tests)."""
    shutil.rmtree(folder, ignore_errors=True)
