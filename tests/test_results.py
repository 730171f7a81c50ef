"""The results directory, summary.json, the CLI contract and the library API."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from conftest import INSTANCES, accelerator, instance, run_cli, write_instance
from optimizer.status import Status, outcome_of

INTERFACE_COLUMNS = {
    "purchases": ["period", "accelerator", "vendor", "site", "cooling", "units", "cards", "capex"],
    "fleet": ["period", "accelerator", "vendor", "site", "cooling", "cards"],
    "serving": ["period", "workload", "accelerator", "site", "peak_tokens_per_s",
                "average_tokens_per_day"],
    "sites": ["period", "site", "cooling", "it_mw_capacity", "it_mw_used", "facility_mw",
              "grid_mw", "cards", "max_cards"],
    "costs": ["period", "capex_cards", "capex_cooling", "capex_sites", "energy", "maintenance",
              "fixed", "unmet", "salvage", "total", "discounted_total"],
}


@pytest.fixture(scope="module")
def quickstart_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "results"
    result = run_cli("solve", str(INSTANCES / "quickstart.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_results_directory_follows_the_interface(quickstart_results):
    out, result = quickstart_results
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("status", "objective", "best_bound", "mip_gap", "build_seconds", "solve_seconds",
                "solver", "options", "input_sha256", "kpis"):
        assert key in summary
    assert summary["status"] == "optimal"
    assert summary["solver"]["name"] == "highs"
    for key in ("npv_total", "capex_total", "opex_total", "cost_per_million_tokens",
                "cards_final_period", "domestic_share"):
        assert key in summary["kpis"]
    for name, columns in INTERFACE_COLUMNS.items():
        frame = pd.read_csv(out / f"{name}.csv")
        assert list(frame.columns[:len(columns)]) == columns, name
    # the period costs recomputed from the plan add up to the solver's objective
    costs = pd.read_csv(out / "costs.csv")
    assert costs["discounted_total"].sum() == pytest.approx(summary["objective"], rel=1e-9)
    # nothing left over from the atomic write
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_plan_meets_demand_in_every_period(quickstart_results):
    out, _ = quickstart_results
    serving = pd.read_csv(out / "serving.csv")
    served = serving.groupby(["workload", "period"])["average_tokens_per_day"].sum()
    # quickstart demand (tokens/day): chat 2e10, 4e10, 7e10; reasoning 5e9, 1.5e10, 3e10
    expected = {("chat", 2026): 2e10, ("chat", 2027): 4e10, ("chat", 2028): 7e10,
                ("reasoning", 2026): 5e9, ("reasoning", 2027): 1.5e10, ("reasoning", 2028): 3e10}
    for key, tokens in expected.items():
        assert served[key] == pytest.approx(tokens, rel=1e-6)


def test_existing_directory_needs_force(tmp_path):
    # an existing results directory is replaced only with --force; a folder that holds
    # anything else (a planner's notes) is never replaced, --force or not
    path = write_instance(tmp_path, instance({"A": accelerator()}))
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["solve", str(path), "-o", str(out)]).exit_code == 0
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.stderr
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out), "--force"])
    assert result.exit_code == 0, result.stderr
    assert (out / "summary.json").exists()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out), "--force"])
    assert result.exit_code == 2 and "keep.txt" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_json_prints_only_the_summary(tmp_path):
    path = write_instance(tmp_path, instance({"A": accelerator(price=100)}))
    result = run_cli("solve", str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)          # the whole of stdout is one JSON document
    assert summary["objective"] == pytest.approx(1000)   # 10 cards at 100


def test_set_override_changes_the_optimum(tmp_path):
    # 10 cards at 100 = 1000; with the price overridden to 80: 800.
    path = write_instance(tmp_path, instance({"A": accelerator(price=100)}))
    result = run_cli("solve", str(path), "--json", "--set", "accelerators.A.price_per_card=80")
    assert json.loads(result.stdout)["objective"] == pytest.approx(800)
    result = run_cli("solve", str(path), "--json", "--set", "demand_scale=1.5")
    assert json.loads(result.stdout)["objective"] == pytest.approx(1500)   # 15 cards


def test_bad_override_path_names_the_nearest_keys(tmp_path):
    path = write_instance(tmp_path, instance({"A": accelerator()}))
    result = CliRunner().invoke(main, ["solve", str(path), "--set", "acelerators.A.price_per_card=1"])
    assert result.exit_code == 2
    assert "did you mean accelerators" in result.stderr


def test_library_api(tmp_path):
    from optimizer import load_instance, solve
    path = write_instance(tmp_path, instance({"A": accelerator(price=100)}))
    plan = solve(load_instance(path, overrides={"demand_scale": 2.0}), time_limit=30)
    assert plan.status is Status.OPTIMAL
    assert plan.objective == pytest.approx(2000)         # 20 cards at 100
    assert plan.tables["purchases"]["cards"].sum() == 20
    written = plan.write(tmp_path / "lib-out")
    assert (written / "purchases.csv").exists()


@pytest.mark.parametrize("highs_status,incumbent,expected", [
    ("kOptimal", True, Status.OPTIMAL),
    ("kTimeLimit", True, Status.FEASIBLE),
    ("kTimeLimit", False, Status.NO_SOLUTION),
    ("kInfeasible", False, Status.INFEASIBLE),
    ("kSolveError", False, None),
])
def test_status_table(highs_status, incumbent, expected):
    assert outcome_of(highs_status, incumbent) is expected


@pytest.mark.parametrize("name", sorted(p.name for p in INSTANCES.glob("*.yaml")))
def test_bundled_instances_validate(name):
    result = CliRunner().invoke(main, ["validate", str(INSTANCES / name)])
    assert result.exit_code == 0, result.stderr


def test_solve_function_is_not_shadowed_by_the_highs_module():
    import types

    import optimizer.solver.highs  # noqa: F401 - the HiGHS layer, same name as the function
    from optimizer import solve
    assert callable(solve) and not isinstance(solve, types.ModuleType)
