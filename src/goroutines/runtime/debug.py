"""What the runtime shows of itself: goroutine dumps and the scheduler trace.

Go's runtime has three windows on a running program, and so does this one:

  * `tracebackothers` prints every goroutine the way Go's traceback does. It is
    what `dump_goroutines()` returns, what SIGQUIT prints while `run()` runs in
    the main thread, and what a `Deadlock` carries in its message:

        goroutine 7 [chan receive, 2 minutes]:
        Chan.recv(...)
                /path/to/chan.py:120
        worker(...)
                /path/to/file.py:12
        created by main in goroutine 1
                /path/to/file.py:30

    A goroutine's stack is its coroutine's await chain, innermost first as Go
    prints it: coroutines, generators used as awaitables, and any awaitable's
    iterator that wraps one of these (found through the garbage collector's
    referents, which is how `coro.__await__()` wrappers and async generators'
    `asend` objects are followed). A goroutine that runs on another thread is
    read from that thread's live frames (sys._current_frames), up to its
    coroutine's outermost frame, where that is safe: with the GIL, and
    without it for a goroutine in a syscall (running_frames).

  * `schedtrace` prints Go's `SCHED` lines (GODEBUG=schedtrace=MS, with
    scheddetail=1 every P, M and G) from sysmon, in Go 1.21's format. As in Go,
    `threads` counts sysmon too (Go's mcount), while the M lines list the Ms
    that run goroutines: sysmon here is a bare thread, not an M.

  * the execution trace (trace.py), started with the other two by `Observer`,
    which `run()` creates from its arguments and the environment.

`Observer` also starts GODEBUG=schedcheck=1's checks of the scheduler's
invariants at every transition (schedcheck.py), which use the trace's hooks.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .osapi import gil_enabled, nanotime
from .runtime2 import (
    G,
    _Gdead,
    _Gidle,
    _Grunning,
    _Gsyscall,
    _Gwaiting,
    funcline,
    gStatusStrings,
    schedt,
)

if TYPE_CHECKING:
    from .schedcheck import Checker

R = TypeVar("R")

_MAX_FRAMES = 100  # Go prints at most 100 frames of a goroutine too
# How long goroutine_frames looks for a goroutine's frames: until it stops
# running where they cannot be read (another thread, without the GIL).
_LOOK_FOR = 250_000_000  # ns
# The package's directory: a frame whose code lives under it is the runtime's.
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_awaitable_types = (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)

# ---------------------------------------------------------------------------
# Goroutine dumps (Go's traceback.go)


def creation_line(gp: G) -> str:
    """`created by FUNC in goroutine N` and its file:line (Go's printcreatedby)."""
    if gp.createdat is None:
        return "created by goroutines.run"
    code = gp.createdat
    where = f"{code.co_filename}:{funcline(code, gp.createdpc)}"
    return f"created by {code.co_qualname} in goroutine {gp.parentgoid}\n\t{where}"


def goroutineheader(gp: G, now: int) -> str:
    """`goroutine N [status, M minutes, locked to thread]:` as Go prints it."""
    s = gp.status
    status = gStatusStrings.get(s, "???")
    if s == _Gwaiting and gp.waitreason.value:
        status = gp.waitreason.value
    waitfor = 0
    if s in (_Gwaiting, _Gsyscall) and gp.waitsince:
        waitfor = (now - gp.waitsince) // 60_000_000_000
    extra = f", {waitfor} minutes" if waitfor >= 1 else ""
    locked = ", locked to thread" if gp.lockedm is not None else ""
    return f"goroutine {gp.goid} [{status}{extra}{locked}]:"


def printframe(frame: types.FrameType) -> str:
    """One frame as Go prints it: the function, then its file:line indented."""
    code = frame.f_code
    return f"{code.co_qualname}(...)\n\t{code.co_filename}:{frame.f_lineno}"


def awaited(obj: Any) -> Any:
    """The coroutine or generator an awaitable's iterator delegates to, or None."""
    if isinstance(obj, types.CoroutineType):
        return obj.cr_await
    if isinstance(obj, types.GeneratorType):
        return obj.gi_yieldfrom
    if isinstance(obj, types.AsyncGeneratorType):
        return obj.ag_await
    return None


def unwrap(obj: Any) -> Any:
    """obj if it has frames, else the one coroutine/generator it wraps, else None."""
    if obj is None or isinstance(obj, _awaitable_types):
        return obj
    inner = [r for r in gc.get_referents(obj) if isinstance(r, _awaitable_types)]
    return inner[0] if len(inner) == 1 else None


def frameof(obj: Any) -> types.FrameType | None:
    """The frame of a coroutine, generator or async generator (None once finished)."""
    if isinstance(obj, types.CoroutineType):
        return obj.cr_frame
    if isinstance(obj, types.GeneratorType):
        return obj.gi_frame
    frame: types.FrameType | None = obj.ag_frame
    return frame


def suspended_frames(coro: Any) -> Iterator[types.FrameType]:
    """The frames of a suspended coroutine's await chain, outermost first."""
    seen: set[int] = set()
    obj = unwrap(coro)
    while obj is not None and id(obj) not in seen and len(seen) < _MAX_FRAMES:
        seen.add(id(obj))
        frame = frameof(obj)
        if frame is None:
            return
        yield frame
        obj = unwrap(awaited(obj))


def live_frames(top: types.FrameType, gp: G) -> list[types.FrameType] | None:
    """The frames from `top` down to gp's coroutine frame, innermost first; None if absent."""
    coro = gp.coro
    bottom = coro.cr_frame if isinstance(coro, types.CoroutineType) else None
    frames: list[types.FrameType] = []
    f: types.FrameType | None = top
    while f is not None and len(frames) < _MAX_FRAMES:
        frames.append(f)
        if f is bottom:
            return frames
        f = f.f_back
    return None


def printframes(frames: list[types.FrameType]) -> list[str]:
    """The frames as a dump prints them, innermost first."""
    return [printframe(f) for f in frames]


def goroutine_stack(gp: G, live: list[str] | None) -> list[str]:
    """gp's stack, innermost first: if it runs, `live`, its frames printed on its thread
    (None: unreadable); else its await chain."""
    if gp.status in (_Grunning, _Gsyscall):
        if live is None:
            return ["\tgoroutine running on other thread; stack unavailable"]
        return live
    frames = list(suspended_frames(gp.coro))
    frames.reverse()  # innermost first, as Go prints
    return printframes(frames)


def user_frames(gp: G) -> list[types.FrameType]:
    """gp's frames outermost first, up to where its own code calls into the runtime.

    A racy snapshot, as the dumps are: gp may be parked, or running on a thread.
    """
    frames = goroutine_frames(gp)
    for i, f in enumerate(frames):
        if f.f_code.co_filename.startswith(_PKG):
            return frames[:i]
    return frames


def goroutine_frames(gp: G) -> list[types.FrameType]:
    """gp's frames outermost first, read once a look finds them (for up to _LOOK_FOR).

    Running, gp's frames are on its M's thread, read from a snapshot of that
    thread's stack; in between, they are suspended ones. A look can miss them:
    the status changes before a send of the coroutine and after its park, so
    it says running while the thread is between two sends, and a snapshot
    taken then may be stale once the coroutine is checked. Without the GIL a
    running goroutine's frames cannot be read at all (running_frames): the
    looks go on until it stops, or the time is up.
    """
    frames: list[types.FrameType] = []
    deadline = nanotime() + _LOOK_FOR
    while True:
        coro = gp.coro
        if coro is None:
            return []
        if gp.status in (_Grunning, _Gsyscall):
            frames = list(reversed(running_frames(gp, thread_stacks(), list) or []))
        if not frames and not getattr(coro, "cr_running", False):
            frames = list(suspended_frames(coro))
        if frames or nanotime() > deadline:
            return frames
        time.sleep(0.001)


def interrupted(gp: G | None) -> KeyboardInterrupt:
    """The KeyboardInterrupt of a Ctrl-C, its traceback where gp's code was (run's main)."""
    tb: types.TracebackType | None = None
    for f in reversed(user_frames(gp) if gp is not None else []):
        tb = types.TracebackType(tb, f, f.f_lasti, f.f_lineno)
    return KeyboardInterrupt().with_traceback(tb)


def traceback(gp: G, now: int, live: list[str] | None = None) -> str:
    """One goroutine: header, stack (`live`: its frames on its thread) and created-by line."""
    return "\n".join([goroutineheader(gp, now), *goroutine_stack(gp, live), creation_line(gp)])


def thread_stacks() -> dict[int, types.FrameType]:
    """Each thread's innermost frame by thread id; none without the GIL.

    With the GIL another thread's frames hold still while they are read.
    Without it (free-threaded CPython) that thread goes on: it pops a frame and
    reuses its memory while this one follows `f_back` into it, which can crash
    the interpreter (CPython gh-118680).
    """
    return sys._current_frames() if gil_enabled() else {}


def running_frames(
    gp: G, stacks: dict[int, types.FrameType], read: Callable[[list[types.FrameType]], R]
) -> R | None:
    """read() of the frames of gp running on its M's thread, innermost first, while
    they hold still; None where unreadable.

    With the GIL they are read from the top of that thread's stack (`stacks`).
    Without it, as Go's traceback does not stop another thread either, a
    running goroutine's stack is unavailable, but for one in a syscall: its
    frames from the syscall's down are read while its M waits in exitsyscall
    (M.scanlock), so that none of them is unwound under the reader. The frames
    of the call itself are not read: its return pops them at any moment. Once
    the M has the scanlock back the goroutine runs on, so a dump prints the
    frames (their lines) in read(), before it lets go.
    """
    mp = gp.m
    if mp is None or gp.status not in (_Grunning, _Gsyscall):
        return None
    if gil_enabled():
        t = mp.thread
        top = stacks.get(t.ident) if t is not None and t.ident is not None else None
        frames = live_frames(top, gp) if top is not None else None
        return None if frames is None else read(frames)
    with mp.scanlock:
        top = mp.syscallframe
        if top is None or gp.status != _Gsyscall or gp.m is not mp:
            return None
        frames = live_frames(top, gp)
        return None if frames is None else read(frames)


def tracebackothers(sched: schedt, cur: G | None = None, top: types.FrameType | None = None) -> str:
    """Every live goroutine of a run: `cur` first (its stack from `top`), the rest by goid.

    Takes no scheduler lock (checkdead calls it with sched.lock held, SIGQUIT
    can interrupt any scheduler code), only, without the GIL, the scanlock of
    an M in a syscall, under which that M takes no other; like Go's it is a
    racy snapshot.
    """
    now = nanotime()
    stacks = thread_stacks()
    gs = sorted(
        (gp for gp in list(sched.allgs) if gp.status not in (_Gdead, _Gidle) and gp is not cur),
        key=lambda gp: gp.goid,
    )
    out = []
    if cur is not None:
        frames = None if top is None else live_frames(top, cur)
        out.append(traceback(cur, now, None if frames is None else printframes(frames)))
    out.extend(traceback(gp, now, running_frames(gp, stacks, printframes)) for gp in gs)
    return "\n\n".join(out)


def dump_goroutines() -> str:
    """Every goroutine of the calling run, as Go prints them; the caller first, as running."""
    from .proc import acquire_g

    mp, gp = acquire_g("dump_goroutines")
    return tracebackothers(mp.sched, gp, sys._getframe(1))


# ---------------------------------------------------------------------------
# The scheduler trace (Go's schedtrace in proc.go)


def _b(v: object) -> str:
    """A bool as Go prints it."""
    return "true" if v else "false"


def schedtrace(sched: schedt, detailed: bool) -> None:
    """Print Go's `SCHED` line (and with detailed, every P, M and G) to stderr."""
    now = nanotime()
    if sched.starttime == 0:
        sched.starttime = now  # run() sets it; Go: the first call
    start = sched.starttime
    with sched.lock:  # Go holds sched.lock too; the write happens after it is dropped
        lines = schedtrace_locked(sched, detailed, (now - start) // 1_000_000)
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def schedtrace_locked(sched: schedt, detailed: bool, ms: int) -> list[str]:
    """The lines of one schedtrace, with sched.lock held."""
    head = (
        f"SCHED {ms}ms: gomaxprocs={sched.gomaxprocs} idleprocs={sched.npidle} "
        f"threads={len(sched.allm) + sched.nmsys} spinningthreads={sched.nmspinning} "
        f"needspinning={sched.needspinning} idlethreads={len(sched.midle)} "
        f"runqueue={len(sched.runq)}"
    )
    allp = list(sched.allp)
    if not detailed:
        return [head + " [" + " ".join(str(pp.runqtail - pp.runqhead) for pp in allp) + "]"]
    lines = [
        f"{head} gcwaiting={_b(sched.gcwaiting)} nmidlelocked={len(sched.mlockedidle)} "
        f"stopwait={sched.stopwait} sysmonwait={_b(sched.sysmonwait)}"
    ]
    for i, pp in enumerate(allp):
        mp = pp.m
        lines.append(
            f"  P{i}: status={pp.status} schedtick={pp.schedtick} syscalltick={pp.syscalltick} "
            f"m={'nil' if mp is None else mp.id} runqsize={pp.runqtail - pp.runqhead} "
            f"gfreecnt={len(pp.gFree)} timerslen={len(pp.timers)}"
        )
    for mp in sched.allm:
        p, g, lg = mp.p, mp.curg, mp.lockedg
        lines.append(
            f"  M{mp.id}: p={'nil' if p is None else p.id} curg={'nil' if g is None else g.goid} "
            f"mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning={_b(mp.spinning)} "
            f"blocked={_b(mp.blocked)} lockedg={'nil' if lg is None else lg.goid}"
        )
    for gp in sched.allgs:
        # Go clears waitreason when a goroutine dies, and only then.
        reason = "" if gp.status == _Gdead else gp.waitreason.value
        m, lm = gp.m, gp.lockedm
        lines.append(
            f"  G{gp.goid}: status={gp.status}({reason}) m={'nil' if m is None else m.id} "
            f"lockedm={'nil' if lm is None else lm.id}"
        )
    return lines


# ---------------------------------------------------------------------------
# Settings from run()'s arguments and the environment (Go's parsedebugvars)


class DebugVars(NamedTuple):
    """The GODEBUG settings of the scheduler (Go's debug struct)."""

    schedtrace: int  # milliseconds between SCHED lines; 0 for none
    scheddetail: bool  # SCHED lines list every P, M and G
    schedcheck: bool  # check the invariants at every transition (schedcheck.py)


def parsedebugvars(godebug: str) -> DebugVars:
    """The DebugVars of a GODEBUG value; other keys are ignored, as in Go.

    Each value is a non-negative integer; for the flags, any positive one is on.
    """
    values = dict.fromkeys(DebugVars._fields, 0)
    for field in godebug.split(","):
        key, _, value = field.strip().partition("=")
        if key not in values:
            continue
        try:
            n = int(value)
        except ValueError:
            n = -1
        if n < 0:
            raise ValueError(
                f"GODEBUG={godebug!r}: {key} must be a non-negative integer, got {value!r}"
            )
        values[key] = n
    return DebugVars(values["schedtrace"], values["scheddetail"] > 0, values["schedcheck"] > 0)


def check_schedtrace(ms: object) -> int:
    """run()'s schedtrace= as milliseconds, or a TypeError/ValueError naming it."""
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise TypeError(f"schedtrace must be an int (milliseconds), not {type(ms).__name__}")
    if ms < 0:
        raise ValueError(f"schedtrace must be >= 0 milliseconds, got {ms}")
    return ms


class Observer:
    """The observability of one run(): schedtrace, the SIGQUIT dump, the trace, schedcheck.

    Built from run()'s arguments before anything starts, so that a bad setting
    is an error at once; `start` arms it on the new scheduler, `stop` writes the
    trace and restores the SIGQUIT handler after teardown.
    """

    def __init__(
        self,
        schedtrace: int | None,
        scheddetail: bool | None,
        tracepath: str | None,
        schedcheck: bool | None,
    ) -> None:
        env = parsedebugvars(os.environ.get("GODEBUG", ""))
        self.schedtrace = env.schedtrace if schedtrace is None else check_schedtrace(schedtrace)
        self.scheddetail = env.scheddetail if scheddetail is None else bool(scheddetail)
        self.schedcheck = env.schedcheck if schedcheck is None else bool(schedcheck)
        self.tracepath = tracepath or os.environ.get("GOROUTINES_TRACE") or None
        self.tracer: Any = None
        self.checker: Checker | None = None
        self.restore: Callable[[], None] | None = None

    def start(self, sched: schedt) -> None:
        """Arm everything on a scheduler that has not started any goroutine yet."""
        from . import schedcheck, trace

        sched.schedtrace = self.schedtrace
        sched.scheddetail = self.scheddetail
        sched.starttime = nanotime()  # SCHED lines count ms from here
        if self.tracepath is not None:
            self.tracer = trace.start(sched, self.tracepath)
        if self.schedcheck:
            self.checker = schedcheck.Checker(sched)
            trace.startcheck(self.checker)
        self.restore = install_sigquit(sched)

    def stop(self) -> None:
        """After teardown: restore SIGQUIT's handler, stop checking, then write the trace."""
        from . import trace

        if self.restore is not None:
            self.restore()
            self.restore = None
        if self.checker is not None:
            checker, self.checker = self.checker, None
            trace.stopcheck(checker)
        if self.tracer is not None:
            tracer, self.tracer = self.tracer, None
            trace.stop(tracer)


# ---------------------------------------------------------------------------
# SIGQUIT


def install_sigquit(sched: schedt) -> Callable[[], None] | None:
    """While run() runs in the main thread, SIGQUIT prints its goroutines to stderr.

    Unlike Go, the program goes on afterwards (as a JVM's thread dump does):
    the point is to see where a program that seems stuck is stuck. Python runs
    signal handlers in the main thread, here waiting in run() for the
    program's end, a wait the signal interrupts at once. Returns a
    function that puts the previous handler back, or None where no handler
    could be installed (not the main thread, or no SIGQUIT on this OS).
    """
    sigquit = getattr(signal, "SIGQUIT", None)
    if sigquit is None or threading.current_thread() is not threading.main_thread():
        return None

    def sighandler(signum: int, frame: types.FrameType | None) -> None:
        """Print the dump with os.write: the interrupted code may hold sys.stderr's lock."""
        from .proc import getg

        text = tracebackothers(sched, getg(), frame)
        os.write(2, f"SIGQUIT: quit\n\n{text}\n\n".encode(errors="replace"))

    previous = signal.signal(sigquit, sighandler)

    def restore() -> None:
        """Put the handler back that run() found."""
        signal.signal(sigquit, previous)

    return restore
