"""--write-model: the matrix handed to HiGHS, as MPS and LP files any solver reads.

Each file is read back by a solver of its own (a fresh HiGHS, and SCIP through pyscipopt) and
solved; its optimum times the summary's objective unit must be the plan's NPV, which is the
independent check that the file is the whole model (every row, bound, integer and the
objective's constant).
"""
from __future__ import annotations

from pathlib import Path

import highspy
import pytest
from click.testing import CliRunner

from cli import main
from optimizer import load_instance, solve

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "instances" / "quickstart.yaml"


def _highs_optimum(path: Path) -> float:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_the_model_file_solves_to_the_plans_npv(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    plan = solve(load_instance(QUICKSTART), write_model=str(path), mip_gap=1e-9)
    written = plan.summary["model_file"]
    assert written["path"] == str(path)
    assert (written["rows"], written["columns"]) == (plan.summary["model"]["rows"],
                                                     plan.summary["model"]["columns"])
    unit = written["objective_unit"]
    assert _highs_optimum(path) * unit == pytest.approx(plan.objective, rel=1e-7)
    text = path.read_text()
    # readable names: the family and its index, as the results tables name them
    assert "units_bought(H200_SXM,guian_campus,liquid,0)" in text
    assert "fleet_definition(Ascend_910B,beijing_dc1,air,0)" in text
    assert not list(tmp_path.glob(".*partial*"))          # renamed into place, whole


def test_scip_reads_the_file_and_agrees(tmp_path):
    pyscipopt = pytest.importorskip("pyscipopt")
    path = tmp_path / "model.mps"
    plan = solve(load_instance(QUICKSTART), write_model=str(path), mip_gap=1e-9)
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.readProblem(str(path))
    integers = sum(var.vtype() != "CONTINUOUS" for var in scip.getVars())
    assert integers == plan.summary["model"]["integers"]
    scip.setParam("limits/gap", 1e-9)
    scip.optimize()
    assert scip.getStatus() == "optimal"
    assert scip.getObjVal() * plan.summary["model_file"]["objective_unit"] == \
        pytest.approx(plan.objective, rel=1e-7)


def test_a_scenario_plan_writes_its_extensive_form(tmp_path):
    path = tmp_path / "ef.mps"
    instance = load_instance(REPO / "instances" / "zhengzhou-30k-scenarios.yaml")
    plan = solve(instance, write_model=str(path), mip_gap=1e-6, value_of_information=False,
                 explain=False)
    written = plan.summary["model_file"]
    # one copy of the model per scenario, so more rows than the deterministic model
    single = solve(instance, scenarios=False, explain=False, time_limit=60)
    assert written["rows"] > 2 * single.summary["model"]["rows"]
    # the EF's optimum is the expected NPV the plan reports
    assert _highs_optimum(path) * written["objective_unit"] == \
        pytest.approx(plan.objective, rel=1e-5)


def test_cli_writes_the_model_and_refuses_what_it_cannot_write(tmp_path):
    runner = CliRunner()
    path = tmp_path / "model.lp"
    result = runner.invoke(main, ["solve", str(QUICKSTART), "--write-model", str(path)])
    assert result.exit_code == 0, result.output
    assert path.exists() and "model: wrote" in result.stderr
    again = runner.invoke(main, ["solve", str(QUICKSTART), "--write-model", str(path)])
    assert again.exit_code == 2 and "exists; use --force" in again.stderr
    assert runner.invoke(main, ["solve", str(QUICKSTART), "--write-model", str(path),
                                "--force"]).exit_code == 0
    wrong = runner.invoke(main, ["solve", str(QUICKSTART), "--write-model",
                                 str(tmp_path / "model.txt")])
    assert wrong.exit_code == 2 and "must end in .mps or .lp" in wrong.stderr
    nowhere = runner.invoke(main, ["solve", str(QUICKSTART), "--write-model",
                                   str(tmp_path / "no" / "model.mps")])
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.stderr
    ph = runner.invoke(main, ["solve", str(REPO / "instances" / "zhengzhou-30k-scenarios.yaml"),
                              "--stochastic", "decomposed", "--write-model",
                              str(tmp_path / "d.mps")])
    assert ph.exit_code == 2 and "write_model" in ph.stderr
    assert not (tmp_path / "d.mps").exists() and not (tmp_path / "model.txt").exists()
