"""Wrong answers found by trying the tool as a new user would (issue "Trust"), each pinned by a
test that failed before its fix. Every optimum is worked out by hand in the comments.

Unless a test says otherwise the conventions of test_families.py hold: one workload with
peak_to_average 1, 1 token/s per card, discount 0, one-year periods, free power and cooling.
"""
from __future__ import annotations

import pytest

from conftest import accelerator, instance, run_cli, site, solve_data, write_instance

REL = 1e-6
TOKENS_PER_TOKEN_S_YEAR = 86400 * 365          # tokens one token/s serves in a year


def test_soft_demand_beyond_every_slot_has_a_plan(tmp_path):
    # 15 tokens/s of demand, 10 card slots: at most 10 served. Unmet tokens cost 10 per
    # million: one token/s unmet for a year is 31.536 M tokens = 315.36, dearer than a card
    # (100), so every slot is filled (1000) and 5 tokens/s are unmet (5 * 315.36 = 1576.8).
    data = instance({"A": accelerator(price=100)}, demand_tokens_per_s=15.0,
                    sites={"s1": site(max_cards=10)},
                    policies={"unmet_demand_cost_per_million_tokens": 10.0})
    plan = solve_data(tmp_path, data)
    unmet_cost = 5 * TOKENS_PER_TOKEN_S_YEAR / 1e6 * 10.0
    assert plan.status.value == "optimal"
    assert plan.objective == pytest.approx(1000 + unmet_cost, rel=REL)
    assert int(plan.tables["purchases"]["cards"].sum()) == 10
    assert plan.tables["unmet"]["peak_tokens_per_s"].sum() == pytest.approx(5.0, rel=REL)


def test_soft_demand_beyond_every_slot_solves_from_the_cli(tmp_path):
    data = instance({"A": accelerator(price=100)}, demand_tokens_per_s=15.0,
                    sites={"s1": site(max_cards=10)},
                    policies={"unmet_demand_cost_per_million_tokens": 10.0})
    result = run_cli("solve", str(write_instance(tmp_path, data)), "--json")
    assert result.returncode == 0, result.stderr


def test_catalog_cooling_mode_no_site_offers_is_valid(tmp_path):
    # B supports air and liquid; the only site offers liquid. B runs there in liquid:
    # 10 cards at 150 = 1500.
    data = instance({"B": accelerator(price=150, cooling=["air", "liquid", "immersion"])},
                    sites={"s1": site(modes={"liquid": {"pue": 1.0}})})
    plan = solve_data(tmp_path, data)
    assert plan.objective == pytest.approx(1500, rel=REL)
    assert set(plan.tables["purchases"]["cooling"]) == {"liquid"}


def test_misspelt_cooling_mode_is_refused(tmp_path):
    data = instance({"B": accelerator(price=150, cooling=["liqiud"])},
                    sites={"s1": site(modes={"liquid": {"pue": 1.0}})})
    result = run_cli("validate", str(write_instance(tmp_path, data)))
    assert result.returncode == 2
    assert "accelerators.B.cooling.0" in result.stderr and "liqiud" in result.stderr
