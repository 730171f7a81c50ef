"""The HTML report (plots present, nothing remote) and the Excel workbook."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from conftest import INSTANCES, accelerator, instance, write_instance

PLAN_PLOTS = ["Installed cards by vendor per period", "Purchases per period by accelerator",
              "Facility MW per site against the grid cap", "Cooling capacity by mode per site",
              "Cost per period by kind", "Demand against capacity per workload",
              "Cost per million tokens per period"]


def no_remote_resources(text: str) -> None:
    # no scripts, stylesheets, fonts or images fetched from anywhere: every src is inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
    for source in re.findall(r'src="([^"]+)"', text):
        assert source.startswith("data:image/png;base64,")


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "plan"
    result = CliRunner().invoke(main, ["solve", str(INSTANCES / "quickstart.yaml"), "-o",
                                       str(out), "--report"])
    assert result.exit_code == 0, result.stderr
    return out


def test_plan_report_has_every_plot_and_nothing_remote(solved):
    text = (solved / "report.html").read_text()
    for caption in PLAN_PLOTS:
        assert f'<img alt="{caption}" src="data:image/png;base64,' in text, caption
    assert "NPV of total cost of ownership" in text
    no_remote_resources(text)


def test_workbook_holds_every_table(solved):
    result = CliRunner().invoke(main, ["report", str(solved), "--format", "xlsx"])
    assert result.exit_code == 0, result.stderr
    sheets = pd.read_excel(solved / "results.xlsx", sheet_name=None)
    for name in ("kpis", "purchases", "fleet", "serving", "sites", "costs", "marginal_costs",
                 "binding"):
        assert name in sheets, name
    csv = pd.read_csv(solved / "purchases.csv")
    assert sheets["purchases"]["cards"].sum() == csv["cards"].sum()


def test_sweep_report_plots_kpis_against_the_varied_values(tmp_path):
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=60)
    path = write_instance(tmp_path, data)
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "sites.s1.grid_mw=0.02,0.04,0.06",
                                       "--vary", "demand_scale=1,1.5", "-o", str(out),
                                       "--workers", "1"])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(main, ["report", str(out), "--format", "both"])
    assert result.exit_code == 0, result.stderr
    text = (out / "report.html").read_text()
    for caption in ("NPV of total cost of ownership against the varied parameters",
                    "cost per million tokens against the varied parameters"):
        assert f'<img alt="{caption}"' in text
    no_remote_resources(text)
    assert len(pd.read_excel(out / "results.xlsx", sheet_name="sweep")) == 6


def test_report_of_a_missing_directory_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a results directory" in result.stderr


def test_plan_report_shows_builds_fleet_by_site_and_what_to_do(solved):
    text = (solved / "report.html").read_text()
    for caption in ("Installed cards per period by site", "Cooling build schedule"):
        assert f'<img alt="{caption}"' in text, caption
    assert "What to do in 2026" in text and "<div class=scroll>" in text


def test_report_numbers_are_formatted(solved):
    # money with its currency and thousands separators, never scientific notation in a cell
    text = (solved / "report.html").read_text()
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    assert cells and not any(re.search(r"\d[eE][+-]?\d", cell) for cell in cells)
    assert any(cell.endswith(" USD") for cell in cells)


def test_scenario_report_never_adds_scenarios_together(tmp_path):
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["solve", str(INSTANCES / "zhengzhou-30k-scenarios.yaml"),
                                       "-o", str(out), "--report"])
    assert result.exit_code == 0, result.stderr
    text = (out / "report.html").read_text()
    assert "Decided now (shared by every scenario)" in text
    assert "value of the stochastic solution" in text and "NPV distribution with VaR and CVaR" in text
    assert "Installed cards by vendor per period" not in text   # would sum the scenarios
    no_remote_resources(text)


def test_workbook_figures_are_numbers(solved):
    CliRunner().invoke(main, ["report", str(solved), "--format", "xlsx"])
    kpis = pd.read_excel(solved / "results.xlsx", sheet_name="kpis")
    npv = kpis.loc[kpis["figure"] == "NPV of total cost of ownership", "value"].iloc[0]
    assert isinstance(npv, float) and npv == pytest.approx(13_940_512.89, rel=1e-6)
