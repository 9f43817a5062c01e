"""Helpers shared by the tests."""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Sized
from typing import Any

import pytest

import goroutines
from goroutines import gosched
from goroutines.runtime import proc, requests


def stress_seeds() -> list[int]:
    """The seeds the stress tests run with: 1-3, or 1-N with GOROUTINES_STRESS_SEEDS=N (soaks)."""
    raw = os.environ.get("GOROUTINES_STRESS_SEEDS", "3")
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"GOROUTINES_STRESS_SEEDS must be an integer, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"GOROUTINES_STRESS_SEEDS must be >= 1, got {n}")
    return list(range(1, n + 1))


SEEDS = stress_seeds()

# A white-box test that replaces a function of the scheduler's core to watch its
# calls: the compiled core calls its functions directly, not through the module.
pure_only = pytest.mark.skipif(
    goroutines.COMPILED, reason="spies on a function of the core, which is compiled here"
)


class Counter:
    """An int that goroutines running in parallel change (without the GIL, += is not atomic)."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self._lock = threading.Lock()

    def add(self, delta: int) -> int:
        """Add delta and return the new value."""
        with self._lock:
            self.value += delta
            return self.value

    def max(self, v: int) -> None:
        """Raise the value to v if v is larger."""
        with self._lock:
            self.value = max(self.value, v)


def completes_at_once(aw: Awaitable[Any]) -> bool:
    """Whether aw, driven one step by hand, completes without stopping its goroutine.

    A fast path does. One that asks to park is undone as an abandoned goroutine
    would be: its unlock callback releases what the park holds, then it is closed.
    """
    it = aw.__await__()
    try:
        req = it.send(None)
    except StopIteration:
        return True
    if req is requests.PARK:
        gp = proc.getg()
        mp = gp.m if gp is not None else None
        assert gp is not None and mp is not None and mp.waitunlockf is not None
        unlockf, lock = mp.waitunlockf, mp.waitlock
        mp.waitunlockf = mp.waitlock = None
        unlockf(gp, lock)
    it.close()  # type: ignore[attr-defined]
    return False


async def wait_until(cond: Callable[[], object]) -> None:
    """Yield until cond() holds (the other goroutines make progress meanwhile)."""
    while not cond():
        await gosched()


async def wait_len(items: Callable[[], Sized], n: int) -> None:
    """Yield until items() has n elements."""
    while len(items()) != n:
        await gosched()
