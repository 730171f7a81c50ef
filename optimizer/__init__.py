"""accelplan's library: load an instance, solve the planning MILP, read the plan.

    from optimizer import load_instance, solve
    instance = load_instance("instances/quickstart.yaml", overrides={"demand_scale": 1.5})
    plan = solve(instance, time_limit=60, mip_gap=1e-4)
    plan.tables["purchases"]
    plan.write("out/")
"""
from optimizer.errors import AccelplanError, InfeasibleError, InstanceError, Relaxation
from optimizer.loader import Instance, load_instance
from optimizer.planning import solve
from optimizer.results import Plan
from optimizer.status import Status

__all__ = ["AccelplanError", "InfeasibleError", "InstanceError", "Relaxation", "Instance",
           "Plan", "Status", "load_instance", "solve"]
