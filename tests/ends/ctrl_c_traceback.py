"""Ctrl-C while main runs: the KeyboardInterrupt's traceback sometimes has none of main's frames.

main ping-pongs with a partner, so it is often running on an M when the
SIGINT is handled. debug.user_frames(main) then reads main's frames off its
thread's stack (sys._current_frames), from the top down to main's coroutine
frame; when that frame is not on the stack at that instant (status _Grunning
is set before coro.send and reset only after it returns, in park_m), it
finds nothing, and interrupted() builds a KeyboardInterrupt with no
traceback: the user sees only run() and runmain.
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
