"""A goroutine stranded between two awaits that then parks in a net read keeps its fd open for ever.

The hog's M is still in goroutine code when run()'s grace ends, so it is
abandoned and the hog stranded. Its step goes on: it parks in conn.read(),
holding the fd's reference, before run() closes the sockets (a finally block
that takes a while makes the window wide). netpollclose's close() finds the fd
busy, so it only shuts it down and leaves the close to the read in progress;
that read never returns (the goroutine is stranded: never resumed, never
closed), so the socket stays open after run() and after every thread ended.
"""

import contextlib
import gc
import os
import threading
import time

import goroutines as g
from goroutines import net

state = {}


async def hog(c):
    while time.monotonic() < state.get("returned", float("inf")) + 0.05:
        pass  # a loop that never awaits, past the end of the program
    await c.read(10)  # no data: parks, holding c's fd reference


async def slow_finally(started):
    try:
        started.close()
        await g.Chan().recv()
    finally:
        time.sleep(0.3)  # closed at exit: run() closes sockets only after this


async def main():
    ln = await net.listen("127.0.0.1", 0)
    c = await net.dial(*ln.addr)
    state["peer"] = await ln.accept()  # kept: no EOF for the hog
    started = g.Chan()
    g.go(slow_finally, started)
    await started.recv()
    g.go(hog, c)
    await g.sleep(0.01)
    state["returned"] = time.monotonic()


def fds():
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return out


before = fds()
g.run(main, gomaxprocs=2)
for t in threading.enumerate():
    if t.name.startswith("goroutines-"):
        t.join(10)
gc.collect()
left = {fd: what for fd, what in fds().items() if before.get(fd) != what}
alive = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
print("threads left:", alive, "fds left:", left)
raise SystemExit(1 if left else 0)
