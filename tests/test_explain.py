"""Explaining plans: marginal costs, binding caps with shadow prices, infeasibility explained.
Every number is worked out by hand in the comments.

Defaults of conftest.instance: throughput 1 token/s per card, peak_to_average 1, discount 0,
one-year periods, lifetime 1 year. One token/s over a year is 86400 * 365 = 31.536 million
tokens.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from conftest import (
    accelerator, budget_instance, cards_bought, instance, site, solve_data, write_instance,
)
from optimizer import InfeasibleError

MILLION_TOKENS_PER_TOKEN_S_YEAR = 31.536


def grid_case(tmp_path):
    # A: 100 per card, 1 kW; B: 150 per card, 0.5 kW; 60 cards; grid 40 kW (PUE 1).
    # a + b = 60, a + 0.5 b <= 40  =>  b = 40, a = 20: 2000 + 6000 = 8000.
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=60, sites={"s1": site(grid_mw=0.040)})
    return solve_data(tmp_path, data)


def test_grid_shadow_price_between_two_accelerators(tmp_path):
    # +1 kW of grid lets 2 B become 2 A: saves 2 * (150 - 100) = 100 per kW = 100,000 per MW.
    plan = grid_case(tmp_path)
    assert plan.objective == pytest.approx(8000)
    binding = plan.tables["binding"].set_index("constraint")
    assert binding.loc["grid", "index"] == "s1"
    assert binding.loc["grid", "slack"] == pytest.approx(0, abs=1e-9)
    assert binding.loc["grid", "shadow_price"] == pytest.approx(100_000, rel=1e-6)
    assert "+1 MW saves 100.00 k USD" in binding.loc["grid", "message"]


def test_demand_dual_per_million_tokens(tmp_path):
    # With the grid binding, one more token/s needs one more card within the same 40 kW:
    # a + b = 61, a + 0.5 b = 40  =>  b = 42, a = 19: 1900 + 6300 = 8200, +200 per token/s-year.
    # 200 / 31.536 = 6.34196 per million tokens.
    plan = grid_case(tmp_path)
    marginal = plan.tables["marginal_costs"]
    assert marginal.loc[0, "cost_per_million_tokens_long_run"] == pytest.approx(200 / 31.536,
                                                                               rel=1e-6)


def test_marginal_cost_is_in_money_of_its_period(tmp_path):
    # Two periods, 10 % discount, lifetime 1, price 100, 10 cards each period.
    # One more token/s in 2027 costs one card bought at the start of 2027: 100 * 1.1^-1 in NPV.
    # In money of 2027 (divided by d_m = 1.1^-1.5): 100 * 1.1^0.5 = 104.881 per token/s-year
    # = 104.881 / 31.536 = 3.32576 per million tokens. In 2026: 100 * 1.1^0.5 / 31.536 as well.
    data = instance({"A": accelerator(price=100)}, periods=["2026", "2027"])
    data["horizon"]["discount_rate"] = 0.1
    plan = solve_data(tmp_path, data)
    marginal = plan.tables["marginal_costs"].set_index("period")
    expected = 100 * 1.1 ** 0.5 / MILLION_TOKENS_PER_TOKEN_S_YEAR
    assert marginal.loc["2027", "cost_per_million_tokens_long_run"] == pytest.approx(expected,
                                                                                    rel=1e-6)
    assert marginal.loc["2026", "cost_per_million_tokens_long_run"] == pytest.approx(expected,
                                                                                    rel=1e-6)


def spare_capacity_case(tmp_path):
    # 10 tokens/s of demand; cards come in servers of 8, so the plan buys 2 servers (16 cards)
    # and 6 idle. 1 kW per card, idle fraction 0.3, electricity 100 per MWh: a card-year of
    # full power costs 876, of idle power 262.8.
    data = instance({"A": accelerator(price=100, power_kw=1.0, cards_per_unit=8,
                                      idle_power_fraction=0.3)},
                    sites={"s1": site(electricity=100.0)})
    return solve_data(tmp_path, data)


def test_marginal_cost_with_the_fleet_as_planned_is_the_busy_energy(tmp_path):
    # With every integer fixed (model.md), one more token/s runs an idle card busy: only the
    # busy share of its power, 0.7 * 876 = 613.2 per token/s-year = 19.4444 per million tokens.
    # Long run (purchases continuous): one more card, 100 + 876 = 976 -> 30.9488 per million.
    plan = spare_capacity_case(tmp_path)
    assert cards_bought(plan) == 16
    marginal = plan.tables["marginal_costs"].iloc[0]
    assert marginal["cost_per_million_tokens"] == pytest.approx(613.2 / 31.536, rel=1e-6)
    assert marginal["cost_per_million_tokens_long_run"] == pytest.approx(976 / 31.536, rel=1e-6)


def test_a_purchase_bounded_by_one_unit_is_not_an_on_off_decision(tmp_path):
    # Eight slots and servers of 8 cards: the purchase count is an integer in 0..1, not a
    # binary. The long-run LP must relax it like any count: 976 per token/s-year as above
    # (fixing it as if it were an opening gave the fixed-fleet 613.2).
    data = instance({"A": accelerator(price=100, power_kw=1.0, cards_per_unit=8,
                                      idle_power_fraction=0.3)},
                    demand_tokens_per_s=4.0, sites={"s1": site(max_cards=8, electricity=100.0)})
    plan = solve_data(tmp_path, data)
    assert cards_bought(plan) == 8
    marginal = plan.tables["marginal_costs"].iloc[0]
    assert marginal["cost_per_million_tokens_long_run"] == pytest.approx(976 / 31.536, rel=1e-6)
    assert marginal["cost_per_million_tokens"] == pytest.approx(613.2 / 31.536, rel=1e-6)


def test_supply_and_budget_shadow_prices(tmp_path):
    # A at 100 with supply 4; B at 150. 10 cards: 4 A + 6 B = 1300.
    # +1 card of A's supply replaces a B: saves 50 per card.
    data = instance({"A": accelerator(price=100, supply=4), "B": accelerator(vendor="VB",
                                                                             price=150)})
    plan = solve_data(tmp_path, data)
    binding = plan.tables["binding"].set_index("constraint")
    assert binding.loc["supply", "index"] == "A"
    assert binding.loc["supply", "shadow_price"] == pytest.approx(50, rel=1e-6)


def test_budget_shadow_price(tmp_path):
    # As test_families.test_budget: TCO per card A 275.2 (capex 100), B 193.8 (capex 150);
    # budget 1200 gives b = 4, a = 6. One more unit of budget: 100 a + 150 b = 1201 with
    # a + b = 10 moves 1/50 card from A to B: saves (275.2 - 193.8) / 50 = 1.628 per unit.
    data = budget_instance()
    plan = solve_data(tmp_path, data)
    binding = plan.tables["binding"].set_index("constraint")
    assert binding.loc["budget", "shadow_price"] == pytest.approx(1.628, rel=1e-6)


def test_min_share_shadow_price(tmp_path):
    # A domestic 150, B imported 100, share >= 50 %: a = b = 5 (1250). One percentage point
    # less share (49 %): a >= 0.49 * 10 = 4.9 in the LP: saves 0.1 card * 50 = 5 per point.
    data = instance({"A": accelerator(price=150, tags=["domestic"]),
                     "B": accelerator(vendor="VB", price=100)},
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5}]})
    plan = solve_data(tmp_path, data)
    binding = plan.tables["binding"].set_index("constraint")
    assert binding.loc["min_share", "shadow_price"] == pytest.approx(5.0, rel=1e-6)


# ---- infeasible instances -----------------------------------------------------------------

def explain(tmp_path, data):
    with pytest.raises(InfeasibleError) as err:
        solve_data(tmp_path, data)
    return err.value.explanation


def test_infeasible_grid_is_explained(tmp_path):
    # 100 cards of 1 kW need 0.100 MW; the grid allows 0.040 MW.
    data = instance({"A": accelerator(power_kw=1.0)}, demand_tokens_per_s=100,
                    sites={"s1": site(grid_mw=0.040)})
    (relaxation,) = explain(tmp_path, data)
    assert relaxation.constraint == "grid" and relaxation.index == ("s1", "2026")
    assert relaxation.amount == pytest.approx(0.060, rel=1e-6)
    assert relaxation.message == "site s1 grid: needs 0.100 MW, cap 0.040 MW in 2026"


def test_infeasible_supply_is_explained(tmp_path):
    # 10 cards needed, only 4 can be bought.
    data = instance({"A": accelerator(supply=4)})
    (relaxation,) = explain(tmp_path, data)
    assert relaxation.constraint == "supply" and relaxation.amount == pytest.approx(6)
    assert relaxation.message == "A supply: needs 10 cards, cap 4 in 2026"


def test_infeasible_budget_is_explained(tmp_path):
    # 10 cards at 100 = 1000 of capex against a budget of 600.
    data = instance({"A": accelerator(price=100)}, policies={"budget_per_period": 600})
    (relaxation,) = explain(tmp_path, data)
    assert relaxation.constraint == "budget" and relaxation.amount == pytest.approx(400)
    assert relaxation.message == "capex budget: needs 1,000 USD, cap 600 USD in 2026"


def test_infeasible_policy_is_explained(tmp_path):
    # Half the cards must be domestic but only 2 domestic cards exist; 10 cards needed:
    # at best 2 of 10 = 20 % domestic, 30 points short of the policy.
    data = instance({"A": accelerator(tags=["domestic"], supply=2),
                     "B": accelerator(vendor="VB")},
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5}]})
    (relaxation,) = explain(tmp_path, data)
    assert relaxation.constraint == "min_share"
    assert relaxation.amount == pytest.approx(0.3)
    assert "reaches only 20.0% in 2026" in relaxation.message


def test_demand_beyond_every_card_slot_is_caught_before_the_solve(tmp_path):
    # 5 card slots of 1 token/s each cannot serve 10 tokens/s: 5 tokens/s short.
    data = instance({"A": accelerator()}, sites={"s1": site(max_cards=5)})
    (relaxation,) = explain(tmp_path, data)
    assert relaxation.constraint == "demand" and relaxation.amount == pytest.approx(5)
    assert "5 tokens/s cannot be served" in relaxation.message


def test_infeasible_cli_exits_1_with_the_explanation(tmp_path):
    data = instance({"A": accelerator(supply=4)})
    path = write_instance(tmp_path, data)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "A supply: needs 10 cards, cap 4 in 2026" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert summary["explanation"][0]["constraint"] == "supply"


@pytest.mark.parametrize("price,objective,unmet_tokens", [
    # Serving costs 100 per token/s-year = 100 / 31.536 = 3.17 per million tokens.
    # At 1 per million tokens it is cheaper to serve nothing: 10 * 31.536 M tokens * 1 = 315.36.
    (1.0, 315.36, 315.36e6),
    # At 5 per million tokens, serving all of it (1000) is cheaper than 1576.8.
    (5.0, 1000.0, 0.0),
])
def test_soft_demand_reports_the_shortfall(tmp_path, price, objective, unmet_tokens):
    data = instance({"A": accelerator(price=100)},
                    policies={"unmet_demand_cost_per_million_tokens": price})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(objective, rel=1e-6)
    assert plan.summary["kpis"].get("unmet_tokens_total", 0.0) == pytest.approx(unmet_tokens,
                                                                                 rel=1e-6)


def _emitting(**policies):
    # 10 cards of 1 kW, always drawing full power, on a grid of 1000 kg a MWh: 87.6 t a year;
    # air cooling uses 1 litre a kWh: 87.6 m3 a year
    from conftest import accelerator, instance, site
    return instance({"A": accelerator(price=100, power_kw=1.0, idle_power_fraction=1.0)},
                    demand_tokens_per_s=10.0,
                    sites={"s1": site(grid_carbon_kg_per_mwh=1000.0,
                                      modes={"air": {"pue": 1.0, "wue_l_per_kwh": 1.0}})},
                    policies=policies)


def test_an_impossible_carbon_cap_is_explained(tmp_path):
    # a cap of 40 t a year against the 87.6 t the demand needs: the cap must give 47.6 t
    from conftest import solve_data
    from optimizer import InfeasibleError
    with pytest.raises(InfeasibleError) as caught:
        solve_data(tmp_path, _emitting(carbon_cap_t_per_year=40.0))
    carbon = [r for r in caught.value.explanation if r.constraint == "carbon_cap"]
    assert carbon and carbon[0].amount == pytest.approx(47.6, rel=1e-6)
    assert "carbon cap" in str(caught.value)


def test_a_water_cap_of_zero_is_explained(tmp_path):
    from conftest import solve_data
    from optimizer import InfeasibleError
    data = _emitting()
    data["sites"]["s1"]["max_water_m3_per_year"] = 0.0
    with pytest.raises(InfeasibleError) as caught:
        solve_data(tmp_path, data)
    water = [r for r in caught.value.explanation if r.constraint == "water_cap"]
    assert water and water[0].amount == pytest.approx(87.6, rel=1e-6)
    assert "water cap at s1" in str(caught.value)


def test_cards_on_order_beyond_the_slots_are_refused_by_validate(tmp_path):
    from conftest import assert_field_refused, base_instance
    data = base_instance()
    data["sites"]["s1"]["on_order"] = [{"accelerator": "A", "cooling": "air",
                                        "cards": 1_000_000_000, "arrives": "2027"}]
    assert_field_refused(tmp_path, data, ("sites", "s1", "max_cards"), 10,
                         "sites.s1.on_order.0.cards")


def test_a_marginal_cost_jump_names_the_ban_that_causes_it(tmp_path):
    # imported A (100 a card-year) is banned from 2027; domestic B costs 300: the marginal
    # cost of chat triples in 2027, and the ban (not "prices") is named as the cause
    from conftest import accelerator, instance, solve_data
    data = instance({"A": accelerator(price=100, tags=["imported"]),
                     "B": accelerator(vendor="VB", price=300, tags=["domestic"])},
                    demand_tokens_per_s=10.0, periods=["2026", "2027"],
                    policies={"ban": [{"tags": ["imported"], "from": "2027"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000 + 3000, rel=1e-6)
    jumps = plan.summary["marginal_cost_jumps"]
    assert jumps and "the ban on A starts" in jumps[0] and "prices" not in jumps[0]


def _grid_case(demand: float, sites: dict) -> dict:
    # card A: 10 tokens/s, 2 kW; sites at PUE 1.25 with ample cooling halls: one MW of grid
    # powers 1000 / (2 * 1.25) = 400 cards = 4000 tokens/s
    from conftest import accelerator, instance
    return instance({"A": accelerator(price=100, power_kw=2.0, throughput=10.0, lifetime=5)},
                    demand_tokens_per_s=demand, sites=sites)


def _site(max_cards: int, grid_mw: float) -> dict:
    from conftest import site
    return site(max_cards=max_cards, grid_mw=grid_mw,
                modes={"air": {"pue": 1.25, "build_cost_per_mw": 0.0}})


def test_the_grid_is_named_beside_the_slots_when_both_fall_short(tmp_path):
    # one site, 1 MW at PUE 1.25 (halls built at no cost): at most 400 cards of 2 kW = 4000
    # tokens/s. With 10,000 slots, 3990 has a plan (399 cards, 997.5 kW at the meter) and
    # 4010 has none: the elastic re-solve names the site's grid, 0.0025 MW short (401 cards
    # need 1.0025 MW). With 300 slots (3000 tokens/s) and 5000 demanded, the slots fall short
    # by 2000 and the grid by 1000 / 4000 = 0.25 MW: both are said (raising the slots alone
    # would not do)
    from conftest import solve_data
    plan = solve_data(tmp_path, _grid_case(3990.0, {"s1": _site(10000, 1.0)}))
    assert plan.status.has_plan
    assert plan.tables["purchases"]["cards"].sum() == 399
    plan = solve_data(tmp_path, _grid_case(4010.0, {"s1": _site(10000, 1.0)}),
                      raise_on_infeasible=False)
    (grid,) = plan.explanation
    assert grid.constraint == "grid" and grid.index == ("s1", "2026")
    assert grid.amount == pytest.approx(0.0025, rel=1e-6)
    plan = solve_data(tmp_path, _grid_case(5000.0, {"s1": _site(300, 1.0)}),
                      raise_on_infeasible=False)
    slots, power = plan.explanation
    assert slots.unit == "tokens/s" and slots.amount == pytest.approx(2000)
    assert power.unit == "MW" and power.amount == pytest.approx(0.25)
    assert "grid of its sites (1.0 MW in 2026) powers at most 4,000 tokens/s" in power.message


def test_slots_at_one_site_and_grid_at_another_are_named_together(tmp_path):
    # s1: 100 slots (1000 tokens/s) under 10 MW; s2: 1,000 slots under 0.5 MW (2000 tokens/s):
    # each site gives the lesser, 3000 in all. 2990 has a plan (100 + 199 cards; s2 at 497.5
    # kW). 12,000 exceeds the slots (11,000 tokens/s) and the two together (3000): both said
    from conftest import solve_data
    sites = {"s1": _site(100, 10.0), "s2": _site(1000, 0.5)}
    assert solve_data(tmp_path, _grid_case(2990.0, sites)).status.has_plan
    plan = solve_data(tmp_path, _grid_case(12000.0, sites), raise_on_infeasible=False)
    messages = [r.message for r in plan.explanation]
    assert any("serves 11,000" in m for m in messages), messages
    assert any("lesser of its card slots and what its grid powers: 3,000 tokens/s" in m
               for m in messages), messages
