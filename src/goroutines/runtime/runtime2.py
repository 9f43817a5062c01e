"""The scheduler's data structures: G, M, P and schedt (Go's runtime2.go).

    G   a goroutine: a Python coroutine plus what the scheduler knows about it.
    M   a worker thread. It runs goroutines only while it holds a P.
    P   a processor: the right to run goroutine code, with a local run queue of
        256 slots, `runnext`, a free list of dead Gs and a cache of goroutine ids.
    schedt  one per `run()` call: the global run queue, the idle M and P lists,
        the spinning-M count and everything else that is shared.

Go updates several of these fields with atomics. Python has no CAS, so here they
are changed under a lock: a P's run queue (`runqhead`, `runqtail`, `runq`,
`runnext`) under `P.lock`, everything of schedt under `schedt.lock`. Fields read
without the lock are read racily exactly where Go reads them racily, and
re-checked under the lock where Go re-checks them.
"""

from __future__ import annotations

import enum
import queue
import random
import threading
import types
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from .osapi import Mutex, Note, mutex, nanotime
from .tls import _tls as _tls

if TYPE_CHECKING:
    from .timers import timer
    from .trace import Buffer

# G status (Go's values, so that traces and dumps read the same). Final, here and
# below: the compiled core reads a Final constant as a literal, not from a dict.
_Gidle: Final = 0  # just allocated, not yet initialised
_Grunnable: Final = 1  # on a run queue, not executing
_Grunning: Final = 2  # executing goroutine code; owned by an M that holds a P
_Gsyscall: Final = 3  # in syscall(): owned by an M, not on a run queue
_Gwaiting: Final = 4  # parked on a wait structure (channel, timer, semaphore, poller)
_Gdead: Final = 6  # unused: on a free list, or just exited

gStatusStrings = {
    _Gidle: "idle",
    _Grunnable: "runnable",
    _Grunning: "running",
    _Gsyscall: "syscall",
    _Gwaiting: "waiting",
    _Gdead: "dead",
}

# P status.
_Pidle: Final = 0  # on sched.pidle, not used by any M
_Prunning: Final = 1  # owned by an M that runs user code or the scheduler
_Psyscall: Final = 2  # its M is in a syscall (or a goroutine that will not yield); retakeable
_Pgcstop: Final = 3  # halted for stop-the-world
_Pdead: Final = 4  # no longer used (GOMAXPROCS shrank)

# The local run queue's size (Go: len(p.runq)).
RUNQ_SIZE: Final = 256


class WaitReason(enum.Enum):
    """Why a goroutine is parked (Go's waitReason, with Go's strings)."""

    Zero = ""
    IOWait = "IO wait"
    ChanReceiveNilChan = "chan receive (nil chan)"
    ChanSendNilChan = "chan send (nil chan)"
    Select = "select"
    SelectNoCases = "select (no cases)"
    ChanReceive = "chan receive"
    ChanSend = "chan send"
    Semacquire = "semacquire"
    Sleep = "sleep"
    SyncCondWait = "sync.Cond.Wait"
    SyncMutexLock = "sync.Mutex.Lock"
    SyncRWMutexRLock = "sync.RWMutex.RLock"
    SyncRWMutexLock = "sync.RWMutex.Lock"
    SyncWaitGroupWait = "sync.WaitGroup.Wait"
    Preempted = "preempted"
    AioWait = "aio.wait"  # an asyncio awaitable or a future (aio.py); not in Go
    WaitIdle = "synctest.Wait"  # testing.wait_idle: until every other goroutine is blocked
    StoppingTheWorld = "stopping the world"

    # By identity, as members compare: Enum's own hash is a Python-level call,
    # and the tracer looks a member up in a dict at every park.
    __hash__ = object.__hash__


def funcline(code: types.CodeType, pc: int) -> int:
    """The source line of the instruction at byte offset pc of code (Go's funcline)."""
    for start, end, line in code.co_lines():
        if start <= pc < end and line is not None:
            return line
    return code.co_firstlineno


class G:
    """A goroutine. `coro` is its stack; coro.send is gogo."""

    __slots__ = (
        "coro",
        "createdat",
        "createdpc",
        "fut",
        "goid",
        "lockedm",
        "m",
        "param",
        "parentgoid",
        "preempt",
        "sched",
        "selectdone",
        "status",
        "throwexc",
        "timer",
        "waiting",
        "waitreason",
        "waitsince",
    )

    def __init__(self, sched: schedt) -> None:
        self.sched = sched
        self.goid = 0
        self.status = _Gidle
        self.coro: Coroutine[Any, Any, Any] | None = None
        self.m: M | None = None
        self.lockedm: M | None = None  # set by lock_os_thread: only that M may run this G
        self.waitreason = WaitReason.Zero
        self.waitsince = 0  # nanotime() when it parked, for dumps
        self.param: Any = None  # passed by the waker (Go: gp.param)
        self.preempt = False  # sysmon asks the goroutine to yield at its next runtime await
        self.selectdone = False  # set once a case of a parked select has won
        # (Two bools side by side: a compiled core packs them into one word.)
        self.parentgoid = 0
        # Where go() was called: the calling code and the byte offset of the
        # call in it (Go's gopc; funcline makes it a line only when one is
        # printed, as that costs ~1000 machine instructions). Two fields, not a
        # tuple: one object less for the cyclic GC to track per goroutine.
        self.createdat: types.CodeType | None = None
        self.createdpc = 0
        self.waiting: Any = None  # the sudog list it waits on (channels, select)
        self.timer: Any = None  # the timer that sleep() parks on
        self.throwexc: BaseException | None = None  # raised into the coroutine when it next runs
        self.fut: Any = None  # Runtime.submit's concurrent.futures.Future of its result

    def __repr__(self) -> str:
        return f"<G {self.goid} {gStatusStrings.get(self.status, self.status)}>"


class M:
    """A worker thread (machine). It runs the scheduler loop and executes goroutines."""

    __slots__ = (
        "blocked",
        "curg",
        "exiting",
        "id",
        "lockedg",
        "marked",
        "nextp",
        "oldp",
        "p",
        "park",
        "rand",
        "scanlock",
        "sched",
        "spinning",
        "syscallframe",
        "syscalltick",
        "thread",
        "tracebuf",
        "waitlock",
        "waitunlockf",
    )

    def __init__(self, sched: schedt, id: int) -> None:
        self.id = id
        self.sched = sched
        self.p: P | None = None  # the P it holds while running Go code
        self.nextp: P | None = None  # the P handed to it by startm, taken in stopm
        self.oldp: P | None = None  # the P it held before entering a syscall
        self.curg: G | None = None  # the goroutine it is running
        self.spinning = False  # looking for work without finding any yet
        self.blocked = False  # parked on its note
        self.park = Note()
        self.lockedg: G | None = None  # the goroutine locked to this thread
        self.thread: threading.Thread | None = None
        self.syscalltick = 0
        self.exiting = False
        self.marked = False  # its thread has foreign.NotALoop as its asyncio loop
        self.rand = random.Random()
        self.tracebuf: Buffer | None = None  # where its thread traces (Go's mp.trace)
        # While its goroutine is in a syscall: the frame of the syscall, where
        # a dump reads the goroutine's stack from without the GIL, and the lock
        # that keeps exitsyscall from unwinding it meanwhile (Go's G has
        # syscallsp and the _Gscan bit; a G in a syscall keeps its M, so they
        # live on the M and no G pays for them). debug.running_frames. Used
        # only where the interpreter started without the GIL (osapi.NOGIL).
        self.syscallframe: types.FrameType | None = None
        self.scanlock = threading.RLock()  # an RLock: a SIGQUIT dump may interrupt a dump
        # What park_m calls, set by gopark in the goroutine this M runs: on the
        # M, as in Go, so that a parked G does not carry two fields for it.
        self.waitunlockf: Callable[[G, Any], bool] | None = None
        self.waitlock: Any = None

    def __repr__(self) -> str:
        return f"<M {self.id}>"


class SysmonTick:
    """What sysmon last saw of a P (Go's sysmontick)."""

    __slots__ = ("gstep", "preemptwhen", "schedtick", "schedwhen", "syscalltick", "syscallwhen")

    def __init__(self) -> None:
        self.preemptwhen = 0  # when sysmon asked the goroutine at gstep to yield
        self.schedtick = 0
        self.schedwhen = 0
        self.syscalltick = 0
        self.syscallwhen = 0
        self.gstep = 0


class P:
    """A processor: a run queue and the right to run goroutines on it."""

    __slots__ = (
        "deletedTimers",
        "gFree",
        "goidcache",
        "goidcacheend",
        "gstep",
        "id",
        "lock",
        "lockacquire",
        "lockrelease",
        "m",
        "preempt",
        "runnext",
        "runq",
        "runqhead",
        "runqtail",
        "sched",
        "schedtick",
        "status",
        "syscalltick",
        "sysmontick",
        "timers",
        "timersLock",
        "timerseq",
    )

    def __init__(self, id: int, sched: schedt | None = None) -> None:
        self.id = id
        self.sched = sched  # None for a P made alone (tests)
        self.status = _Pgcstop
        # lock guards runqhead, runqtail, runq, runnext and the m/status
        # handshake with sysmon's retake (Go uses atomics on each of these).
        self.setlocks(mutex(), mutex())
        self.m: M | None = None  # back-link to the M that holds it
        self.schedtick = 0  # incremented on every scheduler call
        self.syscalltick = 0  # incremented on every system call
        self.sysmontick = SysmonTick()
        # Odd while its M is inside goroutine code, even in scheduler code, and
        # changed on every step: lets sysmon tell a goroutine that has not
        # yielded since it was asked to from one that keeps yielding. Set to
        # the next odd/even value rather than incremented, so that an M that
        # gets this P back in the middle of a step (gomaxprocs' procresize)
        # cannot invert the parity.
        self.gstep = 0
        # The local run queue. Go's indexes are uint32 and wrap; Python ints never
        # overflow, so head and tail only grow and the slot is index % RUNQ_SIZE.
        self.runqhead = 0
        self.runqtail = 0
        self.runq: list[G | None] = [None] * RUNQ_SIZE
        # A G readied by the running G that should run next, inheriting the time
        # slice: it keeps communicating pairs of goroutines on one P.
        self.runnext: G | None = None
        self.gFree: list[G] = []  # dead Gs to reuse (Go: p.gFree)
        self.goidcache = 0
        self.goidcacheend = 0
        self.timers: list[tuple[int, int, timer]] = []  # heap of (when, seq, timer) (timers.py)
        self.deletedTimers = 0  # stale heap entries, cleared when they are many
        self.timerseq = 0  # the last heap key handed out (timers.heapkey)
        self.preempt = False  # sysmon asked this time slice to end (execute hands it on)

    def setlocks(self, lock: Mutex, timersLock: Mutex) -> None:
        """Install the P's locks (new ones in a forked child: program.forked)."""
        self.lock = lock
        # Its methods, bound once: the hot paths call these, since a compiled
        # core's lock.acquire() looks the method up on every call (~10% of a
        # gosched's machine instructions). `with self.lock:` where it is cold.
        # __enter__ is acquire() without arguments to parse (osapi.mutex).
        self.lockacquire: Callable[[], bool] = lock.__enter__
        self.lockrelease: Callable[[], None] = lock.release
        self.timersLock = timersLock

    def runqsize(self) -> int:
        """The number of Gs in the local ring (runnext not counted)."""
        return self.runqtail - self.runqhead

    def __repr__(self) -> str:
        return f"<P {self.id}>"


class schedt:
    """The scheduler state shared by all Ms and Ps of one `run()`."""

    def __init__(self) -> None:
        self.setlock(mutex())
        self.goidgen = 0  # the last goroutine id handed out in batches
        self.mnext = 0  # the next M id
        self.maxmcount = 10000
        self.midle: list[M] = []  # idle Ms waiting for work
        self.mlockedidle: set[M] = set()  # idle Ms waiting for their locked goroutine
        self.nmsys = 0  # system Ms (sysmon) not counted for deadlock
        self.nhandoff = 0  # Ms sysmon counts as running: a P it hands off, a poll it injects
        self.pidle: list[P] = []  # idle Ps
        self.npidle = 0
        self.nmspinning = 0  # Ms looking for work
        self.needspinning = 0  # a P went idle while a spinning M could not take it
        self.runq: deque[G] = deque()  # the global run queue
        self.gFree: list[G] = []  # the global free list of dead Gs
        self.allp: list[P] = []
        self.allm: list[M] = []
        self.allgs: list[G] = []  # every G ever created (dead ones are reused)
        self.gomaxprocs = 0
        # The timers' clock (ns): nanotime, or a VirtualClock's under testing's
        # virtual time, where it moves only when every goroutine is durably blocked.
        self.now: Callable[[], int] = nanotime
        self.vclock: Any = None  # osapi.VirtualClock under virtual time
        self.idlewaiters: list[G] = []  # goroutines in testing.wait_idle()
        # testing's seeded schedules: the one generator every random choice is
        # drawn from, and one M drives every P (proc.schedule_seeded).
        self.chaos: random.Random | None = None
        self.lastpoll = 0  # nanotime of the last network poll, 0 while an M blocks in it
        self.pollUntil = 0  # when the blocked netpoll will wake up
        # Stop-the-world (gomaxprocs(n)); worldsema admits one stopper at a time.
        self.worldsema = threading.Lock()
        self.gcwaiting = False
        self.stopwait = 0
        self.stopnote = Note()
        self.sysmonwait = 0  # how sysmon sleeps on sysmonnote (sysmon._NOWAIT/_BACKOFF/_DEEP)
        self.sysmonwakeat = 0  # nanotime when that sleep ends
        self.sysmonnote = Note()
        # How the program ends.
        self.exiting = False  # set once: every M leaves its loop
        self.fatal: BaseException | None = None  # a panic, a deadlock or Ctrl-C, re-raised by run
        self.result: Any = None  # main's return value
        self.main: G | None = None
        # What the thread hosting the runtime (run's caller, or a Runtime's
        # owner) waits for: the exit beginning, Ctrl-C (program.py). A
        # SimpleQueue, whose put() a signal handler may call at any moment.
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.sig: Any = None  # signals.SigState while this run hosts signal handling
        self.aio: Any = None  # aio._Loops, once a goroutine used aio
        # Run by teardown once the goroutines are abandoned (aio's loop thread).
        self.closers: list[Callable[[], None]] = []
        # Things outside the runtime that may still wake a goroutine (an open
        # Runtime, an asyncio wait): while any is counted, all goroutines
        # blocked is not a deadlock.
        self.nexternal = 0
        self.stealOrder: Any = None  # proc._RandomOrder over allp
        self.netpoll: Any = None  # netpoll.Poller
        self.sysmon: threading.Thread | None = None
        self.schedtrace = 0  # ms between SCHED lines from sysmon; 0 for none
        self.starttime = 0  # nanotime of the start, which SCHED lines count from
        # Traced or checked (trace.py, schedcheck.py): the scheduler calls the
        # trace hooks at its transitions only while this is set.
        self.tracing = False
        self.scheddetail = False

    def setlock(self, lock: Mutex) -> None:
        """Install sched.lock, its methods bound once as P's (P.setlocks)."""
        self.lock = lock
        self.lockacquire: Callable[[], bool] = lock.__enter__
        self.lockrelease: Callable[[], None] = lock.release

    def forked(self) -> None:
        """In a child forked from this process: locks of the child's own (osapi.mutex).

        Semaphores in shared memory would tie the child's copy of this run to
        the parent's: a child that took one and died would stop the parent.
        """
        self.setlock(threading.Lock())
        for pp in self.allp:
            pp.setlocks(threading.Lock(), threading.Lock())

    def runqsize(self) -> int:
        """Length of the global run queue (Go: sched.runqsize)."""
        return len(self.runq)
