"""Stress: every sync primitive at once, under gomaxprocs 1, 2, 4, 8 and several seeds.

Each goroutine draws its choices (how long to hold a lock, how many times to
yield, which lock to take) from a seeded random.Random, so a failing seed can
be rerun. The invariants are checked by the goroutines themselves and by
totals that must come out exact.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from goroutines import Cond, Mutex, Once, RWMutex, Semaphore, WaitGroup, go, gosched, run
from tests.helpers import SEEDS, Counter

pytestmark = pytest.mark.timeout(60)


async def yield_n(n: int) -> None:
    """Give other goroutines n chances to run."""
    for _ in range(n):
        await gosched()


class BoundedQueue:
    """A FIFO of at most `cap` items built from a Mutex and two Conds."""

    def __init__(self, cap: int) -> None:
        self.mu = Mutex()
        self.not_empty = Cond(self.mu)
        self.not_full = Cond(self.mu)
        self.items: deque[int] = deque()
        self.cap = cap
        self.most = 0

    async def put(self, x: int) -> None:
        async with self.mu:
            while len(self.items) >= self.cap:
                await self.not_full.wait()
            self.items.append(x)
            self.most = max(self.most, len(self.items))
            self.not_empty.signal()

    async def get(self) -> int:
        async with self.mu:
            while not self.items:
                await self.not_empty.wait()
            x = self.items.popleft()
            self.not_full.signal()
            return x


class Checks:
    """Invariant violations seen by the goroutines."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.errors.append(what)


async def stress(seed: int) -> dict[str, object]:
    checks = Checks()
    wg = WaitGroup()

    # Mutex: a counter read and written across an await.
    mu = Mutex()
    counter = [0]
    in_mutex = [0]

    async def incrementer(rng: random.Random, n: int) -> None:
        for _ in range(n):
            async with mu:
                in_mutex[0] += 1
                checks.check(in_mutex[0] == 1, "two goroutines inside the Mutex")
                c = counter[0]
                await yield_n(rng.randrange(2))
                counter[0] = c + 1
                in_mutex[0] -= 1
            if rng.random() < 0.3:
                await gosched()
        wg.done()

    # RWMutex: writers keep a == b, changing them one at a time across an await.
    rw = RWMutex()
    pair = [0, 0]
    readers = Counter()
    writers = Counter()

    async def rw_user(rng: random.Random, n: int) -> None:
        for _ in range(n):
            if rng.random() < 0.25:
                async with rw:
                    alone = writers.add(1) == 1 and readers.value == 0
                    checks.check(alone, "RWMutex writer not alone")
                    pair[0] += 1
                    await yield_n(rng.randrange(2))
                    pair[1] += 1
                    writers.add(-1)
            else:
                async with rw.rlocker():
                    readers.add(1)
                    checks.check(writers.value == 0, "RWMutex reader beside a writer")
                    checks.check(pair[0] == pair[1], "RWMutex reader saw a half write")
                    await yield_n(rng.randrange(2))
                    readers.add(-1)
        wg.done()

    # Semaphore: at most 3 inside.
    sem = Semaphore(3)
    in_sem = Counter()
    most_sem = Counter()

    async def sem_user(rng: random.Random, n: int) -> None:
        for _ in range(n):
            async with sem:
                n = in_sem.add(1)
                most_sem.max(n)
                checks.check(n <= 3, "more than 3 inside Semaphore(3)")
                await yield_n(rng.randrange(3))
                in_sem.add(-1)
        wg.done()

    # Once: every caller returns after its Once's function finished, which ran once.
    onces = [Once() for _ in range(4)]
    once_calls = [0] * 4
    once_finished = [False] * 4

    def once_fn(i: int, rng: random.Random) -> Callable[[], Coroutine[Any, Any, None]]:
        async def fn() -> None:
            once_calls[i] += 1
            await yield_n(rng.randrange(1, 4))
            once_finished[i] = True

        return fn

    async def once_user(rng: random.Random) -> None:
        i = rng.randrange(4)
        await onces[i].do(once_fn(i, rng))
        checks.check(once_finished[i], "Once.do returned before the function finished")
        wg.done()

    # Cond: producers and consumers through a bounded queue.
    q = BoundedQueue(4)
    got: list[int] = []

    async def producer(base: int, n: int) -> None:
        for i in range(n):
            await q.put(base + i)
        wg.done()

    async def consumer(n: int) -> None:
        for _ in range(n):
            got.append(await q.get())
        wg.done()

    # WaitGroup: fan-out inside fan-out.
    fanned = [0]
    fan_lock = Mutex()

    async def leaf(rng: random.Random, inner: WaitGroup) -> None:
        await yield_n(rng.randrange(2))
        async with fan_lock:
            fanned[0] += 1
        inner.done()

    async def fanner(rng: random.Random, width: int) -> None:
        inner = WaitGroup()
        for _ in range(width):
            inner.add(1)
            go(leaf, random.Random(rng.random()), inner)
        await inner.wait()
        async with fan_lock:
            checks.check(fanned[0] >= width, "WaitGroup.wait returned early")
        wg.done()

    master = random.Random(seed)
    jobs = []
    for _ in range(8):
        jobs.append((incrementer, (60,)))
        jobs.append((rw_user, (40,)))
        jobs.append((sem_user, (20,)))
        jobs.append((once_user, ()))
    for p in range(4):
        jobs.append((producer, (1000 * p, 60)))
    for _ in range(6):
        jobs.append((consumer, (40,)))
    for _ in range(4):
        jobs.append((fanner, (20,)))
    master.shuffle(jobs)
    for fn, args in jobs:
        wg.add(1)
        if fn in (producer, consumer):
            go(fn, *args)
        else:
            go(fn, random.Random(master.random()), *args)
    await wg.wait()
    return {
        "errors": checks.errors,
        "counter": counter[0],
        "pair": tuple(pair),
        "most_sem": most_sem.value,
        "sem_free": sem._cur,
        "once_calls": sum(once_calls),
        "onces_used": sum(1 for o in onces if o._done),
        "got": sorted(got),
        "queue_most": q.most,
        "fanned": fanned[0],
    }


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("procs", [1, 2, 4, 8])
def test_everything_at_once(procs: int, seed: int) -> None:
    r = run(stress, seed, gomaxprocs=procs)
    assert r["errors"] == []
    assert r["counter"] == 8 * 60
    a, b = r["pair"]  # type: ignore[misc]
    assert a == b > 0
    assert 1 <= r["most_sem"] <= 3  # type: ignore[operator]
    assert r["sem_free"] == 0
    assert r["once_calls"] == r["onces_used"]
    assert r["got"] == sorted(1000 * p + i for p in range(4) for i in range(60))
    assert 1 <= r["queue_most"] <= 4  # type: ignore[operator]
    assert r["fanned"] == 4 * 20


@pytest.mark.parametrize("procs", [2, 4])
def test_mutex_handoff_under_heavy_contention(procs: int) -> None:
    async def main() -> tuple[int, int]:
        mu = Mutex()
        wg = WaitGroup()
        total = [0]

        async def hog(n: int) -> None:
            for _ in range(n):
                await mu.lock()
                total[0] += 1
                mu.unlock()  # and at once try again: barging, then starvation
            wg.done()

        for _ in range(6):
            wg.add(1)
            go(hog, 300)
        await wg.wait()
        return total[0], mu._state

    assert run(main, gomaxprocs=procs) == (6 * 300, 0)
