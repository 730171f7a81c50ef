"""Procurement (shared/design/procurement.md): lead times and deposits, supply on deliveries,
orders on the way, rentals, bans, tariffs, memory fit. Each optimum worked out by hand.

Conventions of test_families.py: one workload ``chat`` with peak_to_average 1, 1 token/s per
card, availability 1, discount 0, one-year periods, free power and cooling unless a test says
otherwise. Periods 2026 and 2027 (n = 2) unless a test says otherwise.
"""
from __future__ import annotations

import pytest

from conftest import (
    accelerator, assert_field_refused, cards_bought, instance, run_cli, site, solve_data,
    write_instance,
)

REL = 1e-6
TWO = ["2026", "2027"]


def _lead(price=100.0, lead=1, deposit=0.3, lifetime=2.0, **extra):
    return accelerator(price=price, lifetime=lifetime, lead_time_periods=lead,
                       deposit_fraction=deposit, **extra)


def test_an_order_arrives_after_its_lead_time_with_deposit_and_balance(tmp_path):
    # Demand 10 only in 2027; A takes one period to arrive: ordered 2026, delivered 2027.
    # 10 cards x 100: deposit 0.3 -> 300 paid in 2026, balance 700 in 2027. Age counts from
    # delivery: at the horizon end the cards are 1 year old of 2 -> salvage 500.
    # NPV (no discount) = 1000 - 500 = 500.
    plan = solve_data(tmp_path, instance({"A": _lead()}, demand_tokens_per_s=[0, 10],
                                         periods=TWO))
    assert plan.objective == pytest.approx(500, rel=REL)
    row = plan.tables["purchases"].iloc[0]
    assert (row["order_period"], row["delivery_period"], row["period"]) == ("2026", "2027",
                                                                            "2027")
    assert (row["cards"], row["deposit"], row["balance"], row["capex"]) == (10, 300, 700, 1000)
    costs = plan.tables["costs"].set_index("period")
    assert costs.loc["2026", "capex_cards"] == pytest.approx(300)
    assert costs.loc["2027", "capex_cards"] == pytest.approx(700)
    assert costs.loc["2027", "salvage"] == pytest.approx(500)


def test_deposit_and_balance_are_discounted_in_their_own_periods(tmp_path):
    # As above at 10 % a year: deposit 300 at d_s(0) = 1, balance 700 at d_s(1) = 1/1.1,
    # salvage 500 at d_e = 1.1^-2. NPV = 300 + 636.3636 - 413.2231 = 523.1405.
    data = instance({"A": _lead()}, demand_tokens_per_s=[0, 10], periods=TWO)
    data["horizon"]["discount_rate"] = 0.1
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(300 + 700 / 1.1 - 500 / 1.1 ** 2, rel=REL)


def test_nothing_arrives_before_the_lead_time(tmp_path):
    # Demand in 2026 too, and the only card needs a period to arrive: no plan, and the
    # explanation names the 2026 demand.
    plan = solve_data(tmp_path, instance({"A": _lead()}, demand_tokens_per_s=[10, 10],
                                         periods=TWO), raise_on_infeasible=False)
    assert plan.status.value == "infeasible"


def test_deposits_count_in_the_budget_of_the_order_period(tmp_path):
    # Demand 10 in 2027. A: 100, lead 1, deposit 0.3 (salvage 50 a card, net 50); B: 120,
    # no lead time (net 60). All A would be cheapest, but the 2026 budget of 200 holds the
    # deposits of at most 6 A (180; 7 would be 210). 2027: 6 x 70 balance + 4 x 120 = 900
    # <= 1000. NPV = 6 x 50 + 4 x 60 = 540.
    data = instance({"A": _lead(), "B": accelerator(vendor="VB", price=120, lifetime=2.0)},
                    demand_tokens_per_s=[0, 10], periods=TWO,
                    policies={"budget_per_period": {"2026": 200, "2027": 1000}})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(540, rel=REL)
    assert cards_bought(plan, "A") == 6 and cards_bought(plan, "B") == 4


def test_supply_caps_deliveries(tmp_path):
    # Supply of A is 5 cards in 2027: the period of delivery, although the order is placed
    # in 2026 (where supply is plentiful). 5 A (net 50 each) + 5 B (net 60) = 550.
    data = instance({"A": _lead(supply={"2026": 100, "2027": 5}),
                     "B": accelerator(vendor="VB", price=120, lifetime=2.0)},
                    demand_tokens_per_s=[0, 10], periods=TWO)
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(550, rel=REL)
    assert cards_bought(plan, "A") == 5


def test_cards_on_order_arrive_paid_and_pay_maintenance(tmp_path):
    # 4 cards of A on order arrive in 2027 (paid before the horizon); demand 10 in 2027.
    # Buy 6 in 2027 (lifetime 1, no salvage): 600 + maintenance 0.1 x 600 = 60. The cards on
    # order pay maintenance at the first period's price: 0.1 x 4 x 100 = 40. NPV 700.
    # They use slots: with max_cards 9 only 5 more fit -> no plan.
    acc = accelerator(price=100, lifetime=1.0, maintenance_rate=0.1)
    on_order = [{"accelerator": "A", "cooling": "air", "cards": 4, "arrives": "2027"}]
    data = instance({"A": acc}, demand_tokens_per_s=[0, 10], periods=TWO,
                    sites={"s1": site(on_order=on_order)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(700, rel=REL)
    assert cards_bought(plan) == 6
    fleet = plan.tables["fleet"].groupby("period")["cards"].sum()
    assert fleet["2027"] == 10 and "2026" not in fleet
    tight = instance({"A": acc}, demand_tokens_per_s=[0, 10], periods=TWO,
                     sites={"s1": site(max_cards=9, on_order=on_order)})
    assert solve_data(tmp_path, tight, raise_on_infeasible=False).status.value == "infeasible"


def _rental(price=0.02, **extra):
    return {"accelerator": "A", "region": "R", "price_per_card_hour": price, **extra}


def test_rent_until_owned_cards_arrive(tmp_path):
    # Demand 9.5 tokens/s in 2026 and 10 in 2027. A arrives a period after its order, so
    # 2026 must be rented: whole cards, 10 x 0.02 x 8760 = 1752. 2027: owning (100 a card,
    # lifetime 1) beats renting (175.2): 1000. NPV 2752.
    data = instance({"A": _lead(lifetime=1.0, deposit=1.0)}, demand_tokens_per_s=[9.5, 10],
                    periods=TWO, rentals={"cloud": _rental()})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1752 + 1000, rel=REL)
    rentals = plan.tables["rentals"]
    assert list(rentals["period"]) == ["2026"] and list(rentals["cards"]) == [10]
    assert rentals["cost"].iloc[0] == pytest.approx(1752)
    costs = plan.tables["costs"].set_index("period")
    assert costs.loc["2026", "rental"] == pytest.approx(1752)
    serving = plan.tables["serving"]
    assert set(serving[serving["period"] == "2026"]["source"]) == {"rental"}
    assert set(serving[serving["period"] == "2027"]["source"]) == {"site"}
    assert plan.kpis.rental_cost_total == pytest.approx(1752)


def test_rental_cap_binds(tmp_path):
    # At most 6 rented cards in 2026 while 10 are needed: no plan; with soft demand at 1000 per
    # million tokens (31.536 million tokens a token/s-year: 31,536 a token/s), the 4 missing
    # tokens/s go unmet (126,144) rather than ... nothing else can serve them.
    data = instance({"A": _lead(lifetime=1.0, deposit=1.0)}, demand_tokens_per_s=[10, 0],
                    periods=TWO, rentals={"cloud": _rental(max_cards=6)})
    plan = solve_data(tmp_path, data, raise_on_infeasible=False)
    assert plan.status.value == "infeasible"
    data["policies"] = {"unmet_demand_cost_per_million_tokens": 1000.0}
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(6 * 175.2 + 4 * 31536, rel=REL)


def test_rented_cards_count_in_the_share_rules(tmp_path):
    # Renting B (imported) costs 0.01 x 8760 = 87.6 a card-year, owning domestic A 150.
    # Alone: rent 10 -> 876. With domestic share >= 50 %, rented cards count: 5 A + 5 rented
    # -> 750 + 438 = 1188.
    accs = {"A": accelerator(price=150, tags=["domestic"]),
            "B": accelerator(vendor="VB", price=1000, tags=["imported"])}
    rentals = {"cloud": {"accelerator": "B", "region": "R", "price_per_card_hour": 0.01}}
    plan = solve_data(tmp_path, instance(accs, rentals=rentals))
    assert plan.objective == pytest.approx(876, rel=REL)
    shared = instance(accs, rentals=rentals,
                      policies={"min_share": [{"tags": ["domestic"], "share": 0.5}]})
    plan = solve_data(tmp_path, shared)
    assert plan.objective == pytest.approx(1188, rel=REL)
    assert cards_bought(plan, "A") == 5


def _banned_pair(lifetime_a=2.0, lifetime_b=2.0, **b_extra):
    return {"A": accelerator(price=150, lifetime=lifetime_a, tags=["domestic"]),
            "B": accelerator(vendor="VB", price=100, lifetime=lifetime_b, tags=["imported"],
                             **b_extra)}


def test_a_ban_that_keeps_installed_cards(tmp_path):
    # Imported B banned from 2027, installed cards kept: 10 B bought in 2026 serve both years
    # (lifetime 2, no salvage at age 2): 1000.
    data = instance(_banned_pair(), demand_tokens_per_s=[10, 10], periods=TWO,
                    policies={"ban": [{"tags": ["imported"], "from": "2027",
                                       "installed": "keep"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000, rel=REL)
    assert cards_bought(plan, "B", "2026") == 10


def test_a_ban_that_retires_installed_cards(tmp_path):
    # Retired from 2027, B would serve 2026 only (1000, no salvage) and A 2027 (1500 - 750
    # salvage) = 1750; A bought in 2026 serves both years for 1500: the optimum.
    data = instance(_banned_pair(), demand_tokens_per_s=[10, 10], periods=TWO,
                    policies={"ban": [{"tags": ["imported"], "from": "2027",
                                       "installed": "retire"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1500, rel=REL)
    assert cards_bought(plan, "A", "2026") == 10 and cards_bought(plan, "B") == 0


def test_a_retiring_ban_takes_the_existing_fleet_out_of_service(tmp_path):
    # 10 B installed (age 0, lifetime 2, maintenance 0.1 a year of the first period's
    # price: 100 a year). Kept: nothing to buy, NPV = maintenance 2 x 100 = 200. Retired from
    # 2027 (by name): they serve 2026 only (maintenance 100) and 10 A come in 2027: 1500 -
    # 750 salvage. NPV 850.
    fleet = [{"accelerator": "B", "cooling": "air", "cards": 10}]
    accs = _banned_pair(maintenance_rate=0.1)
    kept = instance(accs, demand_tokens_per_s=[10, 10], periods=TWO,
                    sites={"s1": site(existing_fleet=fleet)})
    assert solve_data(tmp_path, kept).objective == pytest.approx(200, rel=REL)
    retired = instance(accs, demand_tokens_per_s=[10, 10], periods=TWO,
                       sites={"s1": site(existing_fleet=fleet)},
                       policies={"ban": [{"accelerators": ["B"], "from": "2027",
                                          "installed": "retire"}]})
    plan = solve_data(tmp_path, retired)
    assert plan.objective == pytest.approx(100 + 750, rel=REL)
    assert cards_bought(plan, "A", "2027") == 10


def test_a_ban_forbids_renting_the_card(tmp_path):
    # Renting imported B (87.6 a card-year) beats owning A (150, lifetime 1) in both years;
    # banned from 2027, 2027 is owned: 876 + 1500.
    accs = _banned_pair(lifetime_a=1.0, lifetime_b=1.0)
    accs["B"]["price_per_card"] = 1000.0
    rentals = {"cloud": {"accelerator": "B", "region": "R", "price_per_card_hour": 0.01}}
    data = instance(accs, demand_tokens_per_s=[10, 10], periods=TWO, rentals=rentals,
                    policies={"ban": [{"tags": ["imported"], "from": "2027"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(876 + 1500, rel=REL)


def test_a_tariff_is_paid_on_the_order_period(tmp_path):
    # Demand 10 in 2027. B (imported, 100, a period's lead time) against A (150, none), both
    # lifetime 1. A 60 % tariff from 2027 misses B ordered in 2026: 1000. From 2026 it hits:
    # B costs 160 > 150, so A: 1500.
    def data(start):
        accs = {"A": accelerator(price=150, tags=["domestic"]),
                "B": accelerator(vendor="VB", price=100, tags=["imported"],
                                 lead_time_periods=1)}
        return instance(accs, demand_tokens_per_s=[0, 10], periods=TWO,
                        policies={"tariff": [{"tags": ["imported"], "rate": 0.6,
                                              "from": start}]})
    late = solve_data(tmp_path, data("2027"))
    assert late.objective == pytest.approx(1000, rel=REL) and cards_bought(late, "B") == 10
    early = solve_data(tmp_path, data("2026"))
    assert early.objective == pytest.approx(1500, rel=REL) and cards_bought(early, "A") == 10


def test_a_tariff_raises_the_price_paid(tmp_path):
    # B at 100 with a 25 % tariff: 125 a card, still below A's 150. The price paid (125) is
    # what purchases.csv shows and what maintenance (10 % a year) is charged on: 1250 + 125.
    accs = {"A": accelerator(price=150), "B": accelerator(vendor="VB", price=100,
                                                         tags=["imported"],
                                                         maintenance_rate=0.1)}
    plan = solve_data(tmp_path, instance(accs, policies={
        "tariff": [{"tags": ["imported"], "rate": 0.25}]}))
    assert plan.objective == pytest.approx(1375, rel=REL)
    assert plan.tables["purchases"]["price_per_card"].iloc[0] == pytest.approx(125)


def test_a_model_that_does_not_fit_is_not_served(tmp_path):
    # The model needs 810 GB: 8 cards of 80 GB (640) cannot hold it, 8 of 141 (1128) can.
    # A is cheaper but dropped: 10 B at 200 = 2000. validate lists the dropped pair.
    accs = {"A": accelerator(price=100, memory_gb=80, scale_up_cards=8),
            "B": accelerator(vendor="VB", price=200, memory_gb=141, scale_up_cards=8)}
    data = instance(accs)
    data["workloads"]["chat"]["model_memory_gb"] = 810
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2000, rel=REL) and cards_bought(plan, "B") == 10
    out = run_cli("validate", str(write_instance(tmp_path, data)), "--json")
    assert out.returncode == 0, out.stderr
    import json
    dropped = json.loads(out.stdout)["procurement"]["memory_dropped"]
    assert [(d["accelerator"], d["workload"]) for d in dropped] == [("A", "chat")]
    # scale-up defaults to cards_per_unit: an 8-card server of A (no scale_up_cards) holds
    # 640 GB, still short
    del accs["A"]["scale_up_cards"]
    accs["A"]["cards_per_unit"] = 8
    assert solve_data(tmp_path, data).objective == pytest.approx(2000, rel=REL)
    # only A: nothing can serve chat, a clear error
    data["accelerators"] = {"A": accs["A"]}
    out = run_cli("validate", str(write_instance(tmp_path, data)))
    assert out.returncode == 2 and "demand.chat" in out.stderr


def test_without_the_new_fields_the_model_is_unchanged(tmp_path):
    # A lead time of 0 and a deposit of 1 are the defaults: the same plan as without them.
    base = instance({"A": accelerator(price=100, lifetime=2.0)}, demand_tokens_per_s=[5, 10],
                    periods=TWO)
    explicit = instance({"A": _lead(lead=0, deposit=1.0)}, demand_tokens_per_s=[5, 10],
                        periods=TWO)
    assert (solve_data(tmp_path, base).objective
            == pytest.approx(solve_data(tmp_path, explicit).objective, rel=1e-12))


BAD_VALUES = [
    (("accelerators", "A", "lead_time_periods"), -1, "accelerators.A.lead_time_periods"),
    (("accelerators", "A", "lead_time_periods"), 1.5, "accelerators.A.lead_time_periods"),
    (("accelerators", "A", "deposit_fraction"), 1.2, "accelerators.A.deposit_fraction"),
    (("accelerators", "A", "memory_gb"), 0, "accelerators.A.memory_gb"),
    (("accelerators", "A", "scale_up_cards"), 0, "accelerators.A.scale_up_cards"),
    (("workloads", "chat", "model_memory_gb"), -5, "workloads.chat.model_memory_gb"),
    (("sites", "s1", "on_order"), [{"accelerator": "Z", "cooling": "air", "cards": 1,
                                    "arrives": "2026"}], "sites.s1.on_order.0.accelerator"),
    (("sites", "s1", "on_order"), [{"accelerator": "A", "cooling": "liquid", "cards": 1,
                                    "arrives": "2026"}], "sites.s1.on_order.0.cooling"),
    (("sites", "s1", "on_order"), [{"accelerator": "A", "cooling": "air", "cards": 0,
                                    "arrives": "2026"}], "sites.s1.on_order.0.cards"),
    (("sites", "s1", "on_order"), [{"accelerator": "A", "cooling": "air", "cards": 1,
                                    "arrives": "2031"}], "sites.s1.on_order.0.arrives"),
    (("rentals",), {"c": {"accelerator": "Z", "region": "R", "price_per_card_hour": 1.0}},
     "rentals.c.accelerator"),
    (("rentals",), {"c": {"accelerator": "A", "region": "R", "price_per_card_hour": -1.0}},
     "rentals.c.price_per_card_hour"),
    (("rentals",), {"c": {"accelerator": "A", "region": "R", "price_per_card_hour": 1.0,
                          "max_cards": {"2031": 3}}}, "rentals.c.max_cards.2031"),
    (("policies",), {"ban": [{"from": "2026"}]}, "policies.ban.0"),
    (("policies",), {"ban": [{"tags": ["imported"], "from": "2030"}]}, "policies.ban.0.from"),
    (("policies",), {"ban": [{"tags": ["imported"], "installed": "scrap"}]},
     "policies.ban.0.installed"),
    (("policies",), {"ban": [{"accelerators": ["H20"]}]}, "policies.ban.0.accelerators.0"),
    (("policies",), {"ban": [{"tags": ["imporetd"]}]}, "policies.ban.0.tags.0"),
    (("policies",), {"tariff": [{"tags": ["imported"], "rate": -0.1}]},
     "policies.tariff.0.rate"),
    (("policies",), {"tariff": [{"rate": 0.1}]}, "policies.tariff.0"),
]


@pytest.mark.parametrize("where, value, field", BAD_VALUES,
                         ids=[case[2] + "=" + str(case[1])[:20] for case in BAD_VALUES])
def test_bad_procurement_values_name_the_field(tmp_path, where, value, field):
    data = instance({"A": accelerator(price=100, tags=["imported"])})
    assert_field_refused(tmp_path, data, where, value, field)
