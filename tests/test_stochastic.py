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


def test_newsvendor_by_decomposition(tmp_path):
    # Candidates (first stages), each evaluated in both scenarios with recourse (see the
    # module docstring for the costs):
    #   mean-demand plan, 15 early: low 1500, high 1500 + 5 * 150 = 2250 -> 1875 (= EEV)
    #   low's alone-plan, 10 early: low 1000, high 1000 + 10 * 150 = 2500 -> 1750 (= SP)
    #   high's alone-plan, 20 early: 2000 in both                        -> 2000
    # evaluated in that order, one scenario at a time (one worker): after high's plan costs
    # 2000 in the low scenario, 0.5 * 2000 + 0.5 * 2000 (high's alone bound) > 1750, so it is
    # dropped before its second solve. The best is 10 early, 1750. Lower bound: WS = 0.5 * 1000 + 0.5 * 2000 = 1500, so the
    # proven gap is (1750 - 1500) / 1750 = 1/7; VSS = 1875 - 1750 = 125; EVPI estimate 250.
    from optimizer import load_instance, solve
    from conftest import write_instance
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())),
                 stochastic_method="decomposed", workers=1)
    stochastic = plan.summary["stochastic"]
    assert stochastic["method"] == "decomposed"
    first = plan.tables["first_stage"]
    assert first["cards"].sum() == 10 and set(first["period"]) == {"2026"}
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.best_bound == pytest.approx(1500, rel=1e-6)
    assert plan.mip_gap == pytest.approx(1 / 7, rel=1e-6)
    assert plan.status.value == "feasible"
    candidates = {row["source"]: row for row in stochastic["candidates"]}
    assert candidates["mean-demand plan"]["expected_npv"] == pytest.approx(1875, rel=1e-6)
    assert candidates["plan for scenario low"]["expected_npv"] == pytest.approx(1750, rel=1e-6)
    assert candidates["plan for scenario high"]["expected_npv"] is None
    assert candidates["plan for scenario high"]["outcome"].startswith("dropped")
    assert stochastic["solves"] == 3 + 2 + 2 + 1    # 2 alone + mean; evaluations 2 + 2 + 1
    assert stochastic["eev"] == pytest.approx(1875, rel=1e-6)
    assert stochastic["vss"] == pytest.approx(125, rel=1e-6)
    assert stochastic["ws"] == pytest.approx(1500, rel=1e-6)
    assert stochastic["evpi"] == pytest.approx(250, rel=1e-6)
    npv = {row["scenario"]: row["npv"] for row in stochastic["scenarios"]}
    assert npv == pytest.approx({"low": 1000, "high": 2500}, rel=1e-6)
