"""osapi.Note, the one-shot thread wakeup that Ms and sysmon sleep on, and osapi.mutex."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from goroutines import Chan
from goroutines.runtime import chan, osapi
from goroutines.runtime.fdmutex import fdMutex
from goroutines.runtime.osapi import Note, mutex


def test_wakeup_before_sleep_is_kept_and_consumed() -> None:
    n = Note()
    n.wakeup()
    n.sleep()  # returns at once: the wakeup waited for us
    assert n.tsleep(0) is False  # and it was consumed: the note is clear again


def test_tsleep_times_out_false_and_is_woken_true() -> None:
    n = Note()
    assert n.tsleep(1_000_000) is False
    woke = threading.Event()

    def sleeper() -> None:
        if n.tsleep(60_000_000_000):
            woke.set()

    t = threading.Thread(target=sleeper)
    t.start()
    n.wakeup()
    t.join(10)
    assert woke.is_set()


def test_double_wakeup_is_reported() -> None:
    n = Note()
    n.wakeup()
    with pytest.raises(RuntimeError, match="notewakeup - double wakeup"):
        n.wakeup()


def _spin(running: threading.Semaphore, stop: threading.Event) -> None:
    running.release()
    while not stop.is_set():
        s = 0
        for i in range(20_000):
            s += i * i % 7


@pytest.mark.skipif(
    getattr(sys, "_is_gil_enabled", lambda: True)(), reason="threads run at once only without GIL"
)
def test_timed_sleep_is_not_delayed_by_busy_threads() -> None:
    # A threading.Lock-based note spun through 40 sched_yield() calls before
    # parking; with every core running Python, each yield gave the core away
    # for a time slice and a 1 ms tsleep took ~57 ms (sysmon went blind).
    running, stop = threading.Semaphore(0), threading.Event()
    busy = [
        threading.Thread(target=_spin, args=(running, stop)) for _ in range(os.cpu_count() or 2)
    ]
    for t in busy:
        t.start()
    try:
        for _ in busy:
            running.acquire()
        n = Note()
        t0 = time.perf_counter()
        assert n.tsleep(1_000_000) is False
        took = time.perf_counter() - t0
    finally:
        stop.set()
        for t in busy:
            t.join()
    assert took < 0.025, f"a 1 ms timed note sleep took {took * 1e3:.1f} ms"


@pytest.mark.timeout(60)
def test_mutex_excludes_threads() -> None:
    lock, n = mutex(), [0]

    def add() -> None:
        for _ in range(2_000):
            with lock:
                v = n[0]
                time.sleep(0)  # hands the GIL over inside the critical section
                n[0] = v + 1
            lock.acquire()  # the bound-method form the scheduler uses
            n[0] += 1
            lock.release()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    assert n[0] == 4 * 2 * 2_000


def test_mutex_leaves_no_fd_and_no_file() -> None:
    def shm() -> list[str]:
        try:
            return [f for f in os.listdir("/dev/shm") if f.startswith(f"goroutines-{os.getpid()}-")]
        except FileNotFoundError:
            return []

    fds = len(os.listdir("/proc/self/fd"))
    locks = [mutex() for _ in range(100)]
    assert len(os.listdir("/proc/self/fd")) == fds
    assert shm() == []
    del locks


@pytest.mark.skipif(osapi.SemLock is None, reason="no _multiprocessing.SemLock here")
def test_mutex_is_a_semaphore_where_the_system_has_one() -> None:
    assert type(mutex()) is osapi.SemLock


@pytest.mark.parametrize("fail", [None, OSError(38, "Function not implemented")])
def test_mutex_falls_back_to_threading_lock(
    monkeypatch: pytest.MonkeyPatch, fail: OSError | None
) -> None:
    def no_semaphores(*args: object) -> None:
        raise fail  # type: ignore[misc]

    monkeypatch.setattr(osapi, "SemLock", None if fail is None else no_semaphores)
    lock = mutex()
    assert type(lock) is type(threading.Lock())
    with lock:
        assert lock.acquire(False) is False  # type: ignore[call-arg]


_FORK_AND_DIE = """
import os, warnings
from goroutines import Chan, gosched, run, sleep, syscall
from goroutines.runtime import osapi
from goroutines.runtime.proc import getg

ch = Chan(1)  # made before the fork: the child holds a copy

async def main():
    sched = getg().sched
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child takes every lock and dies: at once, whatever happens
        code = 1
        try:
            sched.lockacquire()
            for pp in sched.allp:
                pp.lockacquire()
                pp.timersLock.acquire()
            osapi.lockacquire[ch._c.lockno]()
            code = 0
        finally:
            os._exit(code)
    _, status = await syscall(os.waitpid, pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for _ in range(100):
        await gosched()  # sched.lock and our P's
    await sleep(0.001)  # the P's timers
    await ch.send("done")  # the channel's
    return await ch.recv()

print(run(main, gomaxprocs=2))
"""


@pytest.mark.timeout(120)
def test_a_forked_child_dying_with_the_runtime_locks_held_does_not_stop_the_parent() -> None:
    # The scheduler's and the channels' semaphores live in shared memory:
    # without locks of its own, a child that took them and died would leave
    # them taken for good, and the parent would hang (hence a process of its
    # own, with a timeout).
    out = subprocess.run(
        [sys.executable, "-c", _FORK_AND_DIE], capture_output=True, text=True, timeout=60
    )
    assert (out.returncode, out.stdout) == (0, "done\n"), out.stderr


def test_a_forked_child_remakes_every_lock_of_the_channels_and_sockets() -> None:
    # What program.forked calls in the child, called here: a thread of the
    # parent may have held any of these at the fork. Sockets keep the number
    # of their striped locks, as channels do, and so follow them.
    ch = Chan[int](1)
    fdmu = fdMutex(lambda: None)
    n = ch._c.lockno

    def locks() -> tuple[object, ...]:
        return (
            osapi.lockacquire[n],
            osapi.lockrelease[n],
            osapi._makelock,
            chan._selectDoneLock,
            fdmu.lock,
        )

    before = locks()
    osapi.remakelocks()
    chan.remakelocks()
    after = locks()
    assert all(a is not b for a, b in zip(before, after, strict=True))
    assert fdmu.lock is osapi._locks[fdmu.lockno]
    assert ch.try_send(1) and ch.try_recv() == (1, True)
