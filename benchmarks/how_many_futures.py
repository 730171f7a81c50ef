"""How many sampled futures are enough? zhengzhou-30k with a demand growth model, planned
against N futures (N = 10, 30, 100, 300 by default), each plan evaluated out of sample on the
same independent draw (seed + 1, ``--evaluate-count`` futures), side by side in one run.

    python benchmarks/how_many_futures.py --counts 10 30 100 300 --time-limit 300

Reported per N: the first stage (cards ordered now, by accelerator), the in-sample objective,
the out-of-sample mean and its 95 % confidence interval, the status and gap, and the wall
time. The first stage and the out-of-sample cost settling as N grows says how many futures
are enough.
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
import json, sys, time
sys.path.insert(0, {repo!r})
from optimizer import load_instance, solve
began = time.perf_counter()
plan = solve(load_instance({path!r}), time_limit={limit}, mip_gap={gap},
             raise_on_infeasible=False, stochastic_method={method!r}, workers={workers},
             evaluate_count={evaluate}, started_at=began)
s = plan.summary
first = plan.tables.get("first_stage")
orders = {{}}
if first is not None and len(first):
    for row in first[first["decision"] == "order"].to_dict("records"):
        orders[row["accelerator"]] = orders.get(row["accelerator"], 0) + int(row["cards"])
print(json.dumps({{"status": s["status"], "objective": s["objective"], "mip_gap": s["mip_gap"],
                   "out_of_sample": (s.get("kpis") or {{}}).get("out_of_sample"),
                   "orders": orders, "seconds": time.perf_counter() - began}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", nargs="+", type=int, default=[10, 30, 100, 300])
    parser.add_argument("--instance", default=str(REPO / "instances" / "zhengzhou-30k.yaml"))
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--evaluate-count", type=int, default=100)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--mip-gap", type=float, default=0.005)
    parser.add_argument("--method", choices=["extensive", "decomposed", "ph"],
                        default="extensive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--unmet-cost", type=float, default=5.0,
                        help="price of a million tokens not served "
                             "(policies.unmet_demand_cost_per_million_tokens): a high future "
                             "beyond the node's caps is then priced, not infeasible; 0: hard")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from optimizer.instance.loader import read_raw_instance
    base = dict(read_raw_instance(args.instance).raw)
    rows = []
    with tempfile.TemporaryDirectory(dir=Path(args.instance).parent) as tmp:
        for count in args.counts:
            data = dict(base)
            if args.unmet_cost > 0:
                data["policies"] = {**(data.get("policies") or {}),
                                    "unmet_demand_cost_per_million_tokens": args.unmet_cost}
            data["scenarios"] = {"sample": {"count": count, "seed": args.seed,
                                            "demand_growth": {"sigma": args.sigma}},
                                 "commit_periods": 1}
            path = Path(tmp) / f"n{count}.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            code = CHILD.format(repo=str(REPO), path=str(path), limit=args.time_limit,
                                gap=args.mip_gap, method=args.method, workers=args.workers,
                                evaluate=args.evaluate_count)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["count"] = count
            rows.append(row)
            print(f"N = {count}: {row['status']} {row['seconds']:.0f} s", file=sys.stderr)
    print("| futures N | cards ordered now | in-sample objective | out of sample (95 % CI) | "
          "status | gap | wall s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        out = r["out_of_sample"] or {}
        oos = (f"{out['mean'] / 1e6:,.1f} M ({out['ci95_low'] / 1e6:,.1f} to "
               f"{out['ci95_high'] / 1e6:,.1f})" if "mean" in out else out.get("note", "-"))
        orders = ", ".join(f"{k} {v:,}" for k, v in sorted(r["orders"].items())) or "none"
        obj = "-" if r["objective"] is None else f"{r['objective'] / 1e6:,.1f} M"
        gap = "-" if r["mip_gap"] is None else f"{r['mip_gap']:.2%}"
        print(f"| {r['count']} | {orders} | {obj} | {oos} | {r['status']} | {gap} | "
              f"{r['seconds']:.0f} |")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
