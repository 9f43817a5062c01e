"""startlockedm after startTheExit: 'notewakeup - double wakeup' raised from run().

Goroutines locked to their threads ping-pong with others (2 pairs, 2 Ps); main returns at a
random moment. An M that picked the locked goroutine (schedule passed its
`while not sched.exiting` check) calls startlockedm, which wakes the locked M
that startTheExit_locked has just woken (it was in sched.mlockedidle).
"""

import random
import sys

import goroutines as g
from goroutines.runtime import proc

if "--widen" in sys.argv:
    # Widen the window between schedule()'s exiting check and startlockedm's
    # wakeup: 1 ms after startlockedm's releasep (only there).
    import time

    releasep = proc.releasep

    def slow_releasep(mp):
        pp = releasep(mp)
        if sys._getframe(1).f_code.co_name == "startlockedm":
            time.sleep(0.001)
        return pp

    proc.releasep = slow_releasep


async def locked(ping, pong):
    g.lock_os_thread()
    async for v in ping:
        await pong.send(v)


async def pinger(ping, pong):
    i = 0
    while True:
        await ping.send(i)
        await pong.recv()
        i += 1


async def main(moment):
    for _ in range(2):
        ping, pong = g.Chan(), g.Chan()
        g.go(locked, ping, pong)
        g.go(pinger, ping, pong)
    await g.sleep(moment)


args = [a for a in sys.argv[1:] if not a.startswith("--")]
runs = int(args[0]) if args else 300
rng = random.Random(1)
bad = 0
for i in range(runs):
    try:
        g.run(main, rng.uniform(0, 0.01), gomaxprocs=2)
    except RuntimeError as e:
        bad += 1
        print(f"run {i}: {e!r}")
print(f"{bad} of {runs} runs raised")
sys.exit(1 if bad else 0)
