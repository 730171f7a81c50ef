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
from optimizer.studio.catalog import MAX_UPLOAD_BYTES, Catalog
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
        time_limit: float = Field(default=120.0, gt=0, le=3600, allow_inf_nan=False,
                                  description="seconds; every run has one (at most an hour)")

    class StudyRequest(BaseModel):
        """POST /api/runs/{id}/studies/{kind}: ranges (slacks, groups, period) or a
        contingency (from_period, on_order, vendors: none for every vendor); time_limit is
        each solve's."""

        model_config = ConfigDict(extra="forbid")
        slacks: list[float] = [0.01, 0.05]
        groups: list[str] = ["vendor"]
        period: str | None = None
        from_period: str | None = None
        on_order: str = Field(default="arrive", pattern="^(arrive|lost)$")
        vendors: list[str] = []
        time_limit: float = Field(default=30.0, gt=0, le=600, allow_inf_nan=False)

    class OpenRequest(BaseModel):
        """POST /api/runs/{id}/studies/{kind}/open: a plan's directory inside the study."""

        model_config = ConfigDict(extra="forbid")
        dir: str

    class EditRequest(BaseModel):
        """POST /api/instances/{key}/yaml: the page's edits (dotted path -> value)."""

        model_config = ConfigDict(extra="forbid")
        overrides: dict[str, Any] = {}
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
        runs.warm()
        yield
        runs.shutdown()
    app = FastAPI(title="accelplan studio", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.catalog, app.state.runs = catalog, runs

    @app.middleware("http")
    async def security_headers(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def refused(request: Any, exc: RequestValidationError) -> JSONResponse:
        """A request that does not fit its schema: 422 naming the field; the value found is
        left out (a NaN cannot be written as JSON)."""
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                   "type": e.get("type", "")} for e in exc.errors()]
        return JSONResponse({"detail": detail, "error": "; ".join(
            f"{'.'.join(map(str, d['loc'][1:]))}: {d['msg']}" for d in detail)},
            status_code=422)

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

    # ---- the API's documentation, served offline (Swagger UI from its Python package) -----

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> Any:
        from fastapi.openapi.docs import get_swagger_ui_html
        return get_swagger_ui_html(openapi_url="/openapi.json", title="accelplan studio API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="data:,")

    @app.get("/docs-assets/{name}", include_in_schema=False)
    def api_docs_asset(name: str) -> Any:
        try:
            from swagger_ui_bundle import swagger_ui_path
        except ImportError:
            raise HTTPException(404, "the API docs need swagger-ui-bundle (pip install -e "
                                ".[studio])")
        folder = Path(str(swagger_ui_path))
        path = folder / name
        if path.parent != folder or not path.is_file():
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
        from optimizer.studio.tables import edit_tables
        return _clean({**entry.public(), "description": describe_instance(instance),
                       "demand": {w: dict(series) for w, series in spec.demand.items()},
                       "levers": _levers(spec), "tables": edit_tables(entry.raw)})

    @app.post("/api/instances/{key}/yaml")
    def edited_instance(key: str, request: EditRequest) -> Any:
        """The instance with the page's edits (overrides) applied, as a YAML file."""
        from optimizer.studio.tables import edited_yaml
        try:
            entry = catalog.get(key)
        except KeyError:
            raise HTTPException(404, f"no instance {key}")
        try:
            catalog.instance(key, request.overrides)          # the edits must validate
            text = edited_yaml(entry.raw, request.overrides)
        except (InstanceError, UsageError) as exc:
            return bad(exc)
        stem = "".join(ch for ch in entry.name if ch.isalnum() or ch in "-_") or "instance"
        return Response(text, media_type="application/yaml",
                        headers=_attachment(f"{stem}-edited.yaml"))

    @app.post("/api/instances")
    async def upload_instance(file: UploadFile = File(...)) -> Any:
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        try:
            entry = catalog.upload(file.filename or "upload.yaml", content)
        except InstanceError as exc:
            return bad(exc, 400)
        except UsageError as exc:
            return bad(exc, 413 if len(content) > MAX_UPLOAD_BYTES else 400)
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

    @app.delete("/api/runs")
    def clear_runs() -> Any:
        """Forget every finished run (running and queued ones stay)."""
        return {"cleared": runs.clear()}

    @app.get("/api/runs/{run_id}")
    def show_run(run_id: str) -> Any:
        try:
            run = runs.get(run_id).public()
        except KeyError:
            raise HTTPException(404, f"no run {run_id}")
        try:             # the tables it wrote (the page asks for no table that is not there)
            run["tables"] = sorted(p.stem for p in runs.results(run_id).glob("*.csv"))
        except KeyError:
            run["tables"] = []
        return _clean(run)

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

    @app.post("/api/runs/{run_id}/studies/{kind}")
    def start_study(run_id: str, kind: str, request: StudyRequest) -> Any:
        """Start near-optimal ranges ("ranges") or vendor contingencies ("contingency") of a
        finished run."""
        if kind not in runs.STUDIES:
            raise HTTPException(404, f"no study {kind}")
        params = request.model_dump()
        try:
            if kind == "ranges":
                from optimizer.studies.alternatives import GROUPS
                if not params["slacks"] or any(e < 0 for e in params["slacks"]):
                    raise UsageError("slacks: fractions >= 0")
                if not params["groups"] or set(params["groups"]) - set(GROUPS):
                    raise UsageError(f"groups: {', '.join(GROUPS)}")
            elif not params.get("from_period"):
                raise UsageError("from_period: the period from which the vendor is lost")
            return runs.start_study(run_id, kind, params)
        except KeyError:
            raise HTTPException(404, f"run {run_id} has no plan to study")
        except UsageError as exc:
            return bad(exc)

    @app.get("/api/runs/{run_id}/studies/{kind}")
    def show_study(run_id: str, kind: str) -> Any:
        try:
            return _clean(runs.study(run_id, kind))
        except KeyError:
            raise HTTPException(404, f"no {kind} study of run {run_id}")

    @app.post("/api/runs/{run_id}/studies/{kind}/open")
    def open_study_plan(run_id: str, kind: str, request: OpenRequest) -> Any:
        """A study's plan (a range end's or a contingency's directory) as a run of its own."""
        try:
            return {"id": runs.open_result(run_id, kind, request.dir).id}
        except KeyError:
            raise HTTPException(404, f"no plan {request.dir} in the {kind} of run {run_id}")

    @app.get("/api/runs/{a}/compare/{b}")
    def compare_runs(a: str, b: str) -> Any:
        from optimizer.studies.compare import compare_results
        return _clean(compare_results(results(a), results(b)))

    @app.get("/api/runs/{run_id}/download/{kind}")
    def download(run_id: str, kind: str) -> Any:
        """The run's report, spreadsheet or results as a zip, each saying what made it (the
        instance, its file's SHA-256, the levers). Made in a temporary copy: the run's own
        results folder is never written to."""
        import json
        import tempfile

        from optimizer.output.report import write_report, write_workbook
        if kind not in ("report", "xlsx", "zip"):
            raise HTTPException(404, f"no download {kind}")
        directory = results(run_id)
        run = runs.get(run_id)
        with tempfile.TemporaryDirectory(prefix="accelplan-download-") as tmp:
            copy = Path(tmp) / run_id
            shutil.copytree(directory, copy)
            summary = json.loads((copy / "summary.json").read_text())
            entry = catalog.get(run.instance) if run.instance in {
                e.id for e in catalog.all()} else None
            summary["provenance"] = {"run": run.id, "changes": list(run.changes),
                                     "file_sha256": entry.digest if entry else None,
                                     "levers": run.levers, "created": _iso(run.created)}
            (copy / "summary.json").write_text(json.dumps(summary, default=str, indent=1))
            if kind == "report":
                return Response(write_report(copy).read_bytes(), media_type="text/html",
                                headers=_attachment(f"accelplan-{run_id}.html", inline=True))
            if kind == "xlsx":
                return Response(write_workbook(copy).read_bytes(), media_type=XLSX,
                                headers=_attachment(f"accelplan-{run_id}.xlsx"))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(copy.iterdir()):
                    if path.is_file():
                        archive.write(path, f"{run_id}/{path.name}")
            return Response(buffer.getvalue(), media_type="application/zip",
                            headers=_attachment(f"accelplan-{run_id}.zip"))

    return app


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(filename: str, inline: bool = False) -> dict[str, str]:
    return {"Content-Disposition": f'{"inline" if inline else "attachment"}; '
                                   f'filename="{filename}"'}


def _iso(stamp: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(
        timespec="seconds")


def _brief(run: Any) -> dict[str, Any]:
    summary = run.summary or {}
    return _clean({"id": run.id, "instance": run.instance, "name": run.name,
                   "status": run.status, "overrides": run.overrides, "changes": run.changes,
                   "objective": summary.get("objective"), "mip_gap": summary.get("mip_gap"),
                   "created": run.created, "seconds": run.seconds, "phase": run.phase,
                   "interrupted": run.interrupted, "time_limit": run.time_limit})


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
