"""Local worker processes for independent solves (sweeps, scenario decomposition)."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Iterable, Iterator

GRACE_SECONDS = 0.5
"""How long past a deadline running jobs may take to report before their processes end."""


def worker_pool(workers: int, jobs: int) -> ProcessPoolExecutor:
    """A pool of ``min(workers, jobs)`` processes started by forkserver, not fork: HiGHS's
    thread pool does not survive a fork of a process that has already solved."""
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=max(1, min(workers, jobs)), mp_context=context)


def completed_by(pool: ProcessPoolExecutor, futures: Iterable[Future],
                 deadline: float | None) -> Iterator[Future]:
    """Futures as they complete (cancelled ones included). At ``deadline`` (``time.time()``)
    plus ``GRACE_SECONDS`` what still waits is cancelled and what still runs is ended, so a
    run never outlives its deadline by more than the grace."""
    pending = set(futures)
    while pending:
        timeout = None if deadline is None else max(deadline + GRACE_SECONDS - time.time(), 0)
        done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        yield from done
        if pending and deadline is not None and time.time() >= deadline + GRACE_SECONDS:
            stop_pool(pool)
            return


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the waiting jobs of ``pool`` and end its processes now."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
