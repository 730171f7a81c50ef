"""Benchmark: generated instances of four sizes, each solved in a fresh process.

    python benchmarks/run.py                 # all sizes
    python benchmarks/run.py --sizes small medium --json out.json

Reports model rows, columns and integers, build seconds (problem data + Pyomo model), hand-over
seconds (standard-form compile + passModel), HiGHS seconds, the gap reached and peak memory.
Sizes are (sites, accelerators, periods, workloads); every size uses the same seed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {
    "small": ((3, 5, 4, 2), 60.0, 1e-4),
    "medium": ((10, 12, 8, 4), 60.0, 1e-4),
    "large": ((30, 20, 16, 6), 60.0, 0.01),
    "xl": ((60, 30, 20, 8), 120.0, 0.02),
}
"""name -> (size, time limit in seconds, target relative gap)."""

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from optimizer import load_instance, solve
began = time.perf_counter()
plan = solve(load_instance({path!r}), time_limit={limit}, mip_gap={gap}, explain=False,
             raise_on_infeasible=False)
s = plan.summary
print(json.dumps({{"status": s["status"], "model": s["model"], "build_seconds": s["build_seconds"],
                   "transfer_seconds": s["transfer_seconds"], "solve_seconds": s["solve_seconds"],
                   "mip_gap": s["mip_gap"], "objective": s["objective"],
                   "start_seconds": s.get("start_seconds"),
                   "total_seconds": time.perf_counter() - began,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(name: str, seed: int, directory: Path) -> dict:
    from optimizer.instance.generator import generate_instance, instance_yaml
    size, limit, gap = SIZES[name]
    path = directory / f"{name}.yaml"
    path.write_text(instance_yaml(generate_instance(*size, seed=seed)))
    code = CHILD.format(repo=str(REPO), path=str(path), limit=limit, gap=gap)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(size=name, dims=size, time_limit=limit, target_gap=gap)
    return result


def table(results: list[dict]) -> str:
    lines = ["| size | (S,K,T,W) | rows | columns | integers | build s | hand-over s | first plan s | "
             "HiGHS s | total s | status | gap | target | peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        gap = "-" if r["mip_gap"] is None else f"{r['mip_gap']:.3%}"
        lines.append(
            f"| {r['size']} | {tuple(r['dims'])} | {r['model']['rows']:,} | "
            f"{r['model']['columns']:,} | {r['model']['integers']:,} | "
            f"{r['build_seconds']:.2f} | {r['transfer_seconds']:.2f} | "
            f"{r.get('start_seconds') or 0:.1f} | {r['solve_seconds']:.1f} | "
            f"{r['total_seconds']:.1f} | "
            f"{r['status']} | {gap} | {r['target_gap']:.2%} in {r['time_limit']:.0f} s | "
            f"{r['peak_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes:
            results.append(run(name, args.seed, Path(tmp)))
            print(f"{name}: done", file=sys.stderr)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
