"""What-if overrides, sweeps (local and Dask), compare. Optima worked out by hand."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from conftest import accelerator, instance, site, write_instance
from optimizer import load_instance, solve
from optimizer.studies.sweep import parse_vary, run_sweep, variant_grid


def grid_instance(tmp_path):
    # A: 100 per card, 1 kW; B: 150 per card, 0.5 kW; 60 cards needed; free cooling, PUE 1.
    # With a grid of G kW: a + b = 60, a + 0.5 b <= G  =>  b >= 120 - 2G.
    #   G = 20: 60 B still draw 30 kW  -> infeasible ("needs 0.030 MW, cap 0.020 MW")
    #   G = 40: b = 40, a = 20 -> 2000 + 6000 = 8000
    #   G = 50: b = 20, a = 40 -> 4000 + 3000 = 7000
    #   G = 60: a = 60         -> 6000
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=60, sites={"s1": site(grid_mw=0.040)})
    return write_instance(tmp_path, data)


EXPECTED = {0.02: None, 0.04: 8000.0, 0.05: 7000.0, 0.06: 6000.0}


def test_parse_vary_lists_and_ranges():
    assert parse_vary("demand_scale=0.5:2.0:0.25").values == (0.5, 0.75, 1.0, 1.25, 1.5, 1.75,
                                                              2.0)
    assert parse_vary("sites.s1.grid_mw=40,80").values == (40, 80)
    assert parse_vary("accelerators.A.tags=[x],[y]").values == (["x"], ["y"])
    grid = variant_grid([parse_vary("a=1,2"), parse_vary("b=x,y,z")])
    assert len(grid) == 6 and grid[0] == {"a": 1, "b": "x"} and grid[-1] == {"a": 2, "b": "z"}


def test_override_file_reproduces_the_hand_optimum(tmp_path):
    path = grid_instance(tmp_path)
    fragment = tmp_path / "what-if.yaml"
    fragment.write_text("sites:\n  s1:\n    grid_mw: 0.05\n")
    plan = solve(load_instance(path, override_files=[fragment]))
    assert plan.objective == pytest.approx(7000)     # G = 50 kW above


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_over_a_grid_cap(tmp_path, workers):
    path = grid_instance(tmp_path)
    out = tmp_path / "sweep"
    frame = run_sweep(path, [parse_vary("sites.s1.grid_mw=0.02,0.04,0.05,0.06")], out,
                      workers=workers)
    assert len(frame) == 4
    for _, row in frame.iterrows():
        expected = EXPECTED[row["sites.s1.grid_mw"]]
        if expected is None:
            assert row["status"] == "infeasible", row.get("error")
            assert row["explanation"] == "site s1 grid: needs 0.030 MW, cap 0.020 MW in 2026"
        else:
            assert row["status"] == "optimal"
            assert row["npv"] == pytest.approx(expected)
    written = pd.read_csv(out / "sweep.csv")
    assert list(written["status"]) == ["infeasible", "optimal", "optimal", "optimal"]
    for i in range(4):
        assert (out / "variants" / f"{i:04d}" / "summary.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # staging cleaned


def test_dask_backend_matches_local(tmp_path):
    pytest.importorskip("dask.distributed")
    path = grid_instance(tmp_path)
    varies = [parse_vary("sites.s1.grid_mw=0.02,0.04,0.05,0.06")]
    local = run_sweep(path, varies, None, workers=1)
    distributed = run_sweep(path, varies, None, workers=2, backend="dask")
    columns = ["variant", "sites.s1.grid_mw", "status", "npv", "cards_VA", "cards_VB"]
    pd.testing.assert_frame_equal(local[columns], distributed[columns])


def test_sweep_cli_and_compare(tmp_path):
    path = grid_instance(tmp_path)
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary",
                                       "sites.s1.grid_mw=0.04,0.06", "-o", str(out),
                                       "--workers", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["npv"] for r in rows] == pytest.approx([8000.0, 6000.0])
    result = CliRunner().invoke(main, ["compare", str(out / "variants" / "0000"),
                                       str(out / "variants" / "0001"), "--json"])
    assert result.exit_code == 0, result.stderr
    comparison = json.loads(result.stdout)
    npv = next(k for k in comparison["kpis"] if k["kpi"] == "npv_total")
    assert npv["delta"] == pytest.approx(-2000)          # 6000 - 8000
    changed = {(r["accelerator"], r["delta"]) for r in comparison["purchases"]}
    assert changed == {("A", 40), ("B", -40)}             # 20 A + 40 B  ->  60 A


def test_sweep_refuses_a_bad_vary(tmp_path):
    path = grid_instance(tmp_path)
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "demand_scale=2:1:0.5",
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "STEP > 0" in result.stderr
    assert not (tmp_path / "out").exists()


def test_sweep_variant_with_a_bad_value_is_a_row_not_a_crash(tmp_path):
    path = grid_instance(tmp_path)
    frame = run_sweep(path, [parse_vary("sites.s1.grid_mw=0.05,-1")], None, workers=1)
    assert list(frame["status"]) == ["optimal", "bad_input"]
    assert "sites.s1.grid_mw" in frame.loc[1, "error"]
