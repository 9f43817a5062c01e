"""GODEBUG=schedcheck=1 / run(..., schedcheck=True): invariants checked at every transition.

The stress workloads pass with every transition checked; a scheduler corrupted
on purpose through the runtime's internals stops with the invariant it broke,
the goroutine, P and M; runs with and without checks (and traces) coexist;
GODEBUG turns the checks on and off.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import goroutines as g
from goroutines import net
from goroutines.runtime import trace
from goroutines.runtime.debug import parsedebugvars
from goroutines.runtime.proc import acquire_g, runqput
from goroutines.runtime.runtime2 import (
    G,
    M,
    P,
    WaitReason,
    _Grunnable,
    _Gwaiting,
    _Prunning,
    schedt,
)
from goroutines.runtime.schedcheck import Checker
from tests.helpers import SEEDS
from tests.test_debug import Parker
from tests.test_net import echo_server
from tests.test_stress import run_stress, spawn_storm, stress

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def no_checks_left() -> Iterator[None]:
    """After each test no run is checked or traced any more."""
    yield
    assert not trace._tracers and not trace._checkers


# ---------------------------------------------------------------------------
# Healthy programs pass


@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [1, 2, 4, 8])
@pytest.mark.parametrize("seed", SEEDS)
def test_stress_passes_with_schedcheck(procs: int, seed: int) -> None:
    run_stress(seed, procs, nodes=40, tokens=300, hops=20, schedcheck=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [2, 4])
def test_spawn_storm_with_resizes_passes_with_schedcheck(procs: int) -> None:
    assert g.run(spawn_storm, procs, gomaxprocs=procs, schedcheck=True) == list(range(3000))


async def blocked_in_syscall(ev: threading.Event, done: g.Chan[str]) -> None:
    """A syscall that returns once a partner goroutine sets ev."""
    await g.syscall(ev.wait)
    await done.send("syscall")


async def release(ev: threading.Event, done: g.Chan[str]) -> None:
    for _ in range(20):
        await g.gosched()
    ev.set()
    await done.send("release")


async def sleeper(done: g.Chan[str]) -> None:
    await g.sleep(0.001)
    await done.send("sleep")


async def echo_client(addr: tuple[str, int], done: g.Chan[str]) -> None:
    async with await net.dial(*addr) as c:
        for r in range(5):
            msg = f"round {r}".encode()
            await c.write(msg)
            assert await c.read_exactly(len(msg)) == msg
    await done.send("echo")


async def mixed() -> list[str]:
    """Syscalls (and sysmon taking their Ps), timers, the network poller, channels."""
    done: g.Chan[str] = g.Chan()
    ln = await net.listen("127.0.0.1", 0)
    g.go(echo_server, ln)
    for _ in range(4):
        ev = threading.Event()
        g.go(blocked_in_syscall, ev, done)
        g.go(release, ev, done)
        g.go(sleeper, done)
        g.go(echo_client, ln.addr, done)
    got = [await done.recv() for _ in range(16)]
    ln.close()
    return sorted(got)


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_syscalls_timers_and_the_poller_pass_with_schedcheck(procs: int) -> None:
    expected = sorted(["echo", "release", "sleep", "syscall"] * 4)
    assert g.run(mixed, gomaxprocs=procs, schedcheck=True) == expected


# ---------------------------------------------------------------------------
# A corrupted scheduler stops with the invariant it broke


async def parked_goroutine() -> G:
    """Start a goroutine and return it once it is parked."""
    parker = Parker()
    g.go(parker.park, WaitReason.ChanReceive)
    [gp] = await parker.wait_parked(1)
    return gp


async def queue_myself() -> None:
    """Put the running goroutine on the global run queue, then yield."""
    mp, me = acquire_g("queue_myself")
    with mp.sched.lock:
        mp.sched.runq.append(me)
    await g.gosched()


async def two_queues() -> None:
    """Make a parked goroutine runnable on this P's queue and on the global one."""
    other = await parked_goroutine()
    mp, _ = acquire_g("two_queues")
    assert mp.p is not None
    other.status = _Grunnable
    runqput(mp.sched, mp.p, other, False)
    with mp.sched.lock:
        mp.sched.runq.append(other)
    await g.gosched()


async def twice_on_the_global_queue() -> None:
    """Make a parked goroutine runnable twice on the global queue."""
    other = await parked_goroutine()
    sched = acquire_g("twice_on_the_global_queue")[0].sched
    other.status = _Grunnable
    with sched.lock:
        sched.runq.extend([other, other])
    await g.gosched()


async def flip_my_status() -> None:
    """Say the running goroutine is waiting, then yield."""
    acquire_g("flip_my_status")[1].status = _Gwaiting
    await g.gosched()


async def miscount_idle_ps() -> None:
    """Count an idle P that is not on the idle list, then yield."""
    sched = acquire_g("miscount_idle_ps")[0].sched
    with sched.lock:
        sched.npidle += 1
    await g.gosched()


async def lock_an_idle_m() -> None:
    """Put an M locked to goroutine 2 on the idle M list, then yield."""
    other = await parked_goroutine()
    sched = acquire_g("lock_an_idle_m")[0].sched
    stray = M(sched, 99)  # not in allm: run() has no thread of it to join
    stray.lockedg = other
    with sched.lock:
        sched.midle.append(stray)
    await g.gosched()


async def reuse_a_goid() -> None:
    """Rewind our P's goid cache, so that the next goroutine gets goroutine 2's id again."""
    other = await parked_goroutine()
    mp = acquire_g("reuse_a_goid")[0]
    assert mp.p is not None
    mp.p.goidcache = other.goid
    g.go(noop)


async def noop() -> None:
    """A goroutine body that does nothing."""


FATAL = r"goroutines runtime: fatal error: schedcheck: "
# Patterns of the messages. With one P, goroutine 1 (main) runs on P 0 and M 0;
# the parked one is goroutine 2.
CORRUPTIONS: list[tuple[Callable[[], Coroutine[Any, Any, None]], str]] = [
    (
        queue_myself,
        r"GoSched: a G in transition is on no run queue: it is on the global run queue "
        r"\(goroutine 1 running, P 0, M 0\)",
    ),
    (
        two_queues,
        r"GoStart: a G in transition is on no run queue: it is on (P 0's|the global) run queue "
        r"\(goroutine 2 running, P 0, M 0\)",
    ),
    (
        twice_on_the_global_queue,
        r"GoSched: a G is on the global run queue once \(goroutine 2 runnable\)",
    ),
    (flip_my_status, r"GoSched: a G that yields is _Grunning \(goroutine 1 waiting, P 0, M 0\)"),
    (miscount_idle_ps, r"GoSched: npidle == len\(pidle\) \(npidle=1\)"),
    (reuse_a_goid, r"GoCreate: a goid is handed out once \(goroutine 2 runnable\)"),
    (
        lock_an_idle_m,
        r"GoSched: an M on the idle list has no locked G \(goroutine 2 waiting, M 99\)",
    ),
]


@pytest.mark.parametrize(("corrupt", "pattern"), CORRUPTIONS)
def test_a_broken_invariant_stops_the_program(
    corrupt: Callable[[], Coroutine[Any, Any, None]], pattern: str
) -> None:
    with pytest.raises(SystemError, match=f"^{FATAL}{pattern}$"):
        g.run(corrupt, gomaxprocs=1, schedcheck=True)


def test_where_the_caller_may_hold_sched_lock_the_error_is_raised() -> None:
    """ProcStop (releasep) runs with sched.lock held in find_runnable: no fatal(), a raise."""
    sched = schedt()
    mp, pp, gp = M(sched, 3), P(1), G(sched)
    gp.goid = 7
    mp.p, pp.m, pp.status, mp.curg = pp, mp, _Prunning, gp
    message = "ProcStop: an M drops its P only between goroutines (goroutine 7 idle, P 1, M 3)"
    with sched.lock, pytest.raises(SystemError, match=f"^{FATAL}{re.escape(message)}$"):
        Checker(sched).ProcStop(mp, pp)
    assert sched.fatal is None and not sched.exiting


# ---------------------------------------------------------------------------
# Runs at once, each checked and traced or not


async def together(meet: threading.Barrier) -> None:
    """Wait in a syscall until every run has started, so that they overlap."""
    await g.syscall(meet.wait, 60)


async def am_checked() -> bool:
    """Whether the calling goroutine's run is checked."""
    return acquire_g("am_checked")[0].sched in trace._checkers


async def broken_after(meet: threading.Barrier) -> None:
    await together(meet)
    await flip_my_status()


async def stress_after(meet: threading.Barrier) -> tuple[bool, Any]:
    await together(meet)
    return await am_checked(), await stress(2, 20, 100, 10)


@pytest.mark.timeout(120)
def test_runs_at_once_are_each_checked_and_traced_or_not(tmp_path: Path) -> None:
    meet = threading.Barrier(3)
    broken_trace, plain_trace = tmp_path / "broken.json", tmp_path / "plain.json"
    with ThreadPoolExecutor(3) as pool:
        broken = pool.submit(
            g.run, broken_after, meet, gomaxprocs=1, schedcheck=True, trace=str(broken_trace)
        )
        checked = pool.submit(g.run, stress_after, meet, gomaxprocs=2, schedcheck=True)
        plain = pool.submit(g.run, stress_after, meet, gomaxprocs=2, trace=str(plain_trace))
        with pytest.raises(SystemError, match="schedcheck: GoSched: a G that yields is _Grunning"):
            broken.result()
        assert checked.result()[0] is True
        assert plain.result()[0] is False
    for path in (broken_trace, plain_trace):
        assert json.loads(path.read_text())["traceEvents"], f"{path} has no events"


# ---------------------------------------------------------------------------
# GODEBUG


@pytest.mark.parametrize(
    ("godebug", "on"),
    [
        ("schedcheck=1", True),
        ("schedcheck=0", False),
        ("", False),
        ("schedtrace=10,schedcheck=1,scheddetail=1", True),
        ("gctrace=1", False),
    ],
)
def test_godebug_schedcheck_parses(godebug: str, on: bool) -> None:
    assert parsedebugvars(godebug).schedcheck is on


@pytest.mark.parametrize(
    ("godebug", "argument", "on"),
    [
        ("schedcheck=1", None, True),
        ("schedcheck=0", None, False),
        ("schedcheck=1", False, False),
        ("", True, True),
    ],
)
def test_run_checks_as_godebug_says_unless_told(
    monkeypatch: pytest.MonkeyPatch, godebug: str, argument: bool | None, on: bool
) -> None:
    monkeypatch.setenv("GODEBUG", godebug)
    assert g.run(am_checked, schedcheck=argument) is on


def test_godebug_schedcheck_stops_a_broken_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GODEBUG", "schedcheck=1")
    with pytest.raises(SystemError, match="schedcheck: GoSched: a G that yields is _Grunning"):
        g.run(flip_my_status, gomaxprocs=1)


@pytest.mark.parametrize("godebug", ["schedcheck=yes", "schedcheck=-1", "schedcheck="])
def test_bad_godebug_schedcheck_is_a_value_error(
    monkeypatch: pytest.MonkeyPatch, godebug: str
) -> None:
    monkeypatch.setenv("GODEBUG", godebug)
    value = godebug.partition("=")[2]
    message = f"GODEBUG={godebug!r}: schedcheck must be a non-negative integer, got {value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        g.run(am_checked)
