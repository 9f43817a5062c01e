"""Ctrl-C while main runs: the KeyboardInterrupt's traceback must show main's code.

main ping-pongs with a partner, so it is often running on an M when the
SIGINT is handled. Its frames were once read off that M's live stack at that
instant: when main's coroutine frame was not on the stack (its status says
running from before coro.send to after the park), the traceback had none of
main's frames, only run() and runmain. Without the GIL, following a running
thread's frames can also crash the interpreter (CPython gh-118680); this
program once died of SIGSEGV on free-threaded 3.13. Now the teardown reads
main's frames once its M has stopped running it.
"""

import os
import random
import signal
import sys
import threading
import time
import traceback

import goroutines as g

# A job started without job control (make test &) inherits SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)


async def main(going):
    ping, pong = g.Chan(), g.Chan()

    async def echo():
        async for v in ping:
            await pong.send(v)

    g.go(echo)
    going.set()
    n = 0
    while True:
        await ping.send(n)
        await pong.recv()
        n += 1


runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
procs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
rng = random.Random(1)
bad = 0
for i in range(runs):
    going = threading.Event()

    def kill(going: threading.Event, delay: float) -> None:
        going.wait()
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=kill, args=(going, rng.uniform(0, 0.02)), daemon=True).start()
    try:
        g.run(main, going, gomaxprocs=procs)
    except KeyboardInterrupt as e:
        names = [f.name for f in traceback.extract_tb(e.__traceback__)]
        if "main" not in names:
            bad += 1
            print(f"run {i}: traceback without main: {names}")
print(f"{bad} of {runs} tracebacks without main's code")
sys.exit(1 if bad else 0)
