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
        progress: called from the solving thread with ``{"seconds", "objective", "bound",
            "stage"}`` (currency) each time a better plan is found; ``stage`` "plan", or what
            is being solved when it is not the plan (objective and bound then None).
        value_of_information: a scenario plan also computes VSS and EVPI (2 S + 1 solves).
        write_model: also write the matrix handed to the solver, with readable names, to this
            ``.mps`` or ``.lp`` file (the extensive form for a scenario plan); its objective is
            in units of ``summary["model_file"]["objective_unit"]`` of the currency.

    Returns:
        The plan (``status`` optimal, feasible or no_solution).

    Raises:
        UsageError: an unknown option, or one that does not apply to this instance.
        Interrupted: ``cancel`` was set before any plan existed (nothing to return).

    Safe to call from several threads at once: a solve changes nothing process-wide.
    """
    options = SolveOptions.of(options, **fields)
    block = instance.spec.scenarios
    if options.scenarios and block is not None:
        if block.tree is not None and options.stochastic_method == "decomposed":
            raise UsageError("scenarios.tree: --stochastic decomposed plans two stages; solve a "
                             "tree by the extensive form or --stochastic ph")
        if block.sample is not None and options.out_of_sample \
                and options.fix_first_stage is None:
            return solve_sampled(instance, options)
        return _solve_scenarios(instance, options)
    options.refuse("without a scenarios block (the instance has one demand future)",
                   "stochastic_method", "bundle_size", "evaluate_count")
    return solve_deterministic(instance, options)


def _solve_scenarios(instance: Any, options: SolveOptions) -> Plan:
    if options.stochastic_method != "extensive":
        options.refuse(f"with --stochastic {options.stochastic_method} (it solves many "
                       "models; the extensive form writes one)", "write_model")
    if options.stochastic_method == "ph":
        from optimizer.scenarios.ph import solve_ph
        return solve_ph(instance, options)
    if options.stochastic_method == "decomposed":
        from optimizer.scenarios.decomposition import solve_decomposed
        return solve_decomposed(instance, options)
    from optimizer.scenarios.stochastic import solve_stochastic
    return solve_stochastic(instance, options)


IN_SAMPLE_SHARE = 0.7
"""Share of a time limit a sampled plan's own solve may use; its out-of-sample evaluation
(the first stage fixed in every future of an independent draw) has the rest."""


def solve_sampled(instance: Any, options: SolveOptions) -> Plan:
    """A plan of sampled futures, then its out-of-sample estimate (uncertainty.md): the value
    of information is not computed (2 S + 1 solves of S sampled futures; the out-of-sample
    interval is what measures a sampled plan)."""
    import time as clock
    from optimizer.scenarios.out_of_sample import out_of_sample
    from optimizer.scenarios.tree import committed_periods
    began = options.began()
    deadline = options.deadline(began)
    own = options.but(started_at=began, value_of_information=False,
                      time_limit=None if options.time_limit is None
                      else options.time_limit * IN_SAMPLE_SHARE)
    plan = _solve_scenarios(instance, own)
    stochastic = plan.summary.setdefault("stochastic", {})
    stochastic["sample"] = instance.spec.scenarios.sample.model_dump()
    stochastic["vss_note"] = stochastic["evpi_note"] = (
        "not computed for sampled futures: the out-of-sample estimate measures the plan")
    if not plan.status.has_plan or options.cancelled:
        return plan
    commit = committed_periods(instance.spec)
    first = plan.decisions.first_stage(list(instance.spec.horizon.periods[:commit]))
    figures = out_of_sample(instance, first, options.but(write_model=None), deadline)
    stochastic["out_of_sample"] = figures
    plan.summary.setdefault("kpis", {})["out_of_sample"] = figures
    plan.summary["solve_seconds_total"] = clock.perf_counter() - began
    return plan


