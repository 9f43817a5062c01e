"""The pytest plugin of goroutines: async tests as main goroutines, and Go's goleak.

Installed with the package (entry point `pytest11`), it acts only on tests
marked `@pytest.mark.goroutines(...)`:

    @pytest.mark.goroutines(gomaxprocs=2, virtual_time=True, seed=None)
    async def test_retry_backs_off():
        ...

The test function runs as the main goroutine of `goroutines.testing.run` with
the marker's options (fixtures are passed as usual), and fails when it leaves
something behind, as Go's goleak fails a test:

  * a goroutine still alive when the test returns (after they have had a
    moment to finish): the failure lists them with their stacks;
  * a runtime thread still alive after the run (a goroutine stuck in a
    blocking call, which run() had to abandon);
  * a file descriptor the test opened and did not close.

Tests without the marker are left alone: this module imports nothing of the
runtime until a marked test runs.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

MARKER = "goroutines"
SETTLE = 0.5  # seconds goroutines and threads get to finish once the test returned

_OPTIONS = ("gomaxprocs", "virtual_time", "seed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(gomaxprocs=None, virtual_time=False, seed=None): run an async test as the"
        " main goroutine of goroutines.testing.run, failing on leaked goroutines, threads, fds",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker(MARKER)
    if marker is None:
        return None
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"@pytest.mark.{MARKER} needs an async def test, got {fn!r}")
    if marker.args:
        raise TypeError(f"@pytest.mark.{MARKER} takes keyword options only: {_OPTIONS}")
    unknown = set(marker.kwargs) - set(_OPTIONS)
    if unknown:
        raise TypeError(f"@pytest.mark.{MARKER}: unknown options {sorted(unknown)}")
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    run_test(fn, kwargs, **marker.kwargs)
    return True


def run_test(
    fn: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any], **options: Any
) -> None:
    """Run fn(**kwargs) as main under testing.run(**options); fail on what it leaks."""
    from . import run

    fds = open_fds()
    leaked: list[str] = []

    async def main() -> None:
        await fn(**kwargs)
        dump = await lingering_goroutines()
        if dump:
            leaked.append(dump)

    run(main, **options)
    if leaked:
        pytest.fail(f"the test left goroutines running:\n\n{leaked[0]}", pytrace=False)
    threads = lingering_threads()
    if threads:
        pytest.fail(f"the test left runtime threads running: {threads}", pytrace=False)
    left = {fd: what for fd, what in open_fds().items() if fds.get(fd) != what}
    if left:
        pytest.fail(f"the test left file descriptors open: {left}", pytrace=False)


async def lingering_goroutines() -> str:
    """The dump of the goroutines other than main still alive, once they had SETTLE to end."""
    from .. import dump_goroutines, gosched, now, num_goroutine, sleep
    from ..runtime.proc import acquire_g

    sched = acquire_g("lingering_goroutines")[0].sched
    if sched.vclock is not None:
        from .idle import wait_idle_within

        # What can still run has run, timers included: the rest is blocked for
        # good, or waits on the network, which SETTLE of real time bounds.
        await wait_idle_within(SETTLE)
    else:
        deadline = now() + SETTLE
        while num_goroutine() > 1 and now() < deadline:
            await gosched()
            await sleep(0.001)
    if num_goroutine() <= 1:
        return ""
    dump = dump_goroutines()
    return dump.split("\n\n", 1)[1] if "\n\n" in dump else dump  # others than main


def lingering_threads() -> list[str]:
    """The runtime's threads still alive, once they had SETTLE to end."""
    deadline = time.monotonic() + SETTLE
    for t in threading.enumerate():
        if t.name.startswith("goroutines-"):
            t.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]


def open_fds() -> dict[str, str]:
    """This process's open fds and what each is (Linux; elsewhere nothing is checked)."""
    if not os.path.isdir("/proc/self/fd"):
        return {}
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listdir's own fd, closed by now
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return fds
