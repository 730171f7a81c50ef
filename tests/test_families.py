"""One small instance per constraint family, where that family binds. Every optimum below is
worked out by hand in the comments; the solver must reproduce it.

Unless a test says otherwise: one workload with peak_to_average 1, throughput 1 token/s per card
(so tokens/s of demand = cards needed), availability 1, discount 0, one-year periods, free
power and cooling, lifetime 1 year (no salvage when the horizon ends with the card's life).
"""
from __future__ import annotations

import pytest

from conftest import accelerator, budget_instance, cards_bought, instance, site, solve_data

REL = 1e-6


def test_grid_cap_forces_a_mix(tmp_path):
    # A: 100 per card, 1 kW; B: 150 per card, 0.5 kW; 10 cards needed; grid 7 kW at PUE 1.
    # a + b = 10, a + 0.5 b <= 7  =>  b >= 6. Cheapest: a = 4, b = 6: 400 + 900 = 1300.
    # (With the grid at 10 MW it would be 10 A = 1000.)
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    sites={"s1": site(grid_mw=0.007)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1300, rel=REL)
    assert cards_bought(plan, "A") == 4 and cards_bought(plan, "B") == 6
    sites = plan.tables["sites"]
    assert sites["facility_mw"].sum() == pytest.approx(0.007, abs=1e-9)


def test_lifetime_and_straight_line_salvage_over_two_periods(tmp_path):
    # 10 cards needed in 2026 and 2027; price 100; lifetime 3 years.
    # Bought in 2026 they live through 2027 ((1-0)*1 < 3). At the horizon end (2 years) they
    # are 2 years old: salvage = 1000 * (1 - 2/3) = 333.33.  NPV = 1000 - 333.33 = 666.67.
    data = instance({"A": accelerator(price=100, lifetime=3)}, periods=["2026", "2027"])
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000 - 1000 / 3, rel=REL)
    assert cards_bought(plan, "A", "2026") == 10 and cards_bought(plan, "A", "2027") == 0
    assert plan.tables["costs"]["salvage"].sum() == pytest.approx(1000 / 3, rel=REL)


def test_short_lifetime_means_buying_again(tmp_path):
    # Lifetime 1 year, prices falling from 100 to 50: buy 10 in each period (1000 + 500),
    # no salvage (each purchase is exactly at its end of life at the horizon's end).
    data = instance({"A": accelerator(price={"2026": 100, "2027": 50}, lifetime=1)},
                    periods=["2026", "2027"])
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1500, rel=REL)
    assert cards_bought(plan, "A", "2026") == 10 and cards_bought(plan, "A", "2027") == 10


def test_liquid_only_accelerator_pays_for_a_liquid_build(tmp_path):
    # A (air, 100 per card) or L (liquid only, 50 per card); both 1 kW; 10 cards needed.
    # Air: 1 MW existing, enough.  Liquid: none, 20,000 per MW to build, 15-year life.
    # L: 10 * 50 + 0.010 MW * 20,000 = 500 + 200 = 700, minus salvage of the build after one
    # year: 200 * (1 - 1/15) = 186.67  =>  513.33 < 1000 for A.
    modes = {"air": {"pue": 1.0, "existing_it_mw": 1.0},
             "liquid": {"pue": 1.0, "build_cost_per_mw": 20000.0}}
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "L": accelerator(vendor="VL", price=50, power_kw=1.0, cooling=["liquid"])},
                    sites={"s1": site(grid_mw=2.0, modes=modes)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(700 - 200 * 14 / 15, rel=REL)
    assert cards_bought(plan, "L") == 10 and cards_bought(plan, "A") == 0
    sites = plan.tables["sites"].set_index("cooling")
    assert sites.loc["liquid", "it_mw_built"] == pytest.approx(0.010, rel=REL)
    assert plan.tables["costs"]["capex_cooling"].sum() == pytest.approx(200, rel=REL)


def test_minimum_domestic_share(tmp_path):
    # A domestic at 150, B imported at 100; at least half the cards domestic.
    # a >= 0.5 (a + b), a + b = 10  =>  a = b = 5: 750 + 500 = 1250 (1000 without the policy).
    data = instance({"A": accelerator(price=150, tags=["domestic"]),
                     "B": accelerator(vendor="VB", price=100, tags=["imported"])},
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1250, rel=REL)
    assert cards_bought(plan, "A") == 5 and cards_bought(plan, "B") == 5
    assert plan.summary["kpis"]["domestic_share"] == pytest.approx(0.5)


def test_minimum_share_by_tflops(tmp_path):
    # A domestic, 100 TFLOPS, 150 per card; B imported, 300 TFLOPS, 100 per card; 10 cards.
    # 100 a >= 0.5 (100 a + 300 b)  =>  a >= 3 b; a + b = 10  =>  b <= 2.5, b = 2, a = 8:
    # 1200 + 200 = 1400.
    data = instance({"A": accelerator(price=150, tags=["domestic"], peak_tflops=100),
                     "B": accelerator(vendor="VB", price=100, peak_tflops=300)},
                    policies={"min_share": [{"tags": ["domestic"], "share": 0.5, "by": "tflops"}]})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1400, rel=REL)
    assert cards_bought(plan, "A") == 8 and cards_bought(plan, "B") == 2


def test_supply_cap(tmp_path):
    # A at 100 but only 4 cards can be bought; the other 6 are B at 150: 400 + 900 = 1300.
    data = instance({"A": accelerator(price=100, supply={"2026": 4}),
                     "B": accelerator(vendor="VB", price=150)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1300, rel=REL)
    assert cards_bought(plan, "A") == 4 and cards_bought(plan, "B") == 6


def test_available_from_delays_a_cheap_card(tmp_path):
    # A at 50 only from 2027; B at 100 always; 10 cards per period, lifetime 1.
    # 2026: 10 B = 1000; 2027: 10 A = 500  =>  1500.
    data = instance({"A": accelerator(price=50, available_from="2027"),
                     "B": accelerator(vendor="VB", price=100)}, periods=["2026", "2027"])
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1500, rel=REL)
    assert cards_bought(plan, "A", "2026") == 0 and cards_bought(plan, "A", "2027") == 10


def test_budget(tmp_path):
    # A: 100 capex, 2 kW; B: 150 capex, 0.5 kW; power always drawn (idle fraction 1);
    # electricity 10 per MWh, 8760 h: energy A 175.2, B 43.8 per card-year.
    # TCO per card: A 275.2, B 193.8, so 10 B = 1938 without a budget.
    # Budget 1200: 100 a + 150 b <= 1200, a + b = 10  =>  b <= 4; b = 4, a = 6:
    # 6 * 275.2 + 4 * 193.8 = 1651.2 + 775.2 = 2426.4.
    data = budget_instance()
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2426.4, rel=REL)
    assert cards_bought(plan, "A") == 6 and cards_bought(plan, "B") == 4


def test_site_opening(tmp_path):
    # s1 open, 4 cards max; s2 closed: 500 to open, 100 per year while open. 4 cards in 2026,
    # 10 in 2027; A at 100, lifetime 1.
    # 2026: 4 at s1 = 400 (s2 stays shut). 2027: 4 at s1 + 6 at s2 = 1000, open s2 in 2027:
    # 500 + 100  =>  NPV 2000.
    data = instance({"A": accelerator(price=100)}, demand_tokens_per_s=[4.0, 10.0],
                    periods=["2026", "2027"],
                    sites={"s1": site(max_cards=4),
                           "s2": site(open=False, open_cost=500.0, fixed_cost_per_year=100.0)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2000, rel=REL)
    assert cards_bought(plan, site="s2", period="2026") == 0
    assert cards_bought(plan, site="s2", period="2027") == 6
    sites = plan.tables["sites"].set_index(["site", "period"])
    assert sites.loc[("s2", "2026"), "open"] == 0 and sites.loc[("s2", "2027"), "open"] == 1
    costs = plan.tables["costs"].set_index("period")
    assert costs.loc["2027", "capex_sites"] == 500 and costs.loc["2027", "fixed"] == 100


def test_exclusive_cooling(tmp_path):
    # A: air only, 100; L: liquid only, 60, at most 6 cards. Cooling builds free.
    # Mixed cooling would give 6 L + 4 A = 760; with exclusive cooling the site picks one
    # mode: liquid cannot cover 10 cards, so air: 10 A = 1000.
    modes = {"air": {"pue": 1.0}, "liquid": {"pue": 1.0}}
    accs = {"A": accelerator(price=100, power_kw=1.0),
            "L": accelerator(vendor="VL", price=60, power_kw=1.0, cooling=["liquid"],
                             supply=6)}
    mixed = solve_data(tmp_path, instance(accs, sites={"s1": site(modes=modes)}))
    assert mixed.objective == pytest.approx(760, rel=REL)
    (tmp_path / "instance.yaml").unlink()
    plan = solve_data(tmp_path, instance(accs, sites={"s1": site(modes=modes,
                                                                  exclusive_cooling=True)}))
    assert plan.objective == pytest.approx(1000, rel=REL)
    assert cards_bought(plan, "A") == 10 and cards_bought(plan, "L") == 0
    sites = plan.tables["sites"].set_index("cooling")
    assert sites.loc["liquid", "it_mw_capacity"] == 0


def test_maximum_vendor_share(tmp_path):
    # VA's A at 100, VB's B at 150; no vendor above 60 % of cards: a <= 6  =>  6 A + 4 B
    # = 600 + 600 = 1200.
    data = instance({"A": accelerator(price=100), "B": accelerator(vendor="VB", price=150)},
                    policies={"max_vendor_share": 0.6})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1200, rel=REL)
    assert cards_bought(plan, "A") == 6 and cards_bought(plan, "B") == 4


def test_discounting_over_several_periods(tmp_path):
    # 3 periods, 10 % a year, lifetime 1: buy 10 A at 100 every period, capex at each start:
    # 1000 (1 + 1.1^-1 + 1.1^-2) = 1000 + 909.09 + 826.45 = 2735.54.
    # Fixed site cost 100 a year at each middle: 100 (1.1^-0.5 + 1.1^-1.5 + 1.1^-2.5)
    # = 95.346 + 86.678 + 78.799 = 260.82.  NPV = 2996.36.
    data = instance({"A": accelerator(price=100)}, periods=["2026", "2027", "2028"],
                    sites={"s1": site(fixed_cost_per_year=100.0)})
    data["horizon"]["discount_rate"] = 0.1
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(2996.3604, rel=1e-7)
    costs = plan.tables["costs"]
    # per period: 1000 + 95.346, 909.091 + 86.678, 826.446 + 78.799
    assert costs["discounted_total"].tolist() == pytest.approx([1095.346, 995.769, 905.245],
                                                               abs=1e-3)


def test_derived_throughput_arithmetic(tmp_path):
    # 50e12 tokens/day at 2.5e12 FLOPs per token on 320 TFLOPS cards at 80 % MFU:
    # throughput = 320e12 * 0.8 / 2.5e12 = 102.4 tokens/s per card; demand = 50e12 / 86400
    # = 578,703,703.7 tokens/s  =>  5,651,403.36 cards, rounded up to 5,651,404 (price 1 each).
    data = instance({"X": {"vendor": "V", "price_per_card": 1.0, "power_kw_per_card": 0.0,
                           "cooling": ["air"], "lifetime_years": 1, "peak_tflops": 320,
                           "mfu": 0.8}},
                    sites={"s1": site(max_cards=10_000_000)})
    data["workloads"]["chat"]["flops_per_token"] = 2.5e12
    data["demand"]["chat"]["2026"] = 50e12
    plan = solve_data(tmp_path, data)
    assert cards_bought(plan, "X") == 5_651_404
    assert plan.objective == pytest.approx(5_651_404, rel=1e-9)


def test_availability_and_peak_to_average_size_the_fleet(tmp_path):
    # Average 4.5 tokens/s with peak_to_average 2 => 9 tokens/s peak; availability 0.9 =>
    # 9 / 0.9 = 10 cards at 100 = 1000.
    data = instance({"A": accelerator(price=100, availability=0.9)}, demand_tokens_per_s=4.5)
    data["workloads"]["chat"]["peak_to_average"] = 2.0
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000, rel=REL)
    assert cards_bought(plan, "A") == 10


def test_energy_from_idle_and_busy_power_times_pue(tmp_path):
    # Average 1 token/s, peak_to_average 2: 2 cards (200), 1 card busy on average.
    # Energy = 8760 h * PUE 1.5 * 1 kW/1000 * (0.3 * 2 cards + 0.7 * 1 busy) * 100 per MWh
    # = 8760 * 1.5 * 1.3 * 0.1 = 1708.2.  NPV = 1908.2.
    data = instance({"A": accelerator(price=100, power_kw=1.0, idle_power_fraction=0.3)},
                    demand_tokens_per_s=1.0,
                    sites={"s1": site(electricity=100.0, modes={"air": {"pue": 1.5}})})
    data["workloads"]["chat"]["peak_to_average"] = 2.0
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1908.2, rel=REL)
    assert plan.tables["costs"]["energy"].sum() == pytest.approx(1708.2, rel=REL)


def test_existing_fleet_counts_and_pays_maintenance(tmp_path):
    # 4 existing A cards (age 0, lifetime 1.5) live in 2026 and 2027 (0 + 1 < 1.5).
    # 10 cards needed each period; price 100 (2026), 10 % maintenance a year on the price paid
    # (existing cards at the first period's price), lifetime 1 for new... (A's lifetime is 1.5:
    # a 2026 purchase also lives in 2027, salvage max(0, 1 - 2/1.5) = 0).
    # Buy 6 in 2026 (600), they live on in 2027. Maintenance: 10 cards * 10 * 2 years = 200.
    # NPV = 600 + 200 = 800.
    data = instance({"A": accelerator(price=100, lifetime=1.5, maintenance_rate=0.1)},
                    periods=["2026", "2027"],
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 4, "age_years": 0}])})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(800, rel=REL)
    assert cards_bought(plan, "A", "2026") == 6 and cards_bought(plan, "A", "2027") == 0
    assert plan.tables["costs"]["maintenance"].sum() == pytest.approx(200, rel=REL)


def test_cards_per_unit_rounds_purchases_up(tmp_path):
    # 10 cards needed, sold in servers of 8 at 100 per card: 2 servers = 16 cards = 1600.
    data = instance({"A": accelerator(price=100, cards_per_unit=8)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1600, rel=REL)
    assert plan.tables["purchases"]["units"].sum() == 2


def test_site_cards_cap_spreads_the_fleet(tmp_path):
    # s1 holds at most 6 cards at no cost; s2 has electricity at 1 per MWh for 1 kW cards:
    # 8760 h * 1 kW / 1000 * 1 = 8.76 per card-year (idle fraction 1).
    # 10 cards: 6 at s1, 4 at s2: 1000 + 35.04 = 1035.04.
    data = instance({"A": accelerator(price=100, power_kw=1.0, idle_power_fraction=1.0)},
                    sites={"s1": site(max_cards=6), "s2": site(electricity=1.0)})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1035.04, rel=REL)
    assert cards_bought(plan, site="s1") == 6 and cards_bought(plan, site="s2") == 4


def test_cost_per_million_tokens(tmp_path):
    # NPV 1000 (10 cards at 100) for 10 tokens/s over a year = 315.36 million tokens:
    # 1000 / 315.36 = 3.17098 per million tokens.
    plan = solve_data(tmp_path, instance({"A": accelerator(price=100)}))
    assert plan.summary["kpis"]["cost_per_million_tokens"] == pytest.approx(3.1709792, rel=1e-6)
