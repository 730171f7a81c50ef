"""A scenario tree against rolling re-plans on the point forecast: the same futures, the same
instance.

    python benchmarks/tree_vs_rolling.py                      # the bundled procurement node
    python benchmarks/tree_vs_rolling.py FILE --stages 2026H1 2026H2 2027H1 --branching 3 3

The futures are the leaves of ``scenarios.tree`` with ``scenarios.sample``'s growth model
(uncertainty.md): demand follows the file's forecast times a sampled factor that branches at
each stage. Three plans are costed on every leaf's demand path:

- **tree**: one extensive form over the whole tree, decisions shared per node (what a planner
  re-planning each stage, knowing the tree, would carry out); its NPV per leaf.
- **rolling**: at each period the planner knows that period's demand (the leaf's), plans the
  rest on the point forecast, signs the period's orders, rentals, builds and openings, and
  re-plans at the next (:func:`optimizer.studies.rolling.rolling_replan`); the signed
  decisions costed on the leaf's demand.
- **foresight**: the leaf's own optimum knowing its demand from the start (wait-and-see).

Printed: the expected NPV of each over the leaves (leaf probabilities), the tree's gain over
rolling re-plans, and what perfect foresight would still save; per leaf, the three NPVs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT = REPO / "instances" / "zhengzhou-30k-procurement.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--stages", nargs="+", default=["2026H1", "2026H2", "2027H1"])
    parser.add_argument("--branching", nargs="+", type=int, default=[3, 3])
    parser.add_argument("--sigma", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds for the tree's extensive form")
    parser.add_argument("--step-limit", type=float, default=60.0,
                        help="seconds per solve of a rolling re-plan")
    parser.add_argument("--unmet-cost", type=float, default=5.0,
                        help="price of a million tokens not served (policies.unmet_demand_cost_per_million_tokens), in both "
                             "plans (a surprise no order can meet in time is then priced, "
                             "not fatal); 0: demand stays hard")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    from optimizer import instance_from_mapping, solve
    from optimizer.scenarios.scenario_set import sampled_futures
    from optimizer.studies.rolling import rolling_replan
    from optimizer.instance.loader import read_raw_instance
    raw = dict(read_raw_instance(args.file).raw)
    if args.unmet_cost > 0:
        raw["policies"] = {**(raw.get("policies") or {}),
                           "unmet_demand_cost_per_million_tokens": args.unmet_cost}
    leaves = 1
    for children in args.branching:
        leaves *= children
    raw["scenarios"] = {"sample": {"count": leaves, "seed": args.seed,
                                   "demand_growth": {"sigma": args.sigma}},
                        "tree": {"stages": args.stages, "branching": args.branching}}
    tree_instance = instance_from_mapping(raw, base_dir=args.file.parent)
    forecast = instance_from_mapping({k: v for k, v in raw.items() if k != "scenarios"},
                                     base_dir=args.file.parent, name=args.file.name)
    currency = forecast.spec.currency
    began = time.perf_counter()
    tree = solve(tree_instance, time_limit=args.time_limit, explain=False)
    tree_seconds = time.perf_counter() - began
    tree_npv = tree.tables["scenarios"].set_index("scenario")["npv"].to_dict()
    rows = []
    began = time.perf_counter()
    for future in sampled_futures(tree_instance):
        actual = future.raw["demand"]
        outcome = rolling_replan(forecast, actual, time_limit=args.step_limit)
        rows.append({"leaf": future.name, "probability": future.probability,
                     "tree_npv": tree_npv[future.name], "rolling_npv": outcome.rolling_npv,
                     "foresight_npv": outcome.foresight_npv})
        print(f"{future.name}: tree {tree_npv[future.name] / 1e6:,.2f} M, rolling "
              f"{outcome.rolling_npv / 1e6:,.2f} M, foresight "
              f"{outcome.foresight_npv / 1e6:,.2f} M", file=sys.stderr)
    rolling_seconds = time.perf_counter() - began
    expected = {k: sum(r["probability"] * r[k] for r in rows)
                for k in ("tree_npv", "rolling_npv", "foresight_npv")}
    print(f"{forecast.spec.name}: unmet demand at {args.unmet_cost:g} {currency} per million "
          f"tokens; tree stages {' '.join(args.stages)}, branching "
          f"{args.branching} ({len(rows)} leaves), sigma {args.sigma}, seed {args.seed}")
    print(f"tree: {tree.status.value}, gap {tree.mip_gap:.3%}, {tree_seconds:.0f} s; rolling "
          f"re-plans: {rolling_seconds:.0f} s for {len(rows)} leaves")
    print("| leaf | probability | tree NPV | rolling re-plan NPV | perfect foresight NPV |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['leaf']} | {r['probability']:.3f} | {r['tree_npv'] / 1e6:,.2f} M | "
              f"{r['rolling_npv'] / 1e6:,.2f} M | {r['foresight_npv'] / 1e6:,.2f} M |")
    print(f"| **expected** | 1 | **{expected['tree_npv'] / 1e6:,.2f} M** | "
          f"**{expected['rolling_npv'] / 1e6:,.2f} M** | "
          f"**{expected['foresight_npv'] / 1e6:,.2f} M** |")
    gain = expected["rolling_npv"] - expected["tree_npv"]
    print(f"the tree saves {gain / 1e6:,.2f} M {currency} in expectation over rolling re-plans "
          f"on the point forecast ({gain / expected['rolling_npv']:.2%}); perfect foresight "
          f"would save {(expected['tree_npv'] - expected['foresight_npv']) / 1e6:,.2f} M more")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "expected": expected,
                                         "tree_status": tree.status.value,
                                         "tree_gap": tree.mip_gap}, indent=1))


if __name__ == "__main__":
    main()
