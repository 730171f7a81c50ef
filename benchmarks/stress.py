"""Under stress: signals at random moments and time limits with the other core busy.

    python benchmarks/stress.py                   # 20 solves, 3 sweeps, 3 frontiers; limits
    python benchmarks/stress.py --solves 8 --no-limits --json out.json

(1) Signals. Each run starts a real command (``accelplan solve`` of a generated instance from
small to xl, a ``sweep`` of a medium instance on two workers, a ``pareto`` frontier of the
bundled zhengzhou-30k on two workers), sends SIGINT or SIGTERM at a random moment (seeded),
and reports: the exit code, the seconds from the signal to the exit, what was written (a whole
plan, nothing, or something else), staging folders left behind, and any process of the run
still alive a second later (solver children, workers). Clean means: exit 130 (or the command's
own code if it had already ended), within 5 s, a whole plan or nothing, no staging folder, no
process left.

(2) Limits. ``accelplan solve --time-limit L`` at medium, large and xl: the wall time against
L x 1.05 + 1 s, whether the plan has a proven bound, and the seconds ``summary.json``
accounts for.

``--busy`` (the default) burns the other core through every run, as a planner's laptop does
during a video call.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {"small": (3, 5, 4, 2), "medium": (10, 12, 8, 4), "large": (30, 20, 16, 6),
         "xl": (60, 30, 20, 8)}
EXPECTED_SECONDS = {"small": 3.0, "medium": 20.0, "large": 40.0, "xl": 60.0}
"""How long into a run a signal may come (the run's own time limit is longer)."""
LIMITS = {"medium": 20.0, "large": 30.0, "xl": 60.0}
EXIT_WITHIN = 5.0


def _burn() -> None:
    while True:
        pass


def _children_of(marker: str) -> list[str]:
    """Processes still alive whose command line holds ``marker`` (the run's folder)."""
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def _written(output: Path, kind: str) -> str:
    if not output.exists():
        return "nothing"
    names = {p.name for p in output.iterdir()}
    if kind == "solve":
        return "plan" if {"summary.json", "purchases.csv", "costs.csv"} <= names else \
            f"PARTIAL ({', '.join(sorted(names))})"
    table = "sweep.csv" if kind == "sweep" else "pareto.csv"
    return "points done" if table in names else f"PARTIAL ({', '.join(sorted(names))})"


def signal_run(kind: str, size: str, path: Path, folder: Path, rng: random.Random) -> dict:
    """One command, one signal at a random moment; what came of it."""
    output = folder / f"out-{kind}-{size}-{rng.randrange(10**6)}"
    if kind == "solve":
        args = ["solve", str(path), "--time-limit", "300", "-o", str(output)]
        late = EXPECTED_SECONDS[size]
    elif kind == "sweep":
        args = ["sweep", str(path), "--vary", "demand_scale=0.8,0.9,1.0,1.1", "--time-limit",
                "30", "--workers", "2", "-o", str(output)]
        late = 40.0
    else:
        args = ["pareto", str(path), "--points", "5", "--time-limit", "30", "--workers", "2",
                "-o", str(output)]
        late = 30.0
    delay = rng.uniform(0.2, late)
    which = rng.choice([signal.SIGINT, signal.SIGTERM])
    process = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    sent = time.perf_counter()
    ended_before = process.poll() is not None
    if not ended_before:
        process.send_signal(which)
    try:
        _, stderr = process.communicate(timeout=120)
        exit_seconds = time.perf_counter() - sent
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        exit_seconds = float("inf")
    time.sleep(1.0)
    left = _children_of(str(output))
    staging = [p.name for p in folder.iterdir() if p.name.startswith(f".{output.name}")]
    written = _written(output, kind)
    clean = (process.returncode in ((0, 1) if ended_before else (130,))
             and exit_seconds <= EXIT_WITHIN and "PARTIAL" not in written and not staging
             and not left and "Traceback" not in stderr)
    return {"kind": kind, "size": size, "signal": which.name, "after_seconds": round(delay, 1),
            "ended_before": ended_before, "exit_code": process.returncode,
            "exit_seconds": round(exit_seconds, 2), "written": written, "staging_left": staging,
            "processes_left": len(left), "clean": clean,
            "last_line": (stderr.strip().splitlines() or [""])[-1][:160]}


def limit_run(size: str, path: Path, folder: Path) -> dict:
    """``solve --time-limit`` at ``size``: wall against the limit, bound, accounted time."""
    limit = LIMITS[size]
    output = folder / f"limit-{size}"
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", "solve", str(path), "--time-limit",
                           str(limit), "-o", str(output)], cwd=REPO, capture_output=True,
                          text=True)
    wall = time.perf_counter() - began
    summary = json.loads((output / "summary.json").read_text()) if (
        output / "summary.json").exists() else {}
    timings = summary.get("timings", {})
    accounted = sum(v for k, v in timings.items() if k not in ("first_plan_seconds",
                                                                "startup_seconds"))
    return {"size": size, "limit": limit, "wall_seconds": round(wall, 1),
            "allowed_seconds": round(limit * 1.05 + 1, 1), "held": wall <= limit * 1.05 + 1,
            "status": summary.get("status"), "mip_gap": summary.get("mip_gap"),
            "bound": summary.get("best_bound") is not None,
            "bound_note": summary.get("bound_note", ""),
            "accounted_seconds": round(accounted, 1), "exit_code": done.returncode}


def markdown(signals: list[dict], limits: list[dict]) -> str:
    lines = ["| run | size | signal after s | exit code | exit s | written | staging left | "
             "processes left | clean |", "|---|---|---|---|---|---|---|---|---|"]
    for r in signals:
        lines.append(f"| {r['kind']} | {r['size']} | {r['signal']} {r['after_seconds']} | "
                     f"{r['exit_code']}{' (had ended)' if r['ended_before'] else ''} | "
                     f"{r['exit_seconds']} | {r['written']} | {len(r['staging_left'])} | "
                     f"{r['processes_left']} | {'yes' if r['clean'] else 'NO'} |")
    clean = sum(r["clean"] for r in signals)
    slowest = max((r["exit_seconds"] for r in signals), default=0.0)
    lines.append(f"\n{clean}/{len(signals)} clean, "
                 f"{sum(r['processes_left'] for r in signals)} processes left, slowest exit "
                 f"{slowest:.2f} s")
    if limits:
        lines += ["", "| size | limit s | wall s (allowed) | held | status | gap | proven bound | "
                      "seconds in summary.json |", "|---|---|---|---|---|---|---|---|"]
        for r in limits:
            gap = "-" if r["mip_gap"] is None else f"{r['mip_gap']:.3%}"
            lines.append(f"| {r['size']} | {r['limit']:g} | {r['wall_seconds']} "
                         f"({r['allowed_seconds']}) | {'yes' if r['held'] else 'NO'} | "
                         f"{r['status']} | {gap} | {'yes' if r['bound'] else 'no: ' + r['bound_note'][:60]} | "
                         f"{r['accounted_seconds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solves", type=int, default=20)
    parser.add_argument("--studies", type=int, default=3, help="sweeps and frontiers each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-limits", action="store_true")
    parser.add_argument("--quiet-machine", action="store_true",
                        help="do not burn the other core")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from optimizer.instance.generator import generate_instance, instance_yaml
    rng = random.Random(args.seed)
    burner = None
    if not args.quiet_machine:
        burner = multiprocessing.get_context("spawn").Process(target=_burn, daemon=True)
        burner.start()
    folder = Path(tempfile.mkdtemp(prefix="accelplan-stress-"))
    try:
        paths = {}
        for size, dims in SIZES.items():
            paths[size] = folder / f"{size}.yaml"
            paths[size].write_text(instance_yaml(generate_instance(*dims, seed=args.seed)))
        signals = []
        order = list(SIZES)
        for i in range(args.solves):
            size = order[i % len(order)]
            signals.append(signal_run("solve", size, paths[size], folder, rng))
            print(json.dumps(signals[-1]), flush=True)
        for _ in range(args.studies):
            signals.append(signal_run("sweep", "medium", paths["medium"], folder, rng))
            print(json.dumps(signals[-1]), flush=True)
            signals.append(signal_run("pareto", "zhengzhou-30k",
                                      REPO / "instances" / "zhengzhou-30k.yaml", folder, rng))
            print(json.dumps(signals[-1]), flush=True)
        limits = [] if args.no_limits else [limit_run(size, paths[size], folder)
                                            for size in LIMITS]
        for row in limits:
            print(json.dumps(row), flush=True)
        print(markdown(signals, limits))
        if args.json:
            args.json.write_text(json.dumps({"signals": signals, "limits": limits,
                                             "busy": burner is not None}, indent=1))
    finally:
        if burner is not None:
            burner.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
