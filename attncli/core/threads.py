"""The kernel's threads: how many, and running work items on them.

numpy releases the GIL inside matrix products and ufuncs, so Python threads running numpy calls use every core.
The calling thread works through the items beside helper threads that are started once per process and kept,
each taking the next item as it finishes one. Where Linux lets threads be pinned, each helper keeps to a CPU of its
own and the calling thread, for the length of a call, to another (see `_Pool`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

PIN_ENV = "ATTNCLI_PIN_THREADS"  # "0" or "off": leave the threads where the scheduler puts them


def usable_cpus() -> list[int]:
    """The CPUs the calling thread may run on (a container or `taskset` may allow fewer than the machine has)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return []


def default_threads() -> int:
    """Every usable core when BLAS runs one thread per call (the CLI sets OPENBLAS_NUM_THREADS=1 before numpy loads);
    otherwise 1, and BLAS's own threads share each GEMM: two pools on the same cores slow each other down."""
    if any(os.environ.get(var) == "1" for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")):
        return len(usable_cpus()) or os.cpu_count() or 1
    return 1


class _Pool:
    """n helper threads, pinned to the last n usable CPUs when there are more usable CPUs than helpers (and
    ATTNCLI_PIN_THREADS is not 0/off), so that the calling thread, held on another CPU while a call runs, never
    shares one with them. Measured on this project's 2-vCPU VM: after the machine had been idle for ~20 ms, Linux
    woke a helper on the caller's CPU (cheaper-looking than waking an idle one) and the two took turns on it for
    milliseconds — calls at n = 512 took 8 ms instead of 4.4; pinned, 4.9."""

    def __init__(self, n: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        cpus = usable_cpus()
        pin = (len(cpus) > n and hasattr(os, "sched_setaffinity")
               and os.environ.get(PIN_ENV, "").lower() not in ("0", "off", "no", "false"))
        self.cpus = set(cpus[len(cpus) - n:]) if pin else set()  # the helpers' CPUs
        free = iter(sorted(self.cpus))
        lock = threading.Lock()

        def start() -> None:  # run by each helper as it starts
            _HELPER.is_helper = True
            with lock:
                cpu = next(free, None) if pin else None
            if cpu is not None:
                _set_cpus({cpu})

        self.executor = ThreadPoolExecutor(max_workers=n, thread_name_prefix="attncli", initializer=start)

    def hold_caller(self) -> set[int] | None:
        """Keep the calling thread off the helpers' CPUs until `release`: the CPUs it was allowed, or None."""
        if not self.cpus:
            return None
        mine = set(usable_cpus())
        others = sorted(mine - self.cpus)
        if not others or not _set_cpus({others[0]}):
            return None
        return mine

    @staticmethod
    def release(allowed: set[int] | None) -> None:
        if allowed is not None:
            _set_cpus(allowed)


def _set_cpus(cpus: set[int]) -> bool:
    try:
        os.sched_setaffinity(0, cpus)  # 0: the calling thread (Linux)
        return True
    except (AttributeError, OSError, ValueError):
        return False


_POOLS: dict[tuple[int, int], _Pool] = {}  # (process id, helper threads) -> their pool
_HELPER = threading.local()  # is_helper: this thread is one of the helpers


def in_threads(fn: Callable[[Any], None], items: list[Any], n_threads: int) -> None:
    """fn(item) for every item, in order of the list, on n_threads threads: the calling thread and n_threads − 1
    helpers take the next item as each finishes one. The calling thread works instead of waiting, so one thread
    fewer is woken per call (a wake-up costs ~0.1–1 ms here, a call at n = 512 ~4 ms). Helpers are started once per
    process and kept: later calls pay neither for starting them nor for the fresh pages of their scratch buffers.
    On an error or Ctrl-C no further item starts; the items under way end, then it is raised."""
    if n_threads <= 1 or getattr(_HELPER, "is_helper", False):  # (a helper waiting on its own pool would wait forever)
        for item in items:
            fn(item)
        return
    key = (os.getpid(), n_threads - 1)  # a forked child has none of its parent's threads
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = _Pool(n_threads - 1)
    queue = iter(items)
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        while not failed:
            with lock:
                item = next(queue, _DONE)
            if item is _DONE:
                return
            try:
                fn(item)
            except BaseException as e:  # noqa: BLE001 - raised in the calling thread, once every thread stopped
                failed.append(e)

    futures = []
    allowed = pool.hold_caller()
    try:
        futures = [pool.executor.submit(work) for _ in range(n_threads - 1)]
        work()
    except BaseException as e:  # an interrupt while submitting, or in the calling thread between items
        failed.append(e)
    finally:
        for f in futures:
            try:
                f.result()
            except BaseException as e:  # noqa: BLE001 - a helper that could not start (Ctrl-C while waiting)
                failed.append(e)
        pool.release(allowed)
    if failed:
        raise failed[0]


_DONE = object()
