"""The planning MILP of shared/design/model.md as a Pyomo model, one family per function.

Families are listed, with their inequality and how explanations read them, in
:mod:`formulations.registry`; they read only the problem data (:mod:`optimizer.problem`).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Union

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from formulations.objective import add_objective
from formulations.registry import FAMILIES, Family
from formulations.variables import add_sets, add_variables
from optimizer.problem import ProblemData

PYOMO_LOCK = threading.RLock()
"""Held while Pyomo builds or compiles a model. Pyomo fills some of its dispatch tables on
first use and is not written for threads; its work is pure Python under the GIL, so taking
turns costs no throughput, while HiGHS (which runs without the GIL) still solves in parallel."""

ExtraConstraints = Iterable[Union[Family, Callable[[Any, Any], None]]]
"""A user's extra constraint families: Family entries or plain ``f(model, data)``."""


def add_families(model: pyo.ConcreteModel, data: ProblemData,
                 extra: ExtraConstraints = ()) -> None:
    """Add every registered family, then the ``extra`` ones, to ``model``."""
    for family in FAMILIES:
        family.build(model, data)
    add_extra(model, data, extra)


def add_extra(model: pyo.ConcreteModel, data: ProblemData, extra: ExtraConstraints) -> None:
    """A user's extra families (after the objective exists, so that one may replace it)."""
    for family in extra:
        (family.build if isinstance(family, Family) else family)(model, data)


def build_model(data: ProblemData, extra: ExtraConstraints = ()) -> pyo.ConcreteModel:
    """Build the Pyomo model of ``data``: sets, variables, every family of the registry (and
    ``extra``), the objective.

    Built inside Pyomo's own scoped garbage-collector pause (``PauseGC``, which Pyomo's
    standard-form compiler applies on every compile too): the model's millions of long-lived
    objects otherwise trigger repeated full collections (measured: the xl build takes 5.5 s
    instead of 2.4 s). The pause changes when cycles are collected, never a result; Pyomo
    keeps nested and concurrent pauses balanced.
    """
    with PYOMO_LOCK, PauseGC():
        model = pyo.ConcreteModel(name=data.name or "accelplan")
        add_sets(model, data)
        add_variables(model, data)
        add_families(model, data)
        add_objective(model, data)
        add_extra(model, data, extra)
    return model


__all__ = ["FAMILIES", "Family", "ExtraConstraints", "add_extra", "add_families", "build_model"]
