"""Stochastic planning: a hand-solved two-stage newsvendor.

Two yearly periods, no discounting. Demand only in 2027: 10 cards (low) or 20 cards (high),
probability 1/2 each. Cards bought in 2026 (the commit period) cost 100 and live through 2027
(lifetime 1.5 years: no salvage at the horizon end, 1 - 2/1.5 < 0). Cards bought late, in
2027, cost 225 but keep a third of their value at the horizon end (1 - 1/1.5): 150 net.

Stochastic plan (SP): buy x early, the rest late per scenario.
  x <= 10: 100 x + 150 * (0.5 (10 - x) + 0.5 (20 - x)) = 2250 - 50 x
  x >= 10: 100 x + 150 * 0.5 * (20 - x)                  = 1500 + 25 x
  minimum at x = 10: SP = 1750 (low: 1000, high: 1000 + 10 * 150 = 2500).
Mean-value plan: mean demand 15, all early: 15 cards, 1500 (EV).
  EEV (15 early, then recourse): low 1500, high 1500 + 5 * 150 = 2250 -> 1875.
  VSS = EEV - SP = 1875 - 1750 = 125.
Wait and see: low 10 early = 1000, high 20 early = 2000 -> WS = 1500; EVPI = SP - WS = 250.
"""
from __future__ import annotations

import pytest

from conftest import accelerator, instance, site, solve_data


def newsvendor() -> dict:
    data = instance({"A": accelerator(price={"2026": 100, "2027": 225}, lifetime=1.5)},
                    demand_tokens_per_s=[0.0, 15.0], periods=["2026", "2027"],
                    sites={"s1": site()})
    data["scenarios"] = {"low": {"probability": 0.5, "demand_scale": 10 / 15},
                         "high": {"probability": 0.5, "demand_scale": 20 / 15},
                         "commit_periods": 1}
    return data


def test_newsvendor_first_stage_expected_npv_vss_evpi(tmp_path):
    plan = solve_data(tmp_path, newsvendor())
    stochastic = plan.summary["stochastic"]
    first = plan.tables["first_stage"]
    assert first["cards"].sum() == 10 and set(first["period"]) == {"2026"}
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    npv = {row["scenario"]: row["npv"] for row in stochastic["scenarios"]}
    assert npv["low"] == pytest.approx(1000, rel=1e-6)
    assert npv["high"] == pytest.approx(2500, rel=1e-6)
    assert stochastic["ev_npv"] == pytest.approx(1500, rel=1e-6)
    assert stochastic["eev"] == pytest.approx(1875, rel=1e-6)
    assert stochastic["vss"] == pytest.approx(125, rel=1e-6)
    assert stochastic["ws"] == pytest.approx(1500, rel=1e-6)
    assert stochastic["evpi"] == pytest.approx(250, rel=1e-6)
    # recourse: the high scenario buys its other 10 cards late
    purchases = plan.tables["purchases"]
    late = purchases[(purchases["period"] == "2027")].groupby("scenario")["cards"].sum()
    assert late.get("high", 0) == 10 and late.get("low", 0) == 0


def test_scenarios_can_be_ignored(tmp_path):
    # planning for the instance's own demand (15 cards, all early): 1500
    from optimizer import load_instance, solve
    from conftest import write_instance
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())), scenarios=False)
    assert plan.objective == pytest.approx(1500, rel=1e-6)


def test_newsvendor_by_decomposition_with_single_scenario_bundles(tmp_path):
    # Bundles of one: lower bound WS = 0.5 * 1000 + 0.5 * 2000 = 1500.
    # Candidates (first stages), evaluated scenario by scenario, dearest scenario first:
    #   high's plan, 20 early: high 2000, low 2000                          -> 2000
    #   low's plan, 10 early: high 1000 + 10 * 150 = 2500; with low's own bound 1000 the
    #     estimate 0.5 * 2500 + 0.5 * 1000 = 1750 < 2000, so it goes on: low 1000 -> 1750 (= SP)
    #   mean-demand plan, 15 early: high 1500 + 5 * 150 = 2250, low 1500  -> 1875 (= EEV)
    # Best: 10 early, 1750; proven gap (1750 - 1500) / 1750 = 1/7; VSS = 125; EVPI est. 250.
    from optimizer import load_instance, solve
    from conftest import write_instance
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())),
                 stochastic_method="decomposed", workers=1, bundle_size=1)
    stochastic = plan.summary["stochastic"]
    assert stochastic["method"] == "decomposed" and stochastic["bundles"] == 2
    first = plan.tables["first_stage"]
    assert first["cards"].sum() == 10 and set(first["period"]) == {"2026"}
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.best_bound == pytest.approx(1500, rel=1e-6)
    assert plan.mip_gap == pytest.approx(1 / 7, rel=1e-6)
    assert plan.status.value == "feasible"
    candidates = {row["source"]: row["expected_npv"] for row in stochastic["candidates"]}
    assert candidates == pytest.approx({"plan for high": 2000, "plan for low": 1750,
                                        "mean-demand plan": 1875}, rel=1e-6)
    assert stochastic["solves"] == 3 + 6         # 2 bundles + mean; 3 candidates x 2
    assert stochastic["eev"] == pytest.approx(1875, rel=1e-6)
    assert stochastic["vss"] == pytest.approx(125, rel=1e-6)
    assert stochastic["ws"] == pytest.approx(1500, rel=1e-6)
    assert stochastic["evpi"] == pytest.approx(250, rel=1e-6)
    npv = {row["scenario"]: row["npv"] for row in stochastic["scenarios"]}
    assert npv == pytest.approx({"low": 1000, "high": 2500}, rel=1e-6)


def test_newsvendor_by_decomposition_one_bundle_is_exact(tmp_path):
    # Both scenarios in one bundle: its extensive form is the whole problem, so the bundle's
    # plan (10 early) is optimal and the bound is SP itself: 1750, gap 0. The mean-demand
    # plan is still evaluated (for VSS): 1875. Dropped: nothing can beat 1750.
    from optimizer import load_instance, solve
    from conftest import write_instance
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())),
                 stochastic_method="decomposed", workers=1)
    stochastic = plan.summary["stochastic"]
    assert stochastic["bundles"] == 1
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.best_bound == pytest.approx(1750, rel=1e-4)
    assert plan.status.value == "optimal"
    assert plan.tables["first_stage"]["cards"].sum() == 10
    assert stochastic["vss"] == pytest.approx(125, rel=1e-6)
    assert stochastic["evpi"] is None


def test_decomposition_explains_a_scenario_without_a_plan(tmp_path):
    # 15 card slots: the high scenario needs 20 cards, so its bundle has no plan, and a bundle
    # relaxes the whole problem: no stochastic plan exists
    from optimizer import load_instance, solve
    from optimizer.errors import InfeasibleError
    from conftest import write_instance
    data = newsvendor()
    data["sites"]["s1"]["max_cards"] = 15
    with pytest.raises(InfeasibleError) as caught:
        solve(load_instance(write_instance(tmp_path, data)), stochastic_method="decomposed",
              workers=1)
    assert "bundle low, high has no plan" in str(caught.value)
    assert caught.value.plan.status.value == "infeasible"


def test_decomposition_in_worker_processes_from_the_cli(tmp_path):
    # the same newsvendor, two worker processes: which candidate is dropped may depend on the
    # order solves finish in, but the plan cannot: 10 cards early, E[NPV] 1750, bound 1500
    import json
    from conftest import run_cli, write_instance
    path = write_instance(tmp_path, newsvendor())
    out = tmp_path / "out"
    result = run_cli("solve", str(path), "--stochastic", "decomposed", "--workers", "2",
                     "--bundle-size", "1", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["objective"] == pytest.approx(1750, rel=1e-6)
    assert summary["best_bound"] == pytest.approx(1500, rel=1e-6)
    assert summary["stochastic"]["workers"] == 2
    assert [row["cards"] for row in summary["stochastic"]["first_stage"]] == [10]
    assert (out / "first_stage.csv").exists() and (out / "scenarios.csv").exists()
