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
    folder = tmp_path / "studio" / "runs" / b / "results"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    digest = app.state.catalog.get(key).digest
    report = client.get(f"/api/runs/{b}/download/report")
    assert report.status_code == 200 and "<html" in report.text
    # what made it: the instance, its file's SHA-256 in full, the lever, the run
    assert digest in report.text and "every demand figure" not in report.text
    assert "demand_scale = 1.3" in report.text and b in report.text
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/runs/{b}/download/zip").content))
    assert f"{b}/summary.json" in archive.namelist()
    import json
    made = json.loads(archive.read(f"{b}/summary.json"))["provenance"]
    assert made["run"] == b and made["changes"] == ["demand_scale = 1.3 (as set)"]
    workbook = client.get(f"/api/runs/{b}/download/xlsx")
    assert workbook.status_code == 200
    import openpyxl
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content))["made_from"]
    assert ("file SHA-256", digest) in [tuple(r) for r in sheet.iter_rows(values_only=True)]
    # downloading wrote nothing into the run's results folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    # a new studio on the same folder lists the same runs
    again = create_app([INSTANCES / "quickstart.yaml"], tmp_path / "studio")
    with TestClient(again) as other:
        ids = {r["id"] for r in other.get("/api/runs").json()}
    assert {a, b} <= ids


def test_the_cvar_lever_and_the_distribution_of_a_scenario_plan(tmp_path):
    # the newsvendor of test_uncertainty (solved there by hand): at CVaR_0.7 weight 0 the plan
    # orders 20 cards now (the middle future), expected NPV 2450, CVaR 3500 (the high future
    # alone is the tail); the lever at w = 0.8 moves the order to 30 cards, every NPV 3000
    from conftest import write_instance
    from test_uncertainty import THREE, newsvendor
    data = newsvendor(THREE)
    data["scenarios"]["risk"] = {"cvar_alpha": 0.7}
    path = write_instance(tmp_path, data)
    app = create_app([path], tmp_path / "studio")
    with TestClient(app) as client:
        key = client.get("/api/instances").json()[0]["id"]
        levers = client.get(f"/api/instances/{key}").json()["levers"]
        assert levers["scenarios"] is True and levers["cvar_weight"] == 0.0
        plans = {}
        for weight in (0.0, 0.8):
            made = client.post("/api/runs", json={"instance": key, "levers": (
                {"cvar_weight": weight} if weight else {})})
            assert made.status_code == 200, made.text
            plans[weight] = _wait(client, made.json()["id"])
        assert plans[0.8]["changes"] == ["scenarios.risk.cvar_weight: 0 -> 0.8 (CVaR at alpha "
                                         "0.7)"]
        assert plans[0.8]["overrides"] == {"scenarios.risk.cvar_weight": 0.8}
        for weight, cards, objective, cvar in ((0.0, 20, 2450, 3500), (0.8, 30, 3000, 3000)):
            run_id = plans[weight]["id"]
            assert plans[weight]["summary"]["objective"] == pytest.approx(objective, rel=1e-6)
            first = client.get(f"/api/runs/{run_id}/first").json()
            assert first["scenario_plan"] and first["period"] == "2026"
            orders = [r for r in first["rows"] if r["decision"] == "order"]
            assert sum(r["cards"] for r in orders) == cards
            assert {r["delivery_period"] for r in orders} == {"2027"}
            shown = client.get(f"/api/runs/{run_id}/distribution").json()
            npv = {f["scenario"]: f["npv"] for f in shown["futures"]}
            # NPV(x, d) = 100 x + 150 (d - x)+
            expected = {n: 100 * cards + 150 * max(d - cards, 0) for n, (_, d) in THREE.items()}
            assert npv == pytest.approx(expected, rel=1e-6)
            assert shown["cvar_npv"] == pytest.approx(cvar, rel=1e-6)
            assert shown["cvar_alpha"] == 0.7
        # a plan of one future has no distribution, and the lever needs futures
        quick = create_app([INSTANCES / "quickstart.yaml"], tmp_path / "studio2")
    with TestClient(quick) as client:
        key = client.get("/api/instances").json()[0]["id"]
        refused = client.post("/api/runs", json={"instance": key, "levers": {"cvar_weight": 0.5}})
        assert refused.status_code == 400 and refused.json()["field"] == "cvar_weight"
        assert "no scenarios" in refused.json()["error"]
        too_much = client.post("/api/runs", json={"instance": key,
                                                  "levers": {"cvar_weight": 1.5}})
        assert too_much.status_code == 400


def test_what_to_do_first_lists_orders_rentals_and_builds_with_money_due(tmp_path):
    # zhengzhou-30k-procurement: the library's plan decides, in 2026H1, an order of H200s
    # delivered 2026H2 (a deposit now, the balance on delivery) and a rental; the studio's
    # "first" view holds exactly the plan's rows of that period, builds included
    from optimizer import load_instance, solve
    path = INSTANCES / "zhengzhou-30k-procurement.yaml"
    plan = solve(load_instance(path), time_limit=60)
    app = create_app([path], tmp_path / "studio")
    with TestClient(app) as client:
        key = client.get("/api/instances").json()[0]["id"]
        run = _wait(client, client.post("/api/runs", json={"instance": key,
                                                           "time_limit": 60}).json()["id"])
        assert run["summary"]["objective"] == pytest.approx(plan.objective, rel=1e-3)
        first = client.get(f"/api/runs/{run['id']}/first").json()
    tables = plan.tables
    period = min(str(p) for p in list(tables["purchases"]["order_period"])
                 + list(tables["rentals"]["period"]) + list(tables["builds"]["period"]))
    assert first["period"] == period == "2026H1" and not first["scenario_plan"]
    kinds = {}
    for row in first["rows"]:
        kinds.setdefault(row["decision"], []).append(row)
    ordered = tables["purchases"][tables["purchases"]["order_period"] == period]
    assert sum(r["cards"] for r in kinds["order"]) == ordered["cards"].sum()
    assert sum(r["deposit"] for r in kinds["order"]) == pytest.approx(ordered["deposit"].sum())
    assert sum(r["balance"] for r in kinds["order"]) == pytest.approx(ordered["balance"].sum())
    rented = tables["rentals"][tables["rentals"]["period"] == period]
    assert sum(r["cards"] for r in kinds["rental"]) == rented["cards"].sum() > 0
    built = tables["builds"][tables["builds"]["period"] == period]
    assert len(kinds.get("build", [])) == len(built)


def test_an_invalid_upload_is_refused_and_nothing_is_kept(studio):
    # random bytes, HTML, an empty file and a YAML with a bad field: each refused (HTTP 400)
    # with its one-line error naming the uploaded file; nothing saved, nothing listed
    client, _, tmp_path = studio
    before = client.get("/api/instances").json()
    uploads = tmp_path / "studio" / "uploads"
    bad_field = (INSTANCES / "quickstart.yaml").read_text().replace("grid_mw: 10",
                                                                      "grid_mw: -5", 1)
    assert bad_field != (INSTANCES / "quickstart.yaml").read_text()
    for name, content, words in (
            ("noise.yaml", bytes(range(256)) * 8, "noise.yaml"),
            ("page.yaml", b"<html><script>alert(1)</script></html>", "page.yaml"),
            ("empty.yaml", b"", "empty"),
            ("bad.yaml", bad_field.encode(), "grid_mw")):
        answer = client.post("/api/instances", files={"file": (name, content)})
        assert answer.status_code == 400, (name, answer.text)
        error = answer.json()["error"]
        assert "\n" not in error and words in error and "Traceback" not in error
    assert client.get("/api/instances").json() == before
    assert not [p for p in uploads.rglob("*") if p.is_file()]


def test_a_zip_upload_brings_its_csv_tables_confined(studio):
    # quickstart with its demand moved into demand.csv, zipped together: listed with the
    # file's demand; a zip with a path out of its folder, a second YAML or a script is refused
    client, _, tmp_path = studio
    text = (INSTANCES / "quickstart.yaml").read_text()
    start, end = text.index("demand:"), text.index("accelerators:")
    text = text[:start] + "demand: demand.csv\n\n" + text[end:]
    table = ("workload,period,tokens_per_day\nchat,2026,2.0e10\nchat,2027,4.0e10\n"
             "chat,2028,7.0e10\nreasoning,2026,5.0e9\nreasoning,2027,1.5e10\n"
             "reasoning,2028,3.0e10\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("quick.yaml", text)
        archive.writestr("demand.csv", table)
    answer = client.post("/api/instances", files={"file": ("quick.zip", buffer.getvalue())})
    assert answer.status_code == 200, answer.text
    entry = answer.json()
    assert "error" not in entry
    info = client.get(f"/api/instances/{entry['id']}").json()
    assert info["demand"]["chat"] == {"2026": 2.0e10, "2027": 4.0e10, "2028": 7.0e10}
    # kept across a restart, with its table
    again = create_app([], tmp_path / "studio")
    with TestClient(again) as other:
        listed = {i["id"]: i for i in other.get("/api/instances").json()}
        assert entry["id"] in listed and "error" not in listed[entry["id"]]
    for members in ({"a.yaml": text, "../b.csv": table}, {"a.yaml": text, "b.yml": "y: 1"},
                    {"a.yaml": text, "run.sh": "rm -rf /"}, {"sub/a.yaml": text}):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, body in members.items():
                archive.writestr(name, body)
        refused = client.post("/api/instances", files={"file": ("x.zip", buffer.getvalue())})
        assert refused.status_code == 400, (members.keys(), refused.text)


def test_small_things_a_planner_trips_over(studio):
    # a NaN or null time limit is refused naming the field (never a 500); the run list can be
    # cleared of finished runs; the API docs are served with their assets, offline
    client, app, _ = studio
    key = _instance(client, "quickstart")
    for body in ('{"instance": "%s", "time_limit": NaN}' % key,
                 '{"instance": "%s", "time_limit": null}' % key,
                 '{"instance": "%s", "time_limit": 1e9}' % key):
        answer = client.post("/api/runs", content=body,
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"][0]["loc"][-1] == "time_limit"
    done = _wait(client, client.post("/api/runs", json={"instance": key}).json()["id"])
    assert done["status"] == "optimal" and done["phase"] == "done"
    assert done["elapsed_seconds"] == pytest.approx(done["seconds"])
    assert client.delete("/api/runs").json()["cleared"] == [done["id"]]
    assert client.get("/api/runs").json() == []
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/docs-assets/{asset}").status_code == 200
    assert client.get("/docs-assets/..%2F..%2F__init__.py").status_code == 404


def test_an_interrupted_run_is_marked_with_its_gap(studio, tmp_path):
    # a long medium solve cancelled once it has a plan: its status keeps the plan's
    # (feasible), it is marked interrupted, and its analysis files are absent (not "none")
    from optimizer.instance.generator import generate_instance, instance_yaml
    client, _, _ = studio
    text = instance_yaml(generate_instance(10, 12, 8, 4, seed=1))
    key = client.post("/api/instances", files={"file": ("medium.yaml", text.encode())}).json()["id"]
    run_id = client.post("/api/runs", json={"instance": key, "time_limit": 120}).json()["id"]
    end = time.time() + 120
    while time.time() < end:
        run = client.get(f"/api/runs/{run_id}").json()
        if any(event[1] is not None for event in run["progress"]) or run["status"] in DONE:
            break
        time.sleep(0.1)
    client.post(f"/api/runs/{run_id}/cancel")
    run = _wait(client, run_id)
    if run["status"] == "optimal" and not run["interrupted"]:
        pytest.skip("the solve proved its optimum before the cancel reached it")
    assert run["interrupted"] is True and run["status"] == "feasible", (run["status"], run["error"], run["phase"])
    assert run["summary"]["interrupted"] is True        # the report says so as well
    assert client.get(f"/api/runs/{run_id}/tables/marginal_costs").status_code == 404


def test_tables_edited_in_the_page_become_overrides_and_a_yaml(studio):
    # every cell shows the file's value; an edited demand row and a catalogue cell, sent as the
    # page sends them, give the library's plan with the same overrides; the edited instance
    # downloads as YAML that loads to the same instance
    import yaml

    from optimizer import instance_from_mapping, load_instance, solve
    client, app, _ = studio
    key = _instance(client, "quickstart")
    tables = {t["name"]: t for t in client.get(f"/api/instances/{key}").json()["tables"]}
    assert set(tables) == {"demand", "prices", "grid", "sites", "catalogue"}
    spec = load_instance(INSTANCES / "quickstart.yaml").spec
    chat = next(r for r in tables["demand"]["rows"] if r["label"] == "chat")
    assert chat["row_path"] == "demand.chat"
    assert {p: c["value"] for p, c in chat["cells"].items()} == dict(spec.demand["chat"])
    site = tables["sites"]["rows"][0]
    assert site["cells"]["max_cards"] == {"value": spec.sites[site["label"]].max_cards,
                                          "path": f"sites.{site['label']}.max_cards"}
    edits = {"demand.chat": {"2026": 2.0e10, "2027": 6.0e10, "2028": 9.0e10},
             tables["catalogue"]["rows"][0]["cells"]["power_kw_per_card"]["path"]: 0.9}
    run = _wait(client, client.post("/api/runs", json={"instance": key,
                                                       "overrides": edits}).json()["id"])
    expected = solve(load_instance(INSTANCES / "quickstart.yaml", overrides=edits))
    assert run["summary"]["objective"] == pytest.approx(expected.objective, rel=1e-4)
    answer = client.post(f"/api/instances/{key}/yaml", json={"overrides": edits})
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].endswith('quickstart-edited.yaml"')
    data = yaml.safe_load(answer.text)
    assert data["demand"]["chat"] == edits["demand.chat"]
    again = instance_from_mapping(data, base_dir=INSTANCES)
    assert dict(again.spec.demand["chat"]) == edits["demand.chat"]
    refused = client.post(f"/api/instances/{key}/yaml", json={"overrides": {
        "demand.chat": {"2026": -1, "2027": 1, "2028": 1}}})
    assert refused.status_code == 400 and "demand.chat" in refused.json()["error"]


def test_an_infeasible_what_if_names_every_cap_that_must_give(studio):
    # zhengzhou-30k at demand x 5 with a 20 MW grid: the card slots fall short in 2029-30,
    # and the grid as well (from 2027): both are named, not the slots alone
    client, _, _ = studio
    key = _instance(client, "zhengzhou-30k")
    run = _wait(client, client.post("/api/runs", json={
        "instance": key, "levers": {"demand_scale": 5, "grid_mw:zhengzhou": 20}}).json()["id"])
    assert run["status"] == "infeasible"
    messages = [r["message"] for r in run["explanation"]]
    assert any("card slot" in m for m in messages), messages
    assert any("grid of its sites (20.0 MW" in m for m in messages), messages


def _study_done(client, run_id: str, kind: str, seconds: float = 60) -> dict:
    """The study's state once it is no longer running (a hang guard, no timing asserted)."""
    end = time.time() + seconds
    while True:
        study = client.get(f"/api/runs/{run_id}/studies/{kind}").json()
        if study["state"] != "running" or time.time() > end:
            return study
        time.sleep(0.1)


def test_ranges_and_contingencies_of_a_plan_in_the_studio(tmp_path):
    # the three vendors of test_alternatives (solved by hand there): ranges within 0.5 % and
    # 1 % give VB at most 5 and 10 cards; an end opens as a run of its own with its plan.
    # Losing VA from 2027 in the two-vendor case of test_contingency costs 2000 when its
    # cards on order are lost
    from conftest import write_instance
    from test_alternatives import three_vendors
    from test_contingency import two_vendors
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = [write_instance(tmp_path / "a", three_vendors()),
             write_instance(tmp_path / "b", two_vendors())]
    app = create_app(files, tmp_path / "studio")
    with TestClient(app) as client:
        keys = [i["id"] for i in client.get("/api/instances").json()]
        runs = [_wait(client, client.post("/api/runs", json={"instance": k}).json()["id"])
                for k in keys]
        started = client.post(f"/api/runs/{runs[0]['id']}/studies/ranges",
                              json={"slacks": [0.005, 0.01], "groups": ["vendor"]})
        assert started.status_code == 200, started.text
        study = _study_done(client, runs[0]["id"], "ranges")
        assert study["state"] == "done", study
        most = {(r["slack"], r["member"]): r["max_cards"] for r in study["rows"]}
        assert most[0.005, "VB"] == 5 and most[0.01, "VB"] == 10
        end = next(r for r in study["rows"] if r["slack"] == 0.01 and r["member"] == "VB")
        opened = client.post(f"/api/runs/{runs[0]['id']}/studies/ranges/open",
                             json={"dir": end["max_dir"]})
        assert opened.status_code == 200, opened.text
        fleet = client.get(f"/api/runs/{opened.json()['id']}/tables/fleet").json()
        assert sum(r["cards"] for r in fleet if r["accelerator"] == "B") == 10
        refused = client.post(f"/api/runs/{runs[0]['id']}/studies/ranges/open",
                              json={"dir": "../../uploads"})
        assert refused.status_code == 404
        client.post(f"/api/runs/{runs[1]['id']}/studies/contingency",
                    json={"from_period": "2027", "on_order": "lost", "vendors": ["VA"]})
        study = _study_done(client, runs[1]["id"], "contingency")
        assert study["state"] == "done", study
        (row,) = study["rows"]
        assert row["vendor"] == "VA" and row["extra_cost"] == pytest.approx(2000)
        bad = client.post(f"/api/runs/{runs[1]['id']}/studies/contingency", json={})
        assert bad.status_code == 400 and "from_period" in bad.json()["error"]
