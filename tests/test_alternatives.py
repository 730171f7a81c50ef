"""What else costs almost the same: near-optimal ranges, solved by hand.

Three vendors sell a card of 1 token/s that lasts one year (no salvage), at 100 (VA), 101 (VB)
and 102 (VC); one year, no discounting, 10 tokens/s of demand, no power cost. The optimum buys
10 VA cards: NPV 1000. A plan with x_B VB and x_C VC cards and the rest VA costs
1000 + x_B + 2 x_C (extra cards only add cost), so within a slack e (NPV <= 1000 (1 + e)):

- VB: at most 1000 e cards (e = 0.005: 5; e = 0.01: 10), at least 0;
- VC: at most 500 e (e = 0.005: 2; e = 0.01: 5), at least 0;
- VA: at least 10 - 1000 e (e = 0.005: 5; e = 0.01: 0), at most 10 (an 11th card costs 100,
  more than 1000 e at either slack).
"""
from __future__ import annotations

import pytest

from conftest import accelerator, instance, run_cli, write_instance


def three_vendors() -> dict:
    return instance({"A": accelerator("VA", price=100.0), "B": accelerator("VB", price=101.0),
                     "C": accelerator("VC", price=102.0)}, demand_tokens_per_s=10.0)


EXPECTED = {  # (slack, vendor) -> (least, most, NPV at least, NPV at most)
    (0.005, "VA"): (5, 10, 1005, 1000), (0.005, "VB"): (0, 5, 1000, 1005),
    (0.005, "VC"): (0, 2, 1000, 1004),
    (0.01, "VA"): (0, 10, 1010, 1000), (0.01, "VB"): (0, 10, 1000, 1010),
    (0.01, "VC"): (0, 5, 1000, 1010),
}


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_vendor_ranges_follow_from_one_line_of_arithmetic(tmp_path, workers):
    import pandas as pd
    path = write_instance(tmp_path, three_vendors())
    out = run_cli("alternatives", str(path), "--slack", "0.005,0.01", "--by", "vendor",
                  "--workers", workers, "-o", str(tmp_path / "ranges"))
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(tmp_path / "ranges" / "ranges.csv")
    assert len(frame) == 6 and set(frame["status"]) == {"optimal"}
    for row in frame.to_dict("records"):
        least, most, npv_least, npv_most = EXPECTED[row["slack"], row["member"]]
        assert (row["min_cards"], row["max_cards"]) == (least, most), row
        assert row["optimum_cards"] == (10 if row["member"] == "VA" else 0)
        # the NPV of each end's plan, costed as it stands: never above the ceiling
        assert row["npv_at_min"] <= 1000 * (1 + row["slack"]) + 1e-6
        assert row["npv_at_max"] <= 1000 * (1 + row["slack"]) + 1e-6
        assert row["npv_at_min"] == pytest.approx(npv_least, abs=1e-6)
        assert row["npv_at_max"] == pytest.approx(npv_most, abs=1e-6)
        # each end's plan is a results directory of its own
        for side in ("min", "max"):
            assert (tmp_path / "ranges" / row[f"{side}_dir"] / "summary.json").is_file()
    assert (tmp_path / "ranges" / "optimum" / "summary.json").is_file()
    assert "Near-optimal ranges" in out.stdout
    report = run_cli("report", str(tmp_path / "ranges"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "ranges" / "report.html").read_text()
    assert "Near-optimal ranges by vendor" in text and "data:image/png;base64," in text
    assert "0 range end(s) not proven" in text


def test_bad_requests_are_refused_in_one_line(tmp_path):
    path = write_instance(tmp_path, three_vendors())
    for args, words in ((["--slack", "-0.1"], "--slack"), (["--slack", "1e308"], "--slack"),
                        (["--slack", "nan"], "--slack"), (["--by", "colour"], "--by"),
                        (["--period", "1999"], "--period")):
        out = run_cli("alternatives", str(path), *args, "-o", str(tmp_path / "r"))
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
        assert not (tmp_path / "r").exists()


def test_the_most_even_plan_within_each_slack_solved_by_hand(tmp_path):
    # with 10 cards (an 11th costs 100, beyond either slack), a plan (a, b, c) costs
    # 1000 + b + 2 c. Within 0.5 % (<= 1005): (5, 5, 0) costs 1005 with largest share 0.5;
    # every share under 0.5 means a, b, c <= 4, so b + c >= 6 with b <= 4, c >= 2: b + 2 c =
    # (b + c) + c >= 8, at least 1008, over 1005. Within 1 % (<= 1010): (4, 3, 3) at 1009,
    # largest share 0.4; under 0.4 means every member <= 3, 9 cards at most: no plan
    import pandas as pd
    path = write_instance(tmp_path, three_vendors())
    out = run_cli("alternatives", str(path), "--slack", "0.005,0.01", "--by", "vendor",
                  "--diverse", "vendor", "--workers", "1", "-o", str(tmp_path / "ranges"))
    assert out.returncode == 0, out.stderr
    even = pd.read_csv(tmp_path / "ranges" / "diverse.csv").set_index("slack")
    assert even.loc[0.005, "largest_share"] == pytest.approx(0.5)
    assert even.loc[0.005, "npv_total"] == pytest.approx(1005)
    assert even.loc[0.01, "largest_share"] == pytest.approx(0.4)
    assert even.loc[0.01, "npv_total"] <= 1010 + 1e-6
    assert set(even["status"]) == {"proven"}
    assert even.loc[0.01, "proven_below"] < 0.4 and even.loc[0.01, "optimum_largest_share"] == 1.0
    compared = run_cli("compare", str(tmp_path / "ranges" / "optimum"),
                       str(tmp_path / "ranges" / "diverse" / "0.01"))
    assert compared.returncode == 0, compared.stderr
