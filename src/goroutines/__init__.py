"""goroutines: Go's GMP scheduler for Python.

Goroutines are `async def` functions run by an M:N scheduler built the way Go's
runtime is: Gs (coroutines) on Ps (processors, GOMAXPROCS of them) run by Ms
(OS threads), with channels, select, sync, time and net on top.
"""

from .runtime.debug import dump_goroutines
from .runtime.errors import ChannelClosed, Deadlock, Goexit
from .runtime.proc import (
    checkpoint,
    go,
    goexit,
    goid,
    gosched,
    lock_os_thread,
    num_goroutine,
    run,
    syscall,
    unlock_os_thread,
)

__all__ = [
    "ChannelClosed",
    "Deadlock",
    "Goexit",
    "checkpoint",
    "dump_goroutines",
    "go",
    "goexit",
    "goid",
    "gosched",
    "lock_os_thread",
    "num_goroutine",
    "run",
    "syscall",
    "unlock_os_thread",
]
