"""Running the data stage's per-clip work on every core: an ordered map over worker processes with a progress bar.

Every result depends on its own item only (each worker computes with one BLAS thread, the order of results is the
order of the items), so the features are the same whatever the number of workers. Workers ignore Ctrl-C: the
parent stops them and the stage ends with its one "interrupted" line, while whatever a worker had already cached
stays for the next run. One pool serves every map of a process (a new worker pays a second or two of librosa's JIT
compilation).
"""
from __future__ import annotations

import atexit
import contextlib
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
# The workers' numeric libraries start with one thread: parallelism comes from the workers. Measured per clip on the
# loaded 2-core machine: the MFCC took 41 ms with two BLAS threads, 4.4 ms with one; limiting the threads after the
# libraries started (threadpoolctl, as this process does for itself) costs 12 % more than starting with one.
SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Modules the worker server imports once for all its workers (librosa itself loads lazily, in each worker).
PRELOAD = ["data.datasets", "data.augment_audio"]


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
    """Ignore Ctrl-C (the parent stops the workers) and compute with one BLAS thread (see ``SINGLE_THREAD_ENV``)."""
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threadpool_limits(1)


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """While workers start: Ctrl-C held back (none can be interrupted before it ignores Ctrl-C, which would print a
    worker's traceback; a Ctrl-C meanwhile reaches this process afterwards) and ``SINGLE_THREAD_ENV`` set."""
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    blocking = hasattr(signal, "pthread_sigmask")
    if blocking:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v


def _context() -> Any:
    """How workers are started: from a clean server process where there is one (forking this process would copy
    whatever threads it runs, e.g. TensorFlow's when host.evaluate or make cv extract features), else the
    platform's default."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


_pool: tuple[int, Any] | None = None  # (workers, the pool) of this process


def _workers_pool(workers: int) -> Any:
    """This process's pool of ``workers`` processes, started on first use."""
    global _pool
    if _pool is None or _pool[0] != workers:
        close_workers()
        with _starting_workers():
            _pool = (workers, _context().Pool(workers, initializer=_init_worker))
    return _pool[1]


@atexit.register
def close_workers() -> None:
    """Stop this process's workers (at exit, and when a map is abandoned halfway)."""
    global _pool
    if _pool is not None:
        _pool[1].terminate()
        _pool[1].join()
        _pool = None


def ordered_map(fn: Callable[[T], R], items: Iterable[T], total: int, jobs: int | None, desc: str,
                unit: str = "clip") -> Iterator[R]:
    """``fn(item)`` for every item, in the items' order, on ``jobs`` worker processes (in this process for one,
    or for fewer than ``PARALLEL_MIN_ITEMS`` items), with a progress bar (rate and time left).

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
        given = 0
        try:
            for result in _workers_pool(workers).imap(fn, items, chunksize=CHUNK_ITEMS):
                given += 1
                yield result
                bar.update()
        except BaseException:
            if given < total:  # an error, Ctrl-C, or the caller stopped early: work is left in the workers' queue
                close_workers()
            raise
