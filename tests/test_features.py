"""Features no other test solved: each in a small instance, its optimum worked out by hand.

Conventions of test_families.py: one workload ``chat`` with peak_to_average 1, 1 token/s per
card, availability 1, discount 0, one-year periods, free power and cooling unless a test says
otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import (
    INSTANCES, accelerator, cards_bought, instance, run_cli, site, solve_data, write_instance,
)

REL = 1e-6


def test_regions_keep_a_workload_at_its_sites(tmp_path):
    # chat may only be served in CN, batch anywhere. Cards: 100, 1 kW, always at full power
    # (idle fraction 1). CN power costs 100 per MWh (876 per card-year), US power is free.
    # chat 10 tokens/s at CN: 10 * (100 + 876) = 9760; batch 5 tokens/s at US: 500.
    data = instance({"A": accelerator(price=100, power_kw=1.0, idle_power_fraction=1.0)},
                    sites={"cn": site(electricity=100.0, region="CN"),
                           "us": site(region="US")})
    data["workloads"] = {"chat": {"peak_to_average": 1.0, "regions": ["CN"]},
                         "batch": {"peak_to_average": 1.0}}
    data["accelerators"]["A"]["throughput"] = {"chat": 1.0, "batch": 1.0}
    data["demand"]["batch"] = {"2026": 5 * 86400.0}
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(9760 + 500, rel=REL)
    assert cards_bought(plan, site="cn") == 10 and cards_bought(plan, site="us") == 5
    serving = plan.tables["serving"].groupby(["workload", "site"])["peak_tokens_per_s"].sum()
    assert serving["chat", "cn"] == pytest.approx(10, rel=REL) and ("chat", "us") not in serving


def _liquid_site(step_mw=None):
    liquid = {"pue": 1.0, "max_rack_kw": 140, "build_cost_per_mw": 20000.0}
    if step_mw is not None:
        liquid["build_step_mw"] = step_mw
    return site(modes={"air": {"pue": 1.0, "max_rack_kw": 30, "existing_it_mw": 1.0},
                       "liquid": liquid})


def test_racks_above_the_air_limit_must_go_liquid(tmp_path):
    # 60 kW racks exceed air's 30 kW limit: the 10 cards (1 kW each) go liquid, which must be
    # built: 0.010 MW * 20,000 = 200, of which 200 * (1 - 1/15) = 186.67 is salvage after one
    # year. NPV 1000 + 200 - 186.67 = 1013.33 (the free existing air hall cannot take them).
    data = instance({"A": accelerator(price=100, power_kw=1.0, rack_kw=60,
                                      cooling=["air", "liquid"])},
                    sites={"s1": _liquid_site()})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000 + 200 / 15, rel=REL)
    assert set(plan.tables["purchases"]["cooling"]) == {"liquid"}


def test_cooling_is_built_in_whole_steps(tmp_path):
    # As above, but liquid comes in 25 kW halls: 10 kW of load needs one whole step,
    # 0.025 MW * 20,000 = 500, salvage 500 * 14/15. NPV 1000 + 500 / 15 = 1033.33.
    data = instance({"A": accelerator(price=100, power_kw=1.0, rack_kw=60,
                                      cooling=["air", "liquid"])},
                    sites={"s1": _liquid_site(step_mw=0.025)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000 + 500 / 15, rel=REL)
    sites = plan.tables["sites"].set_index("cooling")
    assert sites.loc["liquid", "it_mw_built"] == pytest.approx(0.025, rel=REL)


def test_half_year_periods_with_a_lifetime_of_one_and_a_half_periods(tmp_path):
    # Periods of half a year; cards live 0.75 years: bought in t they serve t and t+1
    # ((t+1 - t) * 0.5 = 0.5 < 0.75). 10 cards needed in each of P0..P2.
    # Buy 10 in P0 (serve P0, P1) and 10 in P2 (its salvage: age 0.5 at the end, worth
    # 1 - 0.5/0.75 = 1/3 -> 333.33). A P1 purchase would be worthless at the end (age 1 >
    # 0.75), so P2 is the cheaper second buy. Cards: 2000 - 333.33.
    # Maintenance 0.1 a year of the price: 0.05 per half-year period of each live card:
    # P0's cards 2 periods (100), P2's 1 period (50). Fixed site cost 100 a year: 50 a period.
    # NPV = 1666.67 + 150 + 150 = 1966.67.
    periods = ["P0", "P1", "P2"]
    data = instance({"A": accelerator(price=100, lifetime=0.75, maintenance_rate=0.1)},
                    periods=periods, sites={"s1": site(fixed_cost_per_year=100.0)})
    data["horizon"]["period_years"] = 0.5
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2000 - 1000 / 3 + 150 + 150, rel=REL)
    assert [cards_bought(plan, period=p) for p in periods] == [10, 0, 10]
    costs = plan.tables["costs"].set_index("period")
    assert list(costs["maintenance"]) == pytest.approx([50, 50, 50], rel=REL)
    assert list(costs["fixed"]) == pytest.approx([50, 50, 50], rel=REL)


def test_existing_fleet_retires_mid_horizon(tmp_path):
    # 10 installed cards aged 1.5 years with a 2-year life serve 2026 (1.5 < 2) and retire
    # before 2027 (2.5 >= 2): 2027's 10 tokens/s need 10 new cards: 1000, of which half comes
    # back as salvage (one year old of two at the end: 1 - 1/2). Maintenance 5 % a year of the
    # price: the installed cards at the first period's price (10 * 100 * 0.05 = 50 in 2026),
    # the new ones 50 in 2027. NPV 50 + 1000 + 50 - 500 = 600 (installed cards have no
    # salvage).
    data = instance({"A": accelerator(price=100, lifetime=2.0, maintenance_rate=0.05)},
                    periods=["2026", "2027"],
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 10, "age_years": 1.5}])})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(600, rel=REL)
    assert cards_bought(plan, period="2026") == 0 and cards_bought(plan, period="2027") == 10
    fleet = plan.tables["fleet"].groupby("period")["cards"].sum()
    assert fleet["2026"] == 10 and fleet["2027"] == 10


def test_policies_start_at_their_from_period(tmp_path):
    # A domestic at 150, B imported at 100, both vendors' own; lifetime 1 (bought every
    # year); 10 cards a year. Half domestic from 2027 only: 2026 all B (1000), 2027 5 A + 5 B
    # (1250). NPV 2250.
    data = instance({"A": accelerator(price=150, tags=["domestic"]),
                     "B": accelerator(vendor="VB", price=100, tags=["imported"])},
                    periods=["2026", "2027"],
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5,
                                             "from": "2027"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2250, rel=REL)
    assert cards_bought(plan, "A", "2026") == 0 and cards_bought(plan, "B", "2026") == 10
    assert cards_bought(plan, "A", "2027") == 5 and cards_bought(plan, "B", "2027") == 5


def test_vendor_cap_starts_at_its_from_period(tmp_path):
    # VA's card at 100, VB's at 150; no vendor above 60 % from 2027: 2026 10 VA (1000),
    # 2027 6 VA + 4 VB (600 + 600). NPV 2200.
    data = instance({"A": accelerator(price=100), "B": accelerator(vendor="VB", price=150)},
                    periods=["2026", "2027"],
                    policies={"max_vendor_share": {"share": 0.6, "from": "2027"}})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2200, rel=REL)
    assert cards_bought(plan, "A", "2026") == 10
    assert cards_bought(plan, "A", "2027") == 6 and cards_bought(plan, "B", "2027") == 4


def test_grid_counts_provisioned_power_times_pue(tmp_path):
    # PUE 1.5, a 15 kW connection: at most 10 kW of IT capacity (free to build). A: 100, 1 kW;
    # B: 150, 0.5 kW; 12 cards needed: a + b = 12, 1.5 (a + 0.5 b) <= 15 -> b >= 4:
    # a = 8, b = 4: 800 + 600 = 1400 (with PUE 1, 12 A fit in 12 kW... 15 kW: 1200).
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=12.0,
                    sites={"s1": site(grid_mw=0.015, modes={"air": {"pue": 1.5}})})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1400, rel=REL)
    assert cards_bought(plan, "A") == 8 and cards_bought(plan, "B") == 4
    assert plan.tables["sites"]["facility_mw"].sum() == pytest.approx(0.015, rel=REL)


@pytest.fixture(scope="module")
def medium_instance(tmp_path_factory):
    """A generated medium instance (10 sites, 12 accelerators, 8 periods, 4 workloads): its
    optimum to 0.01 % takes minutes, so a short limit stops HiGHS before the proof."""
    from optimizer.instance.generator import generate_instance, instance_yaml
    path = tmp_path_factory.mktemp("medium") / "medium.yaml"
    path.write_text(instance_yaml(generate_instance(10, 12, 8, 4, seed=1)))
    return path


def test_time_limited_run_ends_feasible_with_an_honest_gap(medium_instance):
    from optimizer import load_instance, solve
    plan = solve(load_instance(medium_instance), time_limit=3, mip_gap=1e-6, explain=False)
    assert plan.status.value == "feasible"
    assert plan.best_bound is not None and plan.best_bound <= plan.objective
    assert plan.mip_gap == pytest.approx((plan.objective - plan.best_bound) / plan.objective,
                                         rel=1e-6, abs=1e-9)
    assert plan.mip_gap > 1e-6
    demand = plan.tables["demand"]
    assert (demand["unmet_tokens_per_day"] <= 1e-6 * demand["demand_tokens_per_day"]).all()


def test_a_cancel_during_the_first_phase_keeps_the_plan_so_far(medium_instance, monkeypatch):
    """A cancel while phase 1 (purchases relaxed) runs in its child process: the child is
    stopped, no phase 2 starts, and the plan is the first plan with a proven bound (phase 1's
    bound so far or the LP's, never phase 1's relaxed plan, which is no plan of the model)."""
    import threading
    import optimizer.solver.highs as highs
    from optimizer import load_instance, solve
    from optimizer.solver.isolated import IsolatedOutcome
    cancel = threading.Event()
    runs: list[bool] = []
    isolated_mip = highs.HighsModel.isolated_mip

    def cancelled_in_phase_1(self, *args, integer=None, **kwargs) -> IsolatedOutcome:
        relaxed = integer is not None and not np.array_equal(integer, self.integer)
        runs.append(relaxed)
        if relaxed:
            threading.Timer(1.0, cancel.set).start()
        return isolated_mip(self, *args, integer=integer, **kwargs)
    monkeypatch.setattr(highs.HighsModel, "isolated_mip", cancelled_in_phase_1)
    plan = solve(load_instance(medium_instance), mip_gap=1e-6, explain=False, cancel=cancel)
    assert runs[0] is True                      # phase 1 ran, and nothing ran after it
    assert runs == [True]
    assert plan.status.value == "feasible"
    assert "first plan" in plan.summary["solver"]["model_status"]
    assert plan.best_bound is not None and plan.best_bound <= plan.objective
    demand = plan.tables["demand"]
    assert (demand["unmet_tokens_per_day"] <= 1e-6 * demand["demand_tokens_per_day"]).all()


def test_time_limit_before_any_plan_ends_no_solution(medium_instance, tmp_path):
    result = run_cli("solve", str(medium_instance), "--time-limit", "0.001", "--json",
                     "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    import json
    summary = json.loads(result.stdout)
    assert summary["status"] == "no_solution" and summary["objective"] is None


@pytest.mark.parametrize("procurement", [False, True])
def test_generated_instances_get_a_plan_within_a_short_limit(tmp_path, procurement):
    # Whatever the size, a limited run ends with a plan (the constructive first plan exists
    # long before the limit) and accounts for its time: the summary's timings hold every
    # stage. How fast is the benchmark's question (benchmarks/stress.py), not a test's.
    import json
    from optimizer.instance.generator import generate_instance, instance_yaml
    for size in [(3, 5, 4, 2), (10, 12, 8, 4)]:
        path = tmp_path / f"{size[0]}.yaml"
        path.write_text(instance_yaml(generate_instance(*size, seed=3, procurement=procurement)))
        result = run_cli("solve", str(path), "--time-limit", "30", "--mip-gap", "0.1",
                         "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["status"] in ("optimal", "feasible")
        assert summary["best_bound"] is not None and summary["mip_gap"] is not None
        for stage in ("imports_seconds", "load_seconds", "build_seconds", "transfer_seconds",
                      "solve_seconds", "report_seconds"):
            assert summary["timings"][stage] >= 0, stage


@pytest.mark.parametrize("name", ["quickstart", "zhengzhou-30k", "zhengzhou-30k-procurement"])
def test_bundled_instance_solves_to_the_independent_optimum(name):
    # the independent model.md formulation of test_differential gives the optimum
    from optimizer import load_instance, solve
    from optimizer.instance.safe_yaml import read_yaml_file
    from test_differential import independent_optimum
    path = INSTANCES / f"{name}.yaml"
    status, expected = independent_optimum(read_yaml_file(path))
    assert status == "optimal"
    plan = solve(load_instance(path), mip_gap=1e-9)
    assert plan.status.value == "optimal"
    assert plan.objective == pytest.approx(expected, rel=1e-6)
    discounted = plan.tables["costs"]["discounted_total"].sum()
    assert discounted == pytest.approx(plan.objective, rel=1e-6)
