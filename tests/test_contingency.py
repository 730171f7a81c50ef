"""What losing a vendor would cost, solved by hand.

Two years, no discounting, one-year cards (no salvage). 10 A cards (vendor VA) are installed
and serve 2026; 2027 needs 20 tokens/s. A (VA) costs 100 a card, with a lead time of one
period and half paid at order; B (VB) costs 150, no lead time. The optimum orders 20 A in 2026
for 2027: deposit 1000 in 2026, balance 1000 in 2027. From 2027 on (NPV of 2027):

- base (nothing lost): the balance, 1000.
- VA lost, cards on order arrive: they arrive and their balance is paid: 1000; extra 0.
- VA lost, cards on order lost: 20 B at 150 = 3000 (the deposit is sunk on both sides, the
  balance never paid); extra 2000, buy 20 B instead.
- with B's supply capped at 15: 5 cards' worth (5 tokens/s = 432,000 tokens a day) cannot be
  served: no plan, and the probe says 432,000 tokens a day go unserved.
"""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import accelerator, instance, run_cli, site, write_instance


def two_vendors(b_supply: int | None = None) -> dict:
    b = accelerator("VB", price=150.0)
    if b_supply is not None:
        b["supply"] = b_supply
    data = instance({"A": accelerator("VA", price=100.0, lead_time_periods=1,
                                      deposit_fraction=0.5), "B": b},
                    demand_tokens_per_s=[10.0, 20.0], periods=["2026", "2027"],
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 10, "age_years": 0}])})
    return data


@pytest.mark.parametrize("on_order, npv, extra, instead", [
    ("arrive", 1000.0, 0.0, "nothing"), ("lost", 3000.0, 2000.0, "B 20")])
def test_losing_a_vendor_with_cards_on_order(tmp_path, on_order, npv, extra, instead):
    path = write_instance(tmp_path, two_vendors())
    out = run_cli("contingency", str(path), "--lose", "vendor=VA", "--from", "2027",
                  "--on-order", on_order, "-o", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    row = pd.read_csv(tmp_path / "c" / "contingency.csv").iloc[0]
    assert row["base_npv_from"] == pytest.approx(1000.0)
    assert row["npv_from"] == pytest.approx(npv)
    assert row["extra_cost"] == pytest.approx(extra, abs=1e-6)
    assert row["buy_instead"] == instead and row["unmet_tokens_per_day"] == 0
    optimum = pd.read_csv(tmp_path / "c" / "optimum" / "purchases.csv")
    assert optimum["cards"].sum() == 20 and set(optimum["accelerator"]) == {"A"}
    assert (tmp_path / "c" / "lose-VA-2027" / "summary.json").is_file()


def test_a_loss_no_plan_covers_says_how_much_goes_unserved(tmp_path):
    path = write_instance(tmp_path, two_vendors(b_supply=15))
    out = run_cli("contingency", str(path), "--each", "vendor", "--from", "2027",
                  "--on-order", "lost", "-o", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    rows = pd.read_csv(tmp_path / "c" / "contingency.csv").set_index("vendor")
    assert rows.loc["VA", "status"] == "infeasible" and pd.isna(rows.loc["VA", "extra_cost"])
    assert rows.loc["VA", "unmet_tokens_per_day"] == pytest.approx(5 * 86400.0)
    # losing VB, which the optimum does not use, costs nothing
    assert rows.loc["VB", "extra_cost"] == pytest.approx(0.0, abs=1e-6)
    assert "432,000 tokens a day unserved" in out.stdout


def test_bad_contingencies_are_refused_in_one_line(tmp_path):
    path = write_instance(tmp_path, two_vendors())
    for args, words in ((["--lose", "vendor=Nope", "--from", "2027"], "vendors are VA, VB"),
                        (["--lose", "vendor=VA", "--from", "2026"], "--from"),
                        (["--lose", "VA", "--from", "2027"], "vendor=NAME"),
                        (["--from", "2027"], "--lose")):
        out = run_cli("contingency", str(path), *args, "-o", str(tmp_path / "c"))
        assert out.returncode == 2 and words in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and not (tmp_path / "c").exists()


def test_a_hedge_buys_ahead_of_a_feared_loss(tmp_path):
    # Three years, no discounting; 10 A cards (age 0, two-year life) serve 2026 and 2027; 2028
    # needs 20. A: 100, two-year life, lead time one period; B: 300, one-year life. Salvage
    # is straight-line (model.md): a card with one of two years left is worth half its price.
    # The optimum orders 20 A in 2027 for 2028: 2000 - 1000 salvage = NPV 1000 (ordering in
    # 2026 for 2027 costs 2000 with no salvage). If VA is lost from 2027, 2028 needs 20 B:
    # 6000. Ordering x A in 2026 (arriving 2027, alive through 2028): nothing lost costs
    # 100 x + 50 (20 - x) = 1000 + 50 x; VA lost, 100 x + 300 (20 - x) = 6000 - 200 x. At a
    # loss probability of 0.3, E = 2500 - 25 x: the hedge orders all 20 now (E 2000 against
    # the optimum's first stage, nothing now, 0.7 * 1000 + 0.3 * 6000 = 2500): it costs 1000
    # more if nothing is lost and saves 4000 if VA is
    data = instance({"A": accelerator("VA", price=100.0, lifetime=2.0, lead_time_periods=1),
                     "B": accelerator("VB", price=300.0)},
                    demand_tokens_per_s=[10.0, 10.0, 20.0], periods=["2026", "2027", "2028"],
                    sites={"s1": site(existing_fleet=[{"accelerator": "A", "cooling": "air",
                                                       "cards": 10, "age_years": 0}])})
    path = write_instance(tmp_path, data)
    out = run_cli("contingency", str(path), "--lose", "vendor=VA", "--from", "2027",
                  "--hedge", "0.3", "-o", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    optimum = pd.read_csv(tmp_path / "c" / "optimum" / "purchases.csv")
    assert set(optimum["order_period"].astype(str)) == {"2027"}
    hedge_first = pd.read_csv(tmp_path / "c" / "hedge" / "first_stage.csv")
    ordered = hedge_first[hedge_first["decision"] == "order"]
    assert ordered["cards"].sum() == 20 and set(ordered["order_period"].astype(str)) == {"2026"}
    rows = pd.read_csv(tmp_path / "c" / "hedge.csv").set_index("scenario")
    assert rows.loc["none", "hedge_npv"] == pytest.approx(2000)
    assert rows.loc["none", "optimum_first_stage_npv"] == pytest.approx(1000)
    assert rows.loc["lose-VA", "hedge_npv"] == pytest.approx(2000)
    assert rows.loc["lose-VA", "optimum_first_stage_npv"] == pytest.approx(6000)
    assert rows.loc["lose-VA", "hedge_saves"] == pytest.approx(4000)
    assert "in expectation the hedge saves 500" in out.stdout
