"""accelplan's library: load an instance, solve the planning MILP, read the plan.

    from optimizer import load_instance, solve
    instance = load_instance("instances/quickstart.yaml", overrides={"demand_scale": 1.5})
    plan = solve(instance, time_limit=60, mip_gap=1e-4)
    plan.status, plan.objective, plan.kpis.cost_per_million_tokens
    plan.tables["purchases"]
    plan.write("out/")

    plan = read_plan("out/")                  # a results directory, without solving again
    instance = instance_from_mapping({...})   # an instance built in code (e.g. a spreadsheet)
    plan = replan("out/", load_instance("today.yaml"), "2027")   # the past is fact

The solving half (Pyomo, HiGHS) is imported on first use, so loading and validating stay fast.
Solves are safe to run in threads of one process (nothing process-wide changes).
"""
from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from optimizer.errors import (
    AccelplanError, InfeasibleError, InstanceError, Interrupted, Relaxation, SolverError,
    UsageError,
)
from optimizer.instance.loader import Instance, instance_from_mapping, load_instance
from optimizer.status import Status

try:
    __version__ = version("accelplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_LAZY = {"solve": "optimizer.planning", "Plan": "optimizer.output.results",
         "Decisions": "optimizer.output.results", "read_plan": "optimizer.output.results",
         "KPIs": "optimizer.analysis.kpis", "replan": "optimizer.studies.replan",
         "SolveOptions": "optimizer.options"}

__all__ = ["AccelplanError", "InfeasibleError", "InstanceError", "Interrupted", "SolverError",
           "UsageError",
           "Relaxation", "Instance", "Plan", "Decisions", "KPIs", "Status", "SolveOptions",
           "load_instance",
           "instance_from_mapping", "read_plan", "replan", "solve", "__version__"]


def __getattr__(name: str) -> Any:
    """The solving half of the API, imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
