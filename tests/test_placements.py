"""Column generation over placements and branch and bound over the LP's placements.

The LP bound found by pricing must be the full LP's optimum (solved here independently by
HiGHS on the whole model), and a plan from the restricted branch and bound must satisfy every
row of the full model.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from formulations import build_model
from formulations.variables import PLACEMENT_POSITIONS
from optimizer import load_instance, solve
from optimizer.instance.generator import generate_instance
from optimizer.pipeline import plan_hooks
from optimizer.problem import build_problem_data
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel
from optimizer.solver.pricing import (
    internal_rows, placement_groups, priced_duals, restricted_run, seed_placements,
    used_placements,
)
from optimizer.solver.strategy import relaxation_start
from optimizer.status import SolverOptions
from conftest import assert_feasible_for_model


def compiled_model(data) -> tuple[StandardForm, HighsModel]:
    """The model of ``data`` compiled and loaded into HiGHS."""
    form = StandardForm(build_model(data))
    return form, HighsModel(form.arrays)


def _data(tmp_path, size, seed):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(generate_instance(*size, seed=seed)))
    return build_problem_data(load_instance(path))


def _priced_start(data, per_workload: int = 3) -> tuple[HighsModel, np.ndarray, list]:
    """The compiled model after the relaxation by pricing and the rounded first plan."""
    form, compiled = compiled_model(data)
    hooks = plan_hooks(form, data, large=True)
    group, keys = placement_groups(form.column_keys(), PLACEMENT_POSITIONS)
    hooks.seed = seed_placements(data, keys, per_workload=per_workload)
    relaxation_start(compiled, hooks)
    return compiled, group, keys


def test_internal_rows_by_hand():
    # columns 0,1 in placement 0; column 2 in placement 1; column 3 in none.
    # row 0 touches 0,1 -> internal to 0; row 1 touches 1,2 -> ties; row 2 touches 2 -> 1;
    # row 3 touches 2,3 -> ties (column 3 is no placement's); row 4 is empty -> -1
    matrix = sp.csr_matrix(np.array([[1, 2, 0, 0],
                                     [0, 1, 1, 0],
                                     [0, 0, 5, 0],
                                     [0, 0, 1, 1],
                                     [0, 0, 0, 0]], dtype=float))
    group = np.array([0, 0, 1, -1])
    assert internal_rows(matrix, group).tolist() == [0, -1, 1, -1, -1]
    # used placements: column 2 nonzero in the second vector only
    assert used_placements(group, np.array([0, 0, 0, 9.0]), np.array([0, 0, 1.0, 0])).tolist() \
        == [False, True]


def test_placements_of_the_model(tmp_path):
    data = _data(tmp_path, (3, 5, 4, 2), seed=1)
    form, _ = compiled_model(data)
    group, keys = placement_groups(form.column_keys(), PLACEMENT_POSITIONS)
    for (name, index), g in zip(form.column_keys(), group):
        if name == "serve":
            assert keys[g] == (index[1], index[2])
        elif name in ("units_bought", "fleet", "busy"):
            assert keys[g] == (index[0], index[1])
        else:
            assert g == -1
    assert seed_placements(data, keys).any()


@pytest.mark.parametrize("size,seed", [((6, 13, 4, 4), 5), ((5, 10, 4, 3), 3)])
def test_priced_relaxation_proves_the_full_lp(tmp_path, size, seed):
    data = _data(tmp_path, size, seed)
    priced, group, keys = _priced_start(data, per_workload=1)  # a poor start: pricing must add
    start = seed_placements(data, keys, per_workload=1)
    assert priced.first_plan_values is not None
    assert_feasible_for_model(priced, priced.first_plan_values)
    # the full LP, solved by HiGHS on every column
    _, full = compiled_model(data)
    relaxation_start(full)
    assert priced.relaxation_bound == pytest.approx(full.relaxation_bound, rel=1e-7)
    assert priced.placements_active.sum() < len(keys)      # it really was a restricted LP
    if size == (6, 13, 4, 4):
        assert priced.placements_active.sum() > start.sum()  # and pricing added placements


@pytest.mark.slow
@pytest.mark.parametrize("two_phases", [False, True])
def test_restricted_branch_and_bound_is_a_plan_of_the_full_model(tmp_path, monkeypatch,
                                                                   two_phases):
    from optimizer.solver import strategy
    monkeypatch.setattr(strategy, "RESTRICTED_TWO_PHASE", two_phases)
    data = _data(tmp_path, (5, 10, 4, 3), seed=3)
    # the optimum of the full MIP, by HiGHS on the whole model
    exact = solve(data.instance, mip_gap=1e-3, explain=False)
    # the large-model path on the same instance
    monkeypatch.setattr(importlib.import_module("optimizer.solver.highs"), "LARGE_MODEL_COLUMNS", 0)
    plan = solve(data.instance, time_limit=60, mip_gap=1e-3, explain=False)
    assert plan.summary["solver"]["model_status"].startswith(("branch and bound over",
                                                               "two phases: over",
                                                               "first plan"))
    assert plan.status.has_plan
    # optimum z* lies in [exact.best_bound, exact.objective]. The reported bound is the LP
    # relaxation: below z*; the plan is a plan: above z*
    assert plan.best_bound <= exact.objective * (1 + 1e-9)
    assert plan.objective >= exact.best_bound * (1 - 1e-9)
    assert plan.mip_gap == pytest.approx((plan.objective - plan.best_bound) / plan.objective)


def test_restricted_run_plan_satisfies_every_row(tmp_path):
    data = _data(tmp_path, (4, 6, 5, 3), seed=1)
    compiled, group, _ = _priced_start(data)
    keep = used_placements(group, compiled.relaxation_values)
    outcome = restricted_run(compiled, keep, group, SolverOptions(time_limit=30, mip_gap=1e-3),
                             30)
    assert outcome is not None
    values, objective = outcome
    assert_feasible_for_model(compiled, values)
    # nothing outside the kept placements
    placed = group >= 0
    assert np.all(values[placed & ~keep[np.maximum(group, 0)]] == 0)
    assert objective >= compiled.relaxation_bound - 1e-6
    # no worse than the first plan it started from
    assert objective <= compiled.objective_of(compiled.first_plan_values) + 1e-6


@pytest.mark.parametrize("phase_one_plans", [True, False])
def test_two_phases_over_kept_placements_give_a_plan_of_the_full_model(tmp_path, monkeypatch,
                                                                        phase_one_plans):
    # The large models' restricted rounds in two phases: phase 1 relaxes the purchases of the
    # model restricted to the kept placements - a relaxation of that restriction, not of the
    # model, so its bound must not become the model's (the LP's stays); phase 2's plan must
    # satisfy every row of the full model and use only the kept placements. When phase 1
    # ends without a plan (here: its plan withheld, as when its time runs out first), the
    # round falls back to one branch and bound over the kept placements, with the same
    # guarantees.
    import dataclasses
    from optimizer.solver import strategy
    monkeypatch.setattr(strategy, "RESTRICTED_TWO_PHASE", True)
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(generate_instance(4, 6, 5, 3, seed=1, procurement=True,
                                                     energy=True)))
    data = build_problem_data(load_instance(path))
    form, compiled = compiled_model(data)
    hooks = plan_hooks(form, data, large=True)
    group, keys = placement_groups(form.column_keys(), PLACEMENT_POSITIONS)
    hooks.seed = seed_placements(data, keys)
    relaxation_start(compiled, hooks)
    others = compiled.integer.copy()
    others[hooks.purchases] = False
    assert others.any() and len(hooks.purchases)       # both kinds of integers: two phases
    bound, floor = compiled.relaxation_bound, compiled.watch.floor
    keep = used_placements(group, compiled.relaxation_values)
    assert not keep.all()           # a real restriction (its relaxation is not the model's)
    phase_ones = []
    if not phase_one_plans:
        real = compiled.isolated_mip

        def without_phase_one_plan(*args, integer=None, **kwargs):
            outcome = real(*args, integer=integer, **kwargs)
            if integer is not None and not np.array_equal(integer, compiled.integer):
                phase_ones.append(outcome.status)
                return dataclasses.replace(outcome, values=None, objective=None)
            return outcome
        monkeypatch.setattr(compiled, "isolated_mip", without_phase_one_plan)
    outcome = strategy._restricted_plan(compiled, keep, group,
                                        SolverOptions(time_limit=30, mip_gap=1e-4), 30,
                                        hooks.purchases)
    assert outcome is not None
    values, how = outcome
    if phase_one_plans:
        assert how.startswith("two phases: over"), how
    else:
        assert len(phase_ones) == 1 and how.startswith("branch and bound over"), how
    assert_feasible_for_model(compiled, values)
    placed = group >= 0
    assert np.all(values[placed & ~keep[np.maximum(group, 0)]] == 0)
    assert compiled.objective_of(values) >= bound - 1e-6 * abs(bound)
    assert compiled.relaxation_bound == bound and compiled.watch.floor == floor


def test_priced_duals_match_the_full_lp(tmp_path):
    # marginal costs come from the demand duals: priced from the plan's placements they must
    # equal those of the LP over every column (solved by HiGHS on the whole model)
    data = _data(tmp_path, (6, 13, 4, 4), seed=5)
    compiled, group, _ = _priced_start(data, per_workload=1)
    values = compiled.first_plan_values
    compiled.column_group = group
    form = StandardForm(build_model(data))
    priced = form.keyed_duals(priced_duals(compiled, values, fix="binaries"))
    full = form.keyed_duals(compiled.lp_duals(values, fix="binaries"))
    demand = [key for key in full if key[0] == "demand"]
    assert demand
    for key in demand:
        assert priced[key] == pytest.approx(full[key], rel=1e-6, abs=1e-9)
