"""The library a capex workflow embeds: instances from code, plans read back, typed results,
every error type, a user's own constraints."""
from __future__ import annotations

import pytest
import pyomo.environ as pyo

from conftest import INSTANCES, accelerator, instance, site, write_instance

REL = 1e-6


def test_instance_from_a_mapping_solves_like_the_file(tmp_path):
    # the grid case of test_explain: 60 tokens/s, A 100 per 1 kW card, B 150 per 0.5 kW card,
    # 40 kW: a + b = 60, a + 0.5 b <= 40 -> b = 40, a = 20: 2000 + 6000 = 8000
    from optimizer import instance_from_mapping, solve
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=60, sites={"s1": site(grid_mw=0.040)})
    plan = solve(instance_from_mapping(data))
    assert plan.objective == pytest.approx(8000, rel=REL)


def test_instance_from_a_mapping_names_the_field_at_fault():
    from optimizer import InstanceError, instance_from_mapping
    data = instance({"A": accelerator(price=-1)})
    with pytest.raises(InstanceError) as err:
        instance_from_mapping(data, name="capex-sheet")
    assert err.value.field == "accelerators.A.price_per_card"
    assert err.value.path.endswith("capex-sheet")


def test_read_plan_gives_back_what_was_written(tmp_path):
    from optimizer import Status, load_instance, read_plan, solve
    plan = solve(load_instance(INSTANCES / "quickstart.yaml"))
    plan.write(tmp_path / "out")
    again = read_plan(tmp_path / "out")
    assert again.status is Status.OPTIMAL
    assert again.objective == pytest.approx(plan.objective, rel=1e-12)
    assert again.kpis.cost_per_million_tokens == pytest.approx(
        plan.kpis.cost_per_million_tokens, rel=1e-12)
    assert set(again.tables) >= {"purchases", "fleet", "costs", "marginal_costs", "binding"}
    assert again.decisions.purchases == plan.decisions.purchases


def test_kpis_have_the_same_fields_for_deterministic_and_scenario_plans():
    from dataclasses import fields
    from optimizer import KPIs, load_instance, solve
    deterministic = solve(load_instance(INSTANCES / "quickstart.yaml")).kpis
    stochastic = solve(load_instance(INSTANCES / "zhengzhou-30k-scenarios.yaml")).kpis
    assert isinstance(deterministic, KPIs) and isinstance(stochastic, KPIs)
    for name in ("npv_total", "capex_total", "opex_total", "cost_per_million_tokens",
                 "cards_final_period"):
        assert getattr(deterministic, name) is not None and getattr(stochastic, name) is not None
    assert stochastic.vss is not None and deterministic.vss is None
    assert [f.name for f in fields(deterministic)] == [f.name for f in fields(stochastic)]


def test_decisions_are_keyed_by_readable_labels():
    from optimizer import load_instance, solve
    plan = solve(load_instance(INSTANCES / "quickstart.yaml"))
    for key in plan.decisions.purchases:
        accelerator_name, site_name, cooling, period = key
        assert period in ("2026", "2027", "2028") and cooling in ("air", "liquid")


def test_every_error_type_and_the_version_are_exported():
    import optimizer
    for name in ("AccelplanError", "InstanceError", "InfeasibleError", "UsageError",
                 "SolverError"):
        assert issubclass(getattr(optimizer, name), Exception)
    assert issubclass(optimizer.SolverError, optimizer.AccelplanError)
    assert optimizer.__version__
    from pathlib import Path
    assert (Path(optimizer.__file__).parent / "py.typed").is_file()


def test_a_users_extra_constraint_family(tmp_path):
    # A at 100, B at 150 (both 1 token/s): 10 cards of A. A user's rule "at least 3 B cards
    # in every period" moves 3 cards to B: 700 + 450 = 1150.
    from optimizer import load_instance, solve
    from formulations import Family

    def at_least_three_b(model, data):
        index = sorted({t for (k, s, c, t) in data.FLEET if k == "B"})
        if not index:
            return
        model.b_floor = pyo.Constraint(index, rule=lambda m, t: sum(
            m.fleet[k, s, c, tt] for (k, s, c, tt) in data.FLEET if k == "B" and tt == t) >= 3)
    data = instance({"A": accelerator(price=100), "B": accelerator(vendor="VB", price=150)})
    plan = solve(load_instance(write_instance(tmp_path, data)),
                 extra_constraints=[Family("b_floor", at_least_three_b, "fleet of B >= 3")])
    assert plan.objective == pytest.approx(1150, rel=REL)
