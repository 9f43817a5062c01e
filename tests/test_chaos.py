"""Stress: every part of the runtime at once, under several seeds and GOMAXPROCS.

Goroutines send through a channel (plain, try_send, select against after()),
sleep on Timers, block in syscall(), lock themselves to their thread, exit
with goexit(); others fight over a Mutex and a Cond, echo over TCP, and one
resizes GOMAXPROCS all the while. Each run must come out exact: every value
sent received once, every client's echo intact, the mutex's counter exact, no
locked goroutine moved. Run for thousands of seeds on 3.13t
(GOROUTINES_STRESS_SEEDS), it found two bugs the focused tests had missed: a
locked M that lost its P joined the idle M list, and a waiter closed at exit
stayed queued on its semaphore (each now has a test that hits it every time).
"""

from __future__ import annotations

import random
import threading
import time

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
