"""Helpers shared by the sync and sema tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sized

from goroutines import gosched


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


async def wait_until(cond: Callable[[], object]) -> None:
    """Yield until cond() holds (the other goroutines make progress meanwhile)."""
    while not cond():
        await gosched()


async def wait_len(items: Callable[[], Sized], n: int) -> None:
    """Yield until items() has n elements."""
    while len(items()) != n:
        await gosched()
