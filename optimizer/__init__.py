"""accelplan's library: load an instance, solve the planning MILP, read the plan.

    from optimizer import load_instance, solve
    instance = load_instance("instances/quickstart.yaml", overrides={"demand_scale": 1.5})
    plan = solve(instance, time_limit=60, mip_gap=1e-4)
    plan.tables["purchases"]
    plan.write("out/")

The solving half (Pyomo, HiGHS) is imported on first use, so loading and validating stay fast.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from optimizer.errors import AccelplanError, InfeasibleError, InstanceError, Relaxation
from optimizer.loader import Instance, load_instance

_LAZY = {"solve": "optimizer.planning", "Plan": "optimizer.results", "Status": "optimizer.status"}

__all__ = ["AccelplanError", "InfeasibleError", "InstanceError", "Relaxation", "Instance",
           "Plan", "Status", "load_instance", "solve"]


class _Package(types.ModuleType):
    """The ``optimizer`` package: exports resolved on first use, and the submodule
    ``optimizer.solve`` (the HiGHS layer) never shadows the function ``solve``."""

    def __getattr__(self, name: str) -> Any:
        if name in _LAZY:
            value = getattr(importlib.import_module(_LAZY[name]), name)
            self.__dict__[name] = value
            return value
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return  # the import system binding a submodule of the same name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
