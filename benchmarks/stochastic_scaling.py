"""How the extensive form grows with the scenario count (medium instance, same seed).

    python benchmarks/stochastic_scaling.py --scenarios 3 10 30 --time-limit 120

Scenario demand scales are spread evenly over 0.5..1.5 with equal probabilities; the first
period is committed. Each count runs in a fresh process; value-of-information solves are off
(they are separate deterministic solves, not the extensive form).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from optimizer import load_instance
from optimizer.stochastic import solve_stochastic
began = time.perf_counter()
plan = solve_stochastic(load_instance({path!r}), time_limit={limit}, mip_gap={gap},
                        raise_on_infeasible=False, value_of_information=False)
s = plan.summary
print(json.dumps({{"status": s["status"], "model": s["model"], "build_seconds": s["build_seconds"],
                   "transfer_seconds": s["transfer_seconds"], "solve_seconds": s["solve_seconds"],
                   "mip_gap": s["mip_gap"], "total_seconds": time.perf_counter() - began,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", type=int, default=[3, 10, 30])
    parser.add_argument("--size", nargs=4, type=int, default=[10, 12, 8, 4])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--mip-gap", type=float, default=0.01)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from optimizer.generator import generate_instance
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.scenarios:
            instance = generate_instance(*args.size, seed=args.seed)
            scales = [0.5 + i / max(count - 1, 1) for i in range(count)]
            probability = round(1.0 / count, 12)
            members = {f"s{i:02d}": {"probability": probability, "demand_scale": round(x, 4)}
                       for i, x in enumerate(scales)}
            members[f"s{count - 1:02d}"]["probability"] = round(1.0 - probability * (count - 1), 12)
            instance["scenarios"] = {**members, "commit_periods": 1}
            path = Path(tmp) / f"s{count}.yaml"
            path.write_text(yaml.safe_dump(instance, sort_keys=False))
            code = CHILD.format(repo=str(REPO), path=str(path), limit=args.time_limit,
                                gap=args.mip_gap)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["scenarios"] = count
            rows.append(row)
            print(f"{count} scenarios: done", file=sys.stderr)
    print("| scenarios | rows | columns | integers | build s | hand-over s | HiGHS s | status | gap | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gap = "-" if r["mip_gap"] is None else f"{r['mip_gap']:.2%}"
        print(f"| {r['scenarios']} | {r['model']['rows']:,} | {r['model']['columns']:,} | "
              f"{r['model']['integers']:,} | {r['build_seconds']:.2f} | {r['transfer_seconds']:.2f} | "
              f"{r['solve_seconds']:.1f} | {r['status']} | {gap} | {r['peak_mb']:.0f} |")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
