"""schedtrace/scheddetail lines, goroutine dumps, Deadlock and panic notes, SIGQUIT.

The programs here only use go/gosched/gopark/goready/syscall. Goroutines block
with `Parker.park(reason)`: goparkunlock on a lock with any WaitReason, readied
by `Parker.unpark_all` (a waker that finds them under the same lock, as
INTERNALS.md requires).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from goroutines import Deadlock, dump_goroutines, go, gosched, lock_os_thread, run, syscall
from goroutines.runtime import calls, proc
from goroutines.runtime.osapi import gil_enabled, nanotime
from goroutines.runtime.runtime2 import G, WaitReason

SRC = str(Path(__file__).resolve().parent.parent / "src")
HERE = Path(__file__).resolve()


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """After each test no runtime thread (M or sysmon) may be alive."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
    assert not left, f"runtime threads still alive after the test: {left}"


def lineof(marker: str) -> int:
    """The line of this file that ends with the comment `# L:<marker>`."""
    lines = HERE.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(f"# L:{marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def lineof_in(path: str, text: str) -> int:
    """The one line of a file that contains `text`."""
    hits = [i + 1 for i, line in enumerate(Path(path).read_text().splitlines()) if text in line]
    assert len(hits) == 1, text
    return hits[0]


class Parker:
    """Goroutines parked on one lock, each with the wait reason it was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parked: list[G] = []

    async def park(self, reason: WaitReason) -> None:
        """Park the calling goroutine until unpark_all."""
        self.lock.acquire()
        g = proc.getg()
        assert g is not None
        self.parked.append(g)
        await proc.goparkunlock(self.lock, reason)  # L:park

    async def wait_parked(self, n: int) -> list[G]:
        """From a goroutine: yield until n goroutines are parked here."""
        while True:
            with self.lock:
                if len(self.parked) >= n:
                    return list(self.parked)
            await gosched()

    def unpark_all(self) -> None:
        """Ready every parked goroutine."""
        with self.lock:
            gs, self.parked = self.parked, []
        for g in gs:
            proc.goready(g)


def blocks(dump: str) -> dict[int, str]:
    """The dump's goroutine blocks by goid."""
    out = {}
    for block in dump.split("\n\n"):
        m = re.match(r"goroutine (\d+) \[", block)
        assert m, f"not a goroutine block: {block!r}"
        out[int(m.group(1))] = block
    return out


# ---------------------------------------------------------------------------
# Dumps


def test_dump_shows_every_wait_reason_with_stack_and_creator() -> None:
    reasons = [r for r in WaitReason if r is not WaitReason.Zero]
    parker = Parker()

    async def main() -> tuple[str, list[int]]:
        for r in reasons:
            go(parker.park, r)  # L:go-park
        gs = await parker.wait_parked(len(reasons))
        dump = dump_goroutines()  # L:dump-call
        parker.unpark_all()
        return dump, [g.goid for g in gs]

    dump, goids = run(main, gomaxprocs=2)
    by = blocks(dump)
    assert next(iter(by)) == 1, "the calling goroutine comes first"
    assert by[1].splitlines()[:3] == [
        "goroutine 1 [running]:",
        "test_dump_shows_every_wait_reason_with_stack_and_creator.<locals>.main(...)",
        f"\t{HERE}:{lineof('dump-call')}",
    ]
    assert by[1].splitlines()[-1] == "created by goroutines.run"
    seen = set()
    for goid in goids:
        lines = by[goid].splitlines()
        m = re.fullmatch(rf"goroutine {goid} \[(.+)\]:", lines[0])
        assert m, lines[0]
        seen.add(m.group(1))
        assert lines[1:] == [
            "Parker.park(...)",
            f"\t{HERE}:{lineof('park')}",
            "created by test_dump_shows_every_wait_reason_with_stack_and_creator.<locals>.main"
            " in goroutine 1",
            f"\t{HERE}:{lineof('go-park')}",
        ]
    assert seen == {r.value for r in reasons}


@types.coroutine
def gen_layer(parker: Parker, reason: WaitReason) -> Generator[Any, None, None]:
    """A generator-based coroutine awaiting a native one."""
    yield from parker.park(reason)  # L:gen_layer


class GenAwaitable:
    """An object whose __await__ is a generator."""

    def __init__(self, parker: Parker, reason: WaitReason) -> None:
        self.parker, self.reason = parker, reason

    def __await__(self) -> Generator[Any, None, None]:
        yield from gen_layer(self.parker, self.reason)  # L:GenAwaitable


async def wrapped(parker: Parker, reason: WaitReason) -> None:
    await GenAwaitable(parker, reason)  # L:wrapped


class WrapperAwaitable:
    """An object whose __await__ returns a coroutine's __await__() wrapper."""

    def __init__(self, parker: Parker, reason: WaitReason) -> None:
        self.parker, self.reason = parker, reason

    def __await__(self) -> Generator[Any, None, None]:
        return wrapped(self.parker, self.reason).__await__()


async def agen(parker: Parker, reason: WaitReason) -> AsyncIterator[int]:
    await WrapperAwaitable(parker, reason)  # L:agen
    yield 1


async def deep(parker: Parker, reason: WaitReason) -> None:
    async for _ in agen(parker, reason):  # L:deep
        pass


def test_dump_follows_the_await_chain_innermost_first() -> None:
    parker = Parker()

    async def main() -> tuple[str, int]:
        go(deep, parker, WaitReason.Select)
        (g,) = await parker.wait_parked(1)
        dump = dump_goroutines()
        parker.unpark_all()
        return dump, g.goid

    dump, goid = run(main)
    lines = blocks(dump)[goid].splitlines()
    assert lines[0] == f"goroutine {goid} [select]:"
    frames = list(zip(lines[1:-2:2], lines[2:-2:2], strict=True))
    expected = [
        ("Parker.park", "park"),
        ("gen_layer", "gen_layer"),
        ("GenAwaitable.__await__", "GenAwaitable"),
        ("wrapped", "wrapped"),
        ("agen", "agen"),
        ("deep", "deep"),
    ]
    assert frames == [(f"{fn}(...)", f"\t{HERE}:{lineof(mark)}") for fn, mark in expected]


def test_dump_header_minutes_runnable_and_locked_to_thread() -> None:
    parker = Parker()
    locked = Parker()

    async def lockedg() -> None:
        lock_os_thread()
        await locked.park(WaitReason.ChanSend)

    async def never_started() -> None:
        pass

    async def main() -> tuple[str, int, int, int]:
        go(parker.park, WaitReason.ChanReceive)
        go(lockedg)
        (g,) = await parker.wait_parked(1)
        (lg,) = await locked.wait_parked(1)
        with parker.lock:  # parked: park_m set waitsince before it released the lock
            g.waitsince = nanotime() - 150 * 10**9  # 2.5 minutes ago
        go(never_started)
        runnable = proc.getg()
        assert runnable is not None and runnable.m is not None
        pp = runnable.m.p
        assert pp is not None and pp.runnext is not None
        new = pp.runnext.goid
        dump = dump_goroutines()
        parker.unpark_all()
        locked.unpark_all()
        return dump, g.goid, lg.goid, new

    dump, goid, lgoid, new = run(main, gomaxprocs=1)
    by = blocks(dump)
    assert by[goid].startswith(f"goroutine {goid} [chan receive, 2 minutes]:\n")
    assert by[lgoid].startswith(f"goroutine {lgoid} [chan send, locked to thread]:\n")
    assert by[new].splitlines()[:2] == [
        f"goroutine {new} [runnable]:",
        "test_dump_header_minutes_runnable_and_locked_to_thread.<locals>.never_started(...)",
    ]


def test_dump_shows_a_goroutine_in_a_syscall_from_its_thread() -> None:
    # The flags change under cond's lock, which the blocking thread lets go of
    # only inside wait_for: once main sees `entered`, that thread is waiting
    # there (an Event set just before the wait let the dump catch it a line
    # early on free-threaded CPython).
    cond = threading.Condition()
    state = {"entered": False, "released": False}

    def blocking() -> None:
        with cond:
            state["entered"] = True
            cond.wait_for(lambda: state["released"])  # L:blocking

    async def sys_g() -> None:
        await syscall(blocking)  # L:sys_g

    async def main() -> str:
        go(sys_g)
        while True:
            with cond:  # held by the blocking thread only until it waits
                if state["entered"]:
                    break
            await gosched()
        dump = dump_goroutines()
        with cond:
            state["released"] = True
            cond.notify()
        return dump

    dump = run(main, gomaxprocs=2)
    (block,) = [b for b in blocks(dump).values() if "[syscall]" in b]
    lines = block.splitlines()
    assert re.fullmatch(r"goroutine \d+ \[syscall\]:", lines[0])
    frames = list(zip(lines[1:-2:2], lines[2:-2:2], strict=True))
    test = "test_dump_shows_a_goroutine_in_a_syscall_from_its_thread.<locals>"
    goroutine = [
        ("syscall(...)", f"\t{calls.__file__}:{lineof_in(calls.__file__, 'result = fn(*args')}"),
        (f"{test}.sys_g(...)", f"\t{HERE}:{lineof('sys_g')}"),
    ]
    if not gil_enabled():
        # The call's own frames may be popped while they are read: a crash
        # without the GIL. The goroutine's, from the syscall down, are read.
        assert frames == goroutine
        return
    assert frames[-3:] == [(f"{test}.blocking(...)", f"\t{HERE}:{lineof('blocking')}"), *goroutine]
    assert "Condition.wait(...)" in [f for f, _ in frames[:-3]], "the blocking call's own frames"


@pytest.mark.timeout(60)
def test_dumps_read_goroutines_that_enter_and_leave_syscalls_meanwhile() -> None:
    # Without the GIL, reading the frames of a syscall that returns meanwhile
    # can crash the interpreter: its M waits in exitsyscall while they are read.
    # The callers are read only in syscalls or running: spare Ps let each take
    # a P back at once, so none is ever suspended (a parked goroutine resumed
    # while a dump reads it is a race of its own: see README, free-threaded).
    callers, stop = 2, False
    started: list[int] = []

    async def caller() -> None:
        started.append(1)
        while not stop:
            await syscall(time.sleep, 0)  # L:caller

    async def main() -> list[str]:
        nonlocal stop
        for _ in range(callers):
            go(caller)
        while len(started) < callers:
            await gosched()
        dumps = []
        for _ in range(300):
            dumps.append(dump_goroutines())
            await gosched()
        stop = True
        return dumps

    test = "test_dumps_read_goroutines_that_enter_and_leave_syscalls_meanwhile.<locals>"
    caller_frame = (f"{test}.caller(...)", f"\t{HERE}:{lineof('caller')}")
    for dump in run(main, gomaxprocs=callers + 3):
        for block in blocks(dump).values():
            lines = block.splitlines()
            if "[syscall]" not in lines[0]:
                continue
            # Unless the call returned before the dump took the M's scanlock,
            # the stack is read down to the goroutine's own frame, consistent:
            # its caller stands at the await of the syscall. Without the GIL
            # one dump in ten showed it a line early (the loop's test) while
            # the frames were printed after the M had the scanlock back; the
            # status may change between the header and the stack, so the
            # caller may stand alone.
            if lines[1:-2] == ["\tgoroutine running on other thread; stack unavailable"]:
                continue
            frames = list(zip(lines[1:-2:2], lines[2:-2:2], strict=True))
            names = [name for name, _ in frames]
            assert frames[-1][0] == caller_frame[0], block
            if "syscall(...)" in names:
                assert frames[names.index("syscall(...)") + 1 :] == [caller_frame], block


def test_dump_outside_a_goroutine_is_a_runtime_error_naming_run() -> None:
    with pytest.raises(RuntimeError, match=r"dump_goroutines.*run\(main\)"):
        dump_goroutines()


def test_deadlock_message_holds_the_dump() -> None:
    parker = Parker()

    async def main() -> None:
        go(parker.park, WaitReason.SyncMutexLock)
        await parker.wait_parked(1)
        await parker.park(WaitReason.ChanReceive)

    with pytest.raises(Deadlock) as ei:
        run(main, gomaxprocs=2)
    msg = str(ei.value)
    head, _, dump = msg.partition("\n\n")
    assert head == "all goroutines are asleep - deadlock!"
    by = blocks(dump)
    assert by[1].splitlines()[:2] == ["goroutine 1 [chan receive]:", "Parker.park(...)"]
    (other,) = [b for goid, b in by.items() if goid != 1]
    assert "[sync.Mutex.Lock]:" in other.splitlines()[0]
    assert "created by test_deadlock_message_holds_the_dump.<locals>.main in goroutine 1" in other


def test_panic_note_names_the_goroutine_and_its_creator() -> None:
    async def bad() -> None:
        raise KeyError("boom")

    async def main() -> None:
        go(bad)  # L:go-bad
        while True:
            await gosched()

    with pytest.raises(KeyError) as ei:
        run(main)
    (note,) = ei.value.__notes__
    lines = note.splitlines()
    assert re.fullmatch(r"goroutine \d+ \[running\]:", lines[0])
    assert lines[1:] == [
        "created by test_panic_note_names_the_goroutine_and_its_creator.<locals>.main"
        " in goroutine 1",
        f"\t{HERE}:{lineof('go-bad')}",
    ]


# ---------------------------------------------------------------------------
# schedtrace

NUM = r"\d+"
SCHED_HEAD = (
    rf"SCHED (?P<ms>{NUM})ms: gomaxprocs=(?P<procs>{NUM}) idleprocs=(?P<idle>{NUM}) "
    rf"threads=(?P<threads>{NUM}) spinningthreads={NUM} needspinning=[01] "
    rf"idlethreads={NUM} runqueue={NUM}"
)
SCHED_RE = re.compile(rf"{SCHED_HEAD} \[(?P<runqs>{NUM}(?: {NUM})*)\]")
DETAIL_RE = re.compile(
    rf"{SCHED_HEAD} gcwaiting=(true|false) nmidlelocked={NUM} stopwait={NUM} "
    r"sysmonwait=(true|false)"
)
P_RE = re.compile(
    rf"  P(?P<id>{NUM}): status=[0-4] schedtick={NUM} syscalltick={NUM} m=({NUM}|nil) "
    rf"runqsize={NUM} gfreecnt={NUM} timerslen={NUM}"
)
M_RE = re.compile(
    rf"  M{NUM}: p=({NUM}|nil) curg=({NUM}|nil) mallocing=0 throwing=0 preemptoff= locks=0 "
    rf"dying=0 spinning=(true|false) blocked=(true|false) lockedg=({NUM}|nil)"
)
G_RE = re.compile(
    rf"  G(?P<goid>{NUM}): status=(?P<status>[0-6])\((?P<reason>[^)]*)\) m=({NUM}|nil) "
    rf"lockedm=({NUM}|nil)"
)


class StderrTee:
    """A sys.stderr that keeps what sysmon writes.

    `wait` (called in a syscall) returns once `want` SCHED blocks were written
    after it was called; `checked` is the last of them, computed by sysmon
    while the caller was certainly inside the syscall.
    """

    def __init__(self, want: int) -> None:
        self.text: list[str] = []
        self.want = want
        self.armed = threading.Event()
        self.enough = threading.Event()
        self.seen = 0
        self.checked = ""

    def write(self, s: str) -> int:
        self.text.append(s)
        if self.armed.is_set() and not self.enough.is_set():
            self.seen += s.count("SCHED ")
            if self.seen >= self.want:
                self.checked = s
                self.enough.set()
        return len(s)

    def flush(self) -> None:
        pass

    def wait(self) -> None:
        self.armed.set()
        self.enough.wait()


def schedtrace_program(tee: StderrTee, parker: Parker) -> Any:
    """main: park two goroutines, then wait in a syscall until sysmon printed enough."""

    async def main() -> None:
        go(parker.park, WaitReason.ChanReceive)
        go(parker.park, WaitReason.Sleep)
        await parker.wait_parked(2)
        await syscall(tee.wait)
        parker.unpark_all()

    return main


def check_blocks(text: str, procs: int) -> list[list[str]]:
    """Split detailed output into SCHED blocks and check every line's format."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("SCHED "):
            assert DETAIL_RE.fullmatch(line), line
            out.append([line])
        else:
            assert P_RE.fullmatch(line) or M_RE.fullmatch(line) or G_RE.fullmatch(line), line
            out[-1].append(line)
    for block in out:
        ps = [int(P_RE.fullmatch(line).group("id")) for line in block if P_RE.fullmatch(line)]  # type: ignore[union-attr]
        assert ps == list(range(procs))
        nm = sum(1 for line in block if M_RE.fullmatch(line))
        threads = int(DETAIL_RE.fullmatch(block[0]).group("threads"))  # type: ignore[union-attr]
        assert threads == nm + 1, "threads counts every M and sysmon"
    return out


@pytest.mark.timeout(20)
def test_schedtrace_argument_prints_go_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    tee, parker = StderrTee(3), Parker()
    monkeypatch.setattr(sys, "stderr", tee)
    monkeypatch.delenv("GODEBUG", raising=False)
    run(schedtrace_program(tee, parker), gomaxprocs=3, schedtrace=1)
    lines = "".join(tee.text).splitlines()
    assert len(lines) >= 3
    ms = []
    for line in lines:
        m = SCHED_RE.fullmatch(line)
        assert m, line
        assert m.group("procs") == "3"
        assert len(m.group("runqs").split()) == 3
        ms.append(int(m.group("ms")))
    assert ms == sorted(ms) and ms[0] < 1000, "ms since the run started"


@pytest.mark.timeout(20)
def test_scheddetail_lists_every_p_m_and_g(monkeypatch: pytest.MonkeyPatch) -> None:
    tee, parker = StderrTee(2), Parker()
    monkeypatch.setattr(sys, "stderr", tee)
    run(schedtrace_program(tee, parker), gomaxprocs=2, schedtrace=1, scheddetail=True)
    check_blocks("".join(tee.text), 2)
    (block,) = check_blocks(tee.checked, 2)
    gl = {int(m["goid"]): m for line in block if (m := G_RE.fullmatch(line))}
    assert gl[1]["status"] == "3", "main waits in a syscall"
    parked = sorted((m["status"], m["reason"]) for goid, m in gl.items() if goid != 1)
    assert parked == [("4", "chan receive"), ("4", "sleep")]


def run_program(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a Python program with src on the path; its output."""
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(path)],
        env={**os.environ, "PYTHONPATH": SRC, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


PROGRAM = """
    import sys, threading
    from goroutines import go, gosched, run, syscall
    from goroutines.runtime import proc
    from goroutines.runtime.runtime2 import WaitReason

    class Tee:
        def __init__(self, out):
            self.out, self.n = out, 0
            self.armed, self.enough = threading.Event(), threading.Event()
        def write(self, s):
            self.out.write(s)
            if self.armed.is_set():
                self.n += s.count("SCHED ")
                if self.n >= 2:
                    self.enough.set()
            return len(s)
        def flush(self):
            self.out.flush()
        def wait(self):
            self.armed.set()
            self.enough.wait()

    sys.stderr = tee = Tee(sys.stderr)
    lock = threading.Lock()

    started = []

    async def parked():
        lock.acquire()
        started.append(1)
        await proc.goparkunlock(lock, WaitReason.ChanReceive)

    async def main():
        go(parked)
        while not started:
            await gosched()
        with lock:  # parked holds it until it has stopped: it is parked now
            pass
        await syscall(tee.wait)

    run(main, gomaxprocs=2)
    print("done")
"""


@pytest.mark.timeout(30)
def test_godebug_schedtrace_in_a_subprocess(tmp_path: Path) -> None:
    res = run_program(PROGRAM, {"GODEBUG": "gctrace=1,schedtrace=1"}, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "done\n"
    lines = res.stderr.splitlines()
    assert len(lines) >= 2
    for line in lines:
        m = SCHED_RE.fullmatch(line)
        assert m and m["procs"] == "2", line


@pytest.mark.timeout(30)
def test_godebug_scheddetail_in_a_subprocess(tmp_path: Path) -> None:
    res = run_program(PROGRAM, {"GODEBUG": "schedtrace=1,scheddetail=1"}, tmp_path)
    assert res.returncode == 0, res.stderr
    in_syscall = [
        b
        for b in check_blocks(res.stderr, 2)
        if any(re.fullmatch(r"  G1: status=3\(\) m=\d+ lockedm=nil", x) for x in b)
    ]
    assert in_syscall, "main waited in a syscall while sysmon printed two blocks"
    assert any(
        re.fullmatch(r"  G\d+: status=4\(chan receive\) m=nil lockedm=nil", x)
        for x in in_syscall[-1]
    )


@pytest.mark.parametrize(
    "godebug",
    ["schedtrace=abc", "schedtrace=-5", "schedtrace=10,scheddetail=yes", "scheddetail="],
)
def test_bad_godebug_is_a_value_error(monkeypatch: pytest.MonkeyPatch, godebug: str) -> None:
    monkeypatch.setenv("GODEBUG", godebug)

    async def main() -> None:
        pass

    with pytest.raises(ValueError, match=r"GODEBUG=.*(schedtrace|scheddetail)"):
        run(main)


def test_bad_schedtrace_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GODEBUG", raising=False)

    async def main() -> None:
        pass

    with pytest.raises(ValueError, match="schedtrace must be >= 0"):
        run(main, schedtrace=-1)
    with pytest.raises(TypeError, match="schedtrace must be an int"):
        run(main, schedtrace="10")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# SIGQUIT


@pytest.mark.skipif(not hasattr(signal, "SIGQUIT"), reason="no SIGQUIT on this platform")
def test_sigquit_handler_installed_during_run_and_restored() -> None:
    def mine(signum: int, frame: types.FrameType | None) -> None:
        pass

    previous = signal.signal(signal.SIGQUIT, mine)
    try:

        async def main() -> Any:
            return signal.getsignal(signal.SIGQUIT)

        during = run(main)
        assert during is not mine and callable(during)
        assert signal.getsignal(signal.SIGQUIT) is mine
    finally:
        signal.signal(signal.SIGQUIT, previous)


SIGQUIT_PROGRAM = """
    import sys, threading
    from goroutines import go, gosched, run, syscall
    from goroutines.runtime import proc
    from goroutines.runtime.runtime2 import WaitReason
    lock = threading.Lock()

    started = []

    async def parked():
        lock.acquire()
        started.append(1)
        await proc.goparkunlock(lock, WaitReason.ChanReceive)

    def wait_for_input():
        print("ready", flush=True)
        sys.stdin.readline()

    async def main():
        go(parked)
        while not started:
            await gosched()
        with lock:  # parked holds it until it has stopped: it is parked now
            pass
        await syscall(wait_for_input)

    # The main thread waits for the program's end in run(); the signal
    # interrupts that wait (EINTR), so Python runs the handler at once.
    run(main, gomaxprocs=1)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGQUIT"), reason="no SIGQUIT on this platform")
@pytest.mark.timeout(30)
def test_sigquit_prints_the_dump_and_the_program_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(SIGQUIT_PROGRAM))
    p = subprocess.Popen(
        [sys.executable, str(path)],
        env={**os.environ, "PYTHONPATH": SRC},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stderr is not None and p.stdin is not None
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGQUIT)
        dump = b""
        while not dump.endswith(b"\n\n"):  # the handler writes the dump at once
            if not select.select([p.stderr], [], [], 1.0)[0]:
                # CPython sometimes lets a thread other than the main one take the
                # signal while the main thread blocks: signal again until it runs.
                p.send_signal(signal.SIGQUIT)
                continue
            chunk = os.read(p.stderr.fileno(), 1 << 16)
            assert chunk, dump
            dump += chunk
        p.stdin.write("\n")
        p.stdin.flush()
        assert p.wait(timeout=20) == 0
    finally:
        p.kill()
        p.wait()
    text = dump.decode()
    assert text.startswith("SIGQUIT: quit\n\ngoroutine 1 [syscall]:\n")
    assert re.search(r"\ngoroutine \d+ \[chan receive\]:\nparked\(\.\.\.\)\n", text), text
