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

import math

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
    # the scenario is named with what would have to give in it (5 tokens/s beyond 15 slots)
    assert "scenario high has none" in str(caught.value)
    assert "5 tokens/s cannot be served" in str(caught.value)
    assert "scales demand by 1.333" in str(caught.value)
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
    assert [row["cards"] for row in summary["stochastic"]["first_stage"]
            if row["decision"] == "order"] == [10]
    assert (out / "first_stage.csv").exists() and (out / "scenarios.csv").exists()


def cooled_newsvendor() -> dict:
    """The newsvendor whose cards need cooling built as they arrive (continuous builds).

    Each card draws 1 kW; the only cooling mode has no existing capacity and costs 20,000 per
    MW built (20 per card), with a 2-year life: built in 2026 it has no salvage at the horizon
    end (1 - 2/2), built in 2027 half its cost comes back (net 10 per card). So a card bought
    early costs 100 + 20 = 120 with its cooling, one bought late 150 + 10 = 160.
      SP: 120 x + 160 E[(d - x)+] -> x <= 10: 2400 - 40 x; x >= 10: 1600 + 40 x; x = 10, 2000.
      Mean plan (15): all early, 15 cards and 15 kW: EV = 1800.
      EEV: low 1800; high 1800 + 5 * 160 = 2600 -> 2200; VSS = 200.
      WS: low 1200, high 2400 -> 1800; EVPI = 200.
    The mean plan's first stage holds a continuous cooling build (0.015 MW): fixing only its
    integers would leave the early cards without cooling and call the VSS unbounded.
    """
    data = newsvendor()
    data["accelerators"]["A"]["power_kw_per_card"] = 1.0
    data["sites"]["s1"]["cooling"] = {"air": {"pue": 1.0, "build_cost_per_mw": 20000.0,
                                              "lifetime_years": 2.0}}
    return data


@pytest.mark.parametrize("method", ["extensive", "decomposed"])
def test_vss_with_continuous_cooling_builds(tmp_path, method):
    plan = solve_data(tmp_path, cooled_newsvendor(), stochastic_method=method, bundle_size=1,
                      workers=1)
    stochastic = plan.summary["stochastic"]
    assert plan.objective == pytest.approx(2000, rel=1e-6)
    assert stochastic["ev_npv"] == pytest.approx(1800, rel=1e-6)
    assert stochastic["eev"] == pytest.approx(2200, rel=1e-6)
    assert stochastic["vss"] == pytest.approx(200, rel=1e-6)
    assert stochastic["ws"] == pytest.approx(1800, rel=1e-6)
    assert stochastic["evpi"] == pytest.approx(200, rel=1e-6)


def test_scenario_summary_has_the_contract_kpis_as_expected_values(tmp_path):
    # the newsvendor: low buys 10 cards (capex 1000), high 10 + 10 late (1000 + 2250 = 3250)
    # -> expected capex 2125; cards in the last period 10 and 20 -> 15; opex 0.
    plan = solve_data(tmp_path, newsvendor())
    kpis = plan.summary["kpis"]
    assert kpis["capex_total"] == pytest.approx(2125, rel=1e-6)
    assert kpis["opex_total"] == pytest.approx(0, abs=1e-9)
    assert kpis["cards_final_period"] == pytest.approx(15, rel=1e-6)
    assert kpis["npv_total"] == pytest.approx(1750, rel=1e-6)
    # levelised: low 1000 / 315.36 M tokens, high 2500 / 630.72 M tokens (no discounting)
    low, high = 1000 / (10 * 31.536), 2500 / (20 * 31.536)
    assert kpis["cost_per_million_tokens"] == pytest.approx(0.5 * low + 0.5 * high, rel=1e-6)


def test_bundled_scenario_instance_shows_finite_vss_and_evpi():
    # the showcase's futures diverge after the committed year, so the mean plan's first stage
    # leaves every scenario a plan: VSS and EVPI are finite and (within the gap) >= 0
    from conftest import INSTANCES
    from optimizer import load_instance, solve
    plan = solve(load_instance(INSTANCES / "zhengzhou-30k-scenarios.yaml"), mip_gap=1e-4)
    stochastic = plan.summary["stochastic"]
    slack = 2e-4 * plan.objective
    assert stochastic["eev"] is not None and stochastic["vss"] > -slack
    assert stochastic["ws"] is not None and stochastic["evpi"] > -slack
    assert stochastic["ws"] <= plan.objective + slack <= stochastic["eev"] + 2 * slack


@pytest.fixture(scope="module")
def scenario_instance_file(tmp_path_factory):
    """A generated instance (6 sites, 10 accelerators, 6 periods, 3 workloads) with three
    demand futures: its extensive form and its value of information take far longer than a
    few seconds to prove."""
    from optimizer.instance.generator import generate_instance, instance_yaml
    data = generate_instance(6, 10, 6, 3, seed=2)
    data["scenarios"] = {"low": {"probability": 0.3, "demand_scale": 0.7},
                         "base": {"probability": 0.4, "demand_scale": 1.0},
                         "high": {"probability": 0.3, "demand_scale": 1.3},
                         "commit_periods": 2}
    path = tmp_path_factory.mktemp("scenarios") / "scenarios.yaml"
    path.write_text(instance_yaml(data))
    return path


@pytest.mark.parametrize("method", ["extensive", "decomposed"])
def test_a_stochastic_run_keeps_its_time_limit(scenario_instance_file, method):
    # the limit is for the whole command: every sub-solve shares it, and a run stopped by it
    # still reports (a plan or no_solution), never an error. How close to the limit it ends
    # is benchmarks/stress.py's to measure, not a test's.
    import json
    from conftest import run_cli
    result = run_cli("solve", str(scenario_instance_file), "--time-limit", "6",
                     "--mip-gap", "1e-7", "--stochastic", method, "--workers", "2", "--json")
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["status"] in ("optimal", "feasible", "no_solution")


@pytest.mark.parametrize("relaxation_bound", [None, 1700.0])
def test_decomposition_keeps_a_plan_when_a_bundle_runs_out_of_time(tmp_path, monkeypatch,
                                                                     capsys, relaxation_bound):
    # The one bundle (both futures) is made to end its time without a plan (a fault injected
    # into that one solve; every other solve is real), as medium bundles of 3 + 1 futures did
    # in 25 s. Candidates then: the highest-demand future alone (high: 20 early) and the
    # mean-demand plan (15 early):
    #   20 early: low 2000, high 2000                       -> 2000
    #   15 early: low 1500, high 1500 + 5 * 150 = 2250      -> 1875 (the plan, = EEV)
    # Without the bundle's bound there is no proven bound (no gap, status feasible); with its
    # relaxation's bound 1700 the gap is (1875 - 1700) / 1875.
    import optimizer.scenarios.evaluation as evaluation
    from optimizer import load_instance, solve
    from conftest import write_instance
    real = evaluation.run_scenario_solve

    def bundle_out_of_time(job):
        if job.key[0] == "bundle":
            return {**evaluation._timed_out(job), "proven_bound": relaxation_bound}
        return real(job)
    monkeypatch.setattr(evaluation, "run_scenario_solve", bundle_out_of_time)
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())),
                 stochastic_method="decomposed", workers=1)
    stochastic = plan.summary["stochastic"]
    candidates = {row["source"]: row["expected_npv"] for row in stochastic["candidates"]}
    assert candidates == pytest.approx({"plan for the highest-demand future high alone": 2000,
                                        "mean-demand plan": 1875}, rel=1e-6)
    assert plan.objective == pytest.approx(1875, rel=1e-6)
    assert plan.tables["first_stage"]["cards"].sum() == 15
    assert stochastic["bundles_without_plan"] == ["low, high (out of time)"]
    assert "failed_solves" not in stochastic
    assert plan.status.value == "feasible"
    from optimizer.output.display import print_plan
    print_plan(plan, None)
    said = " ".join(capsys.readouterr().out.split())
    assert "bundles without a plan: low, high (out of time)" in said
    if relaxation_bound is None:
        assert plan.best_bound is None and plan.mip_gap is None
        assert "no proven bound" in stochastic["bound_note"]
        assert "no proven bound: bundle low, high had none" in said
    else:
        assert plan.best_bound == pytest.approx(1700, rel=1e-9)
        assert plan.mip_gap == pytest.approx(175 / 1875, rel=1e-6)
        assert "gap 9.333%" in said


def test_decomposition_runs_a_timed_out_evaluation_again(tmp_path, monkeypatch):
    # Bundles of one, as in test_newsvendor_by_decomposition_with_single_scenario_bundles:
    # candidates 0 = high's plan (20 early, 2000), 1 = low's plan (10 early, 1750, the best),
    # 2 = the mean-demand plan (15 early, 1875). Low's plan evaluated in the high future is
    # made to end its first share without a plan (a fault injected into that one solve's
    # first run; every other solve is real). Until it is in, its estimate is 0.5 * 1000
    # (low, evaluated) + P(high) bound_high = 0.5 * 2000: 1500, below 1875, so it stays in
    # the race, and the solve runs again with the time left: high 1000 + 10 * 150 = 2500,
    # E[NPV] 1750. Before, one solve without a plan in its share dropped the candidate and
    # the plan was the mean-demand one, 1875 (medium, 100 futures: every candidate was
    # dropped that way with 260 s of 600 left).
    import optimizer.scenarios.evaluation as evaluation
    from optimizer import load_instance, solve
    from conftest import write_instance
    real = evaluation.run_scenario_solve
    runs: list[float | None] = []

    def slow_first_time(job):
        if job.key == ("eval", 1, "high"):
            runs.append(job.time_limit)
            if len(runs) == 1:
                return evaluation._timed_out(job)
        return real(job)
    import optimizer.scenarios.decomposition as decomposition
    monkeypatch.setattr(decomposition, "run_scenario_solve", slow_first_time)
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())), time_limit=120,
                 stochastic_method="decomposed", workers=1, bundle_size=1)
    stochastic = plan.summary["stochastic"]
    candidates = {row["source"]: row["expected_npv"] for row in stochastic["candidates"]}
    assert candidates == pytest.approx({"plan for high": 2000, "plan for low": 1750,
                                        "mean-demand plan": 1875}, rel=1e-6)
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.tables["first_stage"]["cards"].sum() == 10
    assert len(runs) == 2 and runs[1] > 1.5 * runs[0]     # again, with more time


def _dies_on_a_bundle(job):
    """A worker-process job (module level: the worker imports it) whose process dies on a
    bundle's solve, as a worker killed for memory does."""
    import os

    import optimizer.scenarios.evaluation as evaluation
    if job.key[0] == "bundle":
        os._exit(9)
    return evaluation.run_scenario_solve(job)


def test_a_worker_that_dies_is_reported_as_such_not_as_out_of_time(tmp_path, monkeypatch,
                                                                   capsys):
    # The newsvendor's one bundle (low, high) is solved in a worker process that dies, and
    # the mean-demand and highest-demand solves running or waiting beside it in that pool
    # die with it. The run says which solve failed and why (before: "no plan found in the
    # time limit for bundle low, high" 0.2 s into a 120 s limit, and no plan at all); the
    # solves that died beside it run again, each in a worker of its own: the bundle's dies
    # again, the other two give their first stages, evaluated in a new pool. The mean-demand
    # plan (15 cards: 0.5 * 1500 + 0.5 * 2250 = 1875) beats the high future's own (20 cards:
    # 2000); the bundle gave no bound, so none is claimed.
    import optimizer.scenarios.decomposition as decomposition
    import optimizer.scenarios.evaluation as evaluation
    from optimizer import load_instance, solve
    from conftest import write_instance
    # both names: a worker unpickles the function by its module's name
    monkeypatch.setattr(evaluation, "run_scenario_solve", _dies_on_a_bundle)
    monkeypatch.setattr(decomposition, "run_scenario_solve", _dies_on_a_bundle)
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())), time_limit=120,
                 stochastic_method="decomposed", workers=2, raise_on_infeasible=False)
    stochastic = plan.summary["stochastic"]
    assert stochastic["failed_solves"] == [
        "bundle 0: its worker process died (killed, or out of memory)"]
    assert stochastic["bundles_without_plan"] == [
        "low, high (its solve failed: its worker process died (killed, or out of memory))"]
    assert plan.status.value == "feasible"
    assert plan.objective == pytest.approx(1875, rel=1e-6)
    assert plan.tables["first_stage"]["cards"].sum() == 15
    assert plan.best_bound is None and plan.mip_gap is None
    assert "out of time" not in json_text(plan.summary)
    from optimizer.output.display import print_plan
    print_plan(plan, None)
    said = " ".join(capsys.readouterr().out.split())
    assert "failed solves: bundle 0: its worker process died" in said


def json_text(summary: dict) -> str:
    import json
    return json.dumps(summary, default=str)


def test_decomposition_polishes_the_best_candidates_evaluations(tmp_path, monkeypatch):
    # The candidates of the test above. Low's plan evaluated in the high future is made to
    # end its first run on a plan 100 above its optimum, with the optimum as its bound (a
    # time-limited solve: status feasible): E[NPV] 0.5 * 1000 + 0.5 * 2600 = 1800, still
    # below the mean-demand plan's 1875, so it is the plan, 1800 against the wait-and-see
    # bound 0.5 * 1000 + 0.5 * 2000 = 1500. With the time left, that solve, the one with
    # the largest p_s (NPV_s - bound_s), runs again with more time and finds 2500: the
    # plan's E[NPV] falls to 1750. Before, the 1800 was reported (medium, 30 futures: the
    # chosen candidate's evaluations were on average 1.2 % above their bounds).
    import optimizer.scenarios.decomposition as decomposition
    import optimizer.scenarios.evaluation as evaluation
    from optimizer import load_instance, solve
    from optimizer.status import Status
    from conftest import write_instance
    real = evaluation.run_scenario_solve
    runs: list[float | None] = []

    def above_its_bound_first_time(job):
        out = real(job)
        if job.key == ("eval", 1, "high"):
            runs.append(job.time_limit)
            if len(runs) == 1:
                assert out["objective"] == pytest.approx(2500, rel=1e-6)
                return {**out, "status": Status.FEASIBLE, "objective": out["objective"] + 100,
                        "best_bound": out["objective"]}
        return out
    monkeypatch.setattr(decomposition, "run_scenario_solve", above_its_bound_first_time)
    plan = solve(load_instance(write_instance(tmp_path, newsvendor())), time_limit=120,
                 stochastic_method="decomposed", workers=1, bundle_size=1)
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.best_bound == pytest.approx(1500, rel=1e-6)
    assert plan.tables["first_stage"]["cards"].sum() == 10
    assert len(runs) == 2 and runs[1] == pytest.approx(
        decomposition.POLISH_FACTOR * runs[0], rel=0.05)


def _extensive_constructive(raw: dict):
    """The extensive form of ``raw`` compiled, and its constructive first plan made the way
    solve_extensive makes it (integers fixed, the continuous rest an LP)."""
    from optimizer import instance_from_mapping
    from optimizer.options import SolveOptions
    from optimizer.scenarios.extensive import build_extensive_form, constructive_hook
    from optimizer.solver.compile import StandardForm
    from optimizer.solver.highs import HighsModel
    from optimizer.solver.strategy import PlanHooks, constructive_start
    from formulations.variables import PURCHASES
    options = SolveOptions()
    master, scenarios = build_extensive_form(instance_from_mapping(raw), options)
    form = StandardForm(master)
    compiled = HighsModel(form.arrays)
    hooks = PlanHooks(purchases=form.columns_of(PURCHASES),
                      constructive=constructive_hook(form, master, scenarios, options, 0.0))
    return compiled, constructive_start(compiled, hooks)


@pytest.mark.parametrize("variant", [{}, {"procurement": True, "energy": True}])
def test_an_extensive_form_has_a_constructive_first_plan(variant):
    # Three medium futures (demand x0.6, x1.0, x1.4), the first period shared. HiGHS took
    # tens of seconds to find any plan of such an extensive form (the 30-future
    # decomposition: 7 of 10 bundles of four medium futures had none in 25 s, so they gave
    # no candidate). The constructive plan takes the first stage of the highest future's
    # greedy plan and plans each future's recourse around it: it must be a plan of the
    # whole extensive form, non-anticipativity rows included (checked row by row, apart
    # from the code that made it).
    from optimizer.instance.generator import generate_instance
    from conftest import assert_feasible_for_model
    raw = generate_instance(10, 12, 8, 4, seed=1, **variant)
    raw["scenarios"] = {"low": {"probability": 0.3, "demand_scale": 0.6},
                        "base": {"probability": 0.4, "demand_scale": 1.0},
                        "high": {"probability": 0.3, "demand_scale": 1.4},
                        "commit_periods": 1}
    compiled, plan = _extensive_constructive(raw)
    assert plan is not None
    assert_feasible_for_model(compiled, plan)
    # With that first plan and 10 s left, HiGHS's search runs on even when its root LP is
    # not expected to fit (relaxation 100 s): the MIP runs in a child process that the
    # deadline stops, so stopping early only left the time unused (a four-future bundle
    # stopped at 11 s of 25 on its first plan, 4.9 % above the bound).
    import time
    from optimizer.solver.strategy import FULL_ROOT_LP_FACTOR_UNPRICED, _full_run_fits
    compiled.relaxation_seconds = 100.0
    compiled.watch.deadline = time.perf_counter() + 10.0
    assert compiled.isolate and _full_run_fits(compiled, FULL_ROOT_LP_FACTOR_UNPRICED)


def test_a_tree_has_a_constructive_first_plan():
    # The binary tree of test_uncertainty (lead time one period, rentals): decisions are
    # shared per node (the root by all four leaves, 2027 by each pair), so each node's
    # decisions come from its highest-demand leaf (up_high under "up", down_high under
    # "down") and every leaf's recourse is planned around them; the plan satisfies every
    # row of the tree's extensive form, the per-node non-anticipativity rows included.
    from test_uncertainty import tree_instance
    from conftest import assert_feasible_for_model
    compiled, plan = _extensive_constructive(tree_instance())
    assert plan is not None
    assert_feasible_for_model(compiled, plan)


def test_candidate_standing_drops_as_the_rule_over_everything_does():
    # The decomposition's bookkeeping (_Standing) re-examines only the candidate an outcome
    # belongs to, and every candidate only when the best complete E[NPV] falls. Written
    # here independently, the rule it must agree with after every outcome: candidate c is
    # out if some future of c is infeasible; else, unless protected or complete, when some
    # complete candidate still in the race has E[NPV] `best` and (sum over bundles of c's
    # NPVs where the bundle is all evaluated, else the bundle's floor) > best, or
    # best <= enough. Random outcome sequences, 12 futures in 4 bundles, 6 candidates.
    import random
    from optimizer.scenarios.decomposition import _Standing
    from optimizer.status import Status
    names = [f"s{i:02d}" for i in range(12)]
    probability = {n: 1 / 12 for n in names}
    bundles = [names[i:i + 3] for i in range(0, 12, 3)]
    floor = [sum(probability[n] for n in b) * 90.0 for b in bundles]
    for seed in range(200):
        rng = random.Random(seed)
        protected, enough = {5}, (95.0 if seed % 3 == 0 else -math.inf)
        done: dict[tuple, dict] = {}
        candidates = list(range(6))
        standing = _Standing(done, probability, bundles, floor, protected, enough, candidates)
        expected_dropped: set[int] = set()
        order = [(c, n) for c in candidates for n in names]
        rng.shuffle(order)
        for c, n in order:
            status = rng.choices([Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE],
                                 [0.6, 0.38, 0.02])[0]
            done["eval", c, n] = {"status": status,
                                  "objective": rng.uniform(80, 130) if status.has_plan else None}
            standing.heard(c)

            def value(x):
                outs = [done.get(("eval", x, m)) for m in names]
                if any(o is None or not o["status"].has_plan for o in outs):
                    return None
                return sum(probability[m] * o["objective"] for m, o in zip(names, outs))
            for x in candidates:
                if x in expected_dropped:
                    continue
                outs = {m: done.get(("eval", x, m)) for m in names}
                if any(o is not None and o["status"] is Status.INFEASIBLE for o in outs.values()):
                    expected_dropped.add(x)
                    continue
                if x in protected or value(x) is not None:
                    continue
                best = min((v for y in candidates if y not in expected_dropped
                            and (v := value(y)) is not None), default=None)
                estimate = sum(sum(probability[m] * outs[m]["objective"] for m in b)
                               if all(outs[m] is not None and outs[m]["status"].has_plan
                                      for m in b) else f for b, f in zip(bundles, floor))
                if best is not None and (estimate > best * (1 + 1e-9) or best <= enough):
                    expected_dropped.add(x)
            assert standing.dropped == expected_dropped, (seed, c, n)
            for x in candidates:
                assert standing.expected(x) == pytest.approx(value(x)) if value(x) else \
                    standing.expected(x) is None
