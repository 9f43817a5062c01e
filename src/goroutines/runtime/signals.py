"""Signals while run() runs: the handler records, the runtime acts (Go's sighandler, sigsend).

Go's signal handler runs on its own stack and never unwinds the code it
interrupted: it records the signal (sigsend), and ordinary code acts on it
(the os/signal loop delivers it to the channels of signal.Notify; with none,
the runtime takes the default action). Python runs a handler in the main
thread, between two bytecodes of whatever that thread runs, and a handler that
raises unwinds that code: between a lock's acquire() and its release() the lock
stays held for good, and whoever takes it next hangs.

So the runtime never lets a signal unwind its own code. The thread that calls
run() runs no goroutine and no scheduler code (program.py): it waits for the
program's end on `sched.events`, a SimpleQueue, whose put() a handler may call
even while it interrupts a get() of the same queue. While run() runs in the
main thread, that run is the signal host (`host`): its handler only puts
("sig", signum) on the queue and returns, and the waiting thread acts on it in
`dispatch`:

  * a signal some channel is notified of (goroutines.signal.notify) is sent to
    each such channel without blocking (a full channel drops it, as Go's);
  * SIGINT that no channel is notified of ends the program with a
    KeyboardInterrupt whose traceback is where main's code was, whatever the
    goroutines are doing (the Ms still inside goroutine code are abandoned
    after program.EXIT_GRACE, so run() raises within a second).

Python installs handlers only from the main thread, and a goroutine runs on
another: notify asks the waiting thread to install the handler (a ("call", fn)
event) and waits until it has, so the handler is in place when notify returns.
The last stop of a signal puts the program's own handler back the same way,
and the end of the run puts back every handler it replaced.

No frame is inspected to decide anything: the handler does the same wherever
it lands, so a compiled core, whose functions have no frames, behaves the same.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import signal
import threading
import types
from collections.abc import Callable
from typing import Any

from .runtime2 import schedt

EXIT = "exit"  # sched.events: the program is ending, tear the runtime down
SIG = "sig"  # a signal arrived: ("sig", signum)
CALL = "call"  # run a function on the host thread: ("call", _Call)

Handler = Callable[[int, types.FrameType | None], Any] | int | None


class SigState:
    """The signal handling of the run that hosts signals (run() in the main thread)."""

    def __init__(self, sched: schedt) -> None:
        self.sched = sched
        self.lock = threading.Lock()  # guards everything below
        self.subs: dict[int, list[Any]] = {}  # signum -> notified channels (Go's handlers)
        self.saved: dict[int, Handler] = {}  # signum -> the handler we replaced
        self.closed = False  # the run ended: no more calls are served
        self.counted = False  # counted in sched.nexternal: some channel is notified

        events = sched.events

        def sighandler(signum: int, frame: types.FrameType | None) -> None:
            events.put((SIG, signum))  # may interrupt anything: nothing else

        self.handler = sighandler


_hostlock = threading.Lock()
_host: SigState | None = None  # the run in the main thread, if any


def host(sched: schedt) -> Callable[[], None] | None:
    """Make this run, in the main thread, the signal host; returns what ends that.

    SIGINT gets the host's handler if it has Python's default one. None where
    no handler can be installed (not the main thread): nothing to end then.
    """
    global _host
    if threading.current_thread() is not threading.main_thread():
        return None
    st = sched.sig = SigState(sched)
    with _hostlock:
        _host = st
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        install(st, signal.SIGINT)

    def unhost() -> None:
        global _host
        with _hostlock:
            if _host is st:
                _host = None
        with st.lock:
            st.closed = True
            st.subs.clear()
            saved, st.saved = st.saved, {}
        for signum, previous in saved.items():
            if signal.getsignal(signum) is st.handler:
                signal.signal(signum, previous)
        fail_calls(sched)

    return unhost


def install(st: SigState, signum: int) -> None:
    """Give signum the host's handler (main thread only); remember the one it replaces."""
    previous = signal.signal(signum, st.handler)
    if previous is not st.handler:
        st.saved.setdefault(signum, previous)


def uninstall(st: SigState, signum: int) -> None:
    """Put back the handler signum had before the host's (main thread only)."""
    if signum == signal.SIGINT:
        return  # the host's own: without subscribers it ends the program, as it did
    previous = st.saved.pop(signum, None)
    if previous is not None and signal.getsignal(signum) is st.handler:
        signal.signal(signum, previous)


def dispatch(sched: schedt, signum: int) -> bool:
    """Act on a signal on the host thread: send it to the notified channels.

    False if no channel is notified of it: the caller takes the default action.
    """
    st = sched.sig
    if st is None:
        return False
    with st.lock:  # held while sending: once stop() returns, its channel gets nothing
        chans = st.subs.get(signum)
        if not chans:
            return False
        for ch in chans:
            ch.try_send(signum)
    return True


def pending_sigint(sched: schedt, keep: bool = False) -> bool:
    """Whether a Ctrl-C nobody is notified of waits on sched.events; keep leaves it there."""
    found = exited = False
    while True:
        try:
            ev = sched.events.get_nowait()
        except queue.Empty:
            break
        if ev[0] == SIG and ev[1] == signal.SIGINT and not dispatch(sched, signal.SIGINT):
            found = True
        exited = exited or ev[0] == EXIT
    if exited:
        sched.events.put((EXIT, None))  # a Runtime's watcher may not have seen it yet
    if found and keep:
        sched.events.put((SIG, signal.SIGINT))
    return found


class _Call:
    """A function the host thread runs for another thread, and its outcome."""

    __slots__ = ("done", "error", "fn")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()


def on_host(st: SigState, fn: Callable[[], None]) -> None:
    """Run fn on the host thread, waiting for it (at once if this is that thread)."""
    if threading.current_thread() is threading.main_thread():
        fn()
        return
    call = _Call(fn)
    with st.lock:
        if st.closed:
            raise RuntimeError("signal handling has ended: the program is exiting")
        st.sched.events.put((CALL, call))
    call.done.wait()
    if call.error is not None:
        raise call.error


def fail_calls(sched: schedt) -> None:
    """The run has ended: answer the calls still queued with an error (events drained)."""
    while True:
        try:
            ev = sched.events.get_nowait()
        except queue.Empty:
            return
        if ev[0] == CALL:
            ev[1].error = RuntimeError("signal handling has ended: the program is exiting")
            ev[1].done.set()


def current() -> SigState:
    """The signal host, or the RuntimeError that says why signals cannot be notified."""
    st = _host
    if st is None:
        raise RuntimeError(
            "goroutines.signal needs the program to run with goroutines.run() in the"
            " main thread: Python handles signals in that thread only"
        )
    return st


def notify(ch: Any, signums: tuple[int, ...]) -> None:
    """Relay signums to ch from now on (Go's signal.Notify); the handlers are in place on return."""
    st = current()
    with st.lock:
        new = []
        for s in signums:
            chans = st.subs.setdefault(s, [])
            if not chans:
                new.append(s)
            if not any(c is ch for c in chans):
                chans.append(ch)
        watching(st)
    if new:
        on_host(st, functools.partial(installall, st, new))


def stop(ch: Any) -> None:
    """Relay nothing more to ch (Go's signal.Stop); a signal nobody waits for is uninstalled."""
    st = _host
    if st is None:
        return
    with st.lock:
        gone = []
        for s, chans in list(st.subs.items()):
            chans[:] = [c for c in chans if c is not ch]
            if not chans:
                gone.append(s)
        watching(st)
    if gone:
        with contextlib.suppress(RuntimeError):  # exiting: unhost puts every handler back
            on_host(st, functools.partial(uninstallall, st, gone))


def watching(st: SigState) -> None:
    """While a channel is notified, a signal may still wake a goroutine: no deadlock.

    st.lock held. Go's signal_recv goroutine waits for signals in a syscall,
    so a program blocked on a signal channel is not deadlocked; here an
    external waker is counted (sched.nexternal), as an open Runtime is.
    """
    from .proc import checkdead  # a cycle: proc imports us

    want = any(st.subs.values())
    if want == st.counted:
        return
    st.counted = want
    sched = st.sched
    with sched.lock:
        sched.nexternal += 1 if want else -1
        if not want:
            checkdead(sched)  # blocked on a signal that nobody relays now: maybe a deadlock


def installall(st: SigState, signums: list[int]) -> None:
    """Give each signal the host's handler (on the host thread)."""
    for s in signums:
        install(st, s)


def uninstallall(st: SigState, signums: list[int]) -> None:
    """Put back the handlers of the signals still without a channel (on the host thread).

    Looked at again here: a notify since the stop may have taken the signal back.
    """
    for s in signums:
        with st.lock:
            if st.subs.get(s):
                continue
            st.subs.pop(s, None)
        uninstall(st, s)
