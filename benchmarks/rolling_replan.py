"""A rolling re-plan study: re-plan every period on the forecast while the actual demand
comes in differently, and compare the cost with a plan made with perfect foresight.

    python benchmarks/rolling_replan.py                       # the bundled procurement node
    python benchmarks/rolling_replan.py FILE --scale 1,1.2,1.4,1.1,0.9,1.3 --time-limit 60

``--scale`` gives the actual demand as the forecast times one factor per period (every
workload); the default path runs ahead of the forecast, then falls behind it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT = REPO / "instances" / "zhengzhou-30k-procurement.yaml"
DEFAULT_SCALE = "1.0,1.15,1.3,1.2,0.95,1.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--scale", default=DEFAULT_SCALE,
                        help="actual demand / forecast, one factor per period")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    args = parser.parse_args()
    from optimizer import load_instance
    from optimizer.studies.rolling import rolling_replan
    forecast = load_instance(args.file)
    periods = list(forecast.spec.horizon.periods)
    factors = [float(x) for x in args.scale.split(",")]
    if len(factors) != len(periods):
        parser.error(f"--scale needs {len(periods)} factors ({', '.join(periods)})")
    actual = {w: {p: series.get(p, 0.0) * f for p, f in zip(periods, factors)}
              for w, series in forecast.spec.demand.items()}
    outcome = rolling_replan(forecast, actual, time_limit=args.time_limit)
    currency = forecast.spec.currency
    print(f"{forecast.spec.name}: actual demand = forecast x {args.scale}")
    print(outcome.table().to_string(index=False))
    print(f"rolling re-plan NPV on the actual demand: {outcome.rolling_npv:,.0f} {currency} "
          f"({outcome.rolling.status.value})")
    print(f"perfect foresight NPV:                    {outcome.foresight_npv:,.0f} {currency} "
          f"({outcome.foresight.status.value})")
    print(f"cost of not knowing the future: {outcome.regret:,.0f} {currency} "
          f"({outcome.regret / outcome.foresight_npv:.2%})")


if __name__ == "__main__":
    main()
