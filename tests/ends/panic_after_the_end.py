"""A goroutine stranded between two awaits raises after main returned: run() raises it.

main returns normally. The hog's M is still in goroutine code when run()'s
grace ends, so it is abandoned; its step goes on and raises (in the soak, an
echo server's write got ECONNRESET because the end had closed its client:
the end itself caused the error). goexit0 on the abandoned M calls panic(),
fatal() records the first error, and run(), still busy closing goroutines (a
slow finally block elsewhere keeps it busy long enough to see it), raises
that exception instead of returning main's result. In Go the process is
gone once main returns; here the program's outcome depends on what a
goroutine the runtime has given up on does afterwards.
"""

import sys
import time

import goroutines as g

state = {}


async def hog():
    while time.monotonic() < state.get("returned", float("inf")) + 0.05:
        pass  # a loop that never awaits, past the end of the program
    raise ConnectionResetError(104, "Connection reset by peer")  # what the end caused


async def slow_finally(started):
    try:
        started.close()
        await g.Chan().recv()
    finally:
        time.sleep(0.3)  # closed at exit: run() returns only after this


async def main():
    started = g.Chan()
    g.go(slow_finally, started)
    await started.recv()
    g.go(hog)
    await g.sleep(0.01)
    state["returned"] = time.monotonic()
    return "main's result"


try:
    print("run() returned", repr(g.run(main, gomaxprocs=2)))
except Exception as e:
    print("run() raised", repr(e))
    sys.exit(1)
