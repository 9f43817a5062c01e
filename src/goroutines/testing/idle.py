"""wait_idle: wait until every other goroutine is durably blocked (Go's synctest.Wait)."""

from __future__ import annotations

from ..runtime.proc import acquire_g, goparkunlock
from ..runtime.runtime2 import WaitReason


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
