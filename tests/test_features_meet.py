"""Where two features meet: scenarios with lead times and rentals, the options of a solve on
every path, scenario fragments merged over the file, a scenario without a plan. Each case is
solved by hand in its comments.

The lead-time newsvendor used below: two yearly periods, no discounting, demand only in 2027:
10 cards' worth (low) or 20 (high), probability 1/2 each, ``commit_periods: 1``. Card A has a
lead time of one period: ordered in 2026 it is delivered in 2027 and costs 100 (lifetime 1
year, so no salvage at the horizon end); ordered in 2027 it would arrive after the horizon.
The only late recourse is a rental of A's cards at 150 a card for 2027.

  SP: order x in 2026 (shared), rent the rest per scenario: 100 x + 150 E[(d - x)+]
      x <= 10: 2250 - 50 x; x >= 10: 1500 + 25 x -> x = 10, SP = 1750 (low 1000, high 2500).
  Mean plan (15): EEV = 0.5 1500 + 0.5 (1500 + 5 150) = 1875, VSS = 125.
  Wait and see: low 1000, high 2000 -> WS = 1500, EVPI = 250.
A first stage keyed by delivery (the bug) lets each scenario order its own: 1500, VSS 0.
"""
from __future__ import annotations

import json

import pytest

from conftest import accelerator, instance, run_cli, site, solve_data, write_instance

HOURS = 8760.0


def lead_time_newsvendor() -> dict:
    data = instance({"A": accelerator(price=100, lifetime=1.0, lead_time_periods=1)},
                    demand_tokens_per_s=[0.0, 15.0], periods=["2026", "2027"],
                    sites={"s1": site()})
    data["rentals"] = {"cloud": {"accelerator": "A", "region": "R",
                                 "price_per_card_hour": 150 / HOURS}}
    data["scenarios"] = {"low": {"probability": 0.5, "demand_scale": 10 / 15},
                         "high": {"probability": 0.5, "demand_scale": 20 / 15},
                         "commit_periods": 1}
    return data


def orders(plan) -> float:
    first = plan.tables["first_stage"]
    return float(first[first["decision"] == "order"]["cards"].sum())


def test_orders_placed_now_and_delivered_later_are_shared(tmp_path):
    plan = solve_data(tmp_path, lead_time_newsvendor())
    st = plan.summary["stochastic"]
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert orders(plan) == 10
    first = plan.tables["first_stage"]
    ordered = first[first["decision"] == "order"].iloc[0]
    assert (ordered["period"], ordered["delivery_period"]) == ("2026", "2027")
    npv = {row["scenario"]: row["npv"] for row in st["scenarios"]}
    assert npv == pytest.approx({"low": 1000, "high": 2500}, rel=1e-6)
    assert st["eev"] == pytest.approx(1875, rel=1e-6)
    assert st["vss"] == pytest.approx(125, rel=1e-6)
    assert st["ws"] == pytest.approx(1500, rel=1e-6)
    assert st["evpi"] == pytest.approx(250, rel=1e-6)
    # every scenario's purchases hold the same order (a plan whose committed orders differ
    # between scenarios is not a plan)
    purchases = plan.tables["purchases"]
    assert purchases.groupby("scenario")["cards"].sum().to_dict() == {"high": 10, "low": 10}
    rentals = plan.tables["rentals"].groupby("scenario")["cards"].sum().to_dict()
    assert rentals.get("high") == 10 and rentals.get("low", 0) == 0


@pytest.mark.parametrize("bundle_size, bound, status", [(1, 1500, "feasible"),
                                                         (2, 1750, "optimal")])
def test_decomposition_shares_orders_placed_now(tmp_path, bundle_size, bound, status):
    # bundles of one: LB = WS = 1500 and the gap (1750 - 1500) / 1750 = 1/7 is proven, not
    # claimed away; both scenarios in one bundle: the bundle is the whole problem, gap 0
    plan = solve_data(tmp_path, lead_time_newsvendor(), stochastic_method="decomposed",
                      workers=1, bundle_size=bundle_size)
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert plan.best_bound == pytest.approx(bound, rel=1e-4)
    assert plan.status.value == status
    assert orders(plan) == 10


def test_rentals_in_committed_periods_are_shared(tmp_path):
    # One committed period; demand 0 (low) or 5 cards' worth (high); nothing bought arrives in
    # time (lead time 1), so only rentals serve. The rental is decided before the future is
    # known: both scenarios rent 5 (150 each): SP = 750. Unshared: 0.5 * 0 + 0.5 * 750 = 375.
    data = lead_time_newsvendor()
    data["horizon"]["periods"] = ["2026"]
    data["demand"] = {"chat": {"2026": 5 * 86400.0}}
    data["scenarios"] = {"low": {"probability": 0.5, "demand_scale": 0.0},
                         "high": {"probability": 0.5}, "commit_periods": 1}
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(750, rel=1e-6)
    rented = plan.tables["rentals"].groupby("scenario")["cards"].sum().to_dict()
    assert rented == {"high": 5, "low": 5}
    first = plan.tables["first_stage"]
    assert first[first["decision"] == "rental"]["cards"].sum() == 5


# ---- one options object through every path ------------------------------------------------

def at_most_five_ordered_now(model, data) -> None:
    """A user's row: at most 5 cards ordered in the first period."""
    import pyomo.environ as pyo
    keys = [key for key in data.BUY if data.order_period(key[0], key[3]) == 0]
    model.at_most_five = pyo.Constraint(expr=sum(
        data.cards_per_unit[k] * model.units_bought[k, s, c, t] for (k, s, c, t) in keys) <= 5)


@pytest.mark.parametrize("method", ["extensive", "decomposed"])
def test_extra_constraints_hold_in_every_scenario(tmp_path, method):
    # x <= 5: 100 * 5 + 150 * (0.5 * 5 + 0.5 * 15) = 2000 (without the row: 1750)
    plan = solve_data(tmp_path, lead_time_newsvendor(), stochastic_method=method, workers=1,
                      extra_constraints=[at_most_five_ordered_now])
    assert plan.objective == pytest.approx(2000, rel=1e-6)
    assert orders(plan) == 5


@pytest.mark.parametrize("method", ["extensive", "decomposed"])
def test_a_fixed_first_stage_is_fixed_in_every_scenario(tmp_path, method):
    # 12 ordered in 2026: 1200 + 150 * (0.5 * 0 + 0.5 * 8) = 1800
    from optimizer import Decisions
    fixed = Decisions(purchases={("A", "s1", "air", "2027"): 12.0},
                      ordered={("A", "s1", "air", "2027"): "2026"})
    plan = solve_data(tmp_path, lead_time_newsvendor(), stochastic_method=method, workers=1,
                      fix_first_stage=(1, fixed))
    assert plan.objective == pytest.approx(1800, rel=1e-6)
    assert orders(plan) == 12


def test_progress_and_start_reach_the_extensive_form(tmp_path):
    heard = []
    start = {"units_bought[A,s1,air,1]": 10.0}
    plan = solve_data(tmp_path, lead_time_newsvendor(), progress=heard.append, start=start)
    assert plan.objective == pytest.approx(1750, rel=1e-6)
    assert heard and heard[-1]["objective"] == pytest.approx(1750, rel=1e-6)


def test_a_cancelled_scenario_solve_stops(tmp_path):
    # cancelled before any plan exists: a typed Interrupted, nothing half made
    import threading
    from optimizer.errors import Interrupted
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted):
        solve_data(tmp_path, lead_time_newsvendor(), cancel=cancel)


def test_options_that_cannot_apply_are_refused_by_name(tmp_path):
    from optimizer import UsageError
    with pytest.raises(UsageError, match="start"):
        solve_data(tmp_path, lead_time_newsvendor(), stochastic_method="decomposed",
                   workers=1, start={"units_bought[A,s1,air,1]": 1.0})
    data = lead_time_newsvendor()
    del data["scenarios"]
    with pytest.raises(UsageError, match="stochastic_method"):
        solve_data(tmp_path, data, stochastic_method="decomposed")
    with pytest.raises(UsageError, match="no_such_option"):
        solve_data(tmp_path, data, no_such_option=1)


# ---- scenario fragments, reserved keys, a scenario without a plan -------------------------

def test_scenario_overrides_merge_key_by_key(tmp_path):
    # high overrides chat's 2027 demand only: 2026 keeps its demand (5 cards' worth, served
    # by renting, 150 each) in both scenarios. Rentals of 2026 are shared (5 cards, 750);
    # 2027: low 10 cards, high 20, from orders placed in 2026 at 100 or rentals at 150:
    # the newsvendor again, 1750. SP = 750 + 1750 = 2500. Had the fragment replaced the whole
    # demand block, high would have no 2026 demand and low's would stay: not shared, 2125.
    data = lead_time_newsvendor()
    data["demand"] = {"chat": {"2026": 5 * 86400.0, "2027": 10 * 86400.0}}
    data["scenarios"] = {"low": {"probability": 0.5},
                         "high": {"probability": 0.5,
                                  "overrides": {"demand": {"chat": {"2027": 20 * 86400.0}}}},
                         "commit_periods": 1}
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2500, rel=1e-6)
    demand = plan.tables["demand"]
    high_2026 = demand[(demand["scenario"] == "high") & (demand["period"] == "2026")]
    assert float(high_2026["demand_tokens_per_day"].sum()) == pytest.approx(5 * 86400.0)


def test_risk_is_a_reserved_key_not_a_scenario(tmp_path):
    data = lead_time_newsvendor()
    data["scenarios"]["risk"] = {"cvar_alpha": 0.5, "cvar_weight": 0.0}
    plan = solve_data(tmp_path, data)
    assert {row["scenario"] for row in plan.summary["stochastic"]["scenarios"]} == {"low",
                                                                                    "high"}
    data["scenarios"]["risk"] = {"cvar_alpha": 1.5}
    out = run_cli("validate", str(write_instance(tmp_path, data)))
    assert out.returncode == 2 and "scenarios.risk.cvar_alpha" in out.stderr


def test_a_scenario_without_a_plan_is_named_with_what_would_have_to_give(tmp_path):
    # no rentals, 15 card slots: the high scenario needs 20 cards in 2027
    data = lead_time_newsvendor()
    del data["rentals"]
    data["sites"]["s1"]["max_cards"] = 15
    out = run_cli("solve", str(write_instance(tmp_path, data)), "--json")
    assert out.returncode == 1, out.stderr
    assert "scenario high" in out.stderr and "Traceback" not in out.stderr
    assert "5 tokens/s cannot be served" in out.stderr
    summary = json.loads(out.stdout)
    assert summary["status"] == "infeasible"


# ---- one alive rule, balances still due, re-planning a scenario plan ----------------------

def test_an_existing_card_is_not_alive_past_its_lifetime(tmp_path):
    # Periods of 0.7 years, lifetime 2.1: a card is alive for 3 periods (age 0, 0.7, 1.4;
    # at 2.1 its life is over, though 3 * 0.7 < 2.1 in floating point). The existing card
    # (age 0) serves periods 0-2; period 3 needs a card bought then: 100, of which
    # 1 - 0.7 / 2.1 = 2/3 comes back at the end: NPV 33.33. Were the existing card alive in
    # period 3, nothing would be bought: NPV 0.
    periods = ["P0", "P1", "P2", "P3"]
    data = instance({"A": accelerator(price=100, lifetime=2.1)}, demand_tokens_per_s=1.0,
                    periods=periods,
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 1, "age_years": 0.0}])})
    data["horizon"]["period_years"] = 0.7
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(100 / 3, rel=1e-6)
    bought = plan.tables["purchases"]
    assert list(bought["period"]) == ["P3"] and int(bought["cards"].sum()) == 1


def test_maintenance_of_owned_cards_uses_the_price_paid(tmp_path):
    # One installed card bought at 200 (the catalogue says 100 today), maintenance 10 % a
    # year, one year: 20, not 10.
    data = instance({"A": accelerator(price=100, lifetime=5, maintenance_rate=0.1)},
                    demand_tokens_per_s=1.0,
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 1, "age_years": 1.0,
                                                       "price_paid_per_card": 200.0}])})
    plan = solve_data(tmp_path, data)
    assert float(plan.tables["costs"]["maintenance"].sum()) == pytest.approx(20.0)
    assert plan.objective == pytest.approx(20.0, rel=1e-6)


def _deposit_instance(budget_2027: float) -> dict:
    # test_replan's instance (A: 100, a period's lead time, 30 % deposit, lifetime 3; demand
    # 0, 10, 20) with a budget in 2027: the plan orders 10 in 2026 and 10 in 2027, whose 2027
    # capex is the first order's balance (700) and the second's deposit (300): 1000.
    acc = accelerator(price=100, lifetime=3.0, lead_time_periods=1, deposit_fraction=0.3)
    return instance({"A": acc}, demand_tokens_per_s=[0, 10, 20],
                    periods=["2026", "2027", "2028"],
                    policies={"budget_per_period": {"2027": budget_2027}})


def test_a_replan_still_owes_the_balance_of_orders_on_the_way(tmp_path):
    # Today's budget for 2027 is 900. The order on the way still owes 700 on arrival in 2027,
    # so at most 200 of deposits (6 cards) can be ordered then: 16 cards < the 20 needed in
    # 2028, and nothing ordered later arrives in time. No plan: the 2027 budget must give 100.
    # Forgetting the balance, the re-plan orders its 10 (300 <= 900) and overspends: 1000.
    from optimizer import InfeasibleError, load_instance, replan, solve
    before = solve(load_instance(write_instance(tmp_path, _deposit_instance(1000), "a.yaml")))
    assert before.objective == pytest.approx(1000, rel=1e-6)
    today = load_instance(write_instance(tmp_path, _deposit_instance(900), "b.yaml"))
    with pytest.raises(InfeasibleError) as caught:
        replan(before, today, "2027")
    budget = [r for r in caught.value.explanation if r.constraint == "budget"]
    assert budget and budget[0].amount == pytest.approx(100, rel=1e-6)
    # on its own instance the re-plan keeps its order and its 2027 capex is 1000
    again = replan(before, load_instance(write_instance(tmp_path, _deposit_instance(1000),
                                                        "c.yaml")), "2027")
    assert again.tables["purchases"]["cards"].sum() == 10
    costs = again.tables["costs"]
    first = costs[costs["period"] == "2027"].iloc[0]
    assert first["capex_cards"] + first["on_order_balance"] == pytest.approx(1000, rel=1e-6)


def _three_year_newsvendor() -> dict:
    # Three years, demand 0, 10 (low) or 20 (high) in 2027 and 2028, commit 1. A: 110, lead
    # time 1, lifetime 2 (ordered in 2026: serves 2027-2028, no salvage; ordered in 2027:
    # serves 2028, half its price back); rentals at 150 a card-year.
    #   A card short costs 150 (rented in 2027) + 55 (ordered in 2027 for 2028, 110 less 55
    #   back) = 205. SP: x ordered in 2026; x <= 10: 110 x + 0.5 205 (10 - x) + 0.5 205
    #   (20 - x) = 3075 - 95 x; 10 <= x <= 20: 2050 + 7.5 x -> x = 10, 2125 (low 1100, high
    #   3150). High orders its other 10 in 2027; low orders nothing then: the scenarios
    #   differ after the committed year.
    data = lead_time_newsvendor()
    data["horizon"]["periods"] = ["2026", "2027", "2028"]
    data["accelerators"]["A"].update(price_per_card=110, lifetime_years=2.0)
    data["demand"] = {"chat": {"2027": 15 * 86400.0, "2028": 15 * 86400.0}}
    return data


def test_replan_from_a_scenario_plan_takes_its_first_stage(tmp_path):
    # From 2027, on the instance's own forecast (15 a year, no scenarios): the first stage's
    # 10 cards are on the way (paid); 2027 rents 5 (750); for 2028, 5 ordered in 2027 at 110
    # with 55 back (275) beat renting (750): NPV 1025. Adding up the scenarios' purchases
    # would put 30 cards on order.
    from optimizer import load_instance, read_plan, replan
    data = _three_year_newsvendor()
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2125, rel=1e-6)
    plan.write(tmp_path / "stochastic")
    del data["scenarios"]
    today = load_instance(write_instance(tmp_path, data, "today.yaml"))
    again = replan(tmp_path / "stochastic", today, "2027")
    assert again.summary["replan"]["fixed"]["on_order_cards"] == 10
    assert again.objective == pytest.approx(1025, rel=1e-6)
    out = run_cli("replan", str(tmp_path / "stochastic"), str(write_instance(
        tmp_path, data, "today.yaml")), "--from", "2028")
    assert out.returncode == 2 and "high" in out.stderr and "differ" in out.stderr


def test_replan_against_another_instance_names_what_it_lacks(tmp_path):
    from optimizer import load_instance, solve
    plan = solve(load_instance(write_instance(tmp_path, _deposit_instance(1000), "a.yaml")))
    plan.write(tmp_path / "before")
    other = _deposit_instance(1000)
    other["accelerators"] = {"B": other["accelerators"].pop("A")}
    out = run_cli("replan", str(tmp_path / "before"),
                  str(write_instance(tmp_path, other, "b.yaml")), "--from", "2027")
    assert out.returncode == 2 and "accelerator A" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    again = run_cli("replan", str(tmp_path / "before"), str(tmp_path / "a.yaml"), "--from",
                    "2027", "-o", str(tmp_path / "before"), "--force")
    assert again.returncode == 2 and "baseline" in again.stderr
    assert (tmp_path / "before" / "summary.json").exists()


# ---- share rules on the fleet they count; shadow prices on their own basis ---------------

def _rented_share_instance() -> dict:
    # test_procurement's case: owning domestic A costs 150 a card-year, renting imported B
    # 87.6; domestic share >= 50 % with rented cards counted: 5 A + 5 rented B, 1188.
    accs = {"A": accelerator(price=150, tags=["domestic"]),
            "B": accelerator(vendor="VB", price=1000, tags=["imported"])}
    rentals = {"cloud": {"accelerator": "B", "region": "R", "price_per_card_hour": 0.01}}
    return instance(accs, rentals=rentals,
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5}]})


def test_a_share_rule_with_rented_cards_is_measured_on_the_fleet_it_counts(tmp_path):
    # 10 cards serve the demand, a of them A: cost 150 a + 87.6 (10 - a), a >= share x 10.
    # One percentage point less share is 0.1 card of A less: 0.1 x (150 - 87.6) = 6.24 saved.
    # Measured on the owned fleet alone (5 cards) it would read 3.12. The domestic share is
    # 5 of the 10 cards that count: 50 % (100 % of the owned cards alone).
    plan = solve_data(tmp_path, _rented_share_instance())
    assert plan.objective == pytest.approx(1188, rel=1e-6)
    binding = plan.tables["binding"]
    row = binding[binding["constraint"] == "min_share"].iloc[0]
    assert row["shadow_price"] == pytest.approx(6.24, rel=1e-6)
    assert plan.kpis.domestic_share == pytest.approx(0.5)
    assert plan.kpis.tag_shares_final_period["imported"] == pytest.approx(0.5)


def test_shadow_prices_state_their_basis_and_empty_rows_are_no_rows(tmp_path):
    # Grid carbon only in 2026 (1000 kg a MWh; 0 in 2027): a carbon cap row in 2027 would
    # hold no variable. A draws 1 kW all the time (8.76 t a card-year in 2026), B 0.5 kW
    # (4.38 t); 10 cards serve the demand; 10 card slots; a cap of 65.7 t a year binds in 2026
    # (5 A + 5 B: 43.8 + 21.9; 8.76 a + 4.38 (10 - a) <= 65.7 gives a <= 5).
    accs = {"A": accelerator(price=100, power_kw=1.0, idle_power_fraction=1.0, lifetime=5),
            "B": accelerator(vendor="VB", price=200, power_kw=0.5, idle_power_fraction=1.0,
                             lifetime=5)}
    data = instance(accs, demand_tokens_per_s=10.0, periods=["2026", "2027"],
                    sites={"s1": site(max_cards=10, grid_carbon_kg_per_mwh={"2026": 1000.0,
                                                                            "2027": 0.0})},
                    policies={"carbon_cap_t_per_year": 65.7})
    plan = solve_data(tmp_path, data)
    binding = plan.tables["binding"]
    carbon = binding[binding["constraint"] == "carbon_cap"]
    assert list(carbon["period"]) == ["2026"]
    assert set(carbon["basis"]) == {"period"}
    slots = binding[binding["constraint"] == "site_cards"]
    assert len(slots) and set(slots["basis"]) == {"npv"}
    bases = list(binding["basis"])
    assert bases == sorted(bases)             # ranked within a basis, never across


def test_every_cap_family_names_its_rows():
    # the display name, basis and unit live on the family: a new cap cannot be mislabelled
    from formulations.registry import FAMILIES
    for family in FAMILIES:
        if family.cap:
            assert family.label and family.basis in ("npv", "period") and family.unit, family


def test_levelised_cost_is_the_cost_of_the_tokens_served(tmp_path):
    # model.md: (NPV - sum_t d_m(t) unmet_cost(t)) / sum_t d_m(t) tokens met(t) / 1e6.
    # One year at 10 % discount (d_m = 1.1^-0.5); demand 10 tokens/s, 6 card slots (1 token/s
    # each, 100 a card, lifetime 1): 6 served = 189.216 M tokens, 4 unmet = 126.144 M tokens
    # at 1000 a million. NPV = 600 + d_m 126,144; levelised = 600 / (d_m 189.216); the
    # penalty is its own figure, 126,144.
    d_m = 1.1 ** -0.5
    data = instance({"A": accelerator(price=100, lifetime=1.0)}, demand_tokens_per_s=10.0,
                    sites={"s1": site(max_cards=6)},
                    policies={"unmet_demand_cost_per_million_tokens": 1000.0})
    data["horizon"]["discount_rate"] = 0.1
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(600 + d_m * 126144, rel=1e-6)
    assert plan.kpis.cost_per_million_tokens == pytest.approx(600 / (d_m * 189.216), rel=1e-6)
    assert plan.kpis.unmet_cost_total == pytest.approx(126144, rel=1e-6)
