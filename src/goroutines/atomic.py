"""Package atomic: values goroutines on several Ps update without losing writes (sync/atomic).

Goroutines run in parallel on GOMAXPROCS Ps, and code between two awaits is
not atomic: `n += 1` is a load, an add and a store, and two threads can
interleave them (on free-threaded CPython, whenever they run at once; with the
GIL, whenever the interpreter switches threads between them). Across an
await it loses updates even on one P: another goroutine runs in between.

    Int(v=0)     load, store, add(delta) -> new, swap(v) -> old, compare_and_swap(old, new)
    Bool(v)      load, store, swap, compare_and_swap
    Value(v)     any object: load, store, swap, compare_and_swap by identity

Python has no CPU atomics to offer, so each object has a lock held for the one
read-modify-write (DESIGN.md: "a CAS loop of Go's becomes one pass under the
lock"): one of the runtime's striped semaphores (osapi.lockfor), which objects
share by address, as channels do; no user code runs while it is held. That is
correct with and without the GIL, never blocks a thread for longer than those
few bytecodes, and needs no await: every method is one call that returns
(benchmarks/bench_sync.py, "counter increment", compares it with a Mutex
around `n += 1`).
"""

from __future__ import annotations

from typing import Any

from .runtime.osapi import lockacquire, lockfor, lockrelease, stripe

__all__ = ["Bool", "Int", "Value"]


def _check_int(v: object, what: str) -> int:
    """v if it is an int (not a bool), else a TypeError naming `what`."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"atomic.Int.{what} needs an int, got {type(v).__name__} {v!r}")
    return v


def _check_bool(v: object, what: str) -> bool:
    """v if it is a bool, else a TypeError naming `what`."""
    if not isinstance(v, bool):
        raise TypeError(f"atomic.Bool.{what} needs a bool, got {type(v).__name__} {v!r}")
    return v


class Int:
    """An integer updated atomically (Go's atomic.Int64, without the overflow)."""

    __slots__ = ("_lockno", "_v")

    def __init__(self, v: int = 0) -> None:
        self._v = _check_int(v, "__init__")
        self._lockno = lockfor(id(self))

    # The hot methods take the lock with acquire/try/finally, and check the
    # type with one comparison first: `with` and a call cost twice as much on
    # CPython 3.11 (see sync.py).

    def load(self) -> int:
        """The value."""
        n = self._lockno
        lockacquire[n]()
        try:
            return self._v
        finally:
            lockrelease[n]()

    def store(self, v: int) -> None:
        """Set the value to v."""
        if type(v) is not int:
            _check_int(v, "store")
        n = self._lockno
        lockacquire[n]()
        try:
            self._v = v
        finally:
            lockrelease[n]()

    def add(self, delta: int) -> int:
        """Add delta; returns the new value."""
        if type(delta) is not int:
            _check_int(delta, "add")
        n = self._lockno
        lockacquire[n]()
        try:
            v = self._v = self._v + delta
        finally:
            lockrelease[n]()
        return v

    def swap(self, v: int) -> int:
        """Set the value to v; returns the old one."""
        _check_int(v, "swap")
        with stripe(self._lockno):
            old, self._v = self._v, v
            return old

    def compare_and_swap(self, old: int, new: int) -> bool:
        """Set the value to new if it is old; True if it was (Go's CompareAndSwap)."""
        _check_int(old, "compare_and_swap")
        _check_int(new, "compare_and_swap")
        with stripe(self._lockno):
            if self._v != old:
                return False
            self._v = new
            return True

    def __repr__(self) -> str:
        return f"<atomic.Int {self.load()}>"


class Bool:
    """A boolean flag updated atomically (Go's atomic.Bool)."""

    __slots__ = ("_lockno", "_v")

    def __init__(self, v: bool = False) -> None:
        self._v = _check_bool(v, "__init__")
        self._lockno = lockfor(id(self))

    def load(self) -> bool:
        """The value."""
        with stripe(self._lockno):
            return self._v

    def store(self, v: bool) -> None:
        """Set the value to v."""
        _check_bool(v, "store")
        with stripe(self._lockno):
            self._v = v

    def swap(self, v: bool) -> bool:
        """Set the value to v; returns the old one."""
        _check_bool(v, "swap")
        with stripe(self._lockno):
            old, self._v = self._v, v
            return old

    def compare_and_swap(self, old: bool, new: bool) -> bool:
        """Set the value to new if it is old; True if it was."""
        _check_bool(old, "compare_and_swap")
        _check_bool(new, "compare_and_swap")
        with stripe(self._lockno):
            if self._v is not old:
                return False
            self._v = new
            return True

    def __repr__(self) -> str:
        return f"<atomic.Bool {self.load()}>"


class Value:
    """Any object, loaded and stored atomically (Go's atomic.Value / atomic.Pointer).

    compare_and_swap compares by identity (`is`), as Go compares pointers:
    it is the tool for replacing a shared immutable snapshot built from the
    one loaded. None is the initial value.
    """

    __slots__ = ("_lockno", "_v")

    def __init__(self, v: Any = None) -> None:
        self._v = v
        self._lockno = lockfor(id(self))

    def load(self) -> Any:
        """The value."""
        with stripe(self._lockno):
            return self._v

    def store(self, v: Any) -> None:
        """Set the value to v."""
        # Through swap: the old value is dropped once the lock is released, so a
        # finalizer it runs cannot wait for that lock.
        self.swap(v)

    def swap(self, v: Any) -> Any:
        """Set the value to v; returns the old one."""
        with stripe(self._lockno):
            old, self._v = self._v, v
            return old

    def compare_and_swap(self, old: Any, new: Any) -> bool:
        """Set the value to new if it is old itself (identity); True if it was."""
        with stripe(self._lockno):
            if self._v is not old:
                return False
            self._v = new
            return True

    def __repr__(self) -> str:
        return f"<atomic.Value {self.load()!r}>"
