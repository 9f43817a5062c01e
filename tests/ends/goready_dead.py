"""A goroutine still running at the end wakes one that run() has closed: run() raises SystemError.

A holds a Mutex that B waits for. main returns; A unlocks right then:
semrelease1 takes B off the semaphore's queue and calls goready(B) outside
the queue's lock. If A's thread is slow there (descheduled: widened here with
a 0.1 s sleep before that goready, only once the program is exiting), run()'s
grace ends, A's M is abandoned, and run() closes B: closeall sets B _Gdead
and closes its coroutine. Then A's goready(B) throws "goready: bad g status 6",
fatal() records it, and run() raises SystemError instead of returning main's
result (a slow finally block elsewhere keeps run() busy long enough to see it).
"""

import sys
import time

import goroutines as g
from goroutines.runtime import sema

widen = "--no-widen" not in sys.argv
goready = sema.goready


def slow_goready(gp):
    if widen and gp.sched.exiting:
        time.sleep(0.1)  # A's thread descheduled between the dequeue and the goready
    goready(gp)


sema.goready = slow_goready
state = {}


async def b(mu, started):
    started.close()
    async with mu:  # parks: A holds mu
        pass


async def slow_finally(started):
    try:
        started.close()
        await g.Chan().recv()
    finally:
        time.sleep(0.3)  # closed at exit after B: run() returns after this


async def a(mu, locked):
    await mu.lock()
    locked.close()
    while "returned" not in state:
        pass  # until main returns
    mu.unlock()  # wakes B, as the program ends


async def main():
    mu = g.Mutex()
    locked, b_started, s_started = g.Chan(), g.Chan(), g.Chan()
    g.go(a, mu, locked)
    await locked.recv()
    g.go(b, mu, b_started)
    await b_started.recv()
    g.go(slow_finally, s_started)
    await s_started.recv()
    await g.sleep(0.01)  # B parked on mu
    state["returned"] = True
    return "main's result"


try:
    print("run() returned", repr(g.run(main, gomaxprocs=2)))
except SystemError as e:
    print("run() raised", repr(e).splitlines()[0])
    sys.exit(1)
