"""Ctrl-C while run() runs: KeyboardInterrupt only where the runtime can take it (signals.py)."""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
import types
from typing import Any

import pytest

import goroutines as g
from goroutines.runtime import proc, signals

pytestmark = pytest.mark.timeout(60)


def test_frames_of_goroutines_and_syscalls_take_it_at_once_runtime_code_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits, callouts = signals._frames()

    def interruptible_here(depth: int = 0) -> bool:
        """What the handler decides for this frame, or the one `depth` calls up."""
        return signals.interruptible(sys._getframe(depth), waits, callouts)

    seen: dict[str, bool] = {}
    real_nanotime = proc.nanotime

    def nanotime() -> int:
        # park_m calls this: code of ours, called by the runtime, which is not
        # a call-out (it may hold a lock around such a call).
        seen.setdefault("called by park_m", interruptible_here())
        seen.setdefault("park_m itself", interruptible_here(2))
        return real_nanotime()

    monkeypatch.setattr(proc, "nanotime", nanotime)

    async def main() -> None:
        seen["goroutine"] = interruptible_here()
        seen["syscall"] = await g.syscall(interruptible_here)
        await g.sleep(0.001)  # parks: park_m reads the clock

    g.run(main, gomaxprocs=1)
    assert seen == {
        "goroutine": True,
        "syscall": True,
        "called by park_m": False,
        "park_m itself": False,
    }


def interrupt_channel_traffic(gomaxprocs: int, target: int) -> int:
    """Ping-pong on channels from the main thread until SIGINT stops it; the round trips."""
    progress = [0]

    async def main() -> None:
        ping, pong = g.Chan[int](), g.Chan[int]()

        async def echo() -> None:
            async for v in ping:
                await pong.send(v)

        for _ in range(3):
            g.go(echo)
        while True:
            await ping.send(1)
            await pong.recv()
            progress[0] += 1

    def interrupt() -> None:
        # Wait (bounded) for the traffic to be under way, so that the signal
        # lands at some random point of it.
        deadline = time.monotonic() + 20
        while progress[0] < target and time.monotonic() < deadline:
            time.sleep(0.0002)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            g.run(main, gomaxprocs=gomaxprocs)
    finally:
        t.join()
    return progress[0]


@pytest.mark.parametrize("gomaxprocs", [1, 2])
def test_sigint_during_channel_traffic_always_stops_the_program(gomaxprocs: int) -> None:
    # The main thread spends much of this loop inside channel operations that
    # hold the channel's lock; before signals.py a Ctrl-C landing there left
    # the lock held and run() hung in its teardown about one time in five.
    assert threading.current_thread() is threading.main_thread()
    rng = random.Random(gomaxprocs)
    for _ in range(20):
        target = rng.randrange(20, 1000)
        assert interrupt_channel_traffic(gomaxprocs, target) >= target
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_program_handler_for_sigint_is_left_alone() -> None:
    got: list[int] = []

    def handler(signum: int, frame: types.FrameType | None) -> None:
        got.append(signum)

    async def main() -> Any:
        await g.syscall(os.kill, os.getpid(), signal.SIGINT)
        return signal.getsignal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        assert g.run(main, gomaxprocs=1) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert got == [signal.SIGINT]
