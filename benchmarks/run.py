"""Benchmark: generated instances of five sizes, four variants and several seeds, each solved
in a fresh process by accelplan and, on the same matrix with the same limit, by plain HiGHS
and by SCIP (pyscipopt, reading the MPS file ``accelplan solve --write-model`` writes).

    python benchmarks/run.py                                  # small .. xl, plain, seed 1
    python benchmarks/run.py --sizes medium large --variants both --seeds 1 2 3 4 5 --busy \\
        --jsonl runs.jsonl                                     # resumable: done runs are kept
    python benchmarks/run.py --table runs.jsonl                # the table of a finished run

Variants: ``plain``, ``procurement`` (lead times, deposits, memory fit, rentals, cards on
order, a tariff, a ban), ``energy`` (carbon, water, supply contracts, a carbon price and cap)
and ``both`` (``generate --procurement --energy``). Sizes are (sites, accelerators, periods,
workloads).

Each run records its status, NPV, proven bound, gap, the seconds to its first plan and to the
size's target gap, its wall time (start-up included) against the limit, and its peak memory
(the largest of the process and its child MIP processes). The table gives, for each size,
variant and solver, the **median and the worst** over the seeds, and the distance of the
solver's plan to the best plan known for that instance (``benchmarks/best_known.json``: the
lowest NPV any solver reached in any run, kept across runs), so that a weak bound and a weak
plan can be told apart. A proven bound above a best known plan would be a wrong answer by one
of the solvers: the table says so. ``--busy`` runs a CPU burner on the other core beside every
solve.
"""
from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEST_KNOWN = Path(__file__).resolve().parent / "best_known.json"
SIZES = {
    "small": ((3, 5, 4, 2), 60.0, 1e-4),
    "medium": ((10, 12, 8, 4), 60.0, 5e-4),
    "large": ((30, 20, 16, 6), 60.0, 3e-3),
    "xl": ((60, 30, 20, 8), 120.0, 0.01),
    "xxl": ((120, 30, 20, 8), 300.0, 0.02),
}
"""name -> (size, time limit in seconds, target relative gap)."""
VARIANTS = {"plain": {}, "procurement": {"procurement": True}, "energy": {"energy": True},
            "both": {"procurement": True, "energy": True}}
SOLVERS = ("accelplan", "highs", "scip")

ACCELPLAN = r"""
import json, resource, sys, time
began = time.perf_counter()
sys.path.insert(0, {repo!r})
from optimizer import load_instance, solve
plan = solve(load_instance({path!r}), time_limit={limit}, mip_gap={gap}, explain=False,
             raise_on_infeasible=False, started_at=began)
s = plan.summary
print(json.dumps({{"status": s["status"], "model": s.get("model", {{}}),
                   "objective": s.get("objective"), "bound": s.get("best_bound"),
                   "mip_gap": s.get("mip_gap"), "progress": s.get("progress", []),
                   "total_seconds": time.perf_counter() - began,
                   "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
                              / 1024}}))
"""

# both peers get the matrix accelplan hands to HiGHS, built in their own process and counted
# in their time: plain HiGHS from the arrays, SCIP from the MPS file --write-model writes
MATRIX = r"""
import json, resource, sys, time
began = time.perf_counter()
sys.path.insert(0, {repo!r})
from formulations import build_model
from optimizer import load_instance
from optimizer.problem import build_problem_data
from optimizer.solver.compile import StandardForm
data = build_problem_data(load_instance({path!r}))
form = StandardForm(build_model(data))
money = data.money_unit
events = []
def left():
    return max({limit} - (time.perf_counter() - began), 1.0)
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

PLAIN = MATRIX + r"""
import highspy
from optimizer.solver.highs import HighsModel
h = HighsModel(form.arrays).highs
h.setOptionValue("mip_rel_gap", {gap})
h.setOptionValue("time_limit", left())
def improving(e):
    events.append([time.perf_counter() - began, e.data_out.objective_function_value * money,
                   e.data_out.mip_dual_bound * money])
h.cbMipImprovingSolution += improving
h.run()
info = h.getInfo()
feasible = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
print(json.dumps({{"status": h.modelStatusToString(h.getModelStatus()),
                   "objective": info.objective_function_value * money if feasible else None,
                   "bound": info.mip_dual_bound * money, "mip_gap": info.mip_gap if feasible
                   else None, "progress": events, "total_seconds": time.perf_counter() - began,
                   "peak_mb": peak()}}))
"""

SCIP = MATRIX + r"""
import os, tempfile
import pyscipopt
from optimizer.solver.highs import write_model_file
path = os.path.join(tempfile.mkdtemp(), "model.mps")
write_model_file(form.arrays, path, *form.names())
del form, data
scip = pyscipopt.Model()
scip.hideOutput()
scip.readProblem(path)
class Best(pyscipopt.Eventhdlr):
    def eventinit(self):
        self.model.catchEvent(pyscipopt.SCIP_EVENTTYPE.BESTSOLFOUND, self)
    def eventexec(self, event):
        events.append([time.perf_counter() - began, self.model.getPrimalbound() * money,
                       self.model.getDualbound() * money])
scip.includeEventhdlr(Best(), "best", "records each better plan")
scip.setParam("limits/time", left())
scip.setParam("limits/gap", {gap})
scip.optimize()
has_plan = scip.getNSols() > 0
objective = scip.getObjVal() * money if has_plan else None
bound = scip.getDualbound() * money
print(json.dumps({{"status": scip.getStatus(), "objective": objective, "bound": bound,
                   "mip_gap": (objective - bound) / abs(objective) if has_plan and objective
                   else None, "progress": events, "total_seconds": time.perf_counter() - began,
                   "peak_mb": peak(), "scip": scip.version()}}))
"""
CODE = {"accelplan": ACCELPLAN, "highs": PLAIN, "scip": SCIP}


def _burn() -> None:
    while True:
        pass


def time_to(progress: list, gap: float) -> float | None:
    """Seconds until a plan within ``gap`` of the bound known then (None: never)."""
    for seconds, objective, bound in progress:
        if objective and bound is not None and bound == bound and abs(bound) != float("inf"):
            if (objective - bound) / abs(objective) <= gap:
                return seconds
    return None


def key_of(size: str, variant: str, seed: int) -> str:
    return f"{size}/{variant}/seed{seed}"


def run_one(size: str, variant: str, seed: int, solver: str, directory: Path,
            busy: bool) -> dict:
    """One solve in a fresh process; its record."""
    from optimizer.instance.generator import generate_instance, instance_yaml
    dims, limit, gap = SIZES[size]
    path = directory / f"{size}-{variant}-{seed}.yaml"
    if not path.exists():
        path.write_text(instance_yaml(generate_instance(*dims, seed=seed, **VARIANTS[variant])))
    burner = None
    if busy:
        burner = multiprocessing.get_context("spawn").Process(target=_burn, daemon=True)
        burner.start()
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CODE[solver].format(
        repo=str(REPO), path=str(path), limit=limit, gap=gap)], capture_output=True, text=True)
    wall = time.perf_counter() - began
    if burner is not None:
        burner.terminate()
        burner.join()
    lines = out.stdout.strip().splitlines()
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        record = {"status": "crashed", "error": out.stderr[-800:]}
    progress = record.pop("progress", None) or []
    finished = record.get("total_seconds")
    final_gap = record.get("mip_gap")

    def reached(target: float) -> float | None:
        seconds = time_to(progress, target)
        if seconds is None and final_gap is not None and final_gap <= target:
            return finished          # proven at the end (a bound that rose after the plan)
        return seconds
    record.update(size=size, variant=variant, seed=seed, solver=solver, dims=list(dims),
                  time_limit=limit, target_gap=gap, busy=busy, wall_seconds=wall,
                  load_average=[load_before, os.getloadavg()[0]],
                  first_plan_seconds=progress[0][0] if progress else None,
                  to_target_seconds=reached(gap), to_1_percent_seconds=reached(0.01),
                  date=datetime.date.today().isoformat())
    return record


def update_best_known(records: list[dict]) -> dict:
    """The lowest NPV of each instance over these records and the file's, written back."""
    best = json.loads(BEST_KNOWN.read_text()) if BEST_KNOWN.exists() else {}
    for r in records:
        if r.get("objective") is None:
            continue
        key = key_of(r["size"], r["variant"], r["seed"])
        if key not in best or r["objective"] < best[key]["objective"]:
            best[key] = {"objective": r["objective"], "by": r["solver"], "date": r["date"],
                         "time_limit": r["time_limit"]}
    BEST_KNOWN.write_text(json.dumps(dict(sorted(best.items())), indent=1) + "\n")
    return best


def _median_worst(values: list[float | None], pattern: str, missing: str = "no plan") -> str:
    known = [v for v in values if v is not None]
    if not values:
        return ""
    if not known:
        return missing
    text = f"{pattern.format(statistics.median(known))} / {pattern.format(max(known))}"
    lost = len(values) - len(known)
    return text + (f" ({lost} {missing})" if lost else "")


def _gap_text(rows: list[dict]) -> str:
    """Median / worst gap, and how many runs had no plan or a plan without a proven bound."""
    text = _median_worst([r.get("mip_gap") for r in rows], "{:.3%}")
    if "(" in text or text == "no plan":
        text = text.split(" (")[0] if text != "no plan" else ""
    lost = sum(r.get("objective") is None for r in rows)
    unbounded = sum(r.get("objective") is not None and r.get("mip_gap") is None for r in rows)
    notes = [f"{lost} no plan"] * bool(lost) + [f"{unbounded} no bound"] * bool(unbounded)
    return (text or "-") + (f" ({', '.join(notes)})" if notes else "")


def table(records: list[dict], best: dict) -> str:
    """Median / worst over seeds, per size, variant and solver."""
    lines = ["| size | variant | solver | seeds | gap at limit, median / worst (target) | "
             "distance to best known, median / worst | first plan s, median / worst | "
             "to target s | wall s, worst (limit) | peak MB, worst |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((list(SIZES).index(r["size"]), list(VARIANTS).index(r["variant"]),
                           SOLVERS.index(r["solver"])), []).append(r)
    wrong = []
    for (s, v, k), rows in sorted(groups.items()):
        first = rows[0]
        distances = []
        for r in rows:
            known = best.get(key_of(r["size"], r["variant"], r["seed"]))
            distances.append(None if r.get("objective") is None or known is None else
                             (r["objective"] - known["objective"]) / abs(r["objective"]))
            if known and r.get("bound") is not None and r["bound"] == r["bound"] and \
                    r["bound"] > known["objective"] * (1 + 1e-6) + 1e-6:
                wrong.append(f"{r['solver']} on {key_of(r['size'], r['variant'], r['seed'])}: "
                             f"bound {r['bound']:,.0f} above best known "
                             f"{known['objective']:,.0f}")
        to_target = [r["to_target_seconds"] for r in rows]
        lines.append(
            f"| {first['size']} | {first['variant']} | {first['solver']} | "
            f"{','.join(str(r['seed']) for r in rows)} | "
            f"{_gap_text(rows)} "
            f"({first['target_gap']:.2%}) | {_median_worst(distances, '{:.3%}')} | "
            f"{_median_worst([r['first_plan_seconds'] for r in rows], '{:.1f}')} | "
            f"{_median_worst(to_target, '{:.1f}', 'never')} | "
            f"{max(r['wall_seconds'] for r in rows):.1f} ({first['time_limit']:.0f}) | "
            f"{max(r.get('peak_mb') or 0 for r in rows):.0f} |")
    if wrong:
        lines.append("")
        lines.extend(f"WRONG: {w}" for w in wrong)
    return "\n".join(lines)


def header(busy: bool) -> str:
    sys.path.insert(0, str(REPO))
    import highspy
    h = highspy.Highs()
    try:
        import pyscipopt
        scip = f", SCIP {pyscipopt.Model().version()} (pyscipopt {pyscipopt.__version__})"
    except ImportError:
        scip = ", SCIP not installed"
    return (f"HiGHS {h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}{scip}, "
            f"{os.cpu_count()} cores (each solver's default threads), load average "
            f"{os.getloadavg()[0]:.2f} at start{', one core busy' if busy else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES),
                        default=["small", "medium", "large", "xl"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["plain"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=list(SOLVERS))
    parser.add_argument("--busy", action="store_true", help="burn one core beside each solve")
    parser.add_argument("--jsonl", type=Path, default=None,
                        help="append each run's record here; runs already in it are skipped")
    parser.add_argument("--table", type=Path, default=None, metavar="JSONL",
                        help="print the table of these records and run nothing")
    args = parser.parse_args()
    if args.table is not None:
        records = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        print(table(records, update_best_known(records)))
        return
    records = []
    if args.jsonl is not None and args.jsonl.exists():
        records = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line]
    done = {(r["size"], r["variant"], r["seed"], r["solver"], r["busy"]) for r in records}
    print(header(args.busy))
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for variant in args.variants:
                for seed in args.seeds:
                    for solver in args.solvers:
                        if (size, variant, seed, solver, args.busy) in done:
                            continue
                        record = run_one(size, variant, seed, solver, Path(tmp), args.busy)
                        records.append(record)
                        if args.jsonl is not None:
                            with args.jsonl.open("a") as out:
                                out.write(json.dumps(record) + "\n")
                        print(f"{key_of(size, variant, seed)} {solver}: {record['status']} "
                              f"gap {record.get('mip_gap')} in {record['wall_seconds']:.1f} s",
                              file=sys.stderr, flush=True)
    print(table(records, update_best_known(records)))


if __name__ == "__main__":
    main()
