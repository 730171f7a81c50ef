"""Independent solves run together: in this process, in local worker processes, or on a Dask
cluster. Jobs carry everything they need (the instance as data, never a path a worker might
not see) and their results come back to the caller, which writes any file: a Dask worker on
another machine, without a shared filesystem, works as well as a local process.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

from optimizer.errors import UsageError
from optimizer.lifeline import die_with_parent

GRACE_SECONDS = 0.5
"""How long past a deadline running jobs may take to report before they are given up."""

STOP_GRACE_SECONDS = 2.0
"""After a cancel, how long running jobs may take to stop and hand back their best plan
(each worker sets its own stop flag on the signal it is sent) before they are ended."""

_WORKER_STOP: threading.Event | None = None
"""In a worker process (only there): set when the parent asks the worker to stop."""


OWNER_POLL_SECONDS = 0.5
"""How often a worker looks whether the process that made its pool still runs."""


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def _end_with_owner(owner: int) -> None:
    """End this worker once ``owner`` (the process that made the pool) is gone. A worker's
    parent is the forkserver, not the owner, and each worker holds the pipes that would tell
    its siblings and the forkserver that the owner died (CPython hands every forkserver child
    the server's keep-alive pipe and the pool's queues): without this watch they wait for one
    another for ever, holding the owner's stdout open."""
    def watch() -> None:
        while _alive(owner):
            time.sleep(OWNER_POLL_SECONDS)
        os._exit(0)
    threading.Thread(target=watch, name="accelplan-owner-watch", daemon=True).start()


def _worker_start(owner: int | None = None) -> None:
    """Every worker process: ends with its parent and with the process that made its pool
    (``owner``), and stops its running solve (keeping its best plan) when sent SIGTERM or
    SIGINT, instead of dying with the work half done."""
    global _WORKER_STOP
    die_with_parent()
    if owner is not None:
        _end_with_owner(owner)
    _WORKER_STOP = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        _WORKER_STOP.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def worker_stop_flag() -> threading.Event | None:
    """The stop flag of this worker process (None outside worker processes): a job's solve
    takes it as its cancel flag."""
    return _WORKER_STOP

BACKENDS = ("local", "dask")


def worker_pool(workers: int, jobs: int) -> ProcessPoolExecutor:
    """A pool of ``min(workers, jobs)`` processes started by forkserver, not fork: HiGHS's
    thread pool does not survive a fork of a process that has already solved. Each worker
    ends with its parent (the forkserver, which ends with this process)."""
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=max(1, min(workers, jobs)), mp_context=context,
                               initializer=_worker_start, initargs=(os.getpid(),))


CANCEL_POLL_SECONDS = 0.2
"""How often a run with a cancel flag looks at it while its jobs run."""


def completed_by(pool: ProcessPoolExecutor, futures: Iterable[Future],
                 deadline: float | None, cancel: Any = None) -> Iterator[Future]:
    """Futures as they complete (cancelled ones included). At ``deadline`` (``time.time()``)
    plus ``GRACE_SECONDS``, or as soon as ``cancel`` is set, what still waits is cancelled and
    what still runs is ended, so a run never outlives its deadline by more than the grace."""
    pending = set(futures)
    asked: float | None = None         # when the workers were asked to stop
    while pending:
        timeout = None if deadline is None else max(deadline + GRACE_SECONDS - time.time(), 0)
        if cancel is not None:
            timeout = CANCEL_POLL_SECONDS if timeout is None else min(timeout,
                                                                      CANCEL_POLL_SECONDS)
        done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        yield from done
        if pending and cancel is not None and cancel.is_set():
            if asked is None:
                asked = time.time()
                for future in pending:
                    future.cancel()              # those not started never start
                _signal_workers(pool)            # those running stop and report
            elif time.time() >= asked + STOP_GRACE_SECONDS:
                stop_pool(pool)
                return
            continue
        if pending and deadline is not None and time.time() >= deadline + GRACE_SECONDS:
            stop_pool(pool)
            return


def _signal_workers(pool: ProcessPoolExecutor) -> None:
    """Ask every worker of ``pool`` to stop its solve (SIGTERM: it keeps its best plan)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        if process.is_alive():
            try:
                os.kill(process.pid, signal.SIGTERM)
            except OSError:
                pass


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the waiting jobs of ``pool`` and end its processes now."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


WORKER_DIED = "its worker process died (killed, or out of memory)"
"""How a job whose worker process died is described (:func:`failure_text`)."""


def failure_text(error: BaseException) -> str:
    """Why a job failed, in a line: a worker process that died is named as such (killed, or
    out of memory; the jobs running beside it in its pool fail with it), other errors by
    type and message."""
    from concurrent.futures.process import BrokenProcessPool
    if isinstance(error, BrokenProcessPool):
        return WORKER_DIED
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class Runner:
    """Runs independent jobs ``fn(job)`` and hands their results back as they finish.

    Args:
        workers: how many at once (1: in this process, one after the other).
        backend: ``local`` (worker processes) or ``dask`` (a cluster).
        scheduler: the Dask scheduler's address (``tcp://host:8786``); none: a LocalCluster of
            ``workers`` processes.
        cancel: an event; once set, jobs not yet finished are given up (their processes end).

    ``failures`` lists (job, why) for every job whose run raised or whose worker process died
    (a pool whose worker died is replaced at the next run); jobs given up at a deadline or on
    a cancel are not failures.
    """

    def __init__(self, workers: int = 1, backend: str = "local",
                 scheduler: str | None = None, cancel: Any = None) -> None:
        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}; use local or dask")
        self.workers, self.backend, self.scheduler = max(1, workers), backend, scheduler
        self.cancel = cancel
        self._pool: Any = None
        self.failures: list[tuple[Any, str]] = []
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            if self.cancel is not None and self.cancel.is_set():
                stop_pool(self._pool)
            else:
                self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def run(self, fn: Callable[[Any], Any], jobs: list[Any], deadline: float | None = None,
            skip: Callable[[Any], bool] | None = None) -> Iterator[tuple[Any, Any]]:
        """(job, result) as each job finishes, in the order given when they run one after
        the other. Jobs not finished by ``deadline`` (``time.time()``, plus the grace) are
        given up; after each result, jobs not yet run for which ``skip(job)`` holds are
        dropped (``skip`` may change its answer as results come in)."""
        if self.backend == "dask":
            yield from self._run_dask(fn, jobs, deadline, skip)
            return
        stopped = self.cancel.is_set if self.cancel is not None else (lambda: False)
        if self.workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                if stopped():
                    return
                if skip is not None and skip(job):
                    continue
                yield job, fn(job)
            return
        if self._pool is None:
            self._pool = worker_pool(self.workers, len(jobs))
        futures = {self._pool.submit(fn, job): job for job in jobs}
        for future in completed_by(self._pool, futures, deadline, self.cancel):
            if future.cancelled():
                continue
            if future.exception() is not None:
                if not stopped():
                    self.failures.append((futures[future], failure_text(future.exception())))
                continue
            yield futures[future], future.result()
            if skip is not None:
                for other, job in futures.items():
                    if not other.done() and skip(job):
                        other.cancel()
        if getattr(self._pool, "_broken", False):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None          # a worker died: the next run starts a new pool
        elif getattr(self._pool, "_shutdown_thread", False):
            self._pool = None          # ended at a deadline: the next run starts a new pool

    def run_alone(self, fn: Callable[[Any], Any], jobs: list[Any],
                  deadline: float | None = None) -> Iterator[tuple[Any, Any]]:
        """As :meth:`run`, but each job in a worker process of its own, one after the other:
        after a worker died, which of the jobs beside it killed it is unknown, and none may
        take another down again. Local backend only (elsewhere: :meth:`run`)."""
        if self.backend != "local":
            yield from self.run(fn, jobs, deadline)
            return
        for job in jobs:
            if self.cancel is not None and self.cancel.is_set():
                return
            if deadline is not None and time.time() >= deadline:
                return
            pool = worker_pool(1, 1)
            try:
                future = pool.submit(fn, job)
                for ended in completed_by(pool, [future], deadline, self.cancel):
                    if ended.cancelled():
                        continue
                    if ended.exception() is not None:
                        self.failures.append((job, failure_text(ended.exception())))
                        continue
                    yield job, ended.result()
            finally:
                stop_pool(pool)

    def _connect(self) -> Any:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("the dask backend needs the optional extra: "
                             "pip install 'accelplan[distributed]'") from None
        if self._client is None:
            try:
                if self.scheduler:
                    self._client = Client(self.scheduler, timeout="30s")
                else:
                    self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                                 processes=True, dashboard_address=None,
                                                 silence_logs=50)
                    self._client = Client(self._cluster)
            except OSError as exc:
                raise UsageError(f"cannot reach the Dask scheduler {self.scheduler!r}: "
                                 f"{exc}") from None
        return self._client

    def _run_dask(self, fn: Callable[[Any], Any], jobs: list[Any], deadline: float | None,
                  skip: Callable[[Any], bool] | None) -> Iterator[tuple[Any, Any]]:
        from dask.distributed import as_completed
        client = self._connect()
        futures = client.map(fn, jobs, pure=False)
        owner = {future.key: job for future, job in zip(futures, jobs)}
        timeout = None if deadline is None else max(deadline + GRACE_SECONDS - time.time(), 0)
        try:
            for future in as_completed(futures, timeout=timeout):
                if future.status == "error":
                    self.failures.append((owner[future.key], failure_text(future.exception())))
                if future.status != "finished":
                    continue
                yield owner[future.key], future.result()
                if skip is not None:
                    dropped = [f for f in futures if not f.done() and skip(owner[f.key])]
                    if dropped:
                        client.cancel(dropped)
        except TimeoutError:
            client.cancel(futures)
