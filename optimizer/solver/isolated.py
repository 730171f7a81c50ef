"""Branch and bound in a child process, stopped at the wall-clock second it must end.

HiGHS 1.16 checks its interrupt callbacks between branch-and-bound steps, but not inside a
MIP's root LP or some root heuristics: on the benchmark's large and xl sizes one root took
minutes past its deadline. A MIP run in a child process ends when it must: at the deadline, on
a cancel, or once a plan reaches the target, the child is stopped, and the best plan it
reported (each improving solution is sent back as it is found) is the outcome.

The child is a fresh interpreter (``python -c``, never a fork: HiGHS's thread pool does not
survive one, and a multiprocessing child would re-import the caller's main script). It reads
the model as plain arrays (a ``highspy.HighsLp`` cannot be pickled) from its stdin and writes
length-prefixed pickled messages to a copy of its stdout; its own stdout goes to /dev/null,
where HiGHS's banner lands.
"""
from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

POLL_SECONDS = 0.05
"""How often the parent looks at the clock and the cancel flag while the child runs."""

BOUND_SECONDS = 0.25
"""How often at most the child reports a risen proven bound."""


@dataclass
class IsolatedOutcome:
    """What the child reported.

    Attributes:
        values: column values of the best plan it found (None without one).
        objective: that plan's objective (with the model's offset).
        bound: the best proven lower bound it reported (None: none yet).
        status: HiGHS's model status name (``kOptimal`` ...); ``kInterrupt`` when the parent
            stopped the child, with ``reason`` saying why.
        stopped: True when the parent stopped the child (deadline, cancel or target).
    """

    values: np.ndarray | None
    objective: float | None
    bound: float | None
    status: str
    stopped: bool
    reason: str = ""


def _send(channel: BinaryIO, message: tuple) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    channel.write(struct.pack("<Q", len(payload)) + payload)
    channel.flush()


def _receive(stream: BinaryIO) -> tuple:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    size = struct.unpack("<Q", header)[0]
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return pickle.loads(payload)


def child_main(parent_pid: int | None = None) -> None:
    """The child: read (arrays, options, start) from stdin, run HiGHS, report every
    improving plan and the end on the protocol channel. It ends with its parent."""
    from optimizer.lifeline import die_with_parent
    die_with_parent(parent_pid)
    channel = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)      # HiGHS prints a banner when constructed
    arrays, options, start = pickle.load(sys.stdin.buffer)
    import highspy
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = arrays["num_col"], arrays["num_row"]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = (arrays["col_cost"], arrays["col_lower"],
                                                  arrays["col_upper"])
    lp.row_lower_, lp.row_upper_ = arrays["row_lower"], arrays["row_upper"]
    lp.offset_ = arrays["offset"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
        arrays["start"], arrays["index"], arrays["value"])
    lp.integrality_ = [highspy.HighsVarType.kInteger if flag else
                       highspy.HighsVarType.kContinuous for flag in arrays["integer"]]
    h.passModel(lp)
    for name, value in options.items():
        h.setOptionValue(name, value)
    if isinstance(start, tuple):          # a partial start: (columns, values)
        columns, values = start
        h.setSolution(len(columns), np.asarray(columns, dtype=np.int32), np.asarray(values))
    elif start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = start
        solution.value_valid = True
        h.setSolution(solution)

    def improving(event: Any) -> None:
        _send(channel, ("plan", float(event.data_out.objective_function_value),
                        float(event.data_out.mip_dual_bound),
                        np.asarray(event.data_out.mip_solution, dtype=float).copy()))
    h.cbMipImprovingSolution += improving
    last_bound = [float("-inf"), 0.0]

    def bound(event: Any) -> None:
        # the proven bound as it rises, at most every BOUND_SECONDS: a child stopped at its
        # deadline cannot report its end, and the bound is half of what a run proves
        dual = float(event.data_out.mip_dual_bound)
        now = time.perf_counter()
        if dual > last_bound[0] and now - last_bound[1] >= BOUND_SECONDS:
            last_bound[0], last_bound[1] = dual, now
            _send(channel, ("bound", dual))
    h.cbMipInterrupt += bound
    h.run()
    info = h.getInfo()
    feasible = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    _send(channel, ("done", str(h.getModelStatus()).split(".")[-1],
                    float(info.objective_function_value) if feasible else None,
                    float(info.mip_dual_bound),
                    np.asarray(h.getSolution().col_value).copy() if feasible else None))
    channel.close()


_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD_CODE = ("import sys; sys.path.insert(0, {root!r}); "
               "from optimizer.solver.isolated import child_main; child_main({parent})")


def run_isolated(arrays: Mapping[str, Any], options: Mapping[str, Any],
                 start: np.ndarray | tuple[np.ndarray, np.ndarray] | None,
                 should_stop: Callable[[], bool],
                 target: float | None = None,
                 on_plan: Callable[[float, float], None] | None = None,
                 on_bound: Callable[[float], None] | None = None) -> IsolatedOutcome:
    """Branch and bound on ``arrays`` in a child process until it ends, ``should_stop()``
    says so (a deadline, a cancel), or a plan reaches ``target``.

    Args:
        options: HiGHS options by name (``mip_rel_gap``, ``threads``, ``time_limit`` ...).
        start: full column values offered as the MIP start, or (columns, values) of a
            partial one that HiGHS completes.
        on_plan: called with (objective, the child's dual bound) for every improving plan.
        on_bound: called with the child's dual bound each time it reports a risen one.
    """
    child = subprocess.Popen([sys.executable, "-c", _CHILD_CODE.format(root=_PACKAGE_ROOT,
                                                                      parent=os.getpid())],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)
    best: tuple[float, np.ndarray] | None = None
    bound: float | None = None
    status, stopped, reason = "kInterrupt", False, ""

    def take(objective: float | None, dual: float, values: np.ndarray | None) -> None:
        nonlocal best, bound
        if values is not None and objective is not None and (best is None
                                                             or objective < best[0]):
            best = (objective, values)
            if on_plan is not None:
                on_plan(objective, dual)
        if np.isfinite(dual) and (bound is None or dual > bound):
            bound = dual
            if on_bound is not None:
                on_bound(dual)

    try:
        try:
            pickle.dump((dict(arrays), dict(options), start), child.stdin,
                        protocol=pickle.HIGHEST_PROTOCOL)
            child.stdin.close()
        except BrokenPipeError:
            pass
        while True:
            if target is not None and best is not None and best[0] <= target:
                stopped, reason = True, "target reached"
                break
            if should_stop():
                stopped, reason = True, "deadline or cancel"
                break
            ready, _, _ = select.select([child.stdout], [], [], POLL_SECONDS)
            if not ready:
                continue
            try:
                message = _receive(child.stdout)
            except (EOFError, pickle.UnpicklingError):
                status, reason = "kSolveError", (f"the solver process ended unexpectedly "
                                                 f"(exit {child.poll()})")
                break
            if message[0] == "bound":
                take(None, message[1], None)
            elif message[0] == "plan":
                _, objective, dual, values = message
                take(objective, dual, values)
            else:
                _, status, objective, dual, values = message
                take(objective, dual, values)
                break
    finally:
        _stop(child)
    return IsolatedOutcome(values=None if best is None else best[1],
                           objective=None if best is None else best[0], bound=bound,
                           status=status, stopped=stopped, reason=reason)


def _stop(child: subprocess.Popen) -> None:
    """End the child now (it holds no state worth keeping)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(1.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    for stream in (child.stdin, child.stdout):
        if stream is not None and not stream.closed:
            stream.close()
