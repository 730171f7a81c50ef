"""The out-of-sample estimate of a sampled plan (uncertainty.md, "Sampling"): its first stage
fixed, every future of a second, independent draw (seed + 1, the same count unless told
otherwise) solved for its recourse (in a tree: the root's decisions fixed, independent
paths drawn as the tree's leaves are, every later decision made with that path known, an
optimistic estimate of a policy that re-plans at each node); the mean NPV with a 95 % confidence interval
(mean +- 1.96 s / sqrt(n), s the sample standard deviation), and the risk figures of the
draw."""
from __future__ import annotations

import math
import time
from typing import Any

from optimizer.instance.loader import Instance
from optimizer.options import SolveOptions
from optimizer.output.results import Decisions
from optimizer.parallel import Runner
from optimizer.scenarios.assemble import DEFAULT_CVAR_ALPHA, tail_figures
from optimizer.scenarios.evaluation import evaluation_jobs, job_fields, run_all
from optimizer.scenarios.scenario_set import sampled_futures
from optimizer.scenarios.tree import is_tree, leaf_count
from optimizer.status import Status

Z_95 = 1.959963984540054
"""The standard normal's 97.5 % quantile."""


def confidence_interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of a 95 % normal confidence interval of the mean of ``values``."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, mean, mean
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z_95 * spread / math.sqrt(n)
    return mean, mean - half, mean + half


def out_of_sample(instance: Instance, first_stage: Decisions, options: SolveOptions,
                  deadline: float | None) -> dict[str, Any]:
    """The ``out_of_sample`` block of a sampled plan's KPIs: {mean, ci95_low, ci95_high,
    count, seed, cvar_npv, worst_npv, without_plan}, or {count, seed, note} when its solves
    did not all finish (time limit, interruption) or some future has no plan with this first
    stage (then ``without_plan`` names how many)."""
    sample = instance.spec.scenarios.sample
    seed = sample.seed + 1
    tree = is_tree(instance.spec)
    count = options.evaluate_count or (leaf_count(instance.spec) if tree else sample.count)
    draw = {f.name: f for f in sampled_futures(instance, seed=seed, count=count, paths=True)}
    share = None
    if deadline is not None:
        share = max(deadline - time.time(), 0.0)
    fields = job_fields(instance, options, deadline, share)
    jobs = evaluation_jobs(0, first_stage, draw, list(draw), **fields)
    workers = options.workers or 1
    with Runner(workers, backend=options.backend, scheduler=options.scheduler) as runner:
        done = run_all(jobs, runner)
    outcomes = {name: done["eval", 0, name] for name in draw}
    head: dict[str, Any] = {"count": count, "seed": seed}
    if tree:
        head["recourse"] = ("the root's decisions fixed; every later one made with the path "
                            "known (optimistic for the tree's nodes)")
    strands = sum(1 for o in outcomes.values() if o["status"] is Status.INFEASIBLE)
    if strands:
        return {**head, "without_plan": strands, "note": f"{strands} of {count} futures of the "
                "independent draw have no plan with this first stage"}
    if any(not o["status"].has_plan for o in outcomes.values()):
        return {**head, "note": "not computed: the evaluation did not finish in the time limit"
                if not options.cancelled else "not computed: the run was interrupted"}
    npv = {name: o["objective"] for name, o in outcomes.items()}
    mean, low, high = confidence_interval(list(npv.values()))
    risk = instance.spec.scenarios.risk
    alpha = risk.cvar_alpha if risk is not None else DEFAULT_CVAR_ALPHA
    tail = tail_figures(npv, {n: 1.0 / count for n in npv}, alpha)
    return {**head, "mean": mean, "ci95_low": low, "ci95_high": high,
            "cvar_npv": tail["cvar_npv"], "var_npv": tail["var_npv"],
            "worst_npv": tail["worst_npv"], "best_npv": tail["best_npv"], "cvar_alpha": alpha}
