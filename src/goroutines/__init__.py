"""goroutines: Go's GMP scheduler for Python.

Goroutines are `async def` functions run by an M:N scheduler built the way Go's
runtime is: Gs (coroutines) on Ps (processors, GOMAXPROCS of them) run by Ms
(OS threads), with channels, select, sync, time and net on top.
"""

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
from .sync import Cond, Mutex, Once, RWMutex, Semaphore, WaitGroup

__all__ = [
    "ChannelClosed",
    "Cond",
    "Deadlock",
    "Goexit",
    "Mutex",
    "Once",
    "RWMutex",
    "Semaphore",
    "WaitGroup",
    "checkpoint",
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
