"""Behaviour of the GMP core: run, go, panics, deadlock, exit, Ms, syscalls, preemption."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

import goroutines as g
from goroutines.runtime import proc
from goroutines.runtime.runtime2 import WaitReason, _Grunnable, _Gsyscall
from tests.helpers import completes_at_once, pure_only
from tests.mailbox import Mailbox


async def forever() -> None:
    await proc.goparkunlock(_held(), WaitReason.ChanReceive)


def _held() -> threading.Lock:
    lk = threading.Lock()
    lk.acquire()
    return lk


def test_run_returns_main_result_with_args() -> None:
    async def main(a: int, b: int = 0) -> int:
        return a * 10 + b

    assert g.run(main, 4, b=2) == 42


def test_run_can_be_called_again() -> None:
    async def main() -> int:
        return g.goid()

    assert [g.run(main) for _ in range(5)] == [1] * 5


def test_gomaxprocs_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> int:
        return g.gomaxprocs()

    monkeypatch.setenv("GOMAXPROCS", "3")
    assert g.run(main) == 3
    assert g.run(main, gomaxprocs=2) == 2
    assert g.gomaxprocs() == 3
    monkeypatch.delenv("GOMAXPROCS")
    gil = getattr(__import__("sys"), "_is_gil_enabled", lambda: True)()
    assert g.run(main) == (1 if gil else os.cpu_count())


@pytest.mark.parametrize("bad", [0, -1])
def test_gomaxprocs_below_one_is_value_error(bad: int) -> None:
    async def main() -> None:
        pass

    with pytest.raises(ValueError, match="gomaxprocs must be >= 1"):
        g.run(main, gomaxprocs=bad)


@pytest.mark.parametrize("garbage", ["lots", "", "0", "-2", "1.5"])
def test_gomaxprocs_env_that_is_not_a_count_is_ignored(
    monkeypatch: pytest.MonkeyPatch, garbage: str
) -> None:
    # As Go's schedinit: GOMAXPROCS=0, empty or not a number means the default.
    async def main() -> int:
        return g.gomaxprocs()

    monkeypatch.setenv("GOMAXPROCS", garbage)
    default = g.run(main)
    monkeypatch.delenv("GOMAXPROCS")
    assert default == g.run(main)
    assert g.gomaxprocs() == default


@pytest.mark.parametrize("query", [0, -1])
def test_gomaxprocs_below_one_asks_for_the_current_setting(query: int) -> None:
    # Go's runtime.GOMAXPROCS(0) is how one asks for the value; nothing changes.
    async def main() -> tuple[int, int]:
        return g.gomaxprocs(query), g.gomaxprocs()

    assert g.run(main, gomaxprocs=3) == (3, 3)
    assert g.gomaxprocs(query) == g.gomaxprocs()  # outside a runtime: the default
    with pytest.raises(TypeError, match="gomaxprocs must be an int"):
        g.gomaxprocs(1.5)  # type: ignore[arg-type]


def test_go_outside_runtime_names_run() -> None:
    async def f() -> None:
        pass

    with pytest.raises(RuntimeError, match=r"goroutines\.run"):
        g.go(f)


def test_go_plain_callable_is_type_error() -> None:
    def plain() -> None:
        pass

    async def main() -> str:
        with pytest.raises(TypeError, match="async function"):
            g.go(plain)
        return "ok"

    assert g.run(main) == "ok"
    with pytest.raises(TypeError, match="async function"):
        g.run(plain)  # type: ignore[arg-type]


def test_run_inside_goroutine_is_runtime_error() -> None:
    async def inner() -> None:
        pass

    async def main() -> str:
        with pytest.raises(RuntimeError, match="inside a goroutine"):
            g.run(inner)
        return "ok"

    assert g.run(main) == "ok"


def test_goroutines_run_and_goid_distinct() -> None:
    async def child(mb: Mailbox) -> None:
        mb.put(g.goid())

    async def main() -> list[int]:
        mb = Mailbox()
        for _ in range(100):
            g.go(child, mb)
        return [await mb.get() for _ in range(100)]

    ids = g.run(main)
    assert len(set(ids)) == 100 and 1 not in ids


def test_num_goroutine_counts_live() -> None:
    async def main() -> tuple[int, int]:
        mb = Mailbox()
        for _ in range(10):
            g.go(forever)
        g.go(mb.get)
        n = g.num_goroutine()
        mb.put(None)
        for _ in range(3):
            await g.gosched()
        return n, g.num_goroutine()

    assert g.run(main, gomaxprocs=1) == (12, 11)  # one P: the readied getter runs next


def test_panic_reraised_with_goroutine_note() -> None:
    async def bad() -> None:
        raise ValueError("boom")

    async def main() -> None:
        g.go(bad)
        await forever()

    with pytest.raises(ValueError, match="boom") as ei:
        g.run(main, gomaxprocs=2)
    notes = "\n".join(getattr(ei.value, "__notes__", []))
    assert "goroutine 2 [running]" in notes
    assert (
        "created by test_panic_reraised_with_goroutine_note.<locals>.main in goroutine 1" in notes
    )


def test_deadlock_detected_with_dump() -> None:
    async def main() -> None:
        g.go(forever)
        await forever()

    with pytest.raises(g.Deadlock, match="all goroutines are asleep - deadlock!") as ei:
        g.run(main, gomaxprocs=2)
    msg = str(ei.value)
    assert "goroutine 1 [chan receive]:" in msg
    assert "goroutine 2 [chan receive]:" in msg


def test_goexit_runs_finally_and_is_not_a_panic() -> None:
    async def child(mb: Mailbox) -> None:
        try:
            g.goexit()
        finally:
            mb.put("finally ran")

    async def main() -> Any:
        mb = Mailbox()
        g.go(child, mb)
        return await mb.get()

    assert g.run(main) == "finally ran"


def test_goexit_in_main_waits_for_others_then_deadlock() -> None:
    done: list[int] = []

    async def child() -> None:
        for _ in range(10):
            await g.gosched()
        done.append(1)

    async def main() -> None:
        g.go(child)
        g.goexit()

    with pytest.raises(g.Deadlock, match=r"no goroutines \(main called goexit\) - deadlock!"):
        g.run(main)
    assert done == [1]


def test_main_return_closes_other_goroutines() -> None:
    closed: list[str] = []

    async def child(started: Mailbox) -> None:
        try:
            started.put(None)
            await forever()
        finally:
            closed.append("child")

    async def main() -> str:
        mb = Mailbox()
        g.go(child, mb)
        await mb.get()
        return "done"

    assert g.run(main, gomaxprocs=2) == "done"
    assert closed == ["child"]


def test_run_from_several_threads_at_once() -> None:
    async def worker(mb: Mailbox, i: int) -> None:
        await g.gosched()
        mb.put(i)

    async def main(k: int) -> int:
        mb = Mailbox()
        for i in range(200):
            g.go(worker, mb, i)
        return sum([await mb.get() for _ in range(200)]) + k

    results: dict[int, int] = {}

    def one(k: int) -> None:
        results[k] = g.run(main, k, gomaxprocs=2)

    ts = [threading.Thread(target=one, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == {k: 19900 + k for k in range(4)}


def test_keyboard_interrupt_in_goroutine_propagates() -> None:
    async def main() -> None:
        g.go(forever)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        g.run(main, gomaxprocs=2)


def test_sigint_while_main_thread_idle_stops_everything() -> None:
    assert threading.current_thread() is threading.main_thread()

    def interrupt() -> None:
        os.kill(os.getpid(), signal.SIGINT)

    async def interrupter() -> None:
        await g.syscall(interrupt)
        while True:  # stay runnable, so that no deadlock is reported first
            await g.gosched()

    async def main() -> None:
        # main parks; a syscall on another M raises SIGINT in the main thread,
        # which waits in run() for the program's end.
        g.go(interrupter)
        await forever()

    with pytest.raises(KeyboardInterrupt):
        g.run(main, gomaxprocs=2)


def test_gosched_alternates_two_goroutines() -> None:
    order: list[str] = []

    async def loop(name: str, done: Mailbox) -> None:
        for _ in range(5):
            order.append(name)
            await g.gosched()
        done.put(None)

    async def main() -> None:
        done = Mailbox()
        g.go(loop, "a", done)
        g.go(loop, "b", done)
        await done.get()
        await done.get()

    g.run(main, gomaxprocs=1)
    assert order.count("a") == order.count("b") == 5
    # Each gosched goes to the global queue behind the other goroutine, so after
    # the start (schedtick 0 looks at the global queue first) they alternate.
    assert all(order[i] != order[i + 1] for i in range(2, 9)), order


def test_61st_tick_checks_global_queue() -> None:
    """A pair of goroutines re-spawning each other through the local queue cannot
    starve a goroutine sitting in the global queue."""
    seen: list[int] = []

    async def global_one(flag: list[bool]) -> None:
        flag[0] = True

    async def spawner(flag: list[bool], n: int) -> None:
        if flag[0] or n > 100_000:
            seen.append(n)
            return
        g.go(spawner, flag, n + 1)
        g.go(noop)  # runnext: kicks the spawner into the ring, so ticks advance

    async def noop() -> None:
        pass

    async def main() -> None:
        flag = [False]
        g.go(global_one, flag)
        g.go(spawner, flag, 0)
        await g.gosched()  # main to the global queue too: behind global_one
        while not seen:
            await g.gosched()

    g.run(main, gomaxprocs=1)
    assert seen and seen[0] < 500, seen


def test_syscalls_overlap_on_one_p() -> None:
    """Four blocking calls on GOMAXPROCS=1 run at the same time: each waits at a
    barrier that only opens when all four are inside their call."""
    barrier = threading.Barrier(4, timeout=20)

    async def call(mb: Mailbox) -> None:
        mb.put(await g.syscall(barrier.wait))

    async def main() -> list[int]:
        mb = Mailbox()
        for _ in range(4):
            g.go(call, mb)
        return sorted([await mb.get() for _ in range(4)])

    assert g.run(main, gomaxprocs=1) == [0, 1, 2, 3]


def test_syscall_result_and_exception_pass_through() -> None:
    def fails() -> None:
        raise OSError(5, "io")

    async def main() -> tuple[int, str]:
        v = await g.syscall(pow, 2, 10)
        try:
            await g.syscall(fails)
        except OSError as e:
            return v, str(e)
        return v, ""

    assert g.run(main) == (1024, "[Errno 5] io")


def test_checkpoint_yields_only_when_asked() -> None:
    async def main() -> tuple[bool, int]:
        gp = proc.getg()
        assert gp is not None
        gp.preempt = False
        quiet = completes_at_once(g.checkpoint())
        # sysmon sets preempt after 10 ms of running; spin until it does and yield.
        flag = [False]

        async def other() -> None:
            flag[0] = True

        g.go(other)
        spins = 0
        while not flag[0]:
            spins += 1
            await g.checkpoint()
        return quiet, spins

    quiet, spins = g.run(main, gomaxprocs=1)
    assert quiet
    assert spins > 1  # it did not yield until preempted


def test_foreign_awaitable_raises_type_error_in_goroutine() -> None:
    import asyncio

    async def main() -> str:
        try:
            await asyncio.sleep(0)
        except TypeError as e:
            return str(e)
        return ""

    assert "not a goroutines operation" in g.run(main)


def test_hog_loses_p_and_others_keep_running() -> None:
    """A goroutine that blocks its thread without syscall() has its P handed to
    another M, so the rest of the program goes on (Go's retake)."""
    release = threading.Event()

    async def hog() -> None:
        release.wait(20)  # blocks the thread; never awaits

    async def main() -> int:
        g.go(hog)
        n = 0
        for _ in range(200):
            await g.gosched()
            n += 1
        release.set()
        return n

    assert g.run(main, gomaxprocs=1) == 200


def test_lock_os_thread_pins_goroutine() -> None:
    locked: list[int] = []  # the pinned thread's ident while the goroutine is locked

    async def pinned(mb: Mailbox) -> None:
        g.lock_os_thread()
        me = threading.get_ident()
        locked.append(me)
        seen = set()
        for _ in range(200):
            await g.gosched()
            seen.add(threading.get_ident())
        locked.clear()
        g.unlock_os_thread()
        mb.put((me, seen))

    async def other(mb: Mailbox) -> None:
        clashes = 0
        for _ in range(200):
            await g.gosched()
            if threading.get_ident() in locked:
                clashes += 1  # the locked M ran another goroutine
        mb.put(clashes)

    async def main() -> Any:
        mb1, mb2 = Mailbox(), Mailbox()
        g.go(pinned, mb1)
        for _ in range(3):
            g.go(other, mb2)
        me, seen = await mb1.get()
        clashes = [await mb2.get() for _ in range(3)]
        return me, seen, clashes

    me, seen, clashes = g.run(main, gomaxprocs=2)
    assert seen == {me}
    assert clashes == [0, 0, 0]


@pytest.mark.parametrize("schedcheck", [False, True])
def test_locked_goroutine_that_lost_its_p_in_a_syscall_keeps_its_m(schedcheck: bool) -> None:
    # The locked goroutine's syscall outlasts a sysmon tick, so its P goes to
    # another M (for main); it returns while main holds that P, so it is
    # queued globally and its M must wait for it alone (Go's exitsyscall0 ->
    # stoplockedm), not join the idle Ms that startm hands other Ps to.
    threads: list[int] = []

    async def locked(ev: threading.Event, gs: list[Any], done: g.Chan[None]) -> None:
        g.lock_os_thread()
        gs.append(proc.getg())
        threads.append(threading.get_ident())
        await g.syscall(ev.wait)
        threads.append(threading.get_ident())
        for _ in range(20):
            await g.gosched()
            threads.append(threading.get_ident())
        await done.send(None)

    async def main() -> bool:
        ev, gs, done = threading.Event(), [], g.Chan[None]()
        g.go(locked, ev, gs, done)
        while not gs or gs[0].status != _Gsyscall or gs[0].m.p is not None:
            await g.gosched()  # sysmon hands the syscall's P off to run us
        lm = gs[0].lockedm
        ev.set()
        # Hold the P until the locked M has stopped (or, should this thread
        # stall for a sysmon tick, until sysmon has handed our P on and the
        # locked goroutine runs again).
        while not lm.blocked and gs[0].status in (_Gsyscall, _Grunnable):
            os.sched_yield()
        on_idle_list = lm in lm.sched.midle
        await done.recv()
        return on_idle_list

    assert g.run(main, gomaxprocs=1, schedcheck=schedcheck) is False
    assert len(set(threads)) == 1, "the locked goroutine changed threads"


def test_gomaxprocs_resize_under_load() -> None:
    async def worker(mb: Mailbox, n: int) -> None:
        s = 0
        for i in range(n):
            s += i
            await g.gosched()
        mb.put(s)

    async def main() -> tuple[list[int], int]:
        mb = Mailbox()
        for _ in range(20):
            g.go(worker, mb, 300)
        prev = []
        for n in (4, 2, 8, 1, 3):
            prev.append(g.gomaxprocs(n))
            await g.gosched()
        total = sum([await mb.get() for _ in range(20)])
        return prev, total

    prev, total = g.run(main, gomaxprocs=1)
    assert prev == [1, 4, 2, 8, 1]
    assert total == 20 * sum(range(300))


def test_gomaxprocs_leaves_the_ps_alone_once_the_program_exits() -> None:
    # Its Ms leave their loops instead of stopping for stop-the-world, so a
    # resize would destroy Ps they still hold (they then failed in releasep).
    async def main() -> tuple[int, int, int]:
        sched = proc.acquire_g("test")[0].sched
        proc.startTheExit(sched)
        return g.gomaxprocs(3), len(sched.allp), sched.gomaxprocs

    assert g.run(main, gomaxprocs=2) == (2, 2, 2)


def test_gomaxprocs_outside_runtime() -> None:
    with pytest.raises(RuntimeError, match="gomaxprocs"):
        g.gomaxprocs(2)


def test_no_fd_leak_after_run() -> None:
    before = set(os.listdir("/proc/self/fd"))

    async def main() -> None:
        await g.gosched()

    for _ in range(5):
        g.run(main, gomaxprocs=2)
    assert set(os.listdir("/proc/self/fd")) == before


def test_many_runs_are_quick_to_tear_down() -> None:
    async def main() -> None:
        pass

    t0 = time.monotonic()
    for _ in range(20):
        g.run(main)
    assert time.monotonic() - t0 < 20  # a hang would hit the test timeout first


def test_exit_while_a_goroutine_loops_on_syscall() -> None:
    """main returning ends the program even while another goroutine keeps
    entering syscalls: exitsyscall does not take a P back once exiting."""

    async def poller() -> None:
        while True:
            await g.syscall(time.sleep, 0.001)

    async def main() -> int:
        g.go(poller)
        await g.gosched()
        return 1

    assert g.run(main, gomaxprocs=2) == 1


@pure_only
def test_no_false_deadlock_while_sysmon_hands_off_a_p(monkeypatch: pytest.MonkeyPatch) -> None:
    """While sysmon hands a retaken P to a new M, the M it took the P from may
    stop: the P in transit counts as running, so no deadlock is reported."""
    startm = proc.startm

    def slow_startm(sched: Any, pp: Any, spinning: bool) -> None:
        if threading.current_thread().name == "goroutines-sysmon":
            time.sleep(0.005)  # widen the window between retake and the new M
        startm(sched, pp, spinning)

    monkeypatch.setattr(proc, "startm", slow_startm)

    async def main() -> str:
        mp = proc._tls.__dict__.get("m")
        assert mp is not None
        while mp.p is not None:  # hog until sysmon takes our P
            pass
        await g.gosched()
        return "ok"

    assert g.run(main, gomaxprocs=1) == "ok"


def test_exit_after_main_blocked_its_thread() -> None:
    """main blocks its thread without syscall(): sysmon hands its P off, all Ps
    go idle, sysmon sleeps deeply; main then returns and the program exits."""

    async def main() -> int:
        time.sleep(0.05)
        return 7

    assert g.run(main, gomaxprocs=1) == 7


def test_failing_finally_of_abandoned_goroutine_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def child(started: Mailbox) -> None:
        try:
            started.put(None)
            await forever()
        finally:
            raise ValueError("cleanup failed")

    async def main() -> str:
        mb = Mailbox()
        g.go(child, mb)
        await mb.get()
        return "done"

    assert g.run(main) == "done"
    err = capsys.readouterr().err
    assert "Exception ignored while closing goroutine 2 at program exit" in err
    assert "ValueError: cleanup failed" in err


def test_waiting_in_a_finally_block_at_exit_says_why_it_cannot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def child(started: Mailbox, ch: g.Chan[int]) -> None:
        try:
            started.put(None)
            await forever()
        finally:
            assert ch.try_send(1)  # what does not wait still works
            await ch.send(2)  # ch is full: this would wait

    async def main() -> str:
        mb = Mailbox()
        g.go(child, mb, g.Chan[int](1))
        await mb.get()
        return "done"

    assert g.run(main) == "done"
    err = capsys.readouterr().err
    assert (
        "RuntimeError: Chan.send called by goroutine 2 while run() closes it at program exit:"
        " the scheduler has stopped, so nothing can wait or yield now" in err
    )
    with pytest.raises(RuntimeError, match="go\\(\\) called outside a goroutine"):
        g.go(main)  # the thread that ran run() is outside any goroutine again


@pure_only
def test_one_p_never_spins(monkeypatch: pytest.MonkeyPatch) -> None:
    # With one P, the M that is about to release it has just looked at every
    # queue: readying a goroutine must not make it spin before it goes idle.
    spins: list[Any] = []
    become = proc.becomeSpinning
    monkeypatch.setattr(proc, "becomeSpinning", lambda mp: spins.append(mp) or become(mp))

    async def main() -> int:
        c = g.Chan[int]()

        async def echo() -> None:
            async for _ in c:
                pass

        g.go(echo)
        for i in range(20):
            await c.send(i)  # readies echo: goready -> wakep
            await g.sleep(0.0002)  # the M goes idle until the timer
        c.close()
        mp = proc._tls.__dict__.get("m")
        assert mp is not None
        return mp.sched.needspinning

    assert g.run(main, gomaxprocs=1) == 0
    assert spins == []


def test_no_deadlock_is_reported_before_main_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    # sysmon starts with the runtime and polls the network after 10 ms, then
    # checks for deadlock: on a loaded machine that came before run() had made
    # main, and found "no goroutines" (test_scheddetail on 3.13t, 1 suite run
    # in 4).
    from goroutines.runtime import program

    newproc_global = program.newproc_global

    def late(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # the window, made wide: sysmon's netpoll and checkdead run in it
        return newproc_global(*args, **kwargs)

    monkeypatch.setattr(program, "newproc_global", late)

    async def main() -> int:
        return 1

    # With schedtrace on, sysmon never sleeps deeply while every P is idle.
    assert g.run(main, schedtrace=1000) == 1


def test_what_a_goroutine_returns_is_dropped_and_mains_and_submits_are_kept() -> None:
    """A go() goroutine's return value is dropped, as Go drops it; main's is run()'s
    result and a submit's its future's (what a cheaper end for goroutines, whose
    results nobody reads, must keep)."""
    ended: list[Any] = []

    async def child(v: Any, done: g.Chan[int]) -> Any:
        ended.append(v)
        await done.send(1)
        return v  # nobody reads it: no panic, nothing kept

    async def main() -> str:
        done: g.Chan[int] = g.Chan()
        for v in (None, 7, "value", StopIteration()):
            g.go(child, v, done)
        for _ in range(4):
            await done.recv()
        await g.gosched()  # let the last child run to its end
        return "main's"

    assert g.run(main, gomaxprocs=2) == "main's"
    assert sorted(map(repr, ended)) == ["'value'", "7", "None", "StopIteration()"]

    async def answer() -> int:
        await g.gosched()
        return 42

    with g.Runtime() as rt:
        assert rt.submit(answer).result(timeout=10) == 42
