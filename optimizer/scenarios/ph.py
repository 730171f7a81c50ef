"""Progressive Hedging on mpi-sppy (uncertainty.md, "Decomposition"): the hub runs PH over
every scenario, a Lagrangian spoke proves an outer (lower) bound, an xhat spoke finds inner
bounds (first stages evaluated in every scenario).

Each scenario's model is built by the same problem data and formulations as every plan
(:func:`scenario_creator`); its nonanticipative variables are the first stage of model.md
(:func:`optimizer.problem.entries.first_stage_keys`: orders placed in the committed periods,
whatever their delivery, rentals, builds and openings), and with ``scenarios.risk`` the
value at risk eta of the Rockafellar-Uryasev objective (shared by every scenario); each
scenario's objective is (1 - w) NPV_s + w (eta + u_s / (1 - alpha)), u_s >= NPV_s - eta,
in the first scenario's money unit.

mpi-sppy runs in a child process (``python -m optimizer.scenarios.ph JOB OUT``, under
``mpiexec -n N`` for N > 1 ranks), so that MPI never starts inside the caller (a service, a
test) and a deadline or a Ctrl-C ends every rank. The child writes the best inner bound's
first stage, the bounds and PH's iterations; :func:`solve_ph` then evaluates that first stage
in every scenario (its recourse, E[NPV] and the tables) and reports the outer bound as the
proven bound.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import SolverError, UsageError
from optimizer.instance.loader import Instance
from optimizer.options import SolveOptions
from optimizer.output.results import Decisions, Plan
from optimizer.scenarios.tree import committed_periods, is_tree
from optimizer.status import Status

STOP_SECONDS = 3.0
"""How long the ranks may take to end once asked (SIGTERM), before they are killed."""
EVALUATION_SHARE = 0.25
CHILD_SHARE = 0.8
"""Share of PH's time mpi-sppy is told it has: it stops after the iteration that crosses its
limit and then writes what it found, before the caller ends it at the full share."""
"""Share of a time limit kept to evaluate the chosen first stage in every scenario."""
DEFAULT_RHO = 1.0
"""PH's penalty weight where no decision's own is set (:func:`rho_setter`)."""
RHO_SHARE = 0.1
"""rho of a first-stage decision: this share of its cost per unit (:func:`rho_setter`)."""
RHO_FLOOR = 1e-4
ETA_RHO_SHARE = 1.0
"""rho of CVaR's eta: this share of its weight w (measured on the CVaR newsvendor of the tests:
0.1 stalls at a worse plan, 10 too, 1 reaches the optimum at w = 0.5 and w = 0.8)."""


@dataclass(frozen=True)
class PHJob:
    """What the child process needs (picklable): the instance as read, its overrides, the
    solver options, the time it may take, how many cylinders."""

    raw: dict
    path: str
    overrides: dict
    digest: str
    mip_gap: float
    time_limit: float | None
    spokes: tuple[str, ...]
    threads: int | None = None
    max_iterations: int = 200
    extra_constraints: tuple = ()


def cylinders(ranks: int, risk_averse: bool = False) -> tuple[str, ...]:
    """The spokes beside the PH hub for ``ranks`` MPI ranks (every cylinder needs a rank):
    one rank, the hub alone (its trivial bound, and the first stage its iterates agree on);
    two, the hub and a Lagrangian spoke (a bound that rises; the plan from the hub's
    consensus); three or more, an xhat spoke too (plans of their own).

    Risk-averse (CVaR): no Lagrangian spoke. Its subproblems price CVaR's eta, a free
    variable, linearly, and are unbounded once a multiplier exceeds eta's weight (measured:
    a "bound" of 3290 on a newsvendor whose optimum is 3000); an xhat spoke instead."""
    if ranks <= 1:
        return ()
    if risk_averse:
        return ("xhatshuffle",)
    if ranks == 2:
        return ("lagrangian",)
    return ("lagrangian", "xhatshuffle")


# ---- inside the child process -------------------------------------------------------------

def _instance(job: PHJob) -> Instance:
    from optimizer.instance.loader import instance_from_raw
    return instance_from_raw(job.raw, job.path, job.overrides, job.digest)


def scenario_creator(name: str, job: PHJob | None = None, cache: dict | None = None) -> Any:
    """One scenario's model for mpi-sppy: the plan's model with its nodes' decisions as
    their nonanticipative variables (the root's: the first stage; in a tree, each inner
    node's: the decisions of its stage) and the (risk-adjusted) objective scaled to the
    reference money unit. ``cache`` (one per rank) keeps the instance and its futures."""
    import pyomo.environ as pyo
    from mpisppy.scenario_tree import ScenarioNode

    from formulations import build_model
    from optimizer.problem import build_problem_data
    from optimizer.problem.entries import stage_keys
    from optimizer.scenarios.scenario_set import future_instance, futures
    from optimizer.scenarios.tree import node_path, scenario_nodes
    cache = cache if cache is not None else {}
    if "instance" not in cache:
        instance = _instance(job)
        chosen = futures(instance)
        cache.update(instance=instance, futures={f.name: (i, f) for i, f in enumerate(chosen)},
                     reference=build_problem_data(future_instance(instance, chosen[0])),
                     nodes=scenario_nodes(instance.spec, [f.probability for f in chosen]),
                     most_demand=most_demand(instance, chosen))
    instance, reference = cache["instance"], cache["reference"]
    index, future = cache["futures"][name]
    data = build_problem_data(future_instance(instance, future))
    model = build_model(data, job.extra_constraints)
    scale = data.money_unit / reference.money_unit
    model.npv.deactivate()
    npv = scale * model.npv.expr
    bound_rentals(model, data, cache["most_demand"])
    path = [node for node in node_path(cache["nodes"], index)
            if node.shared or node.parent is None]
    staged = []
    for node in path:
        keys = stage_keys(data, node.first_period, node.end_period)
        varlist = [getattr(model, variable)[key] for variable in sorted(keys)
                   for key in sorted(keys[variable], key=str)]
        cost = sum(scale * data.objective_cost.get(variable, {}).get(key, 0.0)
                   * getattr(model, variable)[key] for variable in keys for key in keys[variable])
        staged.append((node, keys, varlist, cost))
    risk = instance.spec.scenarios.risk
    if risk is not None and risk.cvar_weight > 0:
        model.value_at_risk = pyo.Var(domain=pyo.Reals)
        model.tail_excess = pyo.Var(domain=pyo.NonNegativeReals)
        model.cvar_tail = pyo.Constraint(expr=model.tail_excess - npv + model.value_at_risk >= 0)
        weight = risk.cvar_weight
        model.ph_objective = pyo.Objective(expr=(1 - weight) * npv + weight * (
            model.value_at_risk + model.tail_excess / (1 - risk.cvar_alpha)))
        staged[0][2].append(model.value_at_risk)
        eta_rho = ETA_RHO_SHARE * weight
    else:
        model.ph_objective = pyo.Objective(expr=npv)
        eta_rho = None
    tree_nodes, parent_probability, rho = [], 1.0, []
    for node, keys, varlist, cost in staged:
        tree_nodes.append(ScenarioNode(node.name, node.probability / parent_probability,
                                       node.stage + 1, cost, varlist, model,
                                       parent_name=node.parent))
        parent_probability = node.probability
        costs = {id(getattr(model, variable)[key]): scale * data.objective_cost.get(
            variable, {}).get(key, 0.0) for variable in keys for key in keys[variable]}
        rho += [(id(var), max(RHO_SHARE * abs(costs.get(id(var), 0.0)), RHO_FLOOR))
                for var in varlist if var is not getattr(model, "value_at_risk", None)]
    if eta_rho is not None:
        rho.append((id(model.value_at_risk), eta_rho))
    model._mpisppy_node_list = tree_nodes
    model._mpisppy_probability = future.probability
    model._accelplan_rho = rho
    return model


def most_demand(instance: Instance, chosen: list[Any]) -> dict[tuple[str, str], float]:
    """(workload, period label) -> the most tokens a day any future asks for."""
    from optimizer.scenarios.scenario_set import future_instance
    most: dict[tuple[str, str], float] = {}
    for future in chosen:
        demand = future.raw["demand"] if instance.spec.scenarios.sample is not None \
            else future_instance(instance, future).spec.demand
        for w, series in demand.items():
            for label, tokens_per_day in series.items():
                if isinstance(tokens_per_day, (int, float)):
                    key = (w, str(label))
                    most[key] = max(most.get(key, 0.0), float(tokens_per_day))
    return most


def bound_rentals(model: Any, data: Any, most: dict[tuple[str, str], float]) -> None:
    """An upper bound on every rental's cards where the instance sets none, the same in
    every scenario (it bounds a shared decision): the cards that would serve, on their own,
    the most demand any future has for what its card may serve in that period (``most``:
    :func:`most_demand`); more are never worth renting. PH's Lagrangian subproblems price
    decisions by multipliers; a decision with no bound is then unbounded, its solve fails and
    mpi-sppy keeps that scenario's stale bound (an outer bound above the optimum, measured);
    a bound that differs between scenarios restricts the shared decision to the smallest
    (also measured)."""
    from optimizer.problem.build import SECONDS_PER_DAY
    need: dict[tuple[str, int], float] = {}
    for (w, r, t) in data.RENT_SERVE:
        k = data.rental_accelerator[r]
        peak = (most.get((w, data.periods[t]), 0.0) * data.peak_to_average[w]
                / SECONDS_PER_DAY / data.token_unit)
        need[r, t] = need.get((r, t), 0.0) + (peak * data.token_unit / data.throughput[k, w]
                                              / data.availability[k])
    for (r, t) in data.RENT:
        cap = data.rental_max_cards.get((r, t))
        enough = math.ceil(need.get((r, t), 0.0) * (1 + 1e-6)) + 1
        model.cards_rented[r, t].setub(enough if cap is None else min(cap, enough))


def node_names(spec: Any, count: int) -> list[str] | None:
    """mpi-sppy's ``all_nodenames`` of a tree (every node, leaves included), None for two
    stages."""
    from optimizer.scenarios.tree import is_tree, scenario_nodes
    if not is_tree(spec):
        return None
    return [node.name for node in scenario_nodes(spec, [1.0 / count] * count)]


def rho_setter(scenario: Any) -> list[tuple[Any, float]]:
    """Cost-proportional penalties (Watson and Woodruff): rho of a first-stage decision is
    ``RHO_SHARE`` of its cost per unit, so that PH weighs a card, a MW and an opening alike."""
    return scenario._accelplan_rho


def scenario_denouement(rank: int, name: str, scenario: Any) -> None:
    """Nothing to do per scenario at the end (the parent evaluates the plan)."""


SUBPROBLEM_SOLVES = 4
"""A subproblem's time limit is the PH time over this many solves of every scenario, so that
iteration 0 (the wait-and-see bound) and a few more fit the time limit; a subproblem stopped
by it still reports HiGHS's proven bound (the wait-and-see bound stays a bound)."""


def subproblem_seconds(seconds: float, scenarios: int) -> float:
    """The time limit of one subproblem solve: ``seconds`` of PH over ``SUBPROBLEM_SOLVES``
    solves of each of ``scenarios`` (at least 1 s)."""
    return round(max(seconds / (SUBPROBLEM_SOLVES * max(scenarios, 1)), 1.0), 3)


def _config(job: PHJob, names: list[str]) -> Any:
    from mpisppy.utils import config
    cfg = config.Config()
    cfg.popular_args()
    cfg.two_sided_args()
    cfg.ph_args()
    cfg.lagrangian_args()
    cfg.xhatshuffle_args()
    cfg.num_scens_optional()
    cfg.solver_name = "appsi_highs"
    cfg.default_rho = DEFAULT_RHO
    cfg.max_iterations = job.max_iterations
    cfg.time_limit = job.time_limit
    cfg.linearize_proximal_terms = True         # HiGHS has no MIQP
    cfg.rel_gap = max(job.mip_gap, 1e-6)
    cfg.abs_gap = 0.0
    cfg.num_scens = len(names)
    cfg.solver_options = f"mip_rel_gap={max(job.mip_gap / 10, 1e-9)}" + (
        f" threads={job.threads}" if job.threads else "") + (
        f" time_limit={subproblem_seconds(job.time_limit, len(names))}"
        if job.time_limit is not None else "")
    cfg.lagrangian = "lagrangian" in job.spokes
    cfg.xhatshuffle = "xhatshuffle" in job.spokes
    return cfg


def child_main(job_path: str, out_path: str) -> None:
    """Run PH with its spokes on this rank; rank 0 writes the outcome to ``out_path``."""
    from optimizer.lifeline import die_with_parent
    die_with_parent()
    with open(job_path, "rb") as handle:
        job: PHJob = pickle.load(handle)
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpisppy.spin_the_wheel import WheelSpinner
    from optimizer.scenarios.scenario_set import futures
    instance = _instance(job)
    names = [f.name for f in futures(instance)]
    cfg = _config(job, names)
    tree = node_names(instance.spec, len(names))
    if tree is not None:
        cfg.quick_assign("branching_factors", list, list(instance.spec.scenarios.tree.branching))
    beans = (cfg, scenario_creator, scenario_denouement, names)
    kwargs = {"scenario_creator_kwargs": {"job": job, "cache": {}}, "all_nodenames": tree}
    hub = vanilla.ph_hub(*beans, rho_setter=rho_setter, **kwargs)
    spokes = []
    if "lagrangian" in job.spokes:
        spokes.append(vanilla.lagrangian_spoke(*beans, rho_setter=rho_setter, **kwargs))
    if "xhatshuffle" in job.spokes:
        spokes.append(vanilla.xhatshuffle_spoke(*beans, **kwargs))
    began = time.perf_counter()
    wheel = WheelSpinner(hub, spokes)
    wheel.spin()
    found: dict[str, float] = {}

    def writer(file_name: str, scenario: Any, bundling: bool) -> None:
        import pyomo.environ as pyo
        root = scenario._mpisppy_node_list[0]
        values = {var.name: float(pyo.value(var)) for var in root.nonant_vardata_list
                  if var.value is not None}
        Path(file_name).write_text(json.dumps(values))
    first_file = out_path + ".first.json"
    wheel.write_first_stage_solution(first_file, first_stage_solution_writer=writer)
    if wheel.global_rank == 0:
        hub_opt = wheel.spcomm.opt
        consensus, iterates = {}, {}
        for name, scenario in hub_opt.local_scenarios.items():
            root = scenario._mpisppy_node_list[0]
            iterates[name] = {var.name: float(var.value) for var in root.nonant_vardata_list
                              if var.value is not None}
            if not consensus:                                  # the hub's own xbar
                xbars = scenario._mpisppy_model.xbars
                for i, var in enumerate(root.nonant_vardata_list):
                    xbar = xbars[root.name, i].value
                    consensus[var.name] = float(xbar) if xbar is not None else 0.0
        Path(out_path).write_text(json.dumps({
            "inner": _finite(wheel.BestInnerBound), "outer": _finite(wheel.BestOuterBound),
            "trivial": _finite(getattr(hub_opt, "trivial_bound", None)),
            "iterations": int(getattr(hub_opt, "_PHIter", 0)),
            "seconds": time.perf_counter() - began, "spokes": list(job.spokes),
            "consensus": consensus, "iterates": iterates}))


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


# ---- in the caller ------------------------------------------------------------------------

def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def _stop(process: subprocess.Popen) -> None:
    """End every rank: SIGTERM to the process group, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(STOP_SECONDS)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def run_ph(job: PHJob, ranks: int, deadline: float | None, cancel: Any = None
           ) -> dict[str, Any]:
    """Run the child (``ranks`` MPI ranks); its outcome, or ``{"stopped": reason}`` when the
    deadline or a cancel ended it first.

    Raises:
        UsageError: mpi-sppy is not installed (pip install -e .[distributed]).
    """
    import importlib.util
    if importlib.util.find_spec("mpisppy") is None:     # never imported here: it starts MPI
        raise UsageError("--stochastic ph needs mpi-sppy: pip install -e .[distributed] "
                         "(mpi-sppy, mpi4py and the mpich wheel)") from None
    folder = Path(tempfile.mkdtemp(prefix="accelplan-ph-"))
    try:
        job_path, out_path = folder / "job.pkl", folder / "out.json"
        job_path.write_bytes(pickle.dumps(job))
        command = [sys.executable, "-m", "optimizer.scenarios.ph", str(job_path), str(out_path)]
        if ranks > 1:
            launcher = _mpiexec()
            if launcher is None:
                raise UsageError("--workers > 1 with --stochastic ph needs mpiexec (the mpich "
                                 "wheel: pip install -e .[distributed])")
            command = [launcher, "-n", str(ranks)] + command
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "UCX_LOG_LEVEL": os.environ.get("UCX_LOG_LEVEL", "error")}  # no finalize noise
        log = open(folder / "log.txt", "w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, cwd=str(folder))
        stopped = ""
        try:
            while process.poll() is None:
                if cancel is not None and cancel.is_set():
                    stopped = "interrupted"
                elif deadline is not None and time.time() >= deadline:
                    stopped = "time limit reached"
                if stopped:
                    break
                time.sleep(0.1)
        finally:
            _stop(process)
            log.close()
        keep = os.environ.get("ACCELPLAN_PH_LOG")     # mpi-sppy's own log, to debug it
        if keep:
            shutil.copy(folder / "log.txt", keep)
        if out_path.exists():
            outcome = json.loads(out_path.read_text())
            log_text = (folder / "log.txt").read_text(errors="replace")
            outcome["failed_solves"] = log_text.count("Solve failed")
            first = Path(str(out_path) + ".first.json")
            outcome["first_stage"] = json.loads(first.read_text()) if first.exists() else None
            return outcome
        if stopped:
            return {"stopped": stopped}
        log_text = (folder / "log.txt").read_text(errors="replace")
        if "Infeasibility detected" in log_text and "maxTimeLimit" in log_text:
            # mpi-sppy reads a subproblem stopped by its time limit with no plan as
            # infeasible: what ran out is time, not the futures' plans
            return {"stopped": "PH's first iteration: scenario solves reached their time "
                               "limit before each had a plan"}
        raise SolverError(f"mpi-sppy ended without a result (exit {process.returncode}): "
                          + why_it_failed((folder / "log.txt").read_text(errors="replace")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def why_it_failed(log: str) -> str:
    """The gist of a failed mpi-sppy run's log: its last Python error with the line that
    raised it, else its last lines; MPI's and UCX's own warnings left out."""
    lines = [line for line in log.splitlines() if line.strip() and "UCX" not in line
             and "WARN" not in line]
    errors = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    if errors:
        block = lines[errors[-1]:]
        raised = next((line for line in reversed(block) if "Error" in line or
                       "Exception" in line), block[-1])
        where = [line.strip() for line in block if line.strip().startswith("File ")]
        return " ".join(raised.split())[:400] + (f" (at {where[-1][:200]})" if where else "")
    return " ".join(" ".join(lines[-8:]).split())[-600:] or "no output"


def decisions_from_nonants(values: dict[str, float], data: Any) -> Decisions:
    """A first stage by Pyomo variable name (``units_bought[A,s1,air,1]``) as Decisions (by
    labels), integers rounded."""
    from optimizer.problem.entries import first_stage_keys
    label = data.periods
    by_name: dict[str, tuple[str, Any]] = {}
    for variable, keys in first_stage_keys(data, len(label)).items():
        for key in keys:
            by_name[f"{variable}[{','.join(map(str, key))}]"] = (variable, key)
    purchases, builds, openings, rentals, ordered = {}, {}, {}, {}, {}
    for name, value in values.items():
        found = by_name.get(name)
        if found is None:
            continue
        variable, key = found
        if variable == "units_bought":
            k, s, c, t = key
            if round(value):
                purchases[k, s, c, label[t]] = float(round(value))
                if data.order_period(k, t) != t:
                    ordered[k, s, c, label[t]] = label[data.order_period(k, t)]
        elif variable == "build" and value > 1e-9:
            s, c, t = key
            builds[s, c, label[t]] = value * data.build_unit_mw[s, c]
        elif variable == "site_open":
            s, t = key
            openings[s, label[t]] = float(round(value))
        elif variable == "cards_rented" and round(value):
            r, t = key
            rentals[r, label[t]] = float(round(value))
    return Decisions(purchases, builds, openings, rentals, ordered)


MAX_CANDIDATES = 4
"""First stages evaluated after PH, at most: the xhat spoke's best, PH's consensus rounded,
and the hub's last iterates nearest to the consensus."""


def candidates(outcome: dict[str, Any], reference: Any) -> list[tuple[str, Decisions]]:
    """The first stages worth evaluating, best first, without repeats: the xhat spoke's best
    inner bound, the consensus (xbar, integers rounded, which may leave a scenario without
    a plan), then the hub's last iterates by their distance to the consensus (each a first
    stage some scenario could carry out)."""
    consensus = outcome.get("consensus") or {}
    found: list[tuple[str, dict[str, float]]] = []
    if outcome.get("first_stage"):
        found.append(("the best inner bound (xhat spoke)", outcome["first_stage"]))
    found.append(("PH's consensus (xbar), rounded", consensus))

    def distance(values: dict[str, float]) -> float:
        return sum(abs(values.get(k, 0.0) - v) for k, v in consensus.items())
    for name, values in sorted((outcome.get("iterates") or {}).items(),
                               key=lambda item: (distance(item[1]), item[0])):
        found.append((f"scenario {name}'s last PH iterate", values))
    out, seen = [], set()
    for label, values in found:
        decisions = decisions_from_nonants(values, reference)
        key = repr([sorted(part.items()) for part in (
            decisions.purchases, decisions.builds_mw, decisions.openings, decisions.rentals)])
        if key not in seen:
            seen.add(key)
            out.append((label, decisions))
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def solve_ph(instance: Instance, options: SolveOptions | None = None) -> Plan:
    """A scenario plan by Progressive Hedging (see the module docstring): mpi-sppy in
    ``options.workers`` ranks (default 1: the hub alone), then the best first stage it found
    evaluated in every scenario. The time limit holds for the whole; the proven bound is
    mpi-sppy's outer bound.

    Raises:
        UsageError: a MIP start or a fixed first stage (use the extensive form), or mpi-sppy
            missing.
    """
    from optimizer.problem import build_problem_data
    from optimizer.scenarios.decomposition import solve_decomposed
    from optimizer.scenarios.scenario_set import future_instance, futures
    options = options or SolveOptions()
    options.refuse("with --stochastic ph (use the extensive form)", "start", "fix_first_stage")
    began = options.began()
    deadline = options.deadline(began)
    ranks = options.workers or 1
    risk = instance.spec.scenarios.risk
    risk_averse = risk is not None and risk.cvar_weight > 0
    remaining = None if deadline is None else max(deadline - time.time(), 0.0)
    job = PHJob(raw=dict(instance.raw), path=str(instance.path),
                overrides=dict(instance.overrides), digest=instance.input_sha256,
                mip_gap=options.mip_gap,
                time_limit=None if remaining is None
                else remaining * (1 - EVALUATION_SHARE) * CHILD_SHARE,
                spokes=cylinders(ranks, risk_averse),
                threads=1 if ranks > 1 else options.threads,
                extra_constraints=tuple(options.extra_constraints))
    ph_deadline = None if remaining is None else time.time() + remaining * (1 - EVALUATION_SHARE)
    _stage(options, began, f"Progressive Hedging (mpi-sppy) on {ranks} rank(s)")
    outcome = run_ph(job, ranks, ph_deadline, options.cancel)
    if "stopped" in outcome:
        each = "" if job.time_limit is None else (
            f"; each scenario's subproblem had {subproblem_seconds(job.time_limit, len(futures(instance)))} s"
            ", too little to find its own plan: give more time, or use the extensive form")
        return _no_plan(instance, began, f"PH found no plan before it was stopped "
                        f"({outcome['stopped']}){each}")
    reference = build_problem_data(future_instance(instance, futures(instance)[0]))
    commit = committed_periods(instance.spec)
    plan, chosen, tried = None, None, 0
    for label, decisions in candidates(outcome, reference):
        if tried and (options.cancelled or (deadline is not None and time.time() >= deadline)):
            break
        tried += 1
        _stage(options, began, f"evaluating {label} in every future")
        given = options.but(fix_first_stage=(commit, decisions), started_at=began,
                            raise_on_infeasible=False)
        if is_tree(instance.spec):
            # the later nodes' decisions stay shared per node: the tree's extensive form
            # with the root fixed
            from optimizer.scenarios.extensive import solve_extensive
            evaluated = solve_extensive(instance, given.but(stochastic_method="extensive"))
        else:
            evaluated = solve_decomposed(instance, given.but(stochastic_method="decomposed",
                                                             workers=max(ranks, 1)))
        if plan is None or (evaluated.status.has_plan and (
                not plan.status.has_plan or evaluated.objective < plan.objective - 1e-9)):
            plan, chosen = evaluated, label
        if chosen == label and label.startswith("the best inner bound"):
            break                                  # a plan mpi-sppy evaluated itself
    st = plan.summary.setdefault("stochastic", {})
    outer, bound_from = outcome.get("outer"), "mpi-sppy's best outer bound"
    if outcome.get("failed_solves"):
        # a failed subproblem leaves its scenario's last bound in mpi-sppy's sum: only the
        # hub's wait-and-see bound of iteration 0 (every scenario solved) is proven
        outer = outcome.get("trivial")
        bound_from = (f"the hub's wait-and-see bound ({outcome['failed_solves']} subproblem "
                      "solves failed in mpi-sppy, so its later bounds are not proven)")
    money = reference.money_unit
    bound = None if outer is None else outer * money
    if plan.status.has_plan and bound is not None:
        bound = min(bound, plan.objective)
        plan.best_bound = bound
        plan.mip_gap = max(plan.objective - bound, 0.0) / max(abs(plan.objective), 1e-12)
        plan.status = Status.OPTIMAL if plan.mip_gap <= options.mip_gap else Status.FEASIBLE
        plan.summary.update(status=plan.status.value, best_bound=bound, mip_gap=plan.mip_gap)
    elif plan.status.has_plan:
        plan.best_bound = plan.mip_gap = None
        plan.status = Status.FEASIBLE
        plan.summary.update(status="feasible", best_bound=None, mip_gap=None,
                            bound_note="mpi-sppy proved no outer bound in the time")
    st.update(method="ph", ranks=ranks, spokes=list(job.spokes),
              ph_iterations=outcome.get("iterations"), ph_seconds=outcome.get("seconds"),
              inner_bound=None if outcome.get("inner") is None else outcome["inner"] * money,
              outer_bound=bound, lower_bound=bound, bound_from=bound_from,
              failed_solves=outcome.get("failed_solves", 0), first_stage_from=chosen,
              candidates_evaluated=tried)
    plan.summary["solver"] = {**plan.summary.get("solver", {}),
                              "model_status": f"Progressive Hedging (mpi-sppy), "
                                              f"{outcome.get('iterations')} iterations on "
                                              f"{ranks} rank(s)"}
    return plan


def _stage(options: SolveOptions, began: float, what: str) -> None:
    """Tell the run's ``progress`` what is being solved (a stage, not a plan: no objective
    or bound; the plans come from the evaluations' own events)."""
    if options.progress is not None:
        options.progress({"seconds": time.perf_counter() - began, "objective": None,
                          "bound": None, "stage": what})


def _no_plan(instance: Instance, began: float, reason: str) -> Plan:
    summary = {"status": Status.NO_SOLUTION.value, "objective": None, "best_bound": None,
               "mip_gap": None, "input_sha256": instance.input_sha256,
               "instance": {"name": instance.spec.name, "file": str(instance.path),
                            "currency": instance.spec.currency},
               "stochastic": {"method": "ph", "reason": reason},
               "solve_seconds_total": time.perf_counter() - began, "kpis": {}}
    return Plan(status=Status.NO_SOLUTION, objective=None, best_bound=None, mip_gap=None,
                summary=summary)


if __name__ == "__main__":   # the child: python -m optimizer.scenarios.ph JOB OUT
    child_main(sys.argv[1], sys.argv[2])
