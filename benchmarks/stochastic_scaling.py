"""How the extensive form, the bundle decomposition and Progressive Hedging (mpi-sppy) grow
with the scenario count (medium instance, same seed), side by side in one run.

    python benchmarks/stochastic_scaling.py --scenarios 3 10 30 --time-limit 120
    python benchmarks/stochastic_scaling.py --methods extensive decomposed ph --workers 2
    python benchmarks/stochastic_scaling.py --scenarios 10 30 100 300 --methods decomposed \
        --seconds-per-future 2      # how the time to the first plan and memory grow

Scenario demand scales are spread evenly over 0.5..1.5 with equal probabilities; the first
period is committed. Each count runs in a fresh process; value-of-information solves are off
(they are separate deterministic solves, not the extensive form). The time limit is for the
whole run of each method (``--seconds-per-future`` makes it that many seconds per future, to
see whether the cost per future grows); the decomposition's gap is the proven (UB - LB) / UB
of the whole (see optimizer/scenarios/decomposition.py). "first plan s" is when the run's
progress first reported a plan (the extensive form and the decomposition report it; PH does
not).
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
from optimizer import load_instance, solve
began = time.perf_counter()
first_plan = []
def heard(event):
    if event.get("objective") is not None and not first_plan:
        first_plan.append(time.perf_counter() - began)
plan = solve(load_instance({path!r}), time_limit={limit}, mip_gap={gap},
             raise_on_infeasible=False, value_of_information=False, out_of_sample=False,
             stochastic_method={method!r}, workers={workers}, started_at=began,
             progress=heard)
s = plan.summary
st = s.get("stochastic", {{}})
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({{"status": s["status"], "model": s.get("model", {{}}),
                   "objective": s["objective"], "best_bound": s.get("best_bound"),
                   "solves": st.get("solves", st.get("ph_iterations", 1)), "method": {method!r},
                   "mip_gap": s["mip_gap"], "total_seconds": time.perf_counter() - began,
                   "first_plan_seconds": first_plan[0] if first_plan else None,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "child_peak_mb": children, "reason": st.get("reason"),
                   "bound_note": st.get("bound_note"),
                   "bundles_without_plan": len(st.get("bundles_without_plan", [])),
                   "candidates": [{{k: c.get(k) for k in ("source", "outcome",
                                   "futures_with_plan", "futures_out_of_time")}}
                                  for c in st.get("candidates", [])][:8]}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", type=int, default=[3, 10, 30])
    parser.add_argument("--size", nargs=4, type=int, default=[10, 12, 8, 4])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--seconds-per-future", type=float, default=None,
                        help="time limit of each run: this many seconds per future "
                             "(instead of --time-limit)")
    parser.add_argument("--mip-gap", type=float, default=0.01)
    parser.add_argument("--methods", nargs="+", choices=["extensive", "decomposed", "ph"],
                        default=["extensive", "decomposed", "ph"])
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes (decomposed) or MPI ranks (ph)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from optimizer.instance.generator import generate_instance
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
            for method in args.methods:
                limit = args.time_limit if args.seconds_per_future is None else \
                    args.seconds_per_future * count
                code = CHILD.format(repo=str(REPO), path=str(path), limit=limit,
                                    gap=args.mip_gap, method=method, workers=args.workers)
                out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True)
                if out.returncode != 0:
                    print(f"{count} scenarios, {method}: failed: {out.stderr[-1500:]}",
                          file=sys.stderr)
                    continue
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["scenarios"] = count
                row["time_limit"] = limit
                rows.append(row)
                print(f"{count} scenarios, {method}: {row['status']} "
                      f"{row['total_seconds']:.0f} s"
                      + (f" ({row['reason']})" if row.get("reason") else ""), file=sys.stderr)
    print("| method | scenarios | limit s | rows | columns | integers | solves | first plan s | total s | "
          "status | E[NPV] | gap | peak MB (self + children) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gap = "-" if r["mip_gap"] is None else f"{r['mip_gap']:.2%}"
        npv = "-" if r["objective"] is None else f"{r['objective'] / 1e6:,.2f} M"
        first = "-" if r.get("first_plan_seconds") is None else f"{r['first_plan_seconds']:.1f}"
        model = r["model"]
        print(f"| {r['method']} | {r['scenarios']} | {r['time_limit']:.0f} | "
              f"{model.get('rows', 0):,} | "
              f"{model.get('columns', 0):,} | {model.get('integers', 0):,} | {r['solves']} | "
              f"{first} | {r['total_seconds']:.1f} | {r['status']} | {npv} | {gap} | "
              f"{r['peak_mb']:.0f} + {r['child_peak_mb']:.0f} |")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
