"""wait_idle: wait until every other goroutine is durably blocked (Go's synctest.Wait)."""

from __future__ import annotations

import threading

from ..runtime.proc import acquire_g, goparkunlock, goready
from ..runtime.runtime2 import G, WaitReason, schedt


async def wait_idle() -> None:
    """`await wait_idle()`: under virtual time, once every other goroutine is durably blocked.

    The caller parks on the run's list of idle waiters; when no goroutine can
    run and nothing outside the runtime may wake one, the scheduler readies
    the waiters before it moves the clock (proc.timeskip_locked).
    """
    mp, gp = acquire_g("wait_idle")
    sched = mp.sched
    if sched.vclock is None:
        raise RuntimeError("wait_idle() needs virtual time: testing.run(main, virtual_time=True)")
    sched.lock.acquire()
    sched.idlewaiters.append(gp)
    await goparkunlock(sched.lock, WaitReason.WaitIdle, gp)


async def wait_idle_within(seconds: float) -> bool:
    """wait_idle, for at most `seconds` of real time; True if every other goroutine is blocked.

    A goroutine waiting on the network is not durably blocked (a peer outside
    may still write), so with one the run is never idle and wait_idle waits
    for good: the leak check of the pytest plugin must not.
    """
    mp, gp = acquire_g("wait_idle")
    sched = mp.sched
    late = threading.Event()
    timer = threading.Timer(seconds, giveup_idle, (sched, gp, late))
    timer.start()
    try:
        await wait_idle()
    finally:
        timer.cancel()
        timer.join()
    return not late.is_set()


def giveup_idle(sched: schedt, gp: G, late: threading.Event) -> None:
    """Take gp off the idle waiters and ready it, unless the run got idle first."""
    with sched.lock:
        if gp not in sched.idlewaiters:
            return  # readied by the scheduler: idle after all
        sched.idlewaiters.remove(gp)
        late.set()
    goready(gp)
