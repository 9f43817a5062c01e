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

Then each ends in a deadlock, which must be found.

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
import random
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import goroutines as g
from goroutines import net
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
