"""The pipeline: instance -> problem data -> Pyomo model -> HiGHS -> plan."""
from __future__ import annotations

import time
from typing import Any

from formulations import build_model
from optimizer.errors import InfeasibleError
from optimizer.kpis import plan_kpis
from optimizer.loader import Instance
from optimizer.problem import build_problem_data
from optimizer.results import Plan
from optimizer.solve import solve_model
from optimizer.status import SolverOptions, SolverResult, Status
from optimizer.tables import plan_tables


def solve(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
          threads: int | None = None, seed: int | None = None,
          raise_on_infeasible: bool = True) -> Plan:
    """Build and solve the planning MILP of ``instance``.

    Args:
        time_limit: seconds; a run stopped by it returns its incumbent as ``feasible``.
        mip_gap: relative optimality gap (default 1e-4).
        threads, seed: HiGHS options.
        raise_on_infeasible: raise :class:`InfeasibleError` when no plan exists (its ``plan``
            attribute holds the infeasible :class:`Plan`); otherwise return that plan.

    Returns:
        The plan (``status`` optimal, feasible or no_solution).
    """
    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed)
    start = time.perf_counter()
    data = build_problem_data(instance)
    model = build_model(data)
    build_seconds = time.perf_counter() - start
    compiled, result = solve_model(model, options)
    summary = _summary(instance, data, result, options, build_seconds)
    if not result.status.has_plan:
        plan = Plan(status=result.status, objective=None, best_bound=None, mip_gap=None,
                    summary=summary)
        if result.status is Status.INFEASIBLE:
            if raise_on_infeasible:
                error = InfeasibleError([], "no plan exists for this instance")
                error.plan = plan
                raise error
        return plan
    tables = plan_tables(model, data)
    npv = result.objective * data.money_unit
    summary["kpis"] = plan_kpis(tables, data, npv)
    return Plan(status=result.status, objective=npv,
                best_bound=result.best_bound * data.money_unit, mip_gap=result.mip_gap,
                tables=tables, summary=summary)


def _summary(instance: Instance, data: Any, result: SolverResult, options: SolverOptions,
             build_seconds: float) -> dict[str, Any]:
    money = data.money_unit
    return {
        "status": result.status.value,
        "objective": result.objective * money if result.objective is not None else None,
        "best_bound": result.best_bound * money if result.best_bound is not None else None,
        "mip_gap": result.mip_gap,
        "build_seconds": build_seconds,
        "transfer_seconds": result.transfer_seconds,
        "solve_seconds": result.solve_seconds,
        "solver": {"name": "highs", "version": result.solver_version,
                   "model_status": result.highs_status},
        "options": options.as_dict(),
        "input_sha256": instance.input_sha256,
        "instance": {"name": instance.spec.name, "file": str(instance.path),
                     "currency": instance.spec.currency, "overrides": dict(instance.overrides),
                     "demand_scale": instance.demand_scale},
        "model": dict(result.stats),
        "scaling": {"money_unit": money, "token_unit_tokens_per_s": data.token_unit},
        "kpis": {},
    }
