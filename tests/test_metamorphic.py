"""Metamorphic tests: relations between the answers to two related instances, which need no
oracle. Each runs on random instances of the differential test (every feature of the format,
scenarios among them):

- renaming every id (workloads, accelerators, vendors, tags, sites, regions, rentals,
  contracts, periods, scenarios) leaves the objective unchanged;
- scaling every money figure by 10 multiplies the objective by 10 and leaves every decision;
- splitting a scenario into two copies of half its probability gives the same plan;
- adding an accelerator that is dearer and worse in every way changes nothing;
- a deterministic instance equals the same instance as one scenario of probability 1;
- re-planning a plan on its own instance from any period keeps its NPV from then on, and its
  later orders stay optimal (deposits, budgets, lead times, balances included).
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from conftest import fast_first, write_instance
from test_differential import INSTANCES, random_instance

CASES = 30
"""Random instances per relation (CI); ``FAST`` of them in the default run."""
FAST = 10

REL = 1e-6


def _seeds(scenarios: bool | None = None, count: int = CASES) -> list[int]:
    chosen = []
    for seed in range(INSTANCES):
        has = "scenarios" in random_instance(seed)
        if scenarios is None or has == scenarios:
            chosen.append(seed)
    return chosen[:count]


def _solve(tmp_path, data: dict[str, Any], name: str = "instance.yaml"):
    from optimizer import InstanceError, load_instance, solve
    try:
        instance = load_instance(write_instance(tmp_path, data, name))
    except InstanceError:
        return None
    return solve(instance, mip_gap=1e-9, explain=False, raise_on_infeasible=False,
                 value_of_information=False)


def _same(a, b, factor: float = 1.0) -> None:
    assert a.status.has_plan == b.status.has_plan, (a.status, b.status)
    if a.status.has_plan:
        assert b.objective == pytest.approx(factor * a.objective, rel=REL, abs=1e-6)


def _plans(tmp_path, seed: int, change) -> tuple[Any, Any]:
    data = random_instance(seed)
    first = _solve(tmp_path, data, "a.yaml")
    if first is None:
        pytest.skip("the random draw is not a valid instance")
    return first, _solve(tmp_path, change(copy.deepcopy(data)), "b.yaml")


# ---- renaming -----------------------------------------------------------------------------

NAMES = re.compile(r'"(w\d|K\d|V[AB]|domestic|imported|s\d|R\d|r\d|wind|P\d|f\d)"')


def _renamed(data: dict[str, Any]) -> dict[str, Any]:
    """Every id renamed, as a whole word in every place it appears (keys and values). The
    cooling modes air and liquid are catalogue names (instance-format.md: an accelerator may
    name a known mode no site offers), so they keep theirs."""
    return json.loads(NAMES.sub(lambda m: f'"x-{m.group(1)}-renamed"', json.dumps(data)))


@pytest.mark.parametrize("seed", fast_first(_seeds(), FAST))
def test_renaming_every_id_changes_nothing(tmp_path, seed):
    first, second = _plans(tmp_path, seed, _renamed)
    assert second is not None
    _same(first, second)


# ---- money ---------------------------------------------------------------------------------

MONEY_FIELDS = {"price_per_card", "electricity_price_per_mwh", "open_cost",
                "fixed_cost_per_year", "build_cost_per_mw", "price_per_card_hour",
                "budget_per_period", "unmet_demand_cost_per_million_tokens", "price_per_mwh",
                "carbon_price_per_t", "water_price_per_m3", "balance_per_card",
                "price_paid_per_card"}


def _times_ten(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: (_scale(v) if k in MONEY_FIELDS else _times_ten(v, k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_times_ten(v, key) for v in value]
    return value


def _scale(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v * 10 for k, v in value.items()}
    return value * 10


@pytest.mark.parametrize("seed", fast_first(_seeds(), FAST))
def test_money_times_ten_multiplies_the_objective_only(tmp_path, seed):
    first, second = _plans(tmp_path, seed, _times_ten)
    _same(first, second, factor=10.0)
    if first.status.has_plan:
        assert first.decisions.same_as(second.decisions)


# ---- scenarios -------------------------------------------------------------------------------

def _split_first_scenario(data: dict[str, Any]) -> dict[str, Any]:
    block = data["scenarios"]
    name = next(k for k in block if k not in ("commit_periods", "risk"))
    half = dict(block[name], probability=block[name]["probability"] / 2)
    others = {k: v for k, v in block.items() if k != name}
    data["scenarios"] = {f"{name}-a": half, f"{name}-b": copy.deepcopy(half), **others}
    return data


@pytest.mark.parametrize("seed", fast_first(_seeds(scenarios=True), FAST))
def test_splitting_a_scenario_in_two_halves_gives_the_same_plan(tmp_path, seed):
    first, second = _plans(tmp_path, seed, _split_first_scenario)
    _same(first, second)
    if first.status.has_plan:
        commit = first.summary["stochastic"]["commit_periods"]
        labels = random_instance(seed)["horizon"]["periods"][:commit]
        mine = first.decisions.first_stage(labels)
        theirs = second.decisions.first_stage(labels)
        # the same first stage, or another of the same cost (then both are optimal)
        if not mine.same_as(theirs):
            assert second.objective == pytest.approx(first.objective, rel=REL, abs=1e-6)


def _as_one_scenario(data: dict[str, Any]) -> dict[str, Any]:
    data["scenarios"] = {"only": {"probability": 1.0},
                         "commit_periods": len(data["horizon"]["periods"])}
    return data


@pytest.mark.parametrize("seed", fast_first(_seeds(scenarios=False), FAST))
def test_a_deterministic_instance_is_its_one_scenario(tmp_path, seed):
    first, second = _plans(tmp_path, seed, _as_one_scenario)
    _same(first, second)


# ---- a worse accelerator ----------------------------------------------------------------------

def _with_a_worse_clone(data: dict[str, Any]) -> dict[str, Any]:
    """K0 again, dearer and worse in every way: price x 1.5, power x 1.2, throughput x 0.8,
    shorter life, lower availability, more maintenance, no sooner, never less lead time, a
    supply of its own no larger than K0's, named in K0's bans and tariffs."""
    k0 = data["accelerators"]["K0"]
    clone = copy.deepcopy(k0)
    clone["price_per_card"] = _scale_by(k0["price_per_card"], 1.5)
    clone["power_kw_per_card"] = k0["power_kw_per_card"] * 1.2
    clone["throughput"] = {w: v * 0.8 for w, v in k0["throughput"].items()}
    clone["peak_tflops"] = k0["peak_tflops"] * 0.8
    clone["lifetime_years"] = k0["lifetime_years"] * 0.5
    clone["availability"] = k0["availability"] * 0.9
    clone["maintenance_rate"] = k0["maintenance_rate"] + 0.01
    clone["supply"] = {p: 0 for p in data["horizon"]["periods"]}
    data["accelerators"]["K0-worse"] = clone
    for rule in data["policies"].get("ban", []) + data["policies"].get("tariff", []):
        if "K0" in rule.get("accelerators", []):
            rule["accelerators"].append("K0-worse")
    return data


def _scale_by(value: Any, factor: float) -> Any:
    return {k: v * factor for k, v in value.items()} if isinstance(value, dict) else value * factor


def _worse_seeds() -> list[int]:
    return [seed for seed in range(INSTANCES)
            if "supply" not in random_instance(seed)["accelerators"]["K0"]][:CASES]


@pytest.mark.parametrize("seed", fast_first(_worse_seeds(), FAST))
def test_a_dearer_and_worse_accelerator_changes_nothing(tmp_path, seed):
    first, second = _plans(tmp_path, seed, _with_a_worse_clone)
    _same(first, second)


def test_a_worse_accelerator_with_supply_left_is_still_unused(tmp_path):
    # the clone above has no supply (it could not be bought at all); here it may be bought
    # freely but costs more in every way: still never chosen on the bundled quickstart
    from conftest import INSTANCES as BUNDLED
    import yaml
    data = yaml.safe_load((BUNDLED / "quickstart.yaml").read_text())
    first = _solve(tmp_path, data, "a.yaml")
    k = next(iter(data["accelerators"]))
    clone = _with_a_worse_clone({"accelerators": {"K0": copy.deepcopy(data["accelerators"][k])},
                                 "horizon": data["horizon"], "policies": {}})
    worse = clone["accelerators"]["K0-worse"]
    worse.pop("supply")
    data["accelerators"][f"{k}-worse"] = worse
    second = _solve(tmp_path, data, "b.yaml")
    _same(first, second)
    assert f"{k}-worse" not in set(second.tables["purchases"]["accelerator"])


# ---- re-planning -----------------------------------------------------------------------------

def _npv_from(plan: Any, data: dict[str, Any], start: int) -> float:
    """The plan's NPV from period ``start`` on, as a re-plan from there counts it: its costs
    of those periods discounted to ``start``, without the salvage of what was ordered or built
    before (installed cards and halls have none in the re-plan)."""
    hz = data["horizon"]
    n, L, r = len(hz["periods"]), hz["period_years"], hz["discount_rate"]
    costs = plan.tables["costs"]
    total = float(costs["discounted_total"].iloc[start:].sum())
    d_e = (1 + r) ** -(n * L)
    retiring = {k for rule in data["policies"].get("ban", []) if rule.get("installed") == "retire"
                for k, acc in data["accelerators"].items()
                if k in rule.get("accelerators", []) or set(acc["tags"]) & set(rule.get("tags", []))}
    periods = hz["periods"]
    salvage = 0.0
    for row in plan.tables["purchases"].to_dict("records"):
        if periods.index(str(row["order_period"])) < start and row["accelerator"] not in retiring:
            life = data["accelerators"][row["accelerator"]]["lifetime_years"]
            d = periods.index(str(row["delivery_period"]))
            salvage += row["capex"] * max(0.0, 1 - (n - d) * L / life)
    for row in plan.tables["builds"].to_dict("records"):
        t = periods.index(str(row["period"]))
        if t < start:
            life = data["sites"][row["site"]]["cooling"][row["cooling"]].get("lifetime_years", 15.0)
            salvage += row["capex"] * max(0.0, 1 - (n - t) * L / life)
    return (total + d_e * salvage) / (1 + r) ** -(start * L)


def _replan_seeds() -> list[int]:
    return [seed for seed in _seeds(scenarios=False, count=INSTANCES)
            if len(random_instance(seed)["horizon"]["periods"]) > 1][:CASES]


@pytest.mark.parametrize("seed", fast_first(_replan_seeds(), FAST))
def test_a_replan_on_its_own_instance_keeps_its_npv_from_then_on(tmp_path, seed):
    from optimizer import load_instance, replan, solve
    data = random_instance(seed)
    plan = _solve(tmp_path, data)
    if plan is None or not plan.status.has_plan:
        pytest.skip("no plan to re-plan")
    instance = load_instance(write_instance(tmp_path, data))
    periods = data["horizon"]["periods"]
    for start in range(1, len(periods)):
        again = replan(plan, instance, periods[start], mip_gap=1e-9, explain=False,
                       raise_on_infeasible=False)
        assert again.status.has_plan, (periods[start], again.summary.get("explanation"))
        assert again.objective == pytest.approx(_npv_from(plan, data, start), rel=REL, abs=1e-6)
