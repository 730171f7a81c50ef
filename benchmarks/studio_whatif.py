"""Studio what-if latency: on the bundled 30,000-card instance, the first run and then a few
what-ifs (grid cap, demand, no imports, a budget), each timed from the request to its plan on
the JSON API (the studio's own code path: validation, solve in a worker thread, results
written). Target: a what-if answers in under 2 s after the first run.

    python benchmarks/studio_whatif.py [--busy]     # --busy: a CPU burner on the other core

The first row is the first run after the studio starts (the solver warmed at start-up).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WHAT_IFS = [
    ("as in the file", {}),
    ("grid cap 50 MW", {"sites.zhengzhou.grid_mw": 50}),
    ("demand x 1.2", {"demand_scale": 1.2}),
    ("no imports from 2028", {"policies.ban": [{"tags": ["imported"], "from": "2028"}]}),
    ("budget 3e8 a year", {"policies.budget_per_period": 3.0e8}),
]


def _burn() -> None:
    while True:
        pass


def main() -> None:
    import argparse
    import multiprocessing

    from fastapi.testclient import TestClient
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", action="store_true", help="burn the other core throughout")
    if parser.parse_args().busy:
        multiprocessing.get_context("spawn").Process(target=_burn, daemon=True).start()

    from optimizer.studio.app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app([REPO / "instances" / "zhengzhou-30k.yaml"], Path(tmp) / "studio")
        with TestClient(app) as client:
            key = client.get("/api/instances").json()[0]["id"]
            print("| what-if | status | NPV | seconds |")
            print("|---|---|---|---|")
            for label, overrides in WHAT_IFS:
                began = time.perf_counter()
                run_id = client.post("/api/runs", json={"instance": key,
                                                        "overrides": overrides}).json()["id"]
                while True:
                    run = client.get(f"/api/runs/{run_id}").json()
                    if run["status"] not in ("queued", "running"):
                        break
                    time.sleep(0.02)
                seconds = time.perf_counter() - began
                npv = (run.get("summary") or {}).get("objective")
                print(f"| {label} | {run['status']} | "
                      f"{'-' if npv is None else f'{npv / 1e6:,.2f} M'} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
