"""Testing goroutine code: virtual time, seeded schedules, explore, the pytest plugin.

    from goroutines import testing

    testing.run(main, virtual_time=True)   # time jumps over every wait
    testing.run(main, seed=7)              # one reproducible interleaving
    testing.explore(main, seeds=range(200))  # many interleavings, until one fails

Both modes run the same scheduler as production (run queues, stealing,
channels, timers, the park and ready of every wait), with the two seams of
the runtime turned (DESIGN.md, "Time and schedule seams"):

  * virtual time (Go 1.25's testing/synctest): the timers' clock of the run is
    a VirtualClock. Time stands still while any goroutine can run, and jumps to
    the next timer once every goroutine is durably blocked: on channels,
    select, sync, timers or contexts, not on the network or in a syscall,
    which something outside may end (proc.timeskip_locked, from checkdead).
    `await sleep(3600)` returns at once, with now() an hour later.
    `await wait_idle()` returns once every other goroutine is durably blocked.
    Deadlocks are still found: durably blocked with no timer left is one.
  * a seed: one M drives every P, and every choice the scheduler makes at
    random is drawn from one generator seeded with it: which P runs next,
    which runnable goroutine goes next, whether an await is a preemption
    point, select's case order, the steal order, timers due at once. The same
    seed gives the same interleaving and the same output.

`explore` runs a program under many seeds and stops at the first that fails,
naming it, so that `run(main, seed=N)` replays the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from ..runtime.proc import check_async
from ..runtime.program import Runtime, check_not_in_goroutine
from .idle import wait_idle

T = TypeVar("T")

__all__ = ["explore", "run", "wait_idle"]


def run(
    main: Callable[..., Coroutine[Any, Any, T]],
    *args: Any,
    virtual_time: bool = False,
    seed: int | None = None,
    gomaxprocs: int | None = None,
    **kwargs: Any,
) -> T:
    """goroutines.run with virtual time and/or a seeded schedule (see the module doc)."""
    check_not_in_goroutine("testing.run")
    check_async(main, "testing.run")
    rt = Runtime(gomaxprocs, virtual_time=virtual_time, seed=seed)
    return rt.runmain(main, args, kwargs)


def explore(
    main: Callable[..., Coroutine[Any, Any, Any]],
    *args: Any,
    seeds: Iterable[int] = range(1000),
    **run_options: Any,
) -> int:
    """Run main once per seed; raise the first failure, with a note naming its seed.

    run_options are testing.run's (virtual_time, gomaxprocs). Returns the
    number of seeds that ran, all passing.
    """
    n = 0
    for seed in seeds:
        try:
            run(main, *args, seed=seed, **run_options)
        except BaseException as e:
            opts = "".join(f", {k}={v!r}" for k, v in run_options.items())
            e.add_note(
                f"explore: the run with seed={seed} failed; testing.run(main, seed={seed}{opts})"
                " replays it"
            )
            raise
        n += 1
    return n
