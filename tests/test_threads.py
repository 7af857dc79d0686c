"""The kernel's threads (attncli/core/threads.py): every item runs once, errors and Ctrl-C stop the rest and reach
the caller, and on Linux the helpers keep to CPUs of their own while the calling thread is held on another for
the length of a call and gets back exactly the CPUs it had."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from attncli import Plan, attend
from attncli.core import threads as th

LINUX_PINNING = hasattr(os, "sched_setaffinity") and len(th.usable_cpus()) >= 2


def test_every_item_runs_once_on_the_calling_thread_and_the_helpers():
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def fn(item: int) -> None:
        time.sleep(0.0005)  # (sleeps release the GIL, as numpy's products do)
        with lock:
            seen.append((item, threading.current_thread().name))

    th.in_threads(fn, list(range(200)), 3)
    assert sorted(i for i, _ in seen) == list(range(200))
    assert threading.current_thread().name in {name for _, name in seen}  # the caller works too


def test_an_error_stops_the_items_not_started_and_reaches_the_caller():
    ran: list[int] = []

    def fn(item: int) -> None:
        if item == 3:
            raise ValueError("item 3")
        ran.append(item)

    with pytest.raises(ValueError, match="item 3"):
        th.in_threads(fn, list(range(1000)), 2)
    assert len(ran) < 999  # not every item after the failing one ran


def test_ctrl_c_in_the_calling_thread_is_raised_after_the_helpers_stop():
    def fn(item: int) -> None:
        if item == 5:  # in whichever thread took it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        th.in_threads(fn, list(range(50)), 2)
    th.in_threads(lambda item: None, list(range(10)), 2)  # the pool still works afterwards


@pytest.mark.skipif(not LINUX_PINNING, reason="needs Linux thread affinity and two usable CPUs")
def test_helpers_keep_to_their_own_cpus_and_the_caller_gets_its_cpus_back():
    before = os.sched_getaffinity(0)
    pool = th._Pool(1)
    helper_cpus: list[set[int]] = []
    caller_during: list[set[int]] = []
    allowed = pool.hold_caller()
    try:
        caller_during.append(os.sched_getaffinity(0))
        helper_cpus.append(pool.executor.submit(lambda: os.sched_getaffinity(0)).result())
    finally:
        pool.release(allowed)
    pool.executor.shutdown()
    assert helper_cpus[0] == {max(before)}  # the last usable CPU
    assert caller_during[0] == {min(before)} and not caller_during[0] & helper_cpus[0]
    assert os.sched_getaffinity(0) == before


@pytest.mark.skipif(not LINUX_PINNING, reason="needs Linux thread affinity and two usable CPUs")
@pytest.mark.parametrize("value", ["0", "off"])
def test_pinning_can_be_turned_off(monkeypatch, value):
    monkeypatch.setenv(th.PIN_ENV, value)
    pool = th._Pool(1)
    assert pool.hold_caller() is None
    assert pool.executor.submit(lambda: os.sched_getaffinity(0)).result() == os.sched_getaffinity(0)
    pool.executor.shutdown()


def test_no_pinning_when_helpers_would_not_each_have_a_cpu(monkeypatch):
    monkeypatch.setattr(th, "usable_cpus", lambda: [0, 1])
    pool = th._Pool(2)  # two helpers and the caller on two CPUs: leave it to the scheduler
    assert pool.cpus == set() and pool.hold_caller() is None
    pool.executor.shutdown()


def test_results_with_pinned_threads_equal_one_thread():
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((1, 4, 300, 16)).astype(np.float32) for _ in range(3))
    one = attend(q, k, v, plan=Plan(need=["heads"], threads=1, block_rows=50)).heads
    for n in (2, 3):
        np.testing.assert_array_equal(attend(q, k, v, plan=Plan(need=["heads"], threads=n, block_rows=50)).heads, one)


def test_work_given_to_the_threads_from_a_helper_runs_there_instead_of_waiting_forever():
    """A helper that itself asks for threads (nested use) runs those items in place: waiting for its own pool would
    never end."""
    done: list[int] = []

    def outer(item: int) -> None:
        th.in_threads(done.append, [item * 10 + j for j in range(3)], 2)

    th.in_threads(outer, list(range(4)), 2)
    assert sorted(done) == sorted(i * 10 + j for i in range(4) for j in range(3))
