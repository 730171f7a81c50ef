"""The studio's JSON API through FastAPI's test client, on real solves: runs, progress,
cancel, bad levers naming the field, concurrent runs, files outside the studio refused,
compare, downloads, runs kept across a restart."""
from __future__ import annotations

import io
import time
import zipfile

import pytest

from conftest import INSTANCES

fastapi = pytest.importorskip("fastapi", reason="the studio extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from optimizer.studio.app import create_app  # noqa: E402

DONE = {"optimal", "feasible", "infeasible", "no_solution", "error", "cancelled"}


@pytest.fixture
def studio(tmp_path):
    files = [INSTANCES / "quickstart.yaml", INSTANCES / "zhengzhou-30k.yaml"]
    app = create_app(files, tmp_path / "studio")
    with TestClient(app) as client:
        yield client, app, tmp_path


def _instance(client, name):
    return next(i["id"] for i in client.get("/api/instances").json() if i["name"] == name)


def _wait(client, run_id, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in DONE:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end")


def test_a_run_gives_the_library_plan(studio):
    # the studio's answer is the library's: quickstart at demand x 1.5 solved both ways
    from optimizer import load_instance, solve
    client, _, _ = studio
    key = _instance(client, "quickstart")
    info = client.get(f"/api/instances/{key}").json()
    assert info["description"]["periods"] == ["2026", "2027", "2028"]
    made = client.post("/api/runs", json={"instance": key, "overrides": {"demand_scale": 1.5}})
    assert made.status_code == 200, made.text
    run = _wait(client, made.json()["id"])
    expected = solve(load_instance(INSTANCES / "quickstart.yaml",
                                   overrides={"demand_scale": 1.5}))
    assert run["status"] == "optimal"
    assert run["summary"]["objective"] == pytest.approx(expected.objective, rel=1e-4)
    assert run["overrides"] == {"demand_scale": 1.5}
    purchases = client.get(f"/api/runs/{run['id']}/tables/purchases").json()
    assert sum(r["cards"] for r in purchases) == expected.tables["purchases"]["cards"].sum()


def test_bad_levers_name_the_field(studio):
    client, _, _ = studio
    key = _instance(client, "quickstart")
    out = client.post("/api/runs", json={"instance": key,
                                         "overrides": {"sites.guian-campus.grid_mw": -5}})
    assert out.status_code == 400 and out.json()["field"].startswith("sites.guian-campus.grid_mw")
    out = client.post("/api/runs", json={"instance": key, "overrides": {"sites.nowhere.grid_mw": 5}})
    assert out.status_code == 400 and "nowhere" in out.json()["error"]
    assert client.post("/api/runs", json={"instance": "nope"}).status_code == 404
    assert client.post("/api/runs", json={"instance": key, "bogus": 1}).status_code == 422


def test_a_run_without_a_plan_says_what_would_have_to_give(studio):
    client, _, _ = studio
    key = _instance(client, "zhengzhou-30k")
    made = client.post("/api/runs", json={"instance": key,
                                          "overrides": {"sites.zhengzhou.grid_mw": 20}})
    run = _wait(client, made.json()["id"])
    assert run["status"] == "infeasible"
    assert run["explanation"] and "grid" in " ".join(r["message"] for r in run["explanation"])


def test_concurrent_runs_and_cancel(studio, tmp_path):
    # a medium generated instance runs for a minute unless cancelled; quickstart runs beside it
    from optimizer.instance.generator import generate_instance, instance_yaml
    client, _, _ = studio
    text = instance_yaml(generate_instance(10, 12, 8, 4, seed=1))
    uploaded = client.post("/api/instances", files={"file": ("medium.yaml", text.encode())})
    assert uploaded.status_code == 200, uploaded.text
    long = client.post("/api/runs", json={"instance": uploaded.json()["id"],
                                          "time_limit": 60}).json()["id"]
    short = client.post("/api/runs", json={"instance": _instance(client, "quickstart")}).json()["id"]
    assert _wait(client, short)["status"] == "optimal"
    time.sleep(1.0)
    client.post(f"/api/runs/{long}/cancel")
    run = _wait(client, long, seconds=120)
    assert run["status"] in ("feasible", "cancelled")
    assert run["status"] != "feasible" or run["summary"]["objective"] is not None


def test_files_outside_the_studio_are_refused(studio, tmp_path):
    client, _, _ = studio
    key = _instance(client, "quickstart")
    # a table path in a lever is read only from the instance's own folder
    (tmp_path / "secret.csv").write_text("period,tokens_per_day\n2026,1\n")
    out = client.post("/api/runs", json={"instance": key,
                                         "overrides": {"demand.chat": str(tmp_path / "secret.csv")}})
    assert out.status_code == 400
    assert client.get("/static/..%2F..%2Fcli.py").status_code == 404
    assert client.get("/api/runs/x/tables/..%2Fsummary").status_code == 404
    made = client.post("/api/runs", json={"instance": key}).json()["id"]
    _wait(client, made)
    assert client.get(f"/api/runs/{made}/tables/..%2F..%2Frun").status_code == 404


def test_compare_downloads_and_restart(studio):
    client, app, tmp_path = studio
    key = _instance(client, "quickstart")
    a = client.post("/api/runs", json={"instance": key}).json()["id"]
    b = client.post("/api/runs", json={"instance": key, "overrides": {"demand_scale": 1.3}}
                    ).json()["id"]
    _wait(client, a), _wait(client, b)
    compared = client.get(f"/api/runs/{a}/compare/{b}").json()
    npv = next(k for k in compared["kpis"] if k["kpi"] == "npv_total")
    assert npv["b"] > npv["a"]
    report = client.get(f"/api/runs/{a}/download/report")
    assert report.status_code == 200 and "<html" in report.text
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/runs/{a}/download/zip").content))
    assert f"{a}/summary.json" in archive.namelist()
    assert client.get(f"/api/runs/{a}/download/xlsx").status_code == 200
    # a new studio on the same folder lists the same runs
    again = create_app([INSTANCES / "quickstart.yaml"], tmp_path / "studio")
    with TestClient(again) as other:
        ids = {r["id"] for r in other.get("/api/runs").json()}
    assert {a, b} <= ids
