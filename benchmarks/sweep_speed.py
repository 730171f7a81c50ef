"""Sweep speed: six variants of the medium instance (demand x 0.9 ... 1.4) solved as six
separate commands, and as one sweep with one and two workers, with and without warm starts
(each variant's plan offered to the next as a MIP start). Each variant stops at --mip-gap or
--time-limit. Prints wall seconds and ratios against the six separate solves.

    python benchmarks/sweep_speed.py [--mip-gap 0.01] [--time-limit 60]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCALES = "0.9,1.0,1.1,1.2,1.3,1.4"


def _run(args: list[str]) -> float:
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True,
                         text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"accelplan {' '.join(args)} failed: {out.stderr[-400:]}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mip-gap", default="0.01")
    parser.add_argument("--time-limit", default="60")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from optimizer.instance.generator import generate_instance, instance_yaml
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "medium.yaml"
        path.write_text(instance_yaml(generate_instance(10, 12, 8, 4, seed=1)))
        limits = ["--mip-gap", args.mip_gap, "--time-limit", args.time_limit]
        rows = []
        separate = sum(_run(["solve", str(path), "--set", f"demand_scale={s}", "--json",
                             *limits]) for s in SCALES.split(","))
        rows.append(("six separate solves", separate))
        for workers in (1, 2):
            for warm in ("--warm-start", "--no-warm-start"):
                seconds = _run(["sweep", str(path), "--vary", f"demand_scale={SCALES}", "-o",
                                str(Path(tmp) / f"sweep-{workers}{warm}"), "--workers",
                                str(workers), warm, "--json", *limits])
                rows.append((f"sweep --workers {workers} {warm}", seconds))
    print(f"six medium variants (demand x {SCALES}), --mip-gap {args.mip_gap}, "
          f"--time-limit {args.time_limit}")
    print("| run | wall s | ratio to six separate solves |")
    print("|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {seconds / separate:.2f}x |")


if __name__ == "__main__":
    main()
