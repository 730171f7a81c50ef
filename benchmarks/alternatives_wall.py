"""Near-optimal ranges on a bundled instance, the range ends run one at a time and then two at
once, in one run: the wall times side by side, the ranges as a markdown table, and the range
chart saved as a PNG (for the README).

    python benchmarks/alternatives_wall.py instances/zhengzhou-30k.yaml --slack 0.01,0.05 \\
        --by vendor --time-limit 60 --chart docs/ranges-zhengzhou.png
"""
from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--slack", default="0.01,0.05")
    parser.add_argument("--by", default="vendor")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--chart", type=Path, help="write the range chart here (PNG)")
    args = parser.parse_args()
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            out = Path(tmp) / f"w{workers}"
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "cli", "alternatives", str(args.file),
                                   "--slack", args.slack, "--by", args.by, "--time-limit",
                                   str(args.time_limit), "--workers", str(workers), "-o",
                                   str(out)], cwd=REPO, capture_output=True, text=True)
            seconds[workers] = time.perf_counter() - began
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                sys.exit(done.returncode)
        last = Path(tmp) / f"w{args.workers[-1]}"
        frame = pd.read_csv(last / "ranges.csv")
        if args.chart:
            subprocess.run([sys.executable, "-m", "cli", "report", str(last)], cwd=REPO,
                           check=True, capture_output=True)
            text = (last / "report.html").read_text()
            png = text.split("data:image/png;base64,", 1)[1].split('"', 1)[0]
            args.chart.write_bytes(base64.b64decode(png))
    print(f"{args.file.name}: ranges by {args.by} at slacks {args.slack}, {len(frame) * 2} "
          f"range ends, {args.time_limit:g} s a solve")
    print("| workers | wall s |\n|---|---|")
    for workers, wall in seconds.items():
        print(f"| {workers} | {wall:.0f} |")
    print()
    print("| slack | member | optimum | least | most | NPV at least | NPV at most | status | gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in frame.to_dict("records"):
        def cards(v: float, bound: float, status: str) -> str:
            shown = f"{v:,.0f}"
            return shown if status == "optimal" or pd.isna(bound) else f"{shown} (bound {bound:,.0f})"
        gap = "-" if pd.isna(row["gap"]) else f"{row['gap']:.2%}"
        print(f"| {row['slack']:g} | {row['member']} | {row['optimum_cards']:,.0f} | "
              f"{cards(row['min_cards'], row['min_cards_bound'], row['min_status'])} | "
              f"{cards(row['max_cards'], row['max_cards_bound'], row['max_status'])} | "
              f"{row['npv_at_min'] / 1e6:,.1f} M | {row['npv_at_max'] / 1e6:,.1f} M | "
              f"{row['status']} | {gap} |")


if __name__ == "__main__":
    main()
