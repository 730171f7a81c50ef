"""Uncertainty (uncertainty.md): a risk-averse newsvendor, a scenario tree, sampled futures and
their out-of-sample estimate, each solved by hand in its comments.

The newsvendor here: periods 2026 and 2027, no discounting, demand only in 2027. Card A costs
100, lasts one year (no salvage at the end) and has a lead time of one period: ordered in 2026
(the committed period) it serves 2027. The only later recourse is a rental at 150 a card for
2027. Ordering x cards now costs NPV(x, d) = 100 x + 150 (d - x)+ in a future of demand d.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import accelerator, fast_first, instance, run_cli, solve_data, write_instance

HOURS = 8760.0


def newsvendor(futures: dict[str, tuple[float, float]], base: float = 20.0) -> dict:
    """The lead-time newsvendor with named futures name -> (probability, demand in cards)."""
    data = instance({"A": accelerator(price=100, lifetime=1.0, lead_time_periods=1)},
                    demand_tokens_per_s=[0.0, base], periods=["2026", "2027"],
                    sites={"s1": {"region": "R", "max_cards": 1000, "grid_mw": 10.0,
                                  "electricity_price_per_mwh": 0.0,
                                  "cooling": {"air": {"pue": 1.0, "existing_it_mw": 5.0}}}})
    data["rentals"] = {"cloud": {"accelerator": "A", "region": "R",
                                 "price_per_card_hour": 150 / HOURS}}
    data["scenarios"] = {name: {"probability": p, "demand_scale": d / base}
                         for name, (p, d) in futures.items()}
    data["scenarios"]["commit_periods"] = 1
    return data


def ordered_now(plan) -> float:
    first = plan.tables["first_stage"]
    return float(first[first["decision"] == "order"]["cards"].sum())


THREE = {"low": (0.3, 10.0), "middle": (0.4, 20.0), "high": (0.3, 30.0)}
# Risk-neutral: raising x pays while 150 P(d > x) > 100, i.e. P(d > x) > 2/3: P(d > 10) = 0.7
# does, P(d > 20) = 0.3 does not -> x = 20 (the middle future), E = 0.3*2000 + 0.4*2000 +
# 0.3*(2000 + 1500) = 2450. CVaR_0.7 is the NPV of the high future (its probability is the
# whole tail, 0.3). On 20 <= x <= 30: E(x) = 55 x + 1350, CVaR(x) = 4500 - 50 x, so the
# objective's slope is 55 - 105 w: x = 20 for w < 11/21, x = 30 (the highest future) above.
#   w = 0.5: x = 20, objective 0.5*2450 + 0.5*3500 = 2975 (x = 30 gives 3000)
#   w = 0.8: x = 30, every NPV 3000, objective 3000 (x = 20 gives 0.2*2450 + 0.8*3500 = 3290)


@pytest.mark.parametrize("weight, cards, objective, expected, cvar", [
    (0.0, 20, 2450, 2450, 3500), (0.5, 20, 2975, 2450, 3500), (0.8, 30, 3000, 3000, 3000)])
def test_the_cvar_weight_moves_the_first_stage_to_the_highest_future(
        tmp_path, weight, cards, objective, expected, cvar):
    data = newsvendor(THREE)
    data["scenarios"]["risk"] = {"cvar_alpha": 0.7, "cvar_weight": weight}
    plan = solve_data(tmp_path, data)
    assert ordered_now(plan) == cards
    assert plan.objective == pytest.approx(objective, rel=1e-6)
    kpis = plan.summary["kpis"]
    assert kpis["expected_npv"] == pytest.approx(expected, rel=1e-6)
    assert kpis["cvar_npv"] == pytest.approx(cvar, rel=1e-6)
    assert kpis["worst_npv"] == pytest.approx(3500 if cards == 20 else 3000, rel=1e-6)
    assert kpis["best_npv"] == pytest.approx(2000 if cards == 20 else 3000, rel=1e-6)
    # VaR_0.7: the smallest NPV v with P(NPV <= v) >= 0.7: 2000 at x = 20, 3000 at x = 30
    assert kpis["var_npv"] == pytest.approx(2000 if cards == 20 else 3000, rel=1e-6)
    tail = plan.tables["scenarios"].set_index("scenario")["in_cvar_tail"].to_dict()
    if cards == 20:
        assert tail == {"low": "no", "middle": "no", "high": "yes"}


def tree_instance() -> dict:
    """Three yearly periods; A (100, one year, lead time one period) orders in t serve t + 1;
    a rental at 150 a card-year covers the rest. A binary tree: stages 2026, 2027, 2028;
    branching [2, 2]. 2027's demand is 10 (down) or 20 (up); 2028's is 5 or 15 after down,
    20 or 40 after up; every branch has probability 1/2 (each leaf 1/4)."""
    data = instance({"A": accelerator(price=100, lifetime=1.0, lead_time_periods=1)},
                    demand_tokens_per_s=[0.0, 10.0, 10.0], periods=["2026", "2027", "2028"],
                    sites={"s1": {"region": "R", "max_cards": 1000, "grid_mw": 10.0,
                                  "electricity_price_per_mwh": 0.0,
                                  "cooling": {"air": {"pue": 1.0, "existing_it_mw": 5.0}}}})
    data["rentals"] = {"cloud": {"accelerator": "A", "region": "R",
                                 "price_per_card_hour": 150 / HOURS}}
    leaves = {"down_low": (10, 5), "down_high": (10, 15), "up_low": (20, 20),
              "up_high": (20, 40)}
    data["scenarios"] = {name: {"probability": 0.25, "overrides": {"demand": {"chat": {
        "2027": a * 86400.0, "2028": b * 86400.0}}}} for name, (a, b) in leaves.items()}
    data["scenarios"]["tree"] = {"stages": ["2026", "2027", "2028"], "branching": [2, 2]}
    return data


def test_a_tree_shares_decisions_per_node(tmp_path):
    # Root (2026): order x for 2027 before knowing the branch; 2027 demand is 10 or 20 at
    # 1/2: a newsvendor with critical ratio 2/3 > 1/2 -> x = 10; cost 1000 + 0.5*150*10 = 1750.
    # Node down (2027): order y for 2028 knowing "down" but not the leaf: 5 or 15 -> y = 5,
    # 500 + 0.5*150*10 = 1250. Node up: 20 or 40 -> y = 20, 2000 + 0.5*150*20 = 3500.
    # Tree: 1750 + 0.5*1250 + 0.5*3500 = 4125.
    # Two stages (only 2026 shared) would let each leaf order its own 2028 demand:
    # 1750 + 100*(5 + 15 + 20 + 40)/4 = 3750 < 4125: the tree is what a planner re-planning
    # each year, not knowing the next year, could carry out.
    plan = solve_data(tmp_path, tree_instance())
    assert plan.objective == pytest.approx(4125, rel=1e-6)
    assert ordered_now(plan) == 10
    nodes = plan.tables["nodes"]
    orders = nodes[nodes["decision"] == "order"].groupby("node")["cards"].sum().to_dict()
    assert orders == {"ROOT": 10, "ROOT_0": 5, "ROOT_1": 20}
    parents = nodes.drop_duplicates("node").set_index("node")["parent"].to_dict()
    assert parents["ROOT_0"] == "ROOT" and parents["ROOT_1_1"] == "ROOT_1"
    probability = nodes.drop_duplicates("node").set_index("node")["probability"].to_dict()
    assert probability == pytest.approx({"ROOT": 1, "ROOT_0": 0.5, "ROOT_1": 0.5,
                                         "ROOT_0_0": 0.25, "ROOT_0_1": 0.25,
                                         "ROOT_1_0": 0.25, "ROOT_1_1": 0.25})
    two_stage = tree_instance()
    del two_stage["scenarios"]["tree"]
    two_stage["scenarios"]["commit_periods"] = 1
    (tmp_path / "two").mkdir()
    assert solve_data(tmp_path / "two", two_stage).objective == pytest.approx(3750, rel=1e-6)


def test_a_scenario_named_members_is_a_scenario(tmp_path):
    """"members" is where the schema gathers the named scenarios; a scenario may still be
    called so in a file."""
    from optimizer import load_instance
    data = newsvendor({"members": (0.6, 10.0), "others": (0.4, 30.0)})
    block = load_instance(write_instance(tmp_path, data)).spec.scenarios
    assert sorted(block.members) == ["members", "others"]
    assert block.members["members"].probability == 0.6
    assert block.members["members"].demand_scale == pytest.approx(0.5)


def test_a_tree_whose_leaves_do_not_match_its_scenarios_is_refused(tmp_path):
    data = tree_instance()
    data["scenarios"]["tree"]["branching"] = [2, 3]
    out = run_cli("validate", str(write_instance(tmp_path, data)))
    assert out.returncode == 2 and "scenarios.tree.branching" in out.stderr
    assert "6 leaves" in out.stderr


def sampled(count: int = 8, seed: int = 7, sigma: float = 0.3) -> dict:
    data = newsvendor({"only": (1.0, 20.0)})
    data["scenarios"] = {"sample": {"count": count, "seed": seed,
                                    "demand_growth": {"sigma": sigma, "drift": 0.0,
                                                      "correlation": 0.8}},
                         "commit_periods": 1}
    return data


def test_sampled_futures_are_the_same_for_a_seed_on_every_machine(tmp_path):
    from optimizer.instance.schema import DemandGrowth
    from optimizer.scenarios.sampling import growth_factors
    growth = DemandGrowth(sigma=0.25, drift=0.0, correlation=0.8)
    factors = growth_factors(3, 1, ["chat", "code"], 3, 1, growth, 1.0)
    # numpy default_rng(1).standard_normal((3, 2, 3)) starts 0.34558419, 0.82161814,
    # 0.33043708 (common, chat, code of future 1 in its first uncommitted period):
    # log f(chat) = 0.25 (sqrt(0.8) 0.34558419 + sqrt(0.2) 0.82161814) = 0.169126...
    z = np.random.default_rng(1).standard_normal((3, 2, 3))
    assert z[0, 0] == pytest.approx([0.34558419, 0.82161814, 0.33043708], abs=1e-8)
    chat = 0.25 * (np.sqrt(0.8) * z[0, 0, 0] + np.sqrt(0.2) * z[0, 0, 1])
    assert factors[0, 0, 1] == pytest.approx(np.exp(chat), rel=1e-12)
    assert factors[0, 0, 1] == pytest.approx(1.18427, abs=1e-5)
    assert (factors[:, :, 0] == 1).all()                     # committed: the forecast
    # the second period's factor builds on the first (a random walk)
    step = 0.25 * (np.sqrt(0.8) * z[0, 1, 0] + np.sqrt(0.2) * z[0, 1, 1])
    assert factors[0, 0, 2] == pytest.approx(np.exp(chat + step), rel=1e-12)
    # workloads in any order get their own factors
    swapped = growth_factors(3, 1, ["code", "chat"], 3, 1, growth, 1.0)
    assert np.array_equal(swapped[:, 1, :], factors[:, 0, :])


def test_a_sampled_plan_is_evaluated_out_of_sample(tmp_path):
    plan = solve_data(tmp_path, sampled())
    from optimizer.instance.schema import DemandGrowth
    from optimizer.scenarios.sampling import growth_factors
    growth = DemandGrowth(sigma=0.3, drift=0.0, correlation=0.8)
    # in sample: 8 futures of demand 20 f_s cards' worth; cards and rented cards are whole,
    # so a future costs 100 x + 150 ceil(d - x)+; the plan is the x of the least mean
    demand = 20 * growth_factors(8, 7, ["chat"], 2, 1, growth, 1.0)[:, 0, 1]

    def npv(x: float, d: np.ndarray) -> np.ndarray:
        return 100 * x + 150 * np.ceil(np.maximum(d - x, 0) - 1e-9)
    best = min(range(0, 60), key=lambda x: (npv(x, demand).mean(), x))
    assert ordered_now(plan) == best
    assert plan.objective == pytest.approx(npv(best, demand).mean(), rel=1e-6)
    out = plan.summary["kpis"]["out_of_sample"]
    # out of sample: seed 8, the same count, the same first stage
    fresh = 20 * growth_factors(8, 8, ["chat"], 2, 1, growth, 1.0)[:, 0, 1]
    values = npv(best, fresh)
    half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(8)
    assert (out["count"], out["seed"]) == (8, 8)
    assert out["mean"] == pytest.approx(values.mean(), rel=1e-6)
    assert out["ci95_low"] == pytest.approx(values.mean() - half, rel=1e-6)
    assert out["ci95_high"] == pytest.approx(values.mean() + half, rel=1e-6)


def test_a_sampled_tree_is_evaluated_out_of_sample_with_its_root_fixed(tmp_path):
    # The tree newsvendor of tree_instance with sampled demand: 20 cards' worth in 2027 and
    # 2028 times the growth factors, a binary tree (stages 2026, 2027, 2028), 4 leaves. Out of
    # sample: 4 independent paths of seed 8 (the root is 2026: shocks from 2027 on), the
    # root's order x fixed. In a path, 2027 costs 100 x + 150 ceil(d27 - x)+ (rent the rest);
    # 2028 is ordered in 2027 with the path known: 100 ceil(d28) (cards of one year, bought
    # at 100 rather than rented at 150).
    from optimizer.instance.schema import DemandGrowth
    from optimizer.scenarios.sampling import growth_factors
    data = tree_instance()
    data["demand"]["chat"] = {p: 20 * 86400.0 for p in ("2026", "2027", "2028")}
    data["demand"]["chat"]["2026"] = 0.0
    data["scenarios"] = {"sample": {"count": 4, "seed": 7, "demand_growth": {
        "sigma": 0.3, "drift": 0.0, "correlation": 0.8}},
        "tree": {"stages": ["2026", "2027", "2028"], "branching": [2, 2]}}
    plan = solve_data(tmp_path, data)
    assert plan.status.value == "optimal"
    x = ordered_now(plan)
    growth = DemandGrowth(sigma=0.3, drift=0.0, correlation=0.8)
    factors = growth_factors(4, 8, ["chat"], 3, 1, growth, 1.0)[:, 0, :]
    d27, d28 = 20 * factors[:, 1], 20 * factors[:, 2]
    values = 100 * x + 150 * np.ceil(np.maximum(d27 - x, 0) - 1e-9) \
        + 100 * np.ceil(d28 - 1e-9)
    out = plan.summary["kpis"]["out_of_sample"]
    assert (out["count"], out["seed"]) == (4, 8)
    assert "root" in out["recourse"]
    assert out["mean"] == pytest.approx(values.mean(), rel=1e-6)
    half = 1.959963984540054 * values.std(ddof=1) / 2.0
    assert out["ci95_high"] == pytest.approx(values.mean() + half, rel=1e-6)


def test_scenarios_and_evaluate_count_on_the_command_line(tmp_path):
    import json
    path = write_instance(tmp_path, sampled())
    out = run_cli("solve", str(path), "--scenarios", "5", "--evaluate-count", "12", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert len(summary["stochastic"]["scenarios"]) == 5
    assert summary["kpis"]["out_of_sample"]["count"] == 12
    named = write_instance(tmp_path, newsvendor(THREE), "named.yaml")
    out = run_cli("solve", str(named), "--scenarios", "5")
    assert out.returncode == 2 and "scenarios.sample" in out.stderr


# ---- Progressive Hedging (mpi-sppy, two MPI ranks) ---------------------------------------

def test_ph_finds_the_risk_averse_plan_and_proves_a_true_bound(tmp_path):
    # w = 0.8 above: x = 30, objective 3000. With CVaR, PH runs no Lagrangian spoke (its
    # subproblems are unbounded in eta); its proven bound is the hub's wait-and-see bound:
    # each future alone orders its own demand: 0.3*1000 + 0.4*2000 + 0.3*3000 = 2000
    data = newsvendor(THREE)
    data["scenarios"]["risk"] = {"cvar_alpha": 0.7, "cvar_weight": 0.8}
    plan = solve_data(tmp_path, data, stochastic_method="ph", workers=2)
    assert ordered_now(plan) == 30
    assert plan.objective == pytest.approx(3000, rel=1e-6)
    assert plan.best_bound == pytest.approx(2000, rel=1e-6)
    assert plan.status.value == "feasible"          # gap 1/3, not claimed away
    assert plan.summary["stochastic"]["method"] == "ph"


def test_ph_plans_a_tree(tmp_path):
    # the tree above: 4125 (root orders 10); the Lagrangian bound lies at or below it
    events = []
    plan = solve_data(tmp_path, tree_instance(), stochastic_method="ph", workers=2,
                      progress=events.append)
    assert plan.objective == pytest.approx(4125, rel=1e-6)
    # progress says what runs before any plan: PH, then the evaluation of its first stage
    stages = [event["stage"] for event in events if event.get("stage", "plan") != "plan"]
    assert stages[0] == "Progressive Hedging (mpi-sppy) on 2 rank(s)"
    assert stages[1].startswith("evaluating ") and stages[1].endswith(" in every future")
    assert all(event["objective"] is None for event in events if event.get("stage") in stages)
    assert ordered_now(plan) == 10
    assert plan.best_bound <= 4125 + 1e-6
    nodes = plan.tables["nodes"]
    orders = nodes[nodes["decision"] == "order"].groupby("node")["cards"].sum().to_dict()
    assert orders == {"ROOT": 10, "ROOT_0": 5, "ROOT_1": 20}


def random_scenario_instance(seed: int) -> dict:
    """Two cards (A: lead time one period, cheaper; B: none, dearer), a rental, a site cap,
    three futures of random demand and probability."""
    rng = np.random.default_rng(seed)
    price_a = float(rng.integers(80, 120))
    data = instance({"A": accelerator(price=price_a, lifetime=1.0, lead_time_periods=1),
                     "B": accelerator(vendor="VB", price=float(price_a + rng.integers(5, 60)),
                                      lifetime=1.0)},
                    demand_tokens_per_s=[float(rng.integers(0, 6)), 20.0],
                    periods=["2026", "2027"],
                    sites={"s1": {"region": "R", "max_cards": int(rng.integers(25, 60)),
                                  "grid_mw": 10.0, "electricity_price_per_mwh": 0.0,
                                  "cooling": {"air": {"pue": 1.0, "existing_it_mw": 5.0}}}})
    data["rentals"] = {"cloud": {"accelerator": "A", "region": "R",
                                 "price_per_card_hour": float(rng.integers(130, 260)) / HOURS}}
    weights = rng.dirichlet([2, 2, 2])
    data["scenarios"] = {f"s{i}": {"probability": float(p), "demand_scale":
                                   float(rng.uniform(0.3, 2.0))}
                         for i, p in enumerate(weights)}
    total = sum(v["probability"] for v in data["scenarios"].values())
    data["scenarios"]["s2"]["probability"] += 1.0 - total
    data["scenarios"]["commit_periods"] = 1
    return data


@pytest.mark.parametrize("seed", fast_first(list(range(20)), 1))
def test_ph_agrees_with_the_extensive_form(tmp_path, seed):
    data = random_scenario_instance(seed)
    (tmp_path / "ef").mkdir()
    (tmp_path / "ph").mkdir()
    ef = solve_data(tmp_path / "ef", data)
    ph = solve_data(tmp_path / "ph", data, stochastic_method="ph", workers=2)
    assert ef.status.value == "optimal"
    assert ph.status.has_plan
    # PH's plan is a plan (no better than the optimum) within its stated gap of its proven
    # bound, and that bound is no higher than the optimum
    assert ph.objective >= ef.objective * (1 - 1e-4) - 1e-6
    assert ph.best_bound <= ef.objective * (1 + 1e-4) + 1e-6
    # its stated gap covers its distance to the true optimum (the extensive form's)
    assert ph.objective - ef.objective <= ph.mip_gap * abs(ph.objective) + 1e-6
    if ph.status.value == "optimal":
        assert ph.objective == pytest.approx(ef.objective, rel=2e-4)


def test_the_risk_frontier_trades_expected_npv_for_cvar(tmp_path):
    # the newsvendor above at w = 0, 0.5, 1: x = 20, 20, 30 (w = 1 > 11/21);
    # (E, CVaR) = (2450, 3500), (2450, 3500), (3000, 3000)
    import pandas as pd
    data = newsvendor(THREE)
    data["scenarios"]["risk"] = {"cvar_alpha": 0.7}
    path = write_instance(tmp_path, data)
    out = run_cli("pareto", str(path), "--risk", "--points", "3", "-o",
                  str(tmp_path / "frontier"), "--workers", "1")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(tmp_path / "frontier" / "pareto.csv")
    assert frame["cvar_weight"].tolist() == [0.0, 0.5, 1.0]
    assert frame["expected_npv"].tolist() == pytest.approx([2450, 2450, 3000], rel=1e-6)
    assert frame["cvar_npv"].tolist() == pytest.approx([3500, 3500, 3000], rel=1e-6)
    assert frame["objective"].tolist() == pytest.approx([2450, 2975, 3000], rel=1e-6)
    assert (tmp_path / "frontier" / "points" / "0002" / "first_stage.csv").is_file()
    report = run_cli("report", str(tmp_path / "frontier"))
    assert report.returncode == 0, report.stderr
    assert "Expected NPV against CVaR" in (tmp_path / "frontier" / "report.html").read_text()


@pytest.mark.parametrize("method", ["extensive", "decomposed"])
def test_what_ifs_on_the_scenarios_block_reach_every_solve(tmp_path, method):
    # --set on the block itself (as the studio's CVaR lever does) must reach each future,
    # the value-of-information solves and the decomposition's bundles alike.
    # The high future at demand_scale 2.0 needs 40 cards: risk-neutral, P(d > 20) = 0.3 still
    # does not pay 150 P > 100, so x = 20 and E = 0.3*2000 + 0.4*2000 + 0.3*(2000 + 150*20)
    # = 2900.
    from optimizer import load_instance, solve
    data = newsvendor(THREE)
    data["scenarios"]["risk"] = {"cvar_alpha": 0.7}
    path = write_instance(tmp_path, data)
    plan = solve(load_instance(path, overrides={"scenarios.high.demand_scale": 2.0}),
                 stochastic_method=method)
    assert ordered_now(plan) == 20
    assert plan.objective == pytest.approx(2900, rel=1e-6)
    if method == "extensive":
        # the CVaR weight set as a what-if: w = 0.8 covers the highest future (30 cards, 3000)
        plan = solve(load_instance(path, overrides={"scenarios.risk.cvar_weight": 0.8}))
        assert ordered_now(plan) == 30
        assert plan.objective == pytest.approx(3000, rel=1e-6)


@pytest.mark.parametrize("block, field", [
    ({"sample": {"count": 10**9, "seed": 1}}, "scenarios.sample.count"),
    ({"sample": {"count": 10**6, "seed": 1}}, "scenarios.sample.count"),
    ({"sample": {"count": 2 * 10**5, "seed": 1},
      "tree": {"stages": ["2026", "2027"], "branching": [2 * 10**5]}}, "scenarios.tree.branching"),
])
def test_a_sample_too_large_to_draw_is_refused_by_validate(tmp_path, block, field):
    # a billion futures would allocate gigabytes of growth factors before any message: refused
    # at once, naming the field, exit 2
    from conftest import assert_field_refused
    data = newsvendor(THREE)
    data["scenarios"] = {"commit_periods": 1, **block}
    if "tree" in block:
        del data["scenarios"]["commit_periods"]
    assert_field_refused(tmp_path, data, ("name",), "big", field)


def _descendants(pid: int) -> set[int]:
    import subprocess
    found, frontier = set(), [pid]
    while frontier:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(frontier.pop())],
                             capture_output=True, text=True).stdout.split()
        for child in map(int, out):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _medium_sampled(tmp_path):
    """A medium generated instance with 20 sampled futures (minutes of PH work), and the
    environment a CLI child needs to find the venv's mpiexec."""
    import os
    import sys
    from pathlib import Path

    import yaml

    from optimizer.instance.generator import generate_instance
    data = generate_instance(10, 12, 8, 4, seed=1)
    data["scenarios"] = {"sample": {"count": 20, "seed": 1}, "commit_periods": 1}
    path = tmp_path / "medium-sampled.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    from conftest import REPO
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return path, env


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_of_ph(tmp_path):
    # PH on 2 ranks over 20 sampled futures of a medium instance (minutes of work): SIGINT
    # once the ranks run; the command exits 130 and no rank, mpiexec or solver process it
    # started outlives it
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import yaml

    from conftest import REPO
    from optimizer.instance.generator import generate_instance
    path, env = _medium_sampled(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "cli", "solve", str(path), "--stochastic",
                                "ph", "--workers", "2", "--time-limit", "300", "-o",
                                str(tmp_path / "out")], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: set[int] = set()
    end = time.time() + 90
    while time.time() < end and process.poll() is None:
        children |= _descendants(process.pid)
        if len(children) >= 3:           # mpiexec and its ranks are up
            break
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()[1][-2000:]
    time.sleep(3)
    children |= _descendants(process.pid)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)     # a hang guard; the stress benchmark times it
    assert process.returncode == 130, stderr[-2000:]
    time.sleep(1)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")
             and "zombie" not in open(f"/proc/{pid}/status").read().lower()]
    assert not alive, (alive, stderr[-1000:])


@pytest.mark.slow
def test_ph_out_of_time_says_so_without_a_traceback(tmp_path):
    # 20 medium futures in 20 s: PH's first iteration cannot solve them all (each scenario's
    # MIP takes seconds); the command exits 1 (no plan found) saying why, and its summary
    # prints (it once failed printing a PH run with no plan)
    import os
    import sys
    from pathlib import Path

    import yaml

    from conftest import REPO
    from optimizer.instance.generator import generate_instance
    import subprocess
    path, env = _medium_sampled(tmp_path)
    out = subprocess.run([sys.executable, "-m", "cli", "solve", str(path), "--stochastic", "ph",
                          "--workers", "2", "--time-limit", "20"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "PH found no plan" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
