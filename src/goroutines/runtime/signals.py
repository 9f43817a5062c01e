"""Ctrl-C while run() runs: KeyboardInterrupt only where the runtime can take it.

Python raises KeyboardInterrupt in the main thread at whatever bytecode that
thread is executing when SIGINT arrives. In the runtime's own code that may be
between a lock's acquire() and release() (a channel's, a P's, sched.lock): the
lock is then held for good, and whoever takes it next hangs, be it another M
or the teardown that closes every goroutine (an abandoned channel wait unlinks
itself under the channel's lock). Go has no such problem: its signal handler
runs on its own stack and never unwinds the code it interrupted.

So while run() runs in the main thread, and SIGINT has Python's default
handler, `sigint_handler` raises KeyboardInterrupt at once only

  * in code that is not the runtime's, called by a runtime frame that holds no
    lock while it calls out (`execute` running a goroutine, `syscall` running
    its blocking call, `Once.do` running its function, `teardown` closing
    goroutines and joining threads); or
  * in one of the runtime's blocking waits, which hold no lock either (an M
    parked in stopm, the poller's wait): an idle main thread.

Anywhere else it records the interrupt in `sched.sigint` and asks the goroutine
on the main thread, if any, to yield; m0 raises KeyboardInterrupt at its next
safe point (`deliver`: the top of the schedule loop, or just before it parks),
and run() raises it after the teardown if it was still pending then.
"""

from __future__ import annotations

import os
import signal
import threading
import types
from collections.abc import Callable

from .runtime2 import M, schedt

# The package's directory: a frame whose code lives under it is the runtime's.
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


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
    waits, callouts = _frames()

    def sigint_handler(signum: int, frame: types.FrameType | None) -> None:
        if interruptible(frame, waits, callouts):
            raise KeyboardInterrupt
        sched.sigint = True
        gp = sched.m0.curg if sched.m0 is not None else None
        if gp is not None:
            gp.preempt = True  # yield at the next runtime await: a safe point

    signal.signal(signal.SIGINT, sigint_handler)

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is sigint_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    return restore


def _frames() -> tuple[frozenset[types.CodeType], frozenset[types.CodeType]]:
    """The code of the runtime's lock-free blocking waits, and of its lock-free call-outs."""
    from .. import sync
    from . import netpoll, osapi, proc

    waits = frozenset(
        {osapi.Note.sleep.__code__, osapi.Note.tsleep.__code__, netpoll.netpoll.__code__}
    )
    callouts = frozenset(
        {
            proc.execute.__code__,
            proc._syscall.__code__,
            proc.teardown.__code__,
            sync.Once._doSlow.__code__,
        }
    )
    return waits, callouts


def interruptible(
    frame: types.FrameType | None,
    waits: frozenset[types.CodeType],
    callouts: frozenset[types.CodeType],
) -> bool:
    """Whether KeyboardInterrupt may be raised in `frame`, the code SIGINT interrupted."""
    if frame is None:
        return True
    if frame.f_code.co_filename.startswith(_PKG):
        return frame.f_code in waits
    f = frame.f_back
    while f is not None:
        if f.f_code.co_filename.startswith(_PKG):
            return f.f_code in callouts
        f = f.f_back
    return True


def deliver(mp: M) -> None:
    """Raise the KeyboardInterrupt the handler put off, if mp is the main thread's M."""
    sched = mp.sched
    if sched.sigint and mp is sched.m0:
        sched.sigint = False
        raise KeyboardInterrupt
