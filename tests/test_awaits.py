"""Forgotten awaits: an operation does nothing until awaited, and warns when dropped (API.md).

`ch.send(1)` without `await` once put 1 in a buffered channel, and `mu.lock()`
took the lock: a forgotten await half-worked, silently. Now every operation
documented with `await` is a coroutine: called and dropped, it changes nothing
and Python warns `RuntimeWarning: coroutine ... was never awaited`.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import goroutines as g

pytestmark = pytest.mark.timeout(30)


async def noop() -> None:
    pass


def state_of(objs: dict[str, Any]) -> dict[str, Any]:
    """What an operation would change, read without changing it."""
    out = {
        "buffered": len(objs["buf"]),
        "locked": objs["mu"].try_lock(),
        "rw": objs["rw"]._readerCount,
        "sem": objs["sem"]._cur,
        "once": objs["once"]._done,
        "wg": objs["wg"]._w,
    }
    if out["locked"]:
        objs["mu"].unlock()
    return out


# Each: (name, a call that makes the awaitable, given the objects).
OPERATIONS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("Chan.send", lambda o: o["buf"].send(1)),
    ("Chan.recv", lambda o: o["buf"].recv()),
    ("Chan.recv_ok", lambda o: o["buf"].recv_ok()),
    ("Chan.__anext__", lambda o: o["buf"].__anext__()),
    ("select", lambda o: g.select(g.send(o["buf"], 1), default=True)),
    ("Mutex.lock", lambda o: o["mu"].lock()),
    ("RWMutex.rlock", lambda o: o["rw"].rlock()),
    ("RWMutex.lock", lambda o: o["rw"].lock()),
    ("Semaphore.acquire", lambda o: o["sem"].acquire()),
    ("Once.do", lambda o: o["once"].do(noop)),
    ("WaitGroup.wait", lambda o: o["wg"].wait()),
    ("Cond.wait", lambda o: o["cond"].wait()),
    ("sleep", lambda o: g.sleep(0.01)),
    ("gosched", lambda o: g.gosched()),
    ("checkpoint", lambda o: g.checkpoint()),
    ("syscall", lambda o: g.syscall(o["calls"].append, 1)),
]


@pytest.mark.parametrize(("name", "make"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_an_operation_not_awaited_does_nothing_and_warns(
    name: str, make: Callable[[dict[str, Any]], Any]
) -> None:
    async def main() -> tuple[dict[str, Any], dict[str, Any], list[str], list[int]]:
        wg = g.WaitGroup()
        wg.add(1)
        objs: dict[str, Any] = {
            "buf": g.Chan[int](1),
            "mu": g.Mutex(),
            "rw": g.RWMutex(),
            "sem": g.Semaphore(1),
            "once": g.Once(),
            "wg": wg,
            "calls": [],
        }
        objs["cond"] = g.Cond(objs["mu"])
        before = state_of(objs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make(objs)  # dropped at once: never awaited
            gc.collect()
        after = state_of(objs)
        wg.done()
        return before, after, [str(w.message) for w in caught], objs["calls"]

    before, after, messages, calls = g.run(main, gomaxprocs=1)
    assert after == before, name
    assert calls == []
    assert any("was never awaited" in m for m in messages), messages


@pytest.mark.goroutines(virtual_time=True)
async def test_awaiting_them_all_still_works() -> None:
    # The same operations, awaited: each has its effect.
    ch = g.Chan[int](1)
    mu, sem, once, wg = g.Mutex(), g.Semaphore(1), g.Once(), g.WaitGroup()
    await ch.send(5)
    assert await ch.recv() == 5
    await mu.lock()
    assert mu.try_lock() is False
    mu.unlock()
    await sem.acquire()
    sem.release()
    await once.do(noop)
    await wg.wait()
    t0 = g.now()
    await g.sleep(10)
    assert g.since(t0) == 10  # exactly: virtual time
    assert await g.syscall(lambda: 7) == 7
    await g.gosched()
    await g.checkpoint()
    assert await g.select(g.send(ch, 1), default=True) == (0, None, True)
