"""go() from a goroutine stranded between two awaits makes a goroutine nobody runs or closes.

The hog's M is still in goroutine code when run()'s grace ends: it is
abandoned, and run() closes the goroutines it finds (program.abandon takes
sched.allgs once). The hog's step goes on and calls go(child): newproc makes a
G for child() on the torn-down scheduler, which never runs it, and abandon,
which has already looked, never closes it. It stays referenced (from
the dead scheduler's queue), and Python warns "coroutine 'child' was never
awaited" when it is finally freed, at the interpreter's exit (3.13t), or
never. Expected: no such goroutine, nothing on stderr.
"""

import gc
import inspect
import threading
import time

import goroutines as g

state = {}


async def child():
    pass


async def hog():
    while time.monotonic() < state.get("returned", float("inf")) + 0.05:
        pass  # a loop that never awaits, past the end of the program
    g.go(child)
    await g.gosched()


async def main():
    g.go(hog)
    await g.sleep(0.01)
    state["returned"] = time.monotonic()


g.run(main, gomaxprocs=2)
for t in threading.enumerate():
    if t.name.startswith("goroutines-"):
        t.join(10)
gc.collect()
left = [
    c
    for c in gc.get_objects()
    if inspect.iscoroutine(c) and c.__name__ == "child" and c.cr_frame is not None
]
print("goroutines never run nor closed:", [inspect.getcoroutinestate(c) for c in left])
raise SystemExit(1 if left else 0)  # and at exit: "coroutine 'child' was never awaited"
