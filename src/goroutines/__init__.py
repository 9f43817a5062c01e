"""goroutines: Go's GMP scheduler for Python.

Goroutines are `async def` functions run by an M:N scheduler built the way Go's
runtime is: Gs (coroutines) on Ps (processors, GOMAXPROCS of them) run by Ms
(OS threads), with channels, select, sync, time and net on top.
"""

from .chan import Chan
from .runtime import proc as _proc
from .runtime.calls import (
    checkpoint,
    go,
    goexit,
    goid,
    gomaxprocs,
    gosched,
    lock_os_thread,
    num_goroutine,
    syscall,
    unlock_os_thread,
)
from .runtime.debug import dump_goroutines
from .runtime.errors import ChannelClosed, Deadlock, Goexit
from .runtime.osapi import ncpu as num_cpu
from .runtime.program import Runtime, run
from .select import recv, select, send
from .sync import Cond, Mutex, Once, RWMutex, Semaphore, WaitGroup
from .time import Ticker, Timer, after, after_func, now, since, sleep, until

# The scheduler's core was compiled to a C extension (mypyc) from the same source.
COMPILED: bool = not _proc.__file__.endswith(".py")

__all__ = [
    "COMPILED",
    "Chan",
    "ChannelClosed",
    "Cond",
    "Deadlock",
    "Goexit",
    "Mutex",
    "Once",
    "RWMutex",
    "Runtime",
    "Semaphore",
    "Ticker",
    "Timer",
    "WaitGroup",
    "after",
    "after_func",
    "checkpoint",
    "dump_goroutines",
    "go",
    "goexit",
    "goid",
    "gomaxprocs",
    "gosched",
    "lock_os_thread",
    "now",
    "num_cpu",
    "num_goroutine",
    "recv",
    "run",
    "select",
    "send",
    "since",
    "sleep",
    "syscall",
    "unlock_os_thread",
    "until",
]
