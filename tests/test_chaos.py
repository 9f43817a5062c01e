"""Stress: every part of the runtime at once, under several seeds and GOMAXPROCS.

`everything`: goroutines send through a channel (plain, try_send, select
against after()), sleep on Timers, block in syscall(), lock themselves to
their thread, exit with goexit(); others fight over a Mutex and a Cond, echo
over TCP, and one resizes GOMAXPROCS all the while. Each run must come out
exact: every value sent received once, every client's echo intact, the
mutex's counter exact, no locked goroutine moved.

`endings`: the same, for the ways waits end early: channels closed under
blocked senders and selects, read deadlines that fire, a connection closed
under its reader, RWMutex writers among readers, Once, Ticker and Timer.

Then each ends in a deadlock, which must be found. Or the program ends in the
middle of it all, while other goroutines block in syscalls and loops: main
returns, or Ctrl-C comes (the end of this file).

Run for thousands of seeds (GOROUTINES_STRESS_SEEDS), they found five bugs
the focused tests had missed: a locked M that lost its P joined the idle M
list, a waiter closed at exit stayed queued on its semaphore, a resize begun
as the program ended destroyed Ps still in use, a close() that landed in a
read made it return EOF, and a deadlock went unseen while an M waited in the
poller for I/O nobody waited for (each now has a test that hits it every
time).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter as Counter_
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import goroutines as g
from goroutines import net
from goroutines.runtime.debug import thread_stacks
from tests.helpers import SEEDS, Counter

pytestmark = pytest.mark.timeout(60)

PINGERS, CATCHERS, LOCKERS, CLIENTS = 12, 3, 6, 6


class Totals:
    """What the goroutines did, added up across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[int] = []
        self.got: list[int] = []
        self.echoed: list[int] = []
        self.moved = Counter()  # locked goroutines seen on another thread

    def add(self, items: list[int], v: int) -> None:
        with self.lock:
            items.append(v)


async def pinger(seed: int, ch: g.Chan[int], t: Totals, wg: g.WaitGroup) -> None:
    rng = random.Random(seed)
    try:
        for i in range(40):
            k = rng.random()
            if k < 0.3:
                timeout = g.after(rng.choice([0, 0.0005, 0.002]))
                idx, _, _ = await g.select(g.send(ch, i), g.recv(timeout))
                if idx == 0:
                    t.add(t.sent, i)
            elif k < 0.5:
                await ch.send(i)
                t.add(t.sent, i)
            elif k < 0.6:
                if ch.try_send(i):
                    t.add(t.sent, i)
            elif k < 0.7:
                timer = g.Timer(rng.choice([0, 0.0005, 0.001]))
                if rng.random() < 0.5:
                    timer.stop()
                else:
                    await timer.c.recv()
            elif k < 0.8:
                await g.syscall(time.sleep, rng.choice([0, 0.0002, 0.001]))
            elif k < 0.9:
                g.lock_os_thread()
                me = threading.get_ident()
                await g.gosched()
                await g.sleep(0.0002)
                if threading.get_ident() != me:
                    t.moved.add(1)
                g.unlock_os_thread()
            else:
                await g.gosched()
            if rng.random() < 0.01:
                g.goexit()
    finally:
        wg.done()


async def catcher(ch: g.Chan[int], quit: g.Chan[None], t: Totals, wg: g.WaitGroup) -> None:
    try:
        while True:
            idx, v, _ = await g.select(g.recv(ch), g.recv(quit))
            if idx == 1:
                break
            t.add(t.got, v)
        while True:  # quit is closed: take what the buffer still holds
            v, ok = ch.try_recv()
            if not ok:
                return
            t.add(t.got, v)  # type: ignore[arg-type]
    finally:
        wg.done()


async def locker(seed: int, mu: g.Mutex, cond: g.Cond, state: list[int], wg: g.WaitGroup) -> None:
    rng = random.Random(seed)
    for _ in range(30):
        async with mu:
            state[0] += 1
            mine = state[0]
            if rng.random() < 0.3:
                await g.gosched()  # holding the mutex: nobody else may get in
            if state[0] != mine:
                state[1] += 1
            cond.broadcast()
        if rng.random() < 0.2:
            await g.sleep(0.0001)
    wg.done()


async def echo_server(ln: net.Listener) -> None:
    while True:
        try:
            c = await ln.accept()
        except OSError:
            return  # closed
        g.go(echo_conn, c)


async def echo_conn(c: net.Conn) -> None:
    async with c:
        while data := await c.read(1024):
            await c.write(data)


async def client(addr: tuple[str, int], seed: int, t: Totals, wg: g.WaitGroup) -> None:
    rng = random.Random(seed)
    try:
        async with await net.dial(*addr) as c:
            for _ in range(10):
                msg = rng.randbytes(rng.choice([1, 10, 3000]))
                await c.write(msg)
                c.set_read_deadline(10)
                if await c.read_exactly(len(msg)) != msg:
                    return
        t.add(t.echoed, seed)
    finally:
        wg.done()


async def resizer(seed: int, stop: list[bool]) -> None:
    rng = random.Random(seed)
    while not stop:
        g.gomaxprocs(rng.choice([1, 2, 3, 4]))
        await g.sleep(0.002)


async def everything(seed: int) -> tuple[Totals, list[int]]:
    rng = random.Random(seed)
    t = Totals()
    ch = g.Chan[int](rng.choice([0, 1, 5]))
    quit = g.Chan[None]()
    pingers, catchers, lockers, clients = (g.WaitGroup() for _ in range(4))
    pingers.add(PINGERS)
    for i in range(PINGERS):
        g.go(pinger, seed * 100 + i, ch, t, pingers)
    catchers.add(CATCHERS)
    for _ in range(CATCHERS):
        g.go(catcher, ch, quit, t, catchers)
    mu = g.Mutex()
    state = [0, 0]  # the counter, and how often someone got in while it was held
    lockers.add(LOCKERS)
    for i in range(LOCKERS):
        g.go(locker, seed * 1000 + i, mu, g.Cond(mu), state, lockers)
    ln = await net.listen("127.0.0.1", 0)
    g.go(echo_server, ln)
    clients.add(CLIENTS)
    for i in range(CLIENTS):
        g.go(client, ln.addr, seed * 10 + i, t, clients)
    stop: list[bool] = []
    g.go(resizer, seed, stop)
    await pingers.wait()
    quit.close()
    for wg in (catchers, lockers, clients):
        await wg.wait()
    stop.append(True)
    ln.close()
    return t, state


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("procs", "schedcheck"), [(1, False), (2, False), (4, False), (2, True)])
def test_everything_at_once_comes_out_exact(procs: int, schedcheck: bool, seed: int) -> None:
    t, state = g.run(everything, seed, gomaxprocs=procs, schedcheck=schedcheck)
    assert sorted(t.got) == sorted(t.sent), "a value was lost or received twice"
    assert t.sent, "no value was sent"
    assert state == [LOCKERS * 30, 0], "the mutex let two goroutines in"
    assert sorted(t.echoed) == [seed * 10 + i for i in range(CLIENTS)], "an echo went wrong"
    assert t.moved.value == 0, "a locked goroutine changed threads"


# ---------------------------------------------------------------------------
# Endings: close, deadlines, RWMutex, Once, Ticker, Timer


async def closing(seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Senders and selects on three channels, closed under them; (sent, received)."""
    rng = random.Random(seed)
    chs = [g.Chan[tuple[int, int]](rng.choice([0, 1, 3])) for _ in range(3)]
    lock = threading.Lock()
    sent: list[tuple[int, int]] = []
    got: list[tuple[int, int]] = []
    wg = g.WaitGroup()

    async def sender(i: int) -> None:
        r = random.Random(seed * 17 + i)
        try:
            for k in range(30):
                v = (i, k)
                if r.random() < 0.5:
                    await r.choice(chs).send(v)
                else:
                    idx, _, _ = await g.select(*(g.send(c, v) for c in chs), g.recv(g.after(0.001)))
                    if idx == len(chs):
                        continue  # timed out: nothing sent
                with lock:
                    sent.append(v)
        except g.ChannelClosed:
            return  # closed under us, or before: nothing sent
        finally:
            wg.done()

    async def receiver() -> None:
        live: list[g.Chan[tuple[int, int]] | None] = list(chs)
        try:
            while any(c is not None for c in live):
                idx, v, ok = await g.select(*(g.recv(c) for c in live))
                if not ok:
                    live[idx] = None  # closed and drained: a nil channel from now on
                    continue
                with lock:
                    got.append(v)  # type: ignore[arg-type]
        finally:
            wg.done()

    wg.add(9)
    for i in range(6):
        g.go(sender, i)
    for _ in range(3):
        g.go(receiver)
    await g.sleep(rng.choice([0.001, 0.003, 0.01]))
    for c in chs:
        c.close()
    await wg.wait()
    return sorted(sent), sorted(got)


async def readers_and_writers(seed: int) -> tuple[int, int, int]:
    """RWMutex and Once: (times two were inside wrongly, writes, Once runs)."""
    rw, once, lock = g.RWMutex(), g.Once(), threading.Lock()
    state = {"readers": 0, "writer": 0, "bad": 0, "writes": 0, "inits": 0}

    async def init() -> None:
        state["inits"] += 1
        await g.sleep(0.0002)

    async def worker(i: int, wg: g.WaitGroup) -> None:
        r = random.Random(seed * 31 + i)
        for _ in range(25):
            await once.do(init)
            if r.random() < 0.3:
                async with rw:
                    with lock:
                        state["bad"] += state["writer"] + state["readers"] > 0
                        state["writer"] += 1
                        state["writes"] += 1
                    await g.gosched()
                    with lock:
                        state["writer"] -= 1
            else:
                async with rw.rlocker():
                    with lock:  # readers are inside at once, on several threads
                        state["bad"] += state["writer"] > 0
                        state["readers"] += 1
                    if r.random() < 0.3:
                        await g.gosched()
                    with lock:
                        state["readers"] -= 1
        wg.done()

    wg = g.WaitGroup()
    wg.add(8)
    for i in range(8):
        g.go(worker, i, wg)
    await wg.wait()
    return state["bad"], state["writes"], state["inits"]


async def deadlines(seed: int) -> list[str]:
    """Echo clients with read deadlines that may fire, one closing its conn under a reader."""
    ln = await net.listen("127.0.0.1", 0)
    outcomes: list[str] = []

    async def serve(c: net.Conn) -> None:
        r = random.Random(seed)
        with contextlib.suppress(OSError):
            async with c:
                while data := await c.read(100):
                    if r.random() < 0.2:
                        await g.sleep(0.003)  # slower than some deadlines
                    await c.write(data)

    async def read_until_closed(c: net.Conn, done: g.Chan[str]) -> None:
        try:
            await c.read(10)
        except OSError as e:
            await done.send("closed" if "closed" in str(e) else repr(e))
            return
        await done.send("read")

    async def client(i: int, wg: g.WaitGroup) -> None:
        r = random.Random(seed * 7 + i)
        try:
            async with await net.dial(*ln.addr) as c:
                for k in range(8):
                    msg = f"{i}:{k}".encode()
                    await c.write(msg)
                    c.set_read_deadline(r.choice([0.001, 0.05, None]))
                    try:
                        got = await c.read_exactly(len(msg))
                    except TimeoutError:
                        outcomes.append("timeout")
                        return  # the stream's state is unknown now
                    outcomes.append("ok" if got == msg else "garbled")
                    if r.random() < 0.1:
                        c.set_read_deadline(None)  # the close, not a deadline, ends the read
                        done = g.Chan[str](1)
                        g.go(read_until_closed, c, done)
                        await g.sleep(0.0005)
                        c.close()
                        outcomes.append(await done.recv())
                        return
        finally:
            wg.done()

    async def server() -> None:
        with contextlib.suppress(OSError):  # closed
            while True:
                g.go(serve, await ln.accept())

    g.go(server)
    wg = g.WaitGroup()
    wg.add(5)
    for i in range(5):
        g.go(client, i, wg)
    await wg.wait()
    ln.close()
    return outcomes


async def timers_keep_time() -> tuple[int, bool, bool]:
    """Ticks in 10 ms of a 0.5 ms Ticker; a pending Timer's reset and a fired one's stop."""
    tk = g.Ticker(0.0005)
    ticks = 0
    end = time.monotonic() + 0.01
    while time.monotonic() < end:
        await tk.c.recv()
        ticks += 1
    tk.stop()
    t = g.Timer(60)  # surely pending at the reset, however slow this thread is
    pending = t.reset(0.0005)
    await t.c.recv()
    return ticks, pending, t.stop()


async def endings(seed: int) -> tuple[Any, ...]:
    stop: list[bool] = []
    g.go(resizer, seed, stop)
    results: list[Any] = [None] * 4
    wg = g.WaitGroup()

    async def play(i: int, game: Callable[..., Coroutine[Any, Any, Any]], *args: int) -> None:
        try:
            results[i] = await game(*args)
        finally:
            wg.done()

    wg.add(4)
    g.go(play, 0, closing, seed)
    g.go(play, 1, readers_and_writers, seed)
    g.go(play, 2, deadlines, seed)
    g.go(play, 3, timers_keep_time)
    await wg.wait()
    stop.append(True)
    return tuple(results)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("procs", "schedcheck"), [(1, False), (2, False), (4, False), (2, True)])
def test_waits_that_end_early_come_out_exact(procs: int, schedcheck: bool, seed: int) -> None:
    closed, rw, conns, timing = g.run(endings, seed, gomaxprocs=procs, schedcheck=schedcheck)
    sent, got = closed
    assert got == sent, "a value was lost or received twice across close"
    bad, writes, inits = rw
    assert bad == 0 and writes > 0, "the RWMutex let a writer in with others"
    assert inits == 1, "Once ran its function more than once"
    assert "garbled" not in conns and len(conns) >= 5, conns
    assert set(conns) <= {"ok", "timeout", "closed"}, conns
    ticks, pending, stopped = timing
    assert ticks >= 1 and pending is True and stopped is False


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("game", [everything, endings])
def test_a_deadlock_after_it_all_is_found(
    game: Callable[[int], Coroutine[Any, Any, Any]], seed: int
) -> None:
    reached: list[bool] = []

    async def main() -> None:
        await game(seed)
        reached.append(True)
        await g.Chan[None]().recv()  # nothing can wake us now

    with pytest.raises(g.Deadlock, match="all goroutines are asleep"):
        g.run(main, gomaxprocs=2)
    assert reached, "a deadlock was reported while the program still ran"


# ---------------------------------------------------------------------------
# The end of the program in the middle of it all: main returns, Ctrl-C
#
# A game plays on (over and over) while some goroutines block for good: in
# `await syscall(time.sleep, SLEEP)`, in `await syscall(listener.accept)` on a
# listening socket nobody connects to, in a loop that never awaits. Then main
# returns, or Ctrl-C comes, at a moment drawn from the seed. run() must come
# back at once (100 ms for main's return, 1 s for Ctrl-C; asserted with room
# for a loaded machine); every goroutine it did not strand (leave on an M
# still in goroutine code) must have had its finally blocks run by then; a
# goroutine stranded inside a call runs nothing more, not even once the call
# returns; and once the calls return, no runtime thread and no fd is left.
# (A goroutine caught between two awaits when the grace ran out, its thread
# descheduled, is stranded too: it may finish that step, up to its end.)
# Every goroutine of the game is booked: `g.go` is replaced, for the run, by
# one that wraps each goroutine in a try/finally that notes it.
#
# Leaving threads inside blocking calls is the point, so these programs run
# in a subprocess (`python -m tests.test_chaos exit|sigint SEED`, which prints
# a report), except the variant without the blockers, which runs here so that
# the fixtures' thread and fd checks see it. scripts/soak_endings.py soaks
# them all and prints how long run() took to come back.

SLEEP = 0.5  # seconds a sleeper sleeps: the program ends long before that
RUN_RETURNS = 0.5  # bound on main's return -> run() returning (documented: 100 ms, unloaded)
CTRL_C_RAISES = 1.0  # bound on SIGINT -> KeyboardInterrupt from run() (documented)
GAMES: dict[str, Callable[[int], Coroutine[Any, Any, Any]]] = {
    "everything": everything,
    "endings": endings,
}


class Books:
    """Which goroutines began and which ran their finally blocks; what the blockers did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.begun: dict[int, str] = {}  # key -> the goroutine's function
        self.ended: set[int] = set()  # keys whose finally blocks ran
        self.marks: dict[str, dict[str, float]] = {}  # blocker -> "in"/"after"/"final" -> time
        self.real_go = g.go

    def begin(self, name: str) -> int:
        with self.lock:
            key = len(self.begun)
            self.begun[key] = name
            return key

    def end(self, key: int) -> None:
        with self.lock:
            self.ended.add(key)

    def mark(self, blocker: str, what: str) -> None:
        with self.lock:
            self.marks.setdefault(blocker, {})[what] = time.monotonic()

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self.lock:
            return {name: dict(m) for name, m in self.marks.items()}

    def leftover(self) -> list[str]:
        """The goroutines that began and have not run their finally blocks."""
        with self.lock:
            return sorted(name for key, name in self.begun.items() if key not in self.ended)

    def go(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any) -> None:
        """g.go for the game: the goroutine's body runs inside a try/finally that books it."""
        self.real_go(booked, self, fn, args, kwargs)

    @contextlib.contextmanager
    def booking(self) -> Any:
        """Every g.go of the game books its goroutine meanwhile."""
        g.go = self.go  # type: ignore[assignment]
        try:
            yield
        finally:
            g.go = self.real_go


async def booked(
    books: Books, fn: Callable[..., Coroutine[Any, Any, Any]], args: Any, kwargs: Any
) -> None:
    key = books.begin(fn.__qualname__)
    try:
        await fn(*args, **kwargs)
    finally:
        books.end(key)


class Ending:
    """One seed's ending: GOMAXPROCS, the game, the moment, the blockers."""

    def __init__(self, seed: int, blockers: bool) -> None:
        rng = random.Random(f"ending {seed}")
        self.seed = seed
        self.procs = [1, 2, 4][seed % 3]
        self.game = ["everything", "endings"][seed % 2]
        self.moment = rng.uniform(0, 0.15)  # seconds after main began
        kinds: list[str] = []
        if blockers:  # one of each, and up to two more sleeps or accepts
            kinds = ["sleep", "accept", "spin"]
            kinds += rng.choices(["sleep", "accept"], k=rng.randint(0, 2))
            rng.shuffle(kinds)
        self.blockers = [f"{kind}{i}" for i, kind in enumerate(kinds)]
        self.books = Books()
        self.released = threading.Event()  # the spinners' loops end (after run())
        self.listener: Any = None
        self.ending = threading.Event()  # main is returning, or Ctrl-C was sent
        self.ending_at: list[float] = []
        self.over = threading.Event()  # run() came back
        self.slow: dict[str, list[str]] = {}  # every thread's stack, if run() was slow

    def watch(self) -> None:
        """If run() is slow to come back once the end began, take a picture of every thread."""

        def watchdog() -> None:
            self.ending.wait()
            began = self.ending_at[0] if self.ending_at else time.monotonic()
            if not self.over.wait(max(0.0, began + RUN_RETURNS / 2 - time.monotonic())):
                frames = thread_stacks()  # none without the GIL: a spinning thread's crash
                late = f"{(time.monotonic() - began) * 1e3:.0f} ms after the end began"
                self.slow["(picture)"] = [late]
                for t in threading.enumerate():
                    if t is not threading.current_thread():
                        self.slow[t.name] = stack(frames.get(t.ident or 0))

        threading.Thread(target=watchdog, name="watchdog", daemon=True).start()

    def end_begins(self) -> None:
        self.ending_at.append(time.monotonic())
        self.ending.set()

    def start_blockers(self) -> None:
        for name in self.blockers:
            g.go(blocker, name, self)

    def release(self) -> None:
        """Let every blocking call return: loops end, accepts fail (no fd comes of it)."""
        self.released.set()
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux


async def blocker(name: str, e: Ending) -> None:
    books = e.books
    try:
        books.mark(name, "in")
        if name.startswith("sleep"):
            await g.syscall(time.sleep, SLEEP)
        elif name.startswith("accept"):
            with contextlib.suppress(OSError):  # the release shuts the listener down
                await g.syscall(e.listener.accept)
        else:
            while not e.released.is_set():  # a loop that never awaits
                pass
            await g.gosched()  # where the M gets its goroutine back: never, once abandoned
        books.mark(name, "after")
    finally:
        books.mark(name, "final")


async def play_forever(seed: int, game: str) -> None:
    n = 0
    while True:
        await GAMES[game](seed * 1000 + n)
        n += 1


async def main_returns(e: Ending) -> float:
    """main: the blockers, the game, and a return at e.moment; the time of the return."""
    key = e.books.begin("main")
    try:
        e.start_blockers()
        g.go(play_forever, e.seed, e.game)
        await g.sleep(e.moment)
        e.end_begins()
        return time.monotonic()
    finally:
        e.books.end(key)


async def main_interrupted(e: Ending, sent: list[float]) -> None:
    """main: the blockers, and the game played by main itself until Ctrl-C at e.moment."""
    key = e.books.begin("main")
    try:
        e.start_blockers()

        def interrupt() -> None:
            time.sleep(e.moment)  # the random moment is the point
            sent.append(time.monotonic())
            e.end_begins()
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, name="ctrl-c", daemon=True).start()
        n = 0
        while True:
            await GAMES[e.game](e.seed * 1000 + n)
            n += 1
    finally:
        e.books.end(key)


def runtime_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("goroutines-"))


def the_end(e: Ending, report: dict[str, Any]) -> dict[str, Any]:
    """After run(): what was left, then release the blocked calls and look again."""
    from goroutines.runtime import program

    frames = thread_stacks()
    alive = [t for t in threading.enumerate() if t.name.startswith("goroutines-")]
    report["alive"] = sorted(t.name for t in alive)  # the daemons left in calls and loops
    report["stacks"] = {t.name: stack(frames.get(t.ident or 0)) for t in alive}
    report["leftover"] = e.books.leftover()  # whose finally blocks have not run
    report["marks_at_return"] = e.books.snapshot()
    stranded = program._stranded[report.pop("stranded_before") :]
    report["stranded"] = len(stranded)
    e.release()
    for t in threading.enumerate():
        if t.name.startswith("goroutines-"):
            t.join(10)
    gc.collect()  # a goroutine neither closed nor stranded would be closed now
    report["alive_after"] = runtime_threads()
    report["leftover_after"] = e.books.leftover()
    report["marks"] = e.books.snapshot()
    report["stranded_at"] = [awaiting(coro) for coro in stranded]
    report["slow"] = e.slow  # what the threads were doing while run() was slow to return
    return report


def stack(f: Any) -> list[str]:
    """A thread's innermost frames, innermost first."""
    out = []
    while f is not None and len(out) < 12:
        out.append(f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}")
        f = f.f_back
    return out


def awaiting(coro: Any) -> list[str]:
    """Where a coroutine stands: its await chain, innermost first ([] once it finished)."""
    from goroutines.runtime.debug import suspended_frames

    return [
        f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}"
        for f in reversed(list(suspended_frames(coro)))
    ]


def open_fds() -> dict[str, str]:
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return fds


def end_mid_game(e: Ending) -> dict[str, Any]:
    """main returns while the game plays and the blockers block: what run() left behind."""
    from goroutines.runtime import program

    fds = open_fds()
    if any(name.startswith("accept") for name in e.blockers):
        e.listener = socket.create_server(("127.0.0.1", 0))
    report: dict[str, Any] = {"stranded_before": len(program._stranded)}
    e.watch()
    try:
        with e.books.booking():
            returned = g.run(main_returns, e, gomaxprocs=e.procs)
            report["over_at"] = time.monotonic()
    finally:
        e.over.set()
        e.ending.set()  # the watchdog ends
    report["took"] = report["over_at"] - returned
    the_end(e, report)
    if e.listener is not None:
        e.listener.close()
    report["fds"] = {fd: what for fd, what in open_fds().items() if fds.get(fd) != what}
    return report


def interrupt_mid_game(e: Ending) -> dict[str, Any]:
    """Ctrl-C while the game plays and the blockers block: what run() raised and left behind."""
    from goroutines.runtime import program

    fds = open_fds()
    if any(name.startswith("accept") for name in e.blockers):
        e.listener = socket.create_server(("127.0.0.1", 0))
    report: dict[str, Any] = {"stranded_before": len(program._stranded), "raised": None}
    sent: list[float] = []
    # Python's own Ctrl-C handling, even when started with SIGINT ignored (as a
    # background job of a shell without job control is: its children inherit that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    e.watch()
    with e.books.booking():
        try:
            g.run(main_interrupted, e, sent, gomaxprocs=e.procs)
        except KeyboardInterrupt as exc:
            report["over_at"] = time.monotonic()
            e.over.set()
            report["took"] = report["over_at"] - sent[0]
            report["raised"] = "KeyboardInterrupt"
            tb = traceback.extract_tb(exc.__traceback__)
            report["frames"] = [(f.filename, f.name, f.line) for f in tb]
        finally:
            e.over.set()
            e.ending.set()  # the watchdog ends
    report["handler_restored"] = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    the_end(e, report)
    if e.listener is not None:
        e.listener.close()
    report["fds"] = {fd: what for fd, what in open_fds().items() if fds.get(fd) != what}
    return report


def check_ending(e: Ending, r: dict[str, Any]) -> None:
    """What every ending leaves: stranded goroutines only in calls, nothing after the calls."""
    assert all(name.startswith("goroutines-M") for name in r["alive"]), r
    # Every goroutine whose finally blocks have not run was stranded: still in
    # goroutine code on its M when run() gave up waiting for that M...
    assert len(r["leftover"]) <= r["stranded"], r
    # ...and none is resumed or closed later, once its call returns or by the GC: the
    # stranded ones that did not finish are exactly those whose finally never ran. (One
    # caught between two awaits may finish that step on its abandoned M, up to its
    # end: its own code, run on, as when the program ended.)
    unfinished = sum(1 for at in r["stranded_at"] if at)
    assert unfinished == len(r["leftover_after"]), r
    assert not Counter_(r["leftover_after"]) - Counter_(r["leftover"]), r
    # A blocker inside its call when run() returned stays stranded: not one more line.
    for name in e.blockers:
        m0, m = r["marks_at_return"].get(name, {}), r["marks"].get(name, {})
        if "in" in m0 and "final" not in m0:
            assert m == m0, (name, r)
        if "after" in m:
            # Only a sleep may have returned on its own, before the end began.
            assert name.startswith("sleep") and m["in"] + SLEEP < r["over_at"], (name, r)
    assert r["alive_after"] == [], r  # every daemon ended once its call returned
    assert r["fds"] == {}, r


def check_main_returned(e: Ending, r: dict[str, Any]) -> None:
    assert r["took"] < RUN_RETURNS, r
    check_ending(e, r)


def check_interrupted(e: Ending, r: dict[str, Any]) -> None:
    assert r["raised"] == "KeyboardInterrupt", r
    assert r["took"] < CTRL_C_RAISES, r
    assert r["handler_restored"], r
    frames = r["frames"]
    names = [name for _, name, _ in frames]
    assert "main_interrupted" in names, frames
    mains = frames[names.index("main_interrupted") :]
    # From main on, no frame is the runtime's: the innermost is where main's code was
    # (in this file, or in a library it called, such as threading's Thread.start()).
    package = os.path.dirname(g.__file__)
    assert not any(file.startswith(package) for file, _, _ in mains), frames
    check_ending(e, r)


def run_program(mode: str, seed: int, timeout: float = 30) -> tuple[dict[str, Any], str]:
    """`python -m tests.test_chaos mode seed` with a hard timeout: its report, its stderr."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.test_chaos", mode, str(seed)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=root,
        )
    except subprocess.TimeoutExpired as e:  # the program dumped its threads at HANG
        pytest.fail(f"{mode} {seed}: no end after {timeout} s; stderr:\n{e.stderr!r}")
    assert proc.returncode == 0, (mode, seed, proc.stdout, proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("procs", [1, 2, 4])
def test_main_returning_mid_game_ends_the_program_at_once(procs: int, seed: int) -> None:
    e = Ending(seed, blockers=False)
    e.procs = procs
    r = end_mid_game(e)
    check_main_returned(e, r)


# What a goroutine that ran on past the end may print (proc.panic): the end closed
# the sockets under the game's echo servers and clients, so an OSError, or the EOF
# of a read whose peer was closed (IncompleteReadError); and the end closed the
# poller, so a listen, dial or accept that registers its new socket then fails
# with the poller's error (netpoll.errPollerClosed), only.
RAN_ON = re.compile(
    r"Exception ignored in goroutine \d+, which ran on after the program ended:\n"
    r"Traceback \(most recent call last\):\n(?:  .*\n)+"
    r"(?:(?:\w+\.)*(?:OSError|ConnectionResetError|BrokenPipeError|ConnectionAbortedError"
    r"|IncompleteReadError)\b.*"
    r"|RuntimeError: the network poller is closed: the program is exiting)\n"
    r"(?:goroutine \d+ \[running\]:\n(?:created by .*\n)?(?:\t.*\n)?)?"
)


def unexplained(stderr: str) -> str:
    """The child's stderr but for the OSErrors of goroutines that ran on past the end."""
    return RAN_ON.sub("", stderr)


@pytest.mark.parametrize("seed", SEEDS)
def test_main_returning_while_goroutines_block_leaves_only_their_threads(seed: int) -> None:
    r, stderr = run_program("exit", seed)
    check_main_returned(Ending(seed, blockers=True), r)
    assert unexplained(stderr) == "", stderr


@pytest.mark.parametrize("seed", SEEDS)
def test_ctrl_c_mid_game_raises_in_mains_code_within_a_second(seed: int) -> None:
    r, stderr = run_program("sigint", seed)
    check_interrupted(Ending(seed, blockers=True), r)
    assert unexplained(stderr) == "", stderr


def test_unexplained_keeps_all_but_what_ran_on_past_the_end_raised() -> None:
    ran_on = (
        "Exception ignored in goroutine 7, which ran on after the program ended:\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in echo_conn\n'
        "    await c.write(data)\n"
        "ConnectionResetError: [Errno 104] Connection reset by peer\n"
        "goroutine 7 [running]:\n"
        "created by server in goroutine 3\n"
        "\tx.py:9\n"
    )
    assert unexplained(ran_on) == ""
    reset = "ConnectionResetError: [Errno 104] Connection reset by peer"
    eof = "goroutines.net.IncompleteReadError: 0 bytes read on a total of 3 expected bytes"
    assert unexplained(ran_on.replace(reset, eof)) == ""
    poller = "RuntimeError: the network poller is closed: the program is exiting"
    assert unexplained(ran_on.replace(reset, poller)) == ""
    other = ran_on.replace("ConnectionResetError", "KeyError")
    assert unexplained(other) == other
    assert unexplained(ran_on.replace(reset, "RuntimeError: x")) != ""
    assert unexplained("Warning: x\n" + ran_on) == "Warning: x\n"


HANG = 20  # seconds after which the program dumps every thread's stack (run_program waits 30)

if __name__ == "__main__":
    import faulthandler

    faulthandler.dump_traceback_later(HANG, exit=True)
    mode, seed = sys.argv[1], int(sys.argv[2])
    ending = Ending(seed, blockers=True)
    out = end_mid_game(ending) if mode == "exit" else interrupt_mid_game(ending)
    print(json.dumps(out), flush=True)
