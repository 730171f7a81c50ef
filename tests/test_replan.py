"""Re-planning (procurement.md, "Re-planning"): the past is fact, the rest is planned again.

Hand-checked instance: one card A (100, lifetime 3, a period's lead time, deposit 0.3), one
site, demand 0, 10, 20 tokens/s over 2026-2028, no discount. The plan orders 10 in 2026
(arriving 2027) and 10 in 2027 (arriving 2028). Salvage at the end: the 2027 cards are 2 of
3 years old (1/3 left: 333.33), the 2028 cards 1 year (2/3: 666.67). NPV = 2000 - 1000 = 1000.
"""
from __future__ import annotations

import json

import pytest
import yaml

from conftest import INSTANCES, accelerator, instance, run_cli, write_instance

REL = 1e-6
PERIODS = ["2026", "2027", "2028"]


def _instance(demand=(0, 10, 20)):
    acc = accelerator(price=100, lifetime=3.0, lead_time_periods=1, deposit_fraction=0.3)
    return instance({"A": acc}, demand_tokens_per_s=list(demand), periods=PERIODS)


def _orders(plan_or_frame):
    frame = getattr(plan_or_frame, "tables", {"purchases": plan_or_frame})["purchases"]
    return sorted((str(r.order_period), str(r.delivery_period), int(r.cards))
                  for r in frame.itertuples())


@pytest.fixture
def previous(tmp_path):
    from optimizer import load_instance, solve
    plan = solve(load_instance(write_instance(tmp_path, _instance(), "before.yaml")))
    assert plan.objective == pytest.approx(1000, rel=REL)
    assert _orders(plan) == [("2026", "2027", 10), ("2027", "2028", 10)]
    plan.write(tmp_path / "before")
    return tmp_path / "before"


def test_replan_of_its_own_instance_keeps_the_orders(tmp_path, previous):
    # From 2027: the 2026 order is on the way, its deposit (300) sunk and its balance (700)
    # still due on arrival in 2027 (balance_per_card 70, procurement.md: no salvage as cards
    # on order); the 2027 order is made again: 1000 capex, delivered in the new horizon's
    # second period, 1 year old of 3 at its end: 666.67 salvage. NPV 700 + 333.33. From 2028
    # everything is fact; the 2027 order's balance (700) is due on arrival then: NPV 700.
    from optimizer import load_instance, replan
    today = load_instance(write_instance(tmp_path, _instance(), "today.yaml"))
    plan = replan(previous, today, "2027")
    assert plan.objective == pytest.approx(700 + 1000 / 3, rel=REL)
    assert _orders(plan) == [("2027", "2028", 10)]
    assert plan.summary["replan"]["changes"] == []
    assert plan.summary["replan"]["fixed"]["on_order_cards"] == 10
    assert plan.summary["replan"]["fixed"]["balance_due"] == pytest.approx(700, rel=REL)
    last = replan(previous, today, "2028")
    assert last.objective == pytest.approx(700, rel=REL) and _orders(last) == []
    fleet = last.tables["fleet"]
    assert int(fleet["cards"].sum()) == 20


def test_replan_on_a_new_forecast_changes_only_the_future(tmp_path, previous):
    # The 2028 forecast doubles to 40: the order on the way (10) stays, 30 are ordered in
    # 2027 instead of 10; summary lists the change.
    from optimizer import load_instance, replan
    today = load_instance(write_instance(tmp_path, _instance((0, 10, 40)), "today.yaml"))
    plan = replan(previous, today, "2027")
    assert _orders(plan) == [("2027", "2028", 30)]
    assert plan.summary["replan"]["changes"] == [
        {"accelerator": "A", "site": "s1", "cooling": "air", "order_period": "2027",
         "cards_before": 10, "cards_now": 30, "change": 20}]
    # 30 cards for 3000, 2/3 of it back at the end; and the 700 still due on the order on
    # the way
    assert plan.objective == pytest.approx(700 + 3000 - 3000 * 2 / 3, rel=REL)


def test_replan_command_writes_the_rolled_instance(tmp_path, previous):
    today = write_instance(tmp_path, _instance(), "today.yaml")
    rolled = tmp_path / "rolled.yaml"
    out = run_cli("replan", str(previous), str(today), "--from", "2027", "-o",
                  str(tmp_path / "after"), "--write-instance", str(rolled), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["objective"] == pytest.approx(700 + 1000 / 3, rel=REL)
    data = yaml.safe_load(rolled.read_text())
    assert data["horizon"]["periods"] == ["2027", "2028"]
    assert data["sites"]["s1"]["on_order"] == [
        {"accelerator": "A", "cooling": "air", "cards": 10, "arrives": "2027",
         "price_paid_per_card": 100.0, "balance_per_card": pytest.approx(70.0)}]
    assert set(data["demand"]["chat"]) == {"2027", "2028"}
    # the written instance is valid and plans the same
    again = run_cli("solve", str(rolled), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["objective"] == pytest.approx(700 + 1000 / 3, rel=REL)


def test_replan_from_later_ages_the_fleet(tmp_path, previous):
    # From 2028 the 2027 delivery is existing fleet 1 year old and the 2027 order on the way.
    from optimizer import load_instance, read_plan
    from optimizer.studies.replan import roll_forward
    today = load_instance(write_instance(tmp_path, _instance(), "today.yaml"))
    # Each keeps the price it was bought at (100) for its maintenance; the order on the way
    # still owes its balance (70 % of 100 a card).
    rolled = roll_forward(read_plan(previous), today, "2028")
    site = rolled.data["sites"]["s1"]
    assert site["existing_fleet"] == [{"accelerator": "A", "cooling": "air", "cards": 10,
                                       "age_years": 1.0, "price_paid_per_card": 100.0}]
    assert site["on_order"] == [{"accelerator": "A", "cooling": "air", "cards": 10,
                                 "arrives": "2028", "price_paid_per_card": 100.0,
                                 "balance_per_card": pytest.approx(70.0)}]


def test_replan_of_the_bundled_quickstart_keeps_its_plan(tmp_path):
    # No lead times there: re-planning from each later period keeps every later purchase.
    from optimizer import load_instance, replan, solve
    quickstart = load_instance(INSTANCES / "quickstart.yaml")
    plan = solve(quickstart)
    for period in ("2027", "2028"):
        again = replan(plan, quickstart, period)
        later = plan.tables["purchases"][plan.tables["purchases"]["period"] >= period]
        assert _orders(again) == _orders(later)


@pytest.mark.parametrize("args, message", [
    (["--from", "2031"], "--from 2031"),
    # from the first period nothing is fact: refused (solve the instance instead)
    (["--from", "2026"], "the first period"),
])
def test_replan_errors_exit_2(tmp_path, previous, args, message):
    today = write_instance(tmp_path, _instance(), "today.yaml")
    out = run_cli("replan", str(previous), str(today), *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_replan_needs_a_results_directory(tmp_path):
    today = write_instance(tmp_path, _instance(), "today.yaml")
    out = run_cli("replan", str(tmp_path), str(today), "--from", "2027")
    assert out.returncode == 2 and "summary.json" in out.stderr


def _surprise_instance():
    # A: 100 a card, lifetime 1 (no salvage), a period's lead time, paid at order. 10 cards
    # installed (age 0, lifetime 1: 2026 only). Rental of A: 0.02 x 8760 = 175.2 a card-year.
    acc = accelerator(price=100, lifetime=1.0, lead_time_periods=1)
    data = instance({"A": acc}, demand_tokens_per_s=[10, 10], periods=["2026", "2027"],
                    rentals={"cloud": {"accelerator": "A", "region": "R",
                                       "price_per_card_hour": 0.02}})
    data["sites"]["s1"]["existing_fleet"] = [{"accelerator": "A", "cooling": "air",
                                              "cards": 10}]
    return data


def test_rolling_replan_pays_for_a_surprise(tmp_path):
    # Forecast 10 tokens/s in 2027, actual 20. Perfect foresight orders 20 in 2026: 2000.
    # Rolling: in 2026 the plan orders 10 (the forecast): 1000; in 2027 the other 10 can no
    # longer arrive in time and are rented: 1752. 2752, a regret of 752.
    from optimizer import load_instance
    from optimizer.studies.rolling import rolling_replan
    forecast = load_instance(write_instance(tmp_path, _surprise_instance()))
    outcome = rolling_replan(forecast, {"chat": {"2027": 20 * 86400.0}})
    assert outcome.foresight_npv == pytest.approx(2000, rel=REL)
    assert outcome.rolling_npv == pytest.approx(2752, rel=REL)
    assert outcome.regret == pytest.approx(752, rel=REL)
    assert [s["cards_ordered"] for s in outcome.steps] == [10, 0]
    assert [s["cards_rented"] for s in outcome.steps] == [0, 10]


def test_rolling_replan_on_the_forecast_matches_foresight(tmp_path):
    # When demand comes as forecast, re-planning each period loses nothing.
    from optimizer import load_instance
    from optimizer.studies.rolling import rolling_replan
    forecast = load_instance(write_instance(tmp_path, _instance()))
    outcome = rolling_replan(forecast, {})
    assert outcome.rolling_npv == pytest.approx(outcome.foresight_npv, rel=REL)
    assert outcome.foresight_npv == pytest.approx(1000, rel=REL)


def test_replan_of_the_procurement_node_from_every_period_keeps_what_remains_optimal():
    # The bundled node with lead times, deposits, rentals, a ban and a tariff, re-planned on
    # itself from each later period: the past is fixed, so the previous plan's later orders,
    # builds and openings stay optimal. The re-plan's NPV equals the NPV of keeping them
    # (costed in the rolled instance with them fixed), within the solver's gap.
    from optimizer import Decisions, load_instance, replan, solve
    from optimizer.studies.replan import rolled_instance
    node = load_instance(INSTANCES / "zhengzhou-30k-procurement.yaml")
    periods = list(node.spec.horizon.periods)
    plan = solve(node, mip_gap=1e-6, explain=False)
    bought = plan.tables["purchases"]
    for start in periods[1:]:
        later = [p for p in periods if p >= start]
        kept = bought[bought["order_period"].astype(str).isin(later)]
        decisions = Decisions(
            {(r.accelerator, r.site, r.cooling, str(r.delivery_period)): float(r.units)
             for r in kept.itertuples()},
            {k: v for k, v in plan.decisions.builds_mw.items() if k[-1] in later},
            {k: v for k, v in plan.decisions.openings.items() if k[-1] in later})
        today, _ = rolled_instance(node, plan, start)
        keeping = solve(today, fix_first_stage=(len(later), decisions), mip_gap=1e-6,
                        explain=False)
        again = replan(plan, node, start, mip_gap=1e-6, explain=False)
        assert keeping.status.has_plan, start
        assert again.objective == pytest.approx(keeping.objective, rel=2e-6), start


def test_changes_within_the_gap_are_marked_as_such(tmp_path, previous):
    # Two identical cards: a re-plan that swaps A for its twin changes orders but saves
    # nothing; judged against keeping the previous orders (same NPV), the change is within
    # the gap. A re-plan on a new forecast that needs more cards saves real money.
    import copy
    from optimizer import load_instance, read_plan, replan
    from optimizer.studies.replan import judge_changes, rolled_instance
    today = load_instance(write_instance(tmp_path, _instance(), "today.yaml"))
    earlier = read_plan(previous)
    rolled_today, rolled = rolled_instance(today, earlier, "2027")
    plan = replan(previous, today, "2027")
    same = copy.copy(plan)
    judged = judge_changes(same, earlier, rolled, rolled_today, {})
    assert judged["within_gap"] and judged["saving"] == pytest.approx(0, abs=1e-6)
    bigger = load_instance(write_instance(tmp_path, _instance((0, 10, 40)), "bigger.yaml"))
    again = replan(previous, bigger, "2027")
    assert again.summary["replan"]["changes"]
    # keeping the previous 10 leaves 20 cards unserved: no plan, so the change must be made
    assert again.summary["replan"]["within_gap"] is False
