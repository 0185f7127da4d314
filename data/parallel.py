"""Running the data stage's per-clip work on every core: an ordered map over worker processes with a progress bar.

Every result depends on its own item only (each worker computes with one BLAS thread, the order of results is the
order of the items), so the features are the same whatever the number of workers. Workers ignore Ctrl-C: the
parent stops them and the stage ends with its one "interrupted" line, while whatever a worker had already cached
stays for the next run.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any, Callable, Iterable, Iterator, TypeVar

from data.config import PipelineError

T = TypeVar("T")
R = TypeVar("R")
# Fewer items than this are computed in this process: starting the workers (a second or two) would cost more.
PARALLEL_MIN_ITEMS = 64
# Items handed to a worker at a time: few enough that the progress bar moves smoothly, enough to keep the cost of
# passing them (a few kB of features each) small against the work (5-50 ms per clip).
CHUNK_ITEMS = 8


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def worker_count(jobs: int | None) -> int:
    """Workers for ``jobs`` (``None`` or 0: every usable core)."""
    if jobs is not None and jobs < 0:
        raise PipelineError(f"--jobs must be >= 0 (0: every core), got {jobs}")
    return jobs or usable_cores()


def _init_worker() -> None:
    """One BLAS thread per worker: parallelism comes from the workers, and two threads per worker on a loaded machine
    made the MFCC's matrix product 10x slower (measured: 4.4 vs 41 ms per clip)."""
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threadpool_limits(1)


def _context() -> Any:
    """How workers are started: from a clean server process where there is one (forking this process would copy
    whatever threads it runs, e.g. TensorFlow's when host.evaluate or make cv extract features), else the
    platform's default."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["data.datasets", "data.augment_audio"])  # imported once, not per worker
    return ctx


def _start_pool(workers: int) -> Any:
    """A pool of ``workers`` processes started with Ctrl-C held back, so that none can be interrupted before it
    ignores Ctrl-C (a worker's traceback on the terminal); a Ctrl-C meanwhile reaches this process afterwards."""
    blocking = hasattr(signal, "pthread_sigmask")
    if blocking:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return _context().Pool(workers, initializer=_init_worker)
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], total: int, jobs: int | None, desc: str,
                unit: str = "clip") -> Iterator[R]:
    """``fn(item)`` for every item, in the items' order, on ``jobs`` worker processes (in this process for one),
    with a progress bar (rate and time left).

    ``fn`` must be a module-level function (or a ``functools.partial`` of one) so that it can be sent to the
    workers; so must its items and results.
    """
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    workers = min(worker_count(jobs), max(total, 1)) if total >= PARALLEL_MIN_ITEMS else 1
    with tqdm(total=total, desc=desc, unit=unit, mininterval=1.0, smoothing=0.05) as bar:
        if workers == 1:
            with threadpool_limits(1):  # the same arithmetic as in a worker
                for item in items:
                    yield fn(item)
                    bar.update()
            return
        with _start_pool(workers) as pool:
            # Leaving the block (the end, an error, Ctrl-C) terminates the workers.
            for result in pool.imap(fn, items, chunksize=CHUNK_ITEMS):
                yield result
                bar.update()

