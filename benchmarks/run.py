"""Benchmark: generated instances of five sizes, each solved in a fresh process by accelplan
and, on the same matrix with the same limit, by plain HiGHS.

    python benchmarks/run.py                        # small, medium, large, xl
    python benchmarks/run.py --sizes large xl xxl --busy --json out.json

Reports model rows, columns and integers; accelplan's build, hand-over and first-plan seconds,
its time to its first plan and to a 1 % proven gap, its gap at the limit and its wall time
(start-up included); plain HiGHS's time to its first plan and to 1 %, and its gap at the limit;
the ratios; peak memory (the largest of the process and its child MIP processes); the HiGHS
version, the threads and the load average. ``--busy`` runs
a CPU burner on one core beside every solve. Sizes are (sites, accelerators, periods,
workloads); every size uses the same seed.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {
    "small": ((3, 5, 4, 2), 60.0, 1e-4),
    "medium": ((10, 12, 8, 4), 60.0, 5e-4),
    "large": ((30, 20, 16, 6), 60.0, 3e-3),
    "xl": ((60, 30, 20, 8), 120.0, 0.01),
    "xxl": ((120, 30, 20, 8), 300.0, 0.02),
}
"""name -> (size, time limit in seconds, target relative gap)."""

ACCELPLAN = r"""
import json, resource, sys, time
began = time.perf_counter()
sys.path.insert(0, {repo!r})
from optimizer import load_instance, solve
import inspect
extra = {{"started_at": began}} if "started_at" in inspect.signature(solve).parameters else {{}}
plan = solve(load_instance({path!r}), time_limit={limit}, mip_gap={gap}, explain=False,
             raise_on_infeasible=False, **extra)
s = plan.summary
print(json.dumps({{"status": s["status"], "model": s.get("model", {{}}),
                   "build_seconds": s.get("build_seconds"),
                   "transfer_seconds": s.get("transfer_seconds"),
                   "start_seconds": s.get("start_seconds"), "mip_gap": s.get("mip_gap"),
                   "objective": s.get("objective"), "progress": s.get("progress", []),
                   "how": s.get("solver", {{}}).get("model_status"),
                   "total_seconds": time.perf_counter() - began,
                   "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
                              / 1024}}))
"""

PLAIN = r"""
import json, resource, sys, time
began = time.perf_counter()
sys.path.insert(0, {repo!r})
import highspy
from formulations import build_model
from optimizer import load_instance
from optimizer.problem import build_problem_data
from optimizer.solver.compile import StandardForm
from optimizer.solver.highs import HighsModel
form = StandardForm(build_model(build_problem_data(load_instance({path!r}))))
h = HighsModel(form.arrays).highs
h.setOptionValue("mip_rel_gap", {gap})
h.setOptionValue("time_limit", max({limit} - (time.perf_counter() - began), 1.0))
events = []
def improving(e):
    events.append([time.perf_counter() - began, e.data_out.objective_function_value,
                   e.data_out.mip_dual_bound])
h.cbMipImprovingSolution += improving
h.run()
info = h.getInfo()
feasible = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
print(json.dumps({{"status": h.modelStatusToString(h.getModelStatus()),
                   "objective": info.objective_function_value if feasible else None,
                   "bound": info.mip_dual_bound, "mip_gap": info.mip_gap if feasible else None,
                   "progress": events, "total_seconds": time.perf_counter() - began,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


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


def run(name: str, seed: int, directory: Path, busy: bool, before: Path | None,
        procurement: bool = False, energy: bool = False) -> dict:
    from optimizer.instance.generator import generate_instance, instance_yaml
    size, limit, gap = SIZES[name]
    path = directory / f"{name}.yaml"
    path.write_text(instance_yaml(generate_instance(*size, seed=seed)))
    variant_paths = {}
    for variant in ("procurement", "energy"):
        variant_paths[variant] = directory / f"{name}-{variant}.yaml"
        variant_paths[variant].write_text(instance_yaml(generate_instance(
            *size, seed=seed, **{variant: True})))
    result: dict = {"size": name, "dims": size, "time_limit": limit, "target_gap": gap,
                    "busy": busy}
    runs = [("accelplan", ACCELPLAN, REPO), ("plain", PLAIN, REPO)]
    if before is not None:
        runs.insert(0, ("before", ACCELPLAN, before))
    if procurement:
        runs.append(("procurement", ACCELPLAN, REPO))
    if energy:
        runs.append(("energy", ACCELPLAN, REPO))
    for label, code, repo in runs:
        burner = None
        if busy:
            burner = multiprocessing.get_context("spawn").Process(target=_burn, daemon=True)
            burner.start()
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code.format(
            repo=str(repo), path=str(variant_paths.get(label, path)),
            limit=limit, gap=gap)], capture_output=True,
            text=True)
        wall = time.perf_counter() - began
        if burner is not None:
            burner.terminate()
            burner.join()
        lines = out.stdout.strip().splitlines()
        record = json.loads(lines[-1]) if lines else {"status": "crashed", "error": out.stderr[-500:]}
        record.update(wall_seconds=wall, load_average=[load_before, os.getloadavg()[0]])
        progress = record.get("progress") or []
        record["first_plan_seconds"] = progress[0][0] if progress else None
        record["to_1_percent_seconds"] = time_to(progress, 0.01)
        record.pop("progress", None)
        result[label] = record
    return result


def _fmt(value, pattern: str = "{:.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def table(results: list[dict]) -> str:
    lines = ["| size | rows / columns / integers | build + hand-over s | accelplan: first plan s "
             "| to 1 % s | gap at limit | wall s (limit) | plain HiGHS: first plan s | to 1 % s "
             "| gap at limit | gap ratio plain/accelplan | peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "before" in r:
            b = r["before"]
            lines.append(f"| {r['size']} before | | | - | - | {_fmt(b.get('mip_gap'), '{:.3%}')} "
                         f"({b.get('status')}) | {b['wall_seconds']:.1f} ({r['time_limit']:.0f}) "
                         f"| | | | | {b.get('peak_mb', 0):.0f} |")
        a, p = r["accelplan"], r["plain"]
        model = a.get("model") or {}
        for variant in ("procurement", "energy"):
            if variant not in r:
                continue
            q = r[variant]
            qm = q.get("model") or {}
            lines.append(
                f"| {r['size']} + {variant} | {qm.get('rows', 0):,} / {qm.get('columns', 0):,}"
                f" / {qm.get('integers', 0):,} | {_fmt(q.get('build_seconds'), '{:.2f}')} + "
                f"{_fmt(q.get('transfer_seconds'), '{:.2f}')} | {_fmt(q['first_plan_seconds'])} | "
                f"{_fmt(q['to_1_percent_seconds'])} | {_fmt(q.get('mip_gap'), '{:.3%}')} | "
                f"{q['wall_seconds']:.1f} ({r['time_limit']:.0f}) | | | | | "
                f"{q.get('peak_mb', 0):.0f} |")
        ratio = (p["mip_gap"] / a["mip_gap"] if a.get("mip_gap") and p.get("mip_gap")
                 else None)
        lines.append(
            f"| {r['size']} {tuple(r['dims'])} | {model.get('rows', 0):,} / "
            f"{model.get('columns', 0):,} / {model.get('integers', 0):,} | "
            f"{_fmt(a.get('build_seconds'), '{:.2f}')} + "
            f"{_fmt(a.get('transfer_seconds'), '{:.2f}')} | {_fmt(a['first_plan_seconds'])} | "
            f"{_fmt(a['to_1_percent_seconds'])} | {_fmt(a.get('mip_gap'), '{:.3%}')} "
            f"(target {r['target_gap']:.2%}) | {a['wall_seconds']:.1f} ({r['time_limit']:.0f}) | "
            f"{_fmt(p['first_plan_seconds'])} | {_fmt(p['to_1_percent_seconds'])} | "
            f"{_fmt(p.get('mip_gap'), '{:.3%}')} | {_fmt(ratio, '{:.1f}x')} | "
            f"{a.get('peak_mb', 0):.0f} / {p.get('peak_mb', 0):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES),
                        default=["small", "medium", "large", "xl"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--busy", action="store_true", help="burn one core beside each solve")
    parser.add_argument("--before", type=Path, default=None,
                        help="also run accelplan from this older checkout (a git worktree)")
    parser.add_argument("--procurement", action="store_true",
                        help="also run accelplan on the instance with procurement fields")
    parser.add_argument("--energy", action="store_true",
                        help="also run accelplan on the instance with energy fields")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import highspy
    h = highspy.Highs()
    header = (f"HiGHS {h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}, "
              f"{os.cpu_count()} cores (HiGHS's default threads), load average "
              f"{os.getloadavg()[0]:.2f} at start{', one core busy' if args.busy else ''}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes:
            results.append(run(name, args.seed, Path(tmp), args.busy, args.before,
                               args.procurement, args.energy))
            print(f"{name}: done", file=sys.stderr)
    print(header)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"header": header, "results": results}, indent=2))


if __name__ == "__main__":
    main()
