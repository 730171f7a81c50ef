"""The planning entry point: one instance in, one plan out, deterministic or stochastic."""
from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from formulations import ExtraConstraints
from optimizer.errors import UsageError
from optimizer.output.results import Decisions, Plan
from optimizer.pipeline import solve_deterministic

STOCHASTIC_METHODS = ("extensive", "decomposed")


def solve(instance: Any, time_limit: float | None = None, mip_gap: float = 1e-4,
          threads: int | None = None, seed: int | None = None,
          raise_on_infeasible: bool = True, explain: bool = True,
          start: Mapping[str, float] | None = None, scenarios: bool = True,
          stochastic_method: str = "extensive", workers: int | None = None,
          bundle_size: int = 3, fix_first_stage: tuple[int, Decisions] | None = None,
          started_at: float | None = None, cancel: threading.Event | None = None,
          extra_constraints: ExtraConstraints = (),
          progress: Callable[[dict[str, float | None]], None] | None = None,
          backend: str = "local", scheduler: str | None = None) -> Plan:
    """Build and solve the planning MILP of ``instance`` (an :class:`~optimizer.Instance`).

    Args:
        time_limit: seconds for everything (model building and explanations included); a run
            stopped by it returns its best plan as ``feasible`` with its proven gap.
        mip_gap: relative optimality gap (default 1e-4).
        threads, seed: HiGHS options.
        raise_on_infeasible: raise :class:`InfeasibleError` when no plan exists (its ``plan``
            attribute holds the infeasible :class:`Plan`); otherwise return that plan.
        explain: compute marginal costs and binding caps (two LP re-solves) for a plan, and
            the smallest relaxation for an infeasible instance.
        start: a MIP start, variable name -> value (e.g. ``plan.start_values`` of a similar
            plan); HiGHS completes and checks it.
        scenarios: solve an instance with a ``scenarios`` block as a stochastic plan (see
            :mod:`optimizer.scenarios`); False plans for the instance's own demand only.
        stochastic_method: ``extensive`` (one MILP of all scenarios) or ``decomposed``
            (bundles of ``bundle_size`` scenarios solved apart in ``workers`` processes, or on
            a Dask cluster with ``backend="dask"`` and its ``scheduler`` address).
        fix_first_stage: (commit periods, decisions): purchases, builds and openings of the
            first periods fixed at these (0 where none is given).
        started_at: ``time.perf_counter()`` when the caller's clock started (a command's
            start); ``time_limit`` counts from then (default: from this call).
        cancel: set it from another thread (a service, a signal handler) to stop at once; the
            best plan found so far is returned.
        extra_constraints: a user's constraint families, built after the registered ones (see
            :mod:`formulations.registry`).
        progress: called from the solving thread with ``{"seconds", "objective", "bound"}``
            (currency) each time a better plan is found (deterministic plans).

    Returns:
        The plan (``status`` optimal, feasible or no_solution).

    Safe to call from several threads at once: a solve changes nothing process-wide.
    """
    if stochastic_method not in STOCHASTIC_METHODS:
        raise UsageError(f"unknown stochastic method {stochastic_method!r}; use extensive or "
                         "decomposed")
    if scenarios and instance.spec.scenarios is not None:
        if stochastic_method == "decomposed":
            from optimizer.scenarios.decomposition import solve_decomposed
            return solve_decomposed(instance, time_limit=time_limit, mip_gap=mip_gap,
                                    threads=threads, seed=seed, workers=workers,
                                    bundle_size=bundle_size,
                                    raise_on_infeasible=raise_on_infeasible,
                                    started_at=started_at, backend=backend,
                                    scheduler=scheduler)
        from optimizer.scenarios.stochastic import solve_stochastic
        return solve_stochastic(instance, time_limit=time_limit, mip_gap=mip_gap,
                                threads=threads, seed=seed,
                                raise_on_infeasible=raise_on_infeasible, started_at=started_at)
    return solve_deterministic(instance, time_limit=time_limit, mip_gap=mip_gap,
                               threads=threads, seed=seed,
                               raise_on_infeasible=raise_on_infeasible, explain=explain,
                               start=start, fix_first_stage=fix_first_stage,
                               started_at=started_at, cancel=cancel,
                               extra_constraints=extra_constraints, progress=progress)
