"""The planning entry point: one instance in, one plan out, deterministic or stochastic.

One :class:`~optimizer.options.SolveOptions` object goes down every path (deterministic,
extensive form, decomposition); an option a path cannot honour is refused there by name.
"""
from __future__ import annotations

from typing import Any

from optimizer.errors import UsageError
from optimizer.options import STOCHASTIC_METHODS, SolveOptions
from optimizer.output.results import Plan
from optimizer.pipeline import solve_deterministic

__all__ = ["solve", "STOCHASTIC_METHODS", "SolveOptions"]


def solve(instance: Any, options: SolveOptions | None = None, **fields: Any) -> Plan:
    """Build and solve the planning MILP of ``instance`` (an :class:`~optimizer.Instance`).

    Options (keywords, or a :class:`SolveOptions` with keywords replacing its fields):
        time_limit: seconds for everything (model building and explanations included); a run
            stopped by it returns its best plan as ``feasible`` with its proven gap.
        mip_gap: relative optimality gap (default 1e-4).
        threads, seed: HiGHS options.
        raise_on_infeasible: raise :class:`InfeasibleError` when no plan exists (its ``plan``
            attribute holds the infeasible :class:`Plan`); otherwise return that plan.
        explain: compute marginal costs and binding caps (two LP re-solves) for a plan, and
            the smallest relaxation for an infeasible instance (a scenario instance: the
            scenario without a plan and what would have to give in it).
        start: a MIP start, variable name -> value (e.g. ``plan.start_values`` of a similar
            plan); HiGHS completes and checks it. A scenario plan's extensive form offers it
            to every scenario.
        scenarios: solve an instance with a ``scenarios`` block as a stochastic plan (see
            :mod:`optimizer.scenarios`); False plans for the instance's own demand only.
        stochastic_method: ``extensive`` (one MILP of all scenarios) or ``decomposed``
            (bundles of ``bundle_size`` scenarios solved apart in ``workers`` processes, or on
            a Dask cluster with ``backend="dask"`` and its ``scheduler`` address).
        fix_first_stage: (commit periods, decisions): what is decided in the first periods
            (orders placed then, builds, openings, rentals) fixed at these (0 where none is
            given); in a scenario plan, in every scenario.
        started_at: ``time.perf_counter()`` when the caller's clock started (a command's
            start); ``time_limit`` counts from then (default: from this call).
        cancel: set it from another thread (a service, a signal handler) to stop at once; the
            best plan found so far is returned.
        extra_constraints: a user's constraint families, built after the registered ones (see
            :mod:`formulations.registry`); in a scenario plan, in every scenario.
        progress: called from the solving thread with ``{"seconds", "objective", "bound"}``
            (currency) each time a better plan is found.
        value_of_information: a scenario plan also computes VSS and EVPI (2 S + 1 solves).

    Returns:
        The plan (``status`` optimal, feasible or no_solution).

    Raises:
        UsageError: an unknown option, or one that does not apply to this instance.
        Interrupted: ``cancel`` was set before any plan existed (nothing to return).

    Safe to call from several threads at once: a solve changes nothing process-wide.
    """
    options = SolveOptions.of(options, **fields)
    block = instance.spec.scenarios
    if options.scenarios and block is not None and (block.sample or block.tree):
        raise UsageError(f"scenarios.{'sample' if block.sample else 'tree'}: sampled futures and "
                         "scenario trees are not planned yet in this version; name the "
                         "scenarios instead (each with its probability)")
    if options.scenarios and instance.spec.scenarios is not None:
        if options.stochastic_method == "ph":
            from optimizer.scenarios.ph import solve_ph
            return solve_ph(instance, options)
        if options.stochastic_method == "decomposed":
            from optimizer.scenarios.decomposition import solve_decomposed
            return solve_decomposed(instance, options)
        from optimizer.scenarios.stochastic import solve_stochastic
        return solve_stochastic(instance, options)
    options.refuse("without a scenarios block (the instance has one demand future)",
                   "stochastic_method", "bundle_size")
    return solve_deterministic(instance, options)
