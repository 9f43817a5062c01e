"""Ctrl-C while run() runs: the handler records, the runtime acts (Go's sighandler + sigsend).

Go's signal handler runs on its own stack and never unwinds the code it
interrupted: it records the signal, and the runtime acts on it from ordinary
code. Python runs a handler in the main thread between two bytecodes of
whatever that thread runs, and a handler that raises unwinds that code: between
a lock's acquire() and its release(), the lock stays held for good, and
whoever takes it next hangs.

So the runtime never lets a KeyboardInterrupt unwind its own code. The thread
that calls run() runs no goroutine and no scheduler code (program.py): it waits
for the program's end on `sched.events`, a SimpleQueue, and tears the runtime
down afterwards. While run() runs in the main thread, and SIGINT has Python's
default handler, `sigint_handler` puts SIGINT_EVENT on that queue
(SimpleQueue.put may be called from a handler, even one that interrupts a
get() or put() of the same queue) and returns. The waiting thread wakes and
ends the program with a KeyboardInterrupt whose traceback is where main's code
was, whatever the goroutines are doing: the Ms still inside goroutine code are
abandoned after program.EXIT_GRACE, so run() raises within a second. A
Ctrl-C during the teardown itself is raised once the teardown is done.

No frame is inspected to decide anything: the handler does the same wherever
it lands, so a compiled core, whose functions have no frames, behaves the same.
"""

from __future__ import annotations

import queue
import signal
import threading
import types
from collections.abc import Callable

from .runtime2 import SIGINT_EVENT, schedt

SIGINT = SIGINT_EVENT


def install_sigint(sched: schedt) -> Callable[[], None] | None:
    """Install the handler for this run; returns what puts the previous one back.

    None where Python's own handler is not the one in place (the program has
    its own, or ignores SIGINT) or where no handler can be installed (not the
    main thread).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        return None
    events = sched.events

    def sigint_handler(signum: int, frame: types.FrameType | None) -> None:
        events.put(SIGINT)

    signal.signal(signal.SIGINT, sigint_handler)

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is sigint_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    return restore


def pending_sigint(sched: schedt, keep: bool = False) -> bool:
    """Whether a Ctrl-C waits on sched.events; with keep, it stays there for a later look."""
    while True:
        try:
            ev = sched.events.get_nowait()
        except queue.Empty:
            return False
        if ev == SIGINT:
            if keep:
                sched.events.put(SIGINT)
            return True
