"""Energy, carbon and water (shared/design/energy.md), each optimum worked out by hand.

Conventions of test_families.py: one workload ``chat`` with peak_to_average 1, 1 token/s per
card, availability 1, one-year periods. Here cards draw 1 kW all the time (idle fraction 1):
8.76 MWh a card-year at PUE 1. Ten cards are needed; a card costs 100 and lives one year.
"""
from __future__ import annotations

import pytest

from conftest import (
    accelerator, assert_field_refused, cards_bought, instance, run_cli, site, solve_data,
    write_instance,
)

REL = 1e-6
MWH = 8.76            # a card-year at 1 kW


def _card(**extra):
    return accelerator(price=100, power_kw=1.0, idle_power_fraction=1.0, **extra)


def test_a_carbon_price_moves_the_fleet_to_a_cleaner_site(tmp_path):
    # dirty: power 50 per MWh, 1 t CO2 per MWh (438 a card-year); clean: 70, no CO2 (613.2).
    # No carbon price: dirty, NPV 1000 + 4380 = 5380, 87.6 t. At 30 per tonne dirty costs
    # 438 + 262.8 = 700.8 a card: clean, NPV 1000 + 6132 = 7132, no CO2.
    sites = {"dirty": site(electricity=50.0, grid_carbon_kg_per_mwh=1000.0),
             "clean": site(electricity=70.0)}
    plan = solve_data(tmp_path, instance({"A": _card()}, sites=sites))
    assert plan.objective == pytest.approx(5380, rel=REL)
    assert cards_bought(plan, site="dirty") == 10
    assert plan.kpis.emissions_total_t == pytest.approx(87.6, rel=REL)
    priced = instance({"A": _card()}, sites=sites, policies={"carbon_price_per_t": 30})
    plan = solve_data(tmp_path, priced)
    assert plan.objective == pytest.approx(7132, rel=REL)
    assert cards_bought(plan, site="clean") == 10
    assert plan.kpis.emissions_total_t == pytest.approx(0, abs=1e-6)


def test_a_supply_contract_covers_what_it_can(tmp_path):
    # A PPA of 5 kW at capacity factor 1 delivers 43.8 MWh a year at 30 per MWh against the
    # grid's 50: half of the 87.6 MWh. NPV = 1000 + 43.8 x 30 + 43.8 x 50 = 4504.
    ppa = {"wind": {"max_mw": 0.005, "capacity_factor": 1.0, "price_per_mwh": 30.0}}
    plan = solve_data(tmp_path, instance({"A": _card()},
                                         sites={"s1": site(electricity=50.0, ppa=ppa)}))
    assert plan.objective == pytest.approx(4504, rel=REL)
    energy = plan.tables["energy"].iloc[0]
    assert energy["ppa_mwh"] == pytest.approx(43.8, rel=REL)
    assert energy["grid_mwh"] == pytest.approx(43.8, rel=REL)
    costs = plan.tables["costs"].iloc[0]
    assert costs["energy"] == pytest.approx(43.8 * 30 + 43.8 * 50, rel=REL)


def test_a_carbon_cap_binds_with_its_shadow_price_per_tonne(tmp_path):
    # Grid power 50 per MWh at 0.5 t per MWh: 87.6 MWh emit 43.8 t. A clean PPA (5 kW at
    # capacity factor 1: 43.8 MWh) costs 80. Under a 30 t cap the grid may give 60 MWh: 27.6
    # MWh come from the PPA at 30 more each: 828. Discount 10 %: opex at d_m(0) = 1.1^-0.5.
    # NPV = 1000 + (4380 + 828) / 1.1^0.5. One more tonne is 2 MWh less PPA: it saves 60 of
    # the period's money (the fleet fixed; energy.md).
    ppa = {"hydro": {"max_mw": 0.005, "capacity_factor": 1.0, "price_per_mwh": 80.0}}
    data = instance({"A": _card()}, sites={"s1": site(electricity=50.0, ppa=ppa,
                                                      grid_carbon_kg_per_mwh=500.0)},
                    policies={"carbon_cap_t_per_year": 30})
    data["horizon"]["discount_rate"] = 0.1
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1000 + (4380 + 828) / 1.1 ** 0.5, rel=REL)
    assert plan.kpis.emissions_total_t == pytest.approx(30, rel=REL)
    binding = plan.tables["binding"].set_index("constraint")
    assert binding.loc["carbon_cap", "shadow_price"] == pytest.approx(60, rel=1e-5)
    assert "per tonne" in binding.loc["carbon_cap", "shadow_price_unit"]


def test_water_decides_air_against_liquid(tmp_path):
    # Air: PUE 1 but 2 L per kWh (17.52 m3 a card-year); liquid: PUE 1.2, no water. Power 50:
    # air 438, liquid 525.6 a card-year. Free water: all air, 5380. A cap of 100 m3 a year
    # holds 5 air cards (87.6 m3): 1000 + 5 x 438 + 5 x 525.6 = 5818. Water at 50 per m3 makes
    # air 1314: all liquid, 1000 + 5256 = 6256.
    modes = {"air": {"pue": 1.0, "wue_l_per_kwh": 2.0, "existing_it_mw": 1.0},
             "liquid": {"pue": 1.2, "existing_it_mw": 1.0}}
    acc = _card(cooling=["air", "liquid"])

    def plan_for(**site_extra):
        return solve_data(tmp_path, instance({"A": acc}, sites={"s1": site(
            electricity=50.0, modes=modes, **site_extra)}))
    free = plan_for()
    assert free.objective == pytest.approx(5380, rel=REL)
    assert free.kpis.water_total_m3 == pytest.approx(175.2, rel=REL)
    capped = plan_for(max_water_m3_per_year=100.0)
    assert capped.objective == pytest.approx(5818, rel=REL)
    fleet = capped.tables["fleet"].groupby("cooling")["cards"].sum()
    assert fleet["air"] == 5 and fleet["liquid"] == 5
    priced = plan_for(water_price_per_m3=50.0)
    assert priced.objective == pytest.approx(6256, rel=REL)
    assert priced.tables["costs"]["water"].sum() == pytest.approx(0, abs=1e-6)


BAD = [
    (("sites", "s1", "grid_carbon_kg_per_mwh"), -1.0, "sites.s1.grid_carbon_kg_per_mwh"),
    (("sites", "s1", "grid_carbon_kg_per_mwh"), {"2031": 5.0},
     "sites.s1.grid_carbon_kg_per_mwh.2031"),
    (("sites", "s1", "water_price_per_m3"), -0.5, "sites.s1.water_price_per_m3"),
    (("sites", "s1", "max_water_m3_per_year"), -1.0, "sites.s1.max_water_m3_per_year"),
    (("sites", "s1", "ppa"), {"w": {"max_mw": 1, "capacity_factor": 1.5, "price_per_mwh": 3}},
     "sites.s1.ppa.w.capacity_factor"),
    (("sites", "s1", "ppa"), {"w": {"max_mw": -1, "capacity_factor": 0.5, "price_per_mwh": 3}},
     "sites.s1.ppa.w.max_mw"),
    (("sites", "s1", "cooling", "air", "wue_l_per_kwh"), -2.0,
     "sites.s1.cooling.air.wue_l_per_kwh"),
    (("policies",), {"carbon_price_per_t": {"2030": 5}}, "policies.carbon_price_per_t"),
    (("policies",), {"carbon_cap_t_per_year": -3}, "policies.carbon_cap_t_per_year"),
]


@pytest.mark.parametrize("where, value, field", BAD, ids=[case[2] for case in BAD])
def test_bad_energy_values_name_the_field(tmp_path, where, value, field):
    assert_field_refused(tmp_path, instance({"A": _card()}), where, value, field)


def test_pareto_runs_from_the_cheapest_to_the_cleanest_plan(tmp_path):
    # The two sites of the carbon-price test. Cheapest: all dirty, 5380 and 87.6 t; cleanest:
    # all clean, 0 t and 7132; the middle point caps total emissions at 43.8 t: 5 cards on each
    # site, 1000 + 5 x 438 + 5 x 613.2 = 6256.
    import pandas as pd
    sites = {"dirty": site(electricity=50.0, grid_carbon_kg_per_mwh=1000.0),
             "clean": site(electricity=70.0)}
    path = write_instance(tmp_path, instance({"A": _card()}, sites=sites))
    out = run_cli("pareto", str(path), "--points", "3", "-o", str(tmp_path / "frontier"),
                  "--workers", "2")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(tmp_path / "frontier" / "pareto.csv")
    assert list(frame["point"]) == [0, 1, 2]
    assert list(frame["emissions_total_t"]) == pytest.approx([87.6, 43.8, 0.0], abs=1e-6)
    assert list(frame["npv_total"]) == pytest.approx([5380, 6256, 7132], rel=REL)
    assert (tmp_path / "frontier" / "points" / "0002" / "energy.csv").is_file()
    report = run_cli("report", str(tmp_path / "frontier"))
    assert report.returncode == 0, report.stderr
    assert "Cost against carbon" in (tmp_path / "frontier" / "report.html").read_text()


def test_pareto_in_one_process_gives_the_same_frontier(tmp_path):
    # The instance of the test above, through the library with one worker: every point then
    # runs in this process (no worker pool), and the frontier is the same: 87.6 t / 5380,
    # 43.8 t / 6256, 0 t / 7132.
    from optimizer.studies.pareto import frontier_is_monotone, run_pareto
    sites = {"dirty": site(electricity=50.0, grid_carbon_kg_per_mwh=1000.0),
             "clean": site(electricity=70.0)}
    path = write_instance(tmp_path, instance({"A": _card()}, sites=sites))
    frame = run_pareto(path, 3, workers=1)
    assert list(frame["emissions_total_t"]) == pytest.approx([87.6, 43.8, 0.0], abs=1e-6)
    assert list(frame["npv_total"]) == pytest.approx([5380, 6256, 7132], rel=REL)
    assert list(frame["status"]) == ["optimal"] * 3
    assert frontier_is_monotone(frame)


def test_the_national_instance_reproduces_the_seed_count(tmp_path):
    # seed 002: 50 trillion tokens a day at 2.5e12 FLOPs a token is 1.447e21 FLOPS; at 320
    # TFLOPS and 80 % utilisation a card gives 2.56e14: 5,651,403.4 cards, i.e. 706,426 servers
    # of 8 = 5,651,408 cards, once power, cooling and policies do not bind (2027 alone, the
    # 910B only, one site without caps).
    import math
    from conftest import INSTANCES
    from optimizer.instance.safe_yaml import read_yaml_file
    data = read_yaml_file(INSTANCES / "china-national-2027.yaml")
    data["horizon"]["periods"] = ["2027"]
    data["demand"]["all"] = {"2027": data["demand"]["all"]["2027"]}
    data["accelerators"] = {"Ascend-910B": data["accelerators"]["Ascend-910B"]}
    hub = data["sites"]["ulanqab"]
    hub.update(max_cards=10**8, grid_mw=1e5, grid_carbon_kg_per_mwh=600.0)
    hub.pop("existing_fleet", None)
    hub.pop("ppa", None)
    data["sites"] = {"ulanqab": hub}
    data["policies"] = {}
    cards = 50e12 / 86400 * 2.5e12 / (320e12 * 0.8)
    assert cards == pytest.approx(5_651_403.36, abs=0.01)
    plan = solve_data(tmp_path, data, explain=False)
    assert cards_bought(plan) == 8 * math.ceil(cards / 8) == 5_651_408
