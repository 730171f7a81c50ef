"""Sweeps and scenario pieces on a real Dask cluster: a `dask scheduler` and a `dask worker`
started on localhost in a working directory of their own, which cannot see the instance's
folder by any relative path. The jobs carry the instance; the results come back to the client,
which writes them."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, accelerator, instance, run_cli, site, write_instance

pytest.importorskip("dask.distributed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and one worker process (one thread), started in their own folder."""
    home = tmp_path_factory.mktemp("dask-home")       # not the client's folder
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", ":0", "--no-show"],
                                 cwd=home, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                               "--local-directory", str(home)],
                              cwd=home, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    from dask.distributed import Client
    deadline = time.time() + 60
    while True:
        try:
            with Client(address, timeout="5s") as client:
                if client.scheduler_info()["workers"]:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            scheduler.kill(), worker.kill()
            pytest.fail("the Dask cluster did not start")
        time.sleep(0.5)
    yield address
    worker.terminate(), scheduler.terminate()
    worker.wait(10), scheduler.wait(10)


def grid_case(folder: Path) -> Path:
    # the grid case of test_sweep: A 100 per 1 kW card, B 150 per 0.5 kW card, 60 tokens/s;
    # at 0.040 MW: 20 A + 40 B = 8000; at 0.05 MW: 40 A + 20 B = 7000; at 0.02 MW no plan
    # (60 B need 0.030 MW). Demand comes from a CSV beside the instance.
    data = instance({"A": accelerator(price=100, power_kw=1.0),
                     "B": accelerator(vendor="VB", price=150, power_kw=0.5)},
                    demand_tokens_per_s=60, sites={"s1": site(grid_mw=0.040)})
    (folder / "chat.csv").write_text("period,tokens_per_day\n2026,5184000\n")
    data["demand"]["chat"] = "chat.csv"
    return write_instance(folder, data)


def test_a_sweep_on_a_remote_cluster_without_shared_files(tmp_path, cluster):
    project = tmp_path / "project"
    project.mkdir()
    grid_case(project)
    result = run_cli("sweep", "instance.yaml", "--vary", "sites.s1.grid_mw=0.02,0.04,0.05",
                     "-o", "out", "--backend", "dask", "--scheduler", cluster, "--json",
                     cwd=project)
    assert result.returncode == 0, result.stderr
    rows = {row["sites.s1.grid_mw"]: row for row in json.loads(result.stdout)}
    assert rows[0.04]["npv"] == pytest.approx(8000, rel=1e-6)
    assert rows[0.05]["npv"] == pytest.approx(7000, rel=1e-6)
    assert rows[0.02]["status"] == "infeasible"
    # the client wrote every results directory; the worker's folder holds none
    assert (project / "out" / "variants" / "0001" / "summary.json").is_file()


@pytest.mark.slow
def test_scenario_pieces_on_a_remote_cluster(tmp_path, cluster):
    # the newsvendor of test_stochastic by decomposition with bundles of one: E[NPV] 1750
    from test_stochastic import newsvendor
    project = tmp_path / "project"
    project.mkdir()
    write_instance(project, newsvendor())
    result = run_cli("solve", "instance.yaml", "--stochastic", "decomposed", "--bundle-size",
                     "1", "--backend", "dask", "--scheduler", cluster, "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["objective"] == pytest.approx(1750, rel=1e-6)
    assert summary["stochastic"]["evpi"] == pytest.approx(250, rel=1e-6)
