"""Two phases on the matrix accelplan hands HiGHS: a tighter proven bound and a better plan.

Phase 1 relaxes only the purchase units (``units_bought`` continuous; cooling build steps,
site openings, exclusive cooling and rentals stay integer) and solves that MIP: a relaxation
of the model, so its dual bound is a proven lower bound of the model's optimum. Phase 2 fixes
those other integers at phase 1's values and solves the whole MIP (purchase units integer):
a restriction of the model, so its plan is a plan of the model. The gap (phase 2's NPV -
phase 1's bound) / phase 2's NPV is proven.

Why (medium, both fields, seed 1, 90 s each, 2 threads): the model's own LP bound is
517.72 M and HiGHS's B&B ends at 517.81 M against a plan of 519.05 M (0.239 %); relaxing the
build steps instead leaves the bound where it is (517.72 M), relaxing the purchase units
gives an optimum of 518.47 M in 35 s. The integrality the root bound misses is that of the
cooling steps, openings and rentals, which HiGHS's search closes only once the 990 unit
counts are out of its way.

    python benchmarks/two_phase.py --size medium --variant both --seeds 1 2 3 --limit 60

Each phase gets ``--limit`` seconds (the whole is not held to one limit: this measures what
each phase reaches by itself). The solve's own strategy runs the same phases inside one time
limit (``optimizer.solver.strategy._two_phase``), measured by ``benchmarks/run.py``. ``--update-best-known`` writes a
better plan into ``benchmarks/best_known.json`` (by "two-phase").
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BEST_KNOWN, SIZES, VARIANTS, key_of  # noqa: E402


def _solve(arrays, integer, lower, upper, seconds: float, threads: int | None):
    """HiGHS on ``arrays`` with the given integrality and column bounds: (status text, NPV,
    dual bound, column values, seconds), NPV and bound in the objective's unit."""
    import highspy
    import numpy as np

    from optimizer.solver.highs import highs_lp
    lp = highs_lp(arrays)
    lp.integrality_ = [highspy.HighsVarType.kInteger if flag else
                       highspy.HighsVarType.kContinuous for flag in integer]
    lp.col_lower_, lp.col_upper_ = lower, upper
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", seconds)
    highs.setOptionValue("mip_rel_gap", 1e-5)
    if threads:
        highs.setOptionValue("threads", threads)
    highs.passModel(lp)
    began = time.perf_counter()
    highs.run()
    info = highs.getInfo()
    has_plan = info.primal_solution_status == 2
    values = np.array(highs.getSolution().col_value) if has_plan else None
    return (highs.modelStatusToString(highs.getModelStatus()),
            info.objective_function_value if has_plan else None, info.mip_dual_bound,
            values, time.perf_counter() - began)


def two_phase(path: Path, seconds: float, threads: int | None) -> dict:
    """Both phases on the instance at ``path``; NPVs and bounds in the instance currency."""
    import numpy as np

    from formulations import build_model
    from optimizer import load_instance
    from optimizer.problem import build_problem_data
    from optimizer.solver.compile import StandardForm
    data = build_problem_data(load_instance(path))
    form = StandardForm(build_model(data))
    arrays = form.arrays
    units = np.array([key[0] == "units_bought" for key in form.column_keys()])
    others = arrays.integer & ~units
    status1, npv1, bound1, values1, seconds1 = _solve(
        arrays, others, arrays.lower, arrays.upper, seconds, threads)
    row = {"phase1_status": status1, "phase1_seconds": seconds1,
           "bound": bound1 * data.money_unit}
    if values1 is None:
        return {**row, "objective": None, "gap": None}
    lower, upper = arrays.lower.copy(), arrays.upper.copy()
    lower[others] = upper[others] = np.round(values1[others])
    status2, npv2, bound2, _, seconds2 = _solve(arrays, arrays.integer, lower, upper,
                                               seconds, threads)
    objective = None if npv2 is None else npv2 * data.money_unit
    return {**row, "phase2_status": status2, "phase2_seconds": seconds2,
            "objective": objective,
            "gap": None if objective is None else (objective - row["bound"]) / abs(objective)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="medium")
    parser.add_argument("--variant", choices=list(VARIANTS), default="both")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--update-best-known", action="store_true")
    args = parser.parse_args()
    from optimizer.instance.generator import generate_instance, instance_yaml
    best = json.loads(BEST_KNOWN.read_text()) if BEST_KNOWN.exists() else {}
    print("| size | variant | seed | phase 1 (units continuous) s | proven bound | phase 2 s | "
          "NPV | gap | best known before | plan against it |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            path = Path(tmp) / f"{seed}.yaml"
            dims = SIZES[args.size][0]
            path.write_text(instance_yaml(generate_instance(*dims, seed=seed,
                                                            **VARIANTS[args.variant])))
            row = two_phase(path, args.limit, args.threads)
            key = key_of(args.size, args.variant, seed)
            known = best.get(key, {}).get("objective")
            npv = row["objective"]
            against = "-" if npv is None or known is None else f"{(npv - known) / known:+.3%}"
            gap = "-" if row["gap"] is None else f"{row['gap']:.4%}"
            print(f"| {args.size} | {args.variant} | {seed} | {row['phase1_seconds']:.1f} "
                  f"({row['phase1_status']}) | {row['bound'] / 1e6:,.3f} M | "
                  f"{row.get('phase2_seconds', 0):.1f} | "
                  f"{'-' if npv is None else f'{npv / 1e6:,.3f} M'} | "
                  f"{gap} | "
                  f"{'-' if known is None else f'{known / 1e6:,.3f} M'} | {against} |",
                  flush=True)
            if args.update_best_known and npv is not None and (known is None or npv < known):
                best[key] = {"objective": npv, "by": "two-phase",
                             "date": datetime.date.today().isoformat(),
                             "time_limit": 2 * args.limit}
    if args.update_best_known:
        BEST_KNOWN.write_text(json.dumps(dict(sorted(best.items())), indent=1) + "\n")


if __name__ == "__main__":
    main()
