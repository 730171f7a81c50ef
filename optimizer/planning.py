"""The pipeline: instance -> problem data -> Pyomo model -> HiGHS -> plan."""
from __future__ import annotations

import time
from typing import Any, Mapping

from formulations import build_model
from formulations.variables import FIRST_STAGE
from optimizer.errors import InfeasibleError, Relaxation, UsageError
from optimizer.explain import (
    binding_rows, describe_relaxations, elastic_weights, marginal_costs, precheck,
)
from optimizer.kpis import plan_kpis
from optimizer.loader import Instance
from optimizer.placements import placement_coordinates, placement_groups, seed_placements
from optimizer.problem import build_problem_data
from optimizer.results import Plan
from optimizer.rounding import round_purchases, round_rest
from optimizer.solve import highspy_version, solve_model
from optimizer.status import SolverOptions, SolverResult, Status
from optimizer.tables import plan_tables

EXPLAIN_SHARE = 0.1
"""Share of a time limit kept for the explanation (marginal costs and binding caps, two LP
re-solves) when it is asked for."""


def solve(instance: Instance, time_limit: float | None = None, mip_gap: float = 1e-4,
          threads: int | None = None, seed: int | None = None,
          raise_on_infeasible: bool = True, explain: bool = True,
          start: Mapping[str, float] | None = None, scenarios: bool = True,
          stochastic_method: str = "extensive", workers: int | None = None,
          bundle_size: int = 3,
          fix_first_stage: tuple[int, Mapping[tuple[str, Any], float]] | None = None,
          started_at: float | None = None) -> Plan:
    """Build and solve the planning MILP of ``instance``.

    Args:
        time_limit: seconds; a run stopped by it returns its incumbent as ``feasible``.
        mip_gap: relative optimality gap (default 1e-4).
        threads, seed: HiGHS options.
        raise_on_infeasible: raise :class:`InfeasibleError` when no plan exists (its ``plan``
            attribute holds the infeasible :class:`Plan`); otherwise return that plan.
        explain: compute marginal costs and binding caps (two LP re-solves) for a plan, and
            the smallest relaxation for an infeasible instance.
        start: a MIP start, variable name -> value (e.g. ``plan.start_values`` of a similar
            plan); HiGHS completes and checks it.
        scenarios: solve an instance with a ``scenarios`` block as a stochastic plan (see
            :mod:`optimizer.stochastic`); False plans for the instance's own demand only.
        stochastic_method: ``extensive`` (one MILP of all scenarios) or ``decomposed``
            (bundles of ``bundle_size`` scenarios solved apart in ``workers`` processes, see
            :mod:`optimizer.decomposition`).
        fix_first_stage: (commit periods, (variable, index) -> value): purchases, builds and
            openings of the first periods fixed at these values (0 where none is given).
        started_at: ``time.perf_counter()`` when the caller's clock started (a command's
            start); ``time_limit`` counts from then (default: from this call).

    Returns:
        The plan (``status`` optimal, feasible or no_solution).
    """
    if stochastic_method not in ("extensive", "decomposed"):
        raise UsageError(f"unknown stochastic method {stochastic_method!r}; use extensive or "
                         "decomposed")
    if scenarios and instance.spec.scenarios is not None:
        if stochastic_method == "decomposed":
            from optimizer.decomposition import solve_decomposed
            return solve_decomposed(instance, time_limit=time_limit, mip_gap=mip_gap,
                                    threads=threads, seed=seed, workers=workers,
                                    bundle_size=bundle_size,
                                    raise_on_infeasible=raise_on_infeasible,
                                    started_at=started_at)
        from optimizer.stochastic import solve_stochastic
        return solve_stochastic(instance, time_limit=time_limit, mip_gap=mip_gap,
                                threads=threads, seed=seed,
                                raise_on_infeasible=raise_on_infeasible, started_at=started_at)
    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed)
    began = time.perf_counter() if started_at is None else started_at
    data = build_problem_data(instance)
    obvious = precheck(data)
    if obvious:
        summary = _summary(instance, data, None, options, time.perf_counter() - began)
        return _no_plan(Status.INFEASIBLE, summary, obvious, raise_on_infeasible)
    model = build_model(data)
    if fix_first_stage is not None:
        commit, values = fix_first_stage
        if not fix_decisions(model, commit, values):
            summary = _summary(instance, data, None, options, time.perf_counter() - began)
            summary["solver"]["model_status"] = "not run (a fixed decision does not exist here)"
            return _no_plan(Status.INFEASIBLE, summary, [], False)
    build_seconds = time.perf_counter() - began
    solving = options
    if explain and time_limit:      # the explanation's LPs run inside the limit too
        solving = SolverOptions(time_limit=time_limit * (1 - EXPLAIN_SHARE), mip_gap=mip_gap,
                                threads=threads, seed=seed)
    compiled, result = solve_model(
        model, solving, start,
        round_purchases=lambda relaxed: round_purchases(data, relaxed),
        round_rest=lambda relaxed: round_rest(data, relaxed),
        placements=lambda columns: _placements(data, columns), started_at=began)
    if time_limit:
        compiled.watch.deadline = began + time_limit
    summary = _summary(instance, data, result, options, build_seconds)
    if not result.status.has_plan:
        explanation: list[Relaxation] = []
        if result.status is Status.INFEASIBLE and explain:
            row_keys = compiled.row_keys()
            outcome, slack = compiled.elastic_solve(elastic_weights(data, row_keys), options)
            if outcome.has_plan:
                explanation = describe_relaxations(model, data, row_keys, slack)
        return _no_plan(result.status, summary, explanation, raise_on_infeasible)
    tables = plan_tables(model, data)
    npv = result.objective * data.money_unit
    summary["kpis"] = plan_kpis(tables, data, npv)
    if explain:
        explain_start = time.perf_counter()
        values = compiled.last_values
        relaxed = compiled.lp_duals(values, fix="binaries")
        fixed = compiled.lp_duals(values, fix="integers")
        tables["marginal_costs"] = marginal_costs(data, fixed, relaxed)
        tables["binding"] = binding_rows(model, data, relaxed)
        summary["binding_top"] = tables["binding"]["message"].head(5).tolist()
        summary["explain_seconds"] = time.perf_counter() - explain_start
        summary["marginal_costs_method"] = (
            "cost_per_million_tokens: demand dual of the LP with every integer fixed at the "
            "plan (the fleet as planned); cost_per_million_tokens_long_run: with site "
            "openings and cooling modes fixed and purchase and build counts continuous (the "
            "fleet may grow)")
    return Plan(status=result.status, objective=npv,
                best_bound=(None if result.best_bound is None
                            else result.best_bound * data.money_unit), mip_gap=result.mip_gap,
                tables=tables, summary=summary, start_values=compiled.integer_values(),
                decisions=decision_values(model))


def decision_values(model: Any) -> dict[tuple[str, Any], float]:
    """(variable, index) -> value of every purchase, build and opening of a solved model."""
    return {(name, key): float(var.value or 0.0)
            for name in FIRST_STAGE for key, var in getattr(model, name).items()}


def fix_decisions(model: Any, commit: int, values: Mapping[tuple[str, Any], float]) -> bool:
    """Fix the purchases, builds and openings of periods before ``commit`` at ``values``
    (0 where none is given). False when a nonzero value has no variable here (the decision
    cannot be made in this instance)."""
    present = set()
    for name in FIRST_STAGE:
        for key, var in getattr(model, name).items():
            if key[-1] < commit:
                var.fix(values.get((name, key), 0.0))
                present.add((name, key))
    return all(abs(v) < 1e-9 or (name, key) in present for (name, key), v in values.items()
               if key[-1] < commit)


def _placements(data: Any, columns: list[Any]) -> tuple[Any, Any, Any]:
    group, keys = placement_groups(columns)
    return group, seed_placements(data, keys), placement_coordinates(data, keys)


def _no_plan(status: Status, summary: dict[str, Any], explanation: list[Relaxation],
             raise_on_infeasible: bool) -> Plan:
    summary["explanation"] = [r.as_dict() for r in explanation]
    plan = Plan(status=status, objective=None, best_bound=None, mip_gap=None, summary=summary,
                explanation=explanation)
    if status is Status.INFEASIBLE and raise_on_infeasible:
        headline = ("no plan exists; what would have to give:" if explanation
                    else "no plan exists (no single relaxation found to explain it)")
        error = InfeasibleError(explanation, headline)
        error.plan = plan
        raise error
    return plan


def _summary(instance: Instance, data: Any, result: SolverResult | None,
             options: SolverOptions, build_seconds: float) -> dict[str, Any]:
    money = data.money_unit
    if result is None:  # stopped before the solve
        return {"status": Status.INFEASIBLE.value, "objective": None, "best_bound": None,
                "mip_gap": None, "build_seconds": build_seconds, "transfer_seconds": 0.0,
                "solve_seconds": 0.0, "solver": {"name": "highs", "version": highspy_version(),
                                                 "model_status": "not run (pre-check)"},
                "options": options.as_dict(), "input_sha256": instance.input_sha256,
                "instance": _instance_info(instance), "kpis": {}}
    return {
        "status": result.status.value,
        "objective": result.objective * money if result.objective is not None else None,
        "best_bound": result.best_bound * money if result.best_bound is not None else None,
        "mip_gap": result.mip_gap,
        "build_seconds": build_seconds,
        "transfer_seconds": result.transfer_seconds,
        "solve_seconds": result.solve_seconds,
        "start_seconds": result.start_seconds,
        "first_plan_found": result.start_found,
        "solver": {"name": "highs", "version": result.solver_version,
                   "model_status": result.highs_status},
        "options": options.as_dict(),
        "input_sha256": instance.input_sha256,
        "instance": _instance_info(instance),
        "model": dict(result.stats),
        "scaling": {"money_unit": money, "token_unit_tokens_per_s": data.token_unit},
        "kpis": {},
    }


def _instance_info(instance: Instance) -> dict[str, Any]:
    return {"name": instance.spec.name, "file": str(instance.path),
            "currency": instance.spec.currency, "overrides": dict(instance.overrides),
            "demand_scale": instance.demand_scale}
