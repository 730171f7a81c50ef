"""Local worker processes for independent solves (sweeps, scenario decomposition)."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def worker_pool(workers: int, jobs: int) -> ProcessPoolExecutor:
    """A pool of ``min(workers, jobs)`` processes started by forkserver, not fork: HiGHS's
    thread pool does not survive a fork of a process that has already solved."""
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=max(1, min(workers, jobs)), mp_context=context)
