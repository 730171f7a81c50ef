"""Relax-and-fix over time windows (the large models' restricted phase 1).

A hand model shows the method's semantics (window by window, the later windows relaxed, the
earlier fixed) by a case where it is myopic: its answer differs from the MIP optimum, both
worked out on paper below. A generated instance checks that a restricted round run by
relax-and-fix still ends in a plan of the full model inside the kept placements.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from formulations import build_model
from formulations.variables import PLACEMENT_POSITIONS
from optimizer import load_instance
from optimizer.instance.generator import generate_instance
from optimizer.pipeline import column_periods, plan_hooks
from optimizer.problem import build_problem_data
from optimizer.solver import strategy
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel, ModelArrays
from optimizer.solver.pricing import placement_groups, seed_placements, used_placements
from optimizer.solver.strategy import relaxation_start
from optimizer.status import SolverOptions
from conftest import assert_feasible_for_model

INF = float("inf")


def _hand_model() -> HighsModel:
    """Columns x1 (period 0), x2 (period 1), y (no period), all integer:
    min x1 + 1.1 x2 + y  s.t.  x1 >= 0.5;  x1 + x2 >= 2.5;  y >= 0.3;  0 <= x <= 10, y <= 1.
    """
    matrix = sp.csc_matrix(np.array([[1.0, 0.0, 0.0],
                                     [1.0, 1.0, 0.0],
                                     [0.0, 0.0, 1.0]]))
    arrays = ModelArrays(cost=np.array([1.0, 1.1, 1.0]), lower=np.zeros(3),
                         upper=np.array([10.0, 10.0, 1.0]),
                         row_lower=np.array([0.5, 2.5, 0.3]), row_upper=np.full(3, INF),
                         matrix=matrix, integer=np.ones(3, dtype=bool),
                         binary=np.array([False, False, True]), senses=-np.ones(3, dtype=int))
    return HighsModel(arrays)


def test_relax_and_fix_by_hand(monkeypatch):
    # Window 1: x1 and y integer, x2 relaxed: y = 1 (y >= 0.3); x2 = 2.5 - x1, so the cost
    # is x1 + 1.1 (2.5 - x1) + 1 = 3.75 - 0.1 x1 for x1 <= 2.5 and x1 + 1 beyond:
    # x1 = 1: 3.65, x1 = 2: 3.55, x1 = 3: 4.0 -> x1 = 2, fixed.
    # Window 2: x2 integer, x2 >= 0.5 -> x2 = 1: cost 2 + 1.1 + 1 = 4.1.
    # The MIP optimum is x1 = 3, x2 = 0, y = 1: 4.0 (x1 = 1, x2 = 2: 4.2; x1 = 2, x2 = 1: 4.1),
    # which relax-and-fix misses: window 1 saw x2 at its relaxed price.
    model = _hand_model()
    masks = []
    real = model.isolated_mip

    def spy(*args, integer=None, **kwargs):
        masks.append(integer.copy())
        return real(*args, integer=integer, **kwargs)
    monkeypatch.setattr(model, "isolated_mip", spy)
    period = np.array([0, 1, -1])
    values, windows = strategy._relax_and_fix(
        model, SolverOptions(mip_gap=1e-9), model.integer, period, model.lower, model.upper,
        None, windows=4)
    assert windows == 2                           # two periods carry integers: two windows
    assert [m.tolist() for m in masks] == [[True, False, True], [True, True, True]]
    assert values == pytest.approx([2.0, 1.0, 1.0])
    assert model.objective_of(values) == pytest.approx(4.1)
    optimum = real(SolverOptions(mip_gap=1e-9), None, model.lower, model.upper)
    assert optimum.objective == pytest.approx(4.0)


def test_relax_and_fix_needs_two_periods():
    model = _hand_model()
    values, windows = strategy._relax_and_fix(
        model, SolverOptions(), model.integer, np.array([0, 0, -1]), model.lower,
        model.upper, None)
    assert values is None and windows == 0


def test_column_periods_read_the_last_index_element():
    keys = [("units_bought", ("a", "s", "liquid", 3)), ("cooling_mode", ("s", "liquid")),
            ("site_open", ("s", 0)), ("total", None), ("flag", (True,))]
    assert column_periods(keys).tolist() == [3, -1, 0, -1, -1]


def test_restricted_round_by_relax_and_fix_gives_a_plan_of_the_full_model(tmp_path,
                                                                          monkeypatch):
    # a large model's restricted round with its phase 1 by relax-and-fix: the plan must
    # satisfy every row of the full model, use only the kept placements, and leave the
    # model's bound (the LP's) and the watch's floor as they were
    monkeypatch.setattr(strategy, "RESTRICTED_TWO_PHASE", True)
    monkeypatch.setattr(strategy, "RESTRICTED_RELAX_AND_FIX", True)
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(generate_instance(4, 6, 5, 3, seed=1, procurement=True,
                                                     energy=True)))
    data = build_problem_data(load_instance(path))
    form = StandardForm(build_model(data))
    compiled = HighsModel(form.arrays)
    hooks = plan_hooks(form, data, large=True)
    assert hooks.column_period is not None
    group, keys = placement_groups(form.column_keys(), PLACEMENT_POSITIONS)
    hooks.seed = seed_placements(data, keys)
    relaxation_start(compiled, hooks)
    bound, floor = compiled.relaxation_bound, compiled.watch.floor
    keep = used_placements(group, compiled.relaxation_values)
    assert not keep.all()
    outcome = strategy._restricted_plan(compiled, keep, group,
                                        SolverOptions(time_limit=30, mip_gap=1e-4), 30,
                                        hooks.purchases, hooks.column_period)
    assert outcome is not None
    values, how = outcome
    assert "relax-and-fix over" in how, how
    assert_feasible_for_model(compiled, values)
    placed = group >= 0
    assert np.all(values[placed & ~keep[np.maximum(group, 0)]] == 0)
    assert compiled.objective_of(values) >= bound - 1e-6 * abs(bound)
    assert compiled.relaxation_bound == bound and compiled.watch.floor == floor
