"""A program's life: a runtime starts, hosts goroutines, ends (Go's rt0_go, runtime.main, exit).

Go starts a program on its main thread, m0: rt0_go runs schedinit, creates the
main goroutine and makes m0 run the scheduler; when main.main returns,
runtime.main calls exit(0) and the process is gone, whatever the other
goroutines and threads were doing at that moment.

A Python `run(main)` must come back to its caller instead, and the process goes
on. So the thread that calls `run` is never an M: one that ran goroutines could
be the very thread left inside a goroutine's blocking call when main returns
(`await syscall(sock.accept)`, a loop that never awaits) and could not come
back. It starts the scheduler, creates main as goroutine 1 on the global run
queue, and waits for the program's end on `sched.events`: the exit beginning
(main returned, a panic, a deadlock) or Ctrl-C. Then it tears the runtime down:

  1. startTheExit: every M leaves its loop at its next look at the scheduler
     (idle Ms are woken, the poller is broken, sysmon is woken);
  2. the Ms are joined for up to EXIT_GRACE. An M still inside goroutine code
     after that (a blocking call, a loop without awaits) is abandoned: it is a
     daemon thread, and when its call returns it sees the exit and leaves
     without running goroutine code again. Its goroutine is stranded: never
     resumed and never closed (kept referenced, so that the garbage collector
     does not close it and run its finally blocks later). A Ctrl-C's
     KeyboardInterrupt gets main's frames here, where main stopped: read while
     it still runs, they could change under the reader;
  3. every other goroutine still alive is abandoned: its coroutine is closed,
     so its finally blocks run. That runs on a thread of its own, which the
     caller waits for, so that a Ctrl-C still ends a finally block that blocks;
  4. the network poller and the sockets the program left open are closed.

`Runtime` is the same machine without a main goroutine: `with Runtime() as rt:`
starts it, `rt.submit(fn)` starts goroutines from any thread, and leaving the
block ends it as main's return does. While it is open, every goroutine being
blocked is not a deadlock (`sched.nexternal`): a caller outside may still wake
one. `run(main)` is a Runtime whose first goroutine is main: one bootstrap and
one teardown serve both.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import queue
import random
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from . import chan, netpoll, osapi, signals, sysmon
from .debug import Observer, interrupted
from .osapi import VirtualClock, nanotime, osyield
from .proc import (
    check_async,
    check_gomaxprocs,
    default_gomaxprocs,
    fatal,
    freegs,
    newproc_global,
    procresize,
    startTheExit,
)
from .runtime2 import G, M, _Gdead, _Grunning, _Gsyscall, _tls, schedt

T = TypeVar("T")

EXIT_GRACE = 0.02  # seconds the Ms get to leave goroutine code once the program ends
EXIT_LIMIT = 1.0  # seconds a runtime thread gets to leave the scheduler (only a bug needs more)
# Where virtual time starts: 2000-01-01 00:00 UTC in Unix seconds, as Go's synctest
# bubble; a whole number of seconds, so that now() differences are exact.
VIRTUAL_EPOCH = 946_684_800 * 1_000_000_000
SIGNAL_POLL = 0.1  # seconds between the host thread's looks for signals another thread took

# Coroutines of goroutines whose M was still in a blocking call or a loop when
# their program ended (see strand).
_stranded: list[Coroutine[Any, Any, Any]] = []


def run(
    main: Callable[..., Coroutine[Any, Any, T]],
    *args: Any,
    gomaxprocs: int | None = None,
    schedtrace: int | None = None,
    scheddetail: bool | None = None,
    trace: str | None = None,
    schedcheck: bool | None = None,
    **kwargs: Any,
) -> T:
    """Run `main(*args, **kwargs)` as goroutine 1 on a fresh runtime and return its result.

    The program ends when main returns, whatever the other goroutines are doing
    (see the module docstring). schedtrace (ms), scheddetail and schedcheck
    default to GODEBUG's, trace (a path for the execution trace) to
    GOROUTINES_TRACE's (debug.Observer).
    """
    check_not_in_goroutine("run")
    check_async(main, "run")
    rt = Runtime(
        gomaxprocs,
        schedtrace=schedtrace,
        scheddetail=scheddetail,
        trace=trace,
        schedcheck=schedcheck,
    )
    return rt.runmain(main, args, kwargs)


def check_not_in_goroutine(what: str) -> None:
    """A RuntimeError if the calling thread runs a goroutine: it would wait on itself."""
    if _tls.__dict__.get("m") is not None:
        raise RuntimeError(f"{what}() called from inside a goroutine: use go() to start goroutines")


class Runtime:
    """A goroutine runtime running in the background on its own threads.

    `with Runtime() as rt:` starts it; `rt.submit(fn, ...)` starts goroutines
    from any thread; leaving the block ends it as main's return ends a program.
    """

    def __init__(
        self,
        gomaxprocs: int | None = None,
        *,
        schedtrace: int | None = None,
        scheddetail: bool | None = None,
        trace: str | None = None,
        schedcheck: bool | None = None,
        virtual_time: bool = False,
        seed: int | None = None,
    ) -> None:
        if gomaxprocs is not None:
            self.nprocs = check_gomaxprocs(gomaxprocs)
        else:
            self.nprocs = default_gomaxprocs(machine=seed is None)
        self.obs = Observer(schedtrace, scheddetail, trace, schedcheck)
        if not isinstance(virtual_time, bool):
            raise TypeError(f"virtual_time must be a bool, not {type(virtual_time).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, not {type(seed).__name__}")
        self.virtual_time = virtual_time
        self.seed = seed
        self.sched: schedt | None = None
        self.closed = False
        self.closing = threading.Lock()  # held through the one teardown
        self.restore: Callable[[], None] | None = None
        self.watcher: threading.Thread | None = None

    def __enter__(self) -> Runtime:
        if self.virtual_time:
            # Its clock moves only when every goroutine is blocked and nothing
            # outside may wake one, which is never true while the block is open.
            raise ValueError(
                "virtual_time needs a program that ends:"
                " use goroutines.testing.run(main, virtual_time=True)"
            )
        sched = self.start()
        with sched.lock:
            sched.nexternal += 1  # we may still submit work: never a deadlock while open
        self.watcher = threading.Thread(target=self.watch, name="goroutines-runtime", daemon=True)
        self.watcher.start()
        return self

    def watch(self) -> None:
        """Tear the runtime down as soon as it ends on its own (a panic), not at the block's end.

        Then the futures of the goroutines it abandons are cancelled at once,
        not when the caller leaves the with block.
        """
        sched = self.sched
        assert sched is not None
        while sched.events.get()[0] != signals.EXIT:
            pass  # no signal host here: the only other events are none of ours
        self.teardown()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        if self.sched is not None and self.sched.fatal is not None and exc_info[0] is None:
            raise self.sched.fatal  # a panic in a goroutine that was not submitted

    def submit(
        self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Start fn(*args, **kwargs) as a goroutine; a future of its result or exception.

        From any thread, a goroutine included. The exception that ends the
        goroutine goes to the future and is not a panic.
        """
        check_async(fn, "submit")
        sched = self.sched
        if sched is not None and sched.fatal is not None:
            raise RuntimeError("Runtime.submit(): the runtime has stopped") from sched.fatal
        if sched is None or self.closed:
            raise RuntimeError(
                "Runtime.submit() needs an open Runtime: use 'with Runtime() as rt:'"
            )
        if sched.exiting:
            raise RuntimeError("Runtime.submit(): the runtime has stopped")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        newproc_global(sched, fn(*args, **kwargs), fn, fut=fut)
        return fut

    async def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """`await rt.call(fn, ...)` from asyncio code: submit, awaited without blocking the loop."""
        import asyncio

        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def start(self) -> schedt:
        """schedinit with every P idle until work comes, the observers, sysmon."""
        if self.sched is not None:
            raise RuntimeError("this Runtime has been started already: make a new one")
        check_not_in_goroutine("Runtime.start")
        sched = schedinit(self.nprocs, self.virtual_time, self.seed)
        try:
            self.obs.start(sched)  # opens the trace file: a bad path fails here
        except BaseException:
            self.obs.stop()  # what it started before it failed
            netpoll.netpollclose(sched)
            raise
        self.sched = sched
        _started.add(self)
        if sched.chaos is None:  # a seeded run has no timing to watch: one M does all
            sysmon.startsysmon(sched)
        return sched

    def runmain(
        self, main: Callable[..., Coroutine[Any, Any, T]], args: Any, kwargs: dict[str, Any]
    ) -> T:
        """run(): main as goroutine 1, wait for the program's end, tear down, report."""
        sched = self.start()
        self.restore = signals.host(sched)
        try:
            newproc_global(sched, main(*args, **kwargs), main, ismain=True)
            wait_exit(sched)
        finally:
            self.close()
        if sched.fatal is not None:
            raise sched.fatal
        if signals.pending_sigint(sched):
            raise KeyboardInterrupt  # Ctrl-C came while the runtime tore the program down
        result: T = sched.result
        return result

    def close(self) -> None:
        """End the runtime as main's return ends a program (teardown); again does nothing."""
        self.teardown()
        if self.watcher is not None and self.watcher is not threading.current_thread():
            self.watcher.join()  # it has seen the exit: it waits for the teardown at most
        with self.closing:
            try:
                self.obs.stop()  # in the caller's thread: it may put a signal handler back
            finally:
                if self.restore is not None:
                    self.restore()
                    self.restore = None

    def teardown(self) -> None:
        """The one teardown, whichever thread comes first; the others wait for its end."""
        with self.closing:
            if self.sched is not None and not self.closed:
                self.closed = True
                teardown(self.sched)


# The runtimes started in this process, for forked().
_started: weakref.WeakSet[Runtime] = weakref.WeakSet()


def forked() -> None:
    """In a child just forked from this process: its copies of the runs get locks of their own.

    The copies cannot run (their threads were not copied), but a child that
    ran goroutine code on would take their locks (schedt.forked), and a child
    may well run a program of its own on channels made before the fork.
    """
    for rt in list(_started):
        if rt.sched is not None:
            rt.sched.forked()
    osapi.remakelocks()  # every channel's and socket's, of those runs or not
    chan.remakelocks()


os.register_at_fork(after_in_child=forked)


def schedinit(nprocs: int, virtual_time: bool = False, seed: int | None = None) -> schedt:
    """Create the scheduler of one runtime with nprocs idle Ps (Go's schedinit).

    virtual_time gives its timers a VirtualClock; a seed, the one generator
    of a seeded schedule (goroutines.testing).
    """
    sched = schedt()
    sched.lastpoll = nanotime()
    if virtual_time:
        sched.vclock = VirtualClock(VIRTUAL_EPOCH)
        sched.now = sched.vclock.now
    if seed is not None:
        sched.chaos = random.Random(seed)
    netpoll.netpollinit(sched)
    with sched.lock:
        procresize(sched, None, nprocs)
    return sched


def wait_exit(sched: schedt) -> None:
    """Block until the program ends, acting on signals meanwhile (signals.py).

    The wait times out now and then: a signal the kernel gave to another
    thread (an M) interrupts no wait of ours, and Python runs its handler in
    the main thread only once that thread is back in Python code.
    """
    while True:
        try:
            kind, arg = sched.events.get(timeout=SIGNAL_POLL)
        except queue.Empty:
            continue
        if kind == signals.EXIT:
            return
        if kind == signals.CALL:
            arg.run()
        elif not signals.dispatch(sched, arg) and arg == signal.SIGINT:
            fatal(sched, KeyboardInterrupt())  # Ctrl-C: the program ends (see teardown)


def teardown(sched: schedt) -> None:
    """After the program ended: join the Ms, abandon what is left, close the poller."""
    startTheExit(sched)
    now = nanotime()
    grace = now + int(EXIT_GRACE * 1e9)
    limit = now + int(EXIT_LIMIT * 1e9)
    with sched.lock:
        allm = list(sched.allm)  # final: no M is allocated once exiting is set
    alive = [mp for mp in allm if not joinm(mp, grace, limit)]
    e = sched.fatal
    if type(e) is KeyboardInterrupt and e.__traceback__ is None:  # wait_exit's, of a Ctrl-C
        sched.fatal = interrupted(sched.main)  # main's frames, now that its M has let go of it
    if sched.sysmon is not None:
        sched.sysmon.join(seconds_until(limit))
    try:
        abandon(sched, {mp.thread for mp in alive})
        for close in sched.closers:
            close()
    finally:
        netpoll.netpollclose(sched)
        freegs(sched)


def joinm(mp: M, grace: int, limit: int) -> bool:
    """Wait for M's thread to end; False if it stays in goroutine code past grace.

    An M outside goroutine code (idle, or in the scheduler) leaves its loop at
    once; it gets until `limit`, a bound that only a bug in the runtime meets.
    """
    # An M allocated just before the exit may still be inside newm.
    while mp.thread is None and not mp.exiting and nanotime() < limit:
        osyield()
    t = mp.thread
    if t is None:
        return True
    t.join(seconds_until(grace))
    while t.is_alive() and mp.curg is None and nanotime() < limit:
        t.join(0.005)
    return not t.is_alive()


def seconds_until(when: int) -> float:
    """The seconds from now until `when` (nanotime), at least 0."""
    return max(0.0, (when - nanotime()) / 1e9)


def abandon(sched: schedt, alive: set[Any]) -> None:
    """Close the coroutines of the goroutines left; strand those still on a thread."""
    closing = []
    for gp in list(sched.allgs):
        coro = gp.coro
        if coro is None:
            continue
        mp = gp.m
        if gp.status in (_Grunning, _Gsyscall) and mp is not None and mp.thread in alive:
            strand(coro)
        else:
            closing.append(gp)
        if gp.fut is not None:
            gp.fut.cancel()
    if closing:
        closer = threading.Thread(
            target=closeall, args=(closing,), name="goroutines-exit", daemon=True
        )
        closer.start()
        while closer.is_alive():
            closer.join(0.05)
            if signals.pending_sigint(sched, keep=True):
                return  # Ctrl-C: stop waiting for finally blocks that block


def strand(coro: Coroutine[Any, Any, Any]) -> None:
    """Keep the coroutine of a goroutine stranded on its thread for ever, never closed.

    Closing it would run its finally blocks long after the program ended, as
    the garbage collector would once nothing held it; so would the
    interpreter's last collection at its exit, after it freed the modules'
    globals, which compiled code then reads: a crash. So besides the list, a
    reference is taken that nothing gives back, as a daemon thread's frames
    are never freed either.
    """
    _stranded.append(coro)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(coro))


def closeall(gs: list[G]) -> None:
    """Close abandoned goroutines' coroutines (their finally blocks run) at program exit."""
    try:
        for gp in gs:
            coro = gp.coro
            if coro is None:
                continue
            gp.coro = None
            gp.status = _Gdead
            _tls.closing = gp
            try:
                coro.close()
            except Exception as e:
                # A finally block failed: report it and go on, as Python does
                # for an exception raised by a finalizer.
                print(
                    f"Exception ignored while closing goroutine {gp.goid} at program exit:",
                    file=sys.stderr,
                )
                traceback.print_exception(e, file=sys.stderr)
    finally:
        _tls.closing = None


__all__ = ["EXIT_GRACE", "Runtime", "run"]
