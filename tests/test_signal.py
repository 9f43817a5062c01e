"""goroutines.signal: notify, stop, notify_context (Go's os/signal tests, in spirit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

import goroutines as g
from goroutines import context
from goroutines import signal as gsignal

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(
        threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
    ),
]


async def kill(signum: int) -> None:
    """Send signum to this process from a goroutine."""
    await g.syscall(os.kill, os.getpid(), signum)


def test_notify_relays_the_signal_and_stop_restores_the_handler() -> None:
    async def main() -> tuple[int | None, Any, Any]:
        ch = g.Chan[int](1)
        gsignal.notify(ch, signal.SIGUSR1)
        during = signal.getsignal(signal.SIGUSR1)  # in place once notify returned
        await kill(signal.SIGUSR1)
        got = await ch.recv()
        gsignal.stop(ch)
        return got, during, signal.getsignal(signal.SIGUSR1)

    got, during, after = g.run(main, gomaxprocs=2)
    assert got == signal.SIGUSR1
    assert during not in (signal.SIG_DFL, None)
    assert after == signal.SIG_DFL  # the old behaviour is back
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_every_notified_channel_gets_it_and_a_full_one_drops_it() -> None:
    async def main() -> tuple[list[Any], list[Any], int]:
        a, b, full = g.Chan[int](2), g.Chan[int](2), g.Chan[int](1)
        for ch in (a, b, full):
            gsignal.notify(ch, signal.SIGUSR1, signal.SIGUSR2)
        full.try_send(0)  # no room: its signals are dropped, never blocking delivery
        await kill(signal.SIGUSR1)
        await kill(signal.SIGUSR2)
        got_a = [await a.recv(), await a.recv()]
        got_b = [await b.recv(), await b.recv()]
        for ch in (a, b, full):
            gsignal.stop(ch)
        return got_a, got_b, len(full)

    got_a, got_b, nfull = g.run(main)
    assert sorted(got_a) == sorted(got_b) == sorted([signal.SIGUSR1, signal.SIGUSR2])
    assert nfull == 1


def test_stopped_channel_receives_nothing_more() -> None:
    async def main() -> tuple[tuple[Any, bool], int | None]:
        stopped, live = g.Chan[int](1), g.Chan[int](1)
        gsignal.notify(stopped, signal.SIGUSR1)
        gsignal.notify(live, signal.SIGUSR1)
        gsignal.stop(stopped)
        await kill(signal.SIGUSR1)
        got = await live.recv()  # delivered after the stop: stopped was skipped
        gsignal.stop(live)
        return stopped.try_recv(), got

    assert g.run(main) == ((None, False), signal.SIGUSR1)


def test_notify_context_is_cancelled_by_the_signal() -> None:
    async def main() -> tuple[Any, Any, Any]:
        ctx, stop = gsignal.notify_context(context.background(), signal.SIGTERM)
        before = ctx.err()
        await kill(signal.SIGTERM)
        await ctx.done().recv()
        err = ctx.err()
        stop()
        return before, err, signal.getsignal(signal.SIGTERM)

    before, err, after = g.run(main)
    assert before is None
    assert isinstance(err, context.Canceled)
    assert after == signal.SIG_DFL


def test_notify_context_stop_cancels_without_a_signal() -> None:
    async def main() -> bool:
        ctx, stop = gsignal.notify_context(context.background(), signal.SIGUSR2)
        stop()
        await ctx.done().recv()
        return isinstance(ctx.err(), context.Canceled)

    assert g.run(main)
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL


def test_bad_arguments() -> None:
    async def main() -> list[str]:
        msgs = []
        for args in [(None, signal.SIGUSR1), (g.Chan[int](1),), (g.Chan[int](1), 12345)]:
            with pytest.raises((TypeError, ValueError)) as e:
                gsignal.notify(*args)  # type: ignore[arg-type]
            msgs.append(str(e.value))
        with pytest.raises(ValueError, match="SIGKILL cannot be caught"):
            gsignal.notify(g.Chan[int](1), signal.SIGKILL)
        return msgs

    msgs = g.run(main)
    assert "needs a Chan" in msgs[0]
    assert "name the signals" in msgs[1]
    assert "not a signal number" in msgs[2]


def test_notify_needs_run_in_the_main_thread() -> None:
    out: list[BaseException] = []

    async def main() -> None:
        with pytest.raises(RuntimeError, match="main thread") as e:
            gsignal.notify(g.Chan[int](1), signal.SIGUSR1)
        out.append(e.value)

    t = threading.Thread(target=g.run, args=(main,))
    t.start()
    t.join(10)
    assert len(out) == 1


def test_handlers_are_restored_when_the_program_ends_without_stop() -> None:
    async def main() -> None:
        gsignal.notify(g.Chan[int](1), signal.SIGUSR1, signal.SIGHUP)

    before = signal.getsignal(signal.SIGHUP)  # SIG_IGN under nohup
    g.run(main, gomaxprocs=2)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


CTRL_C = """
import json, os, signal, time
import goroutines as g
from goroutines import signal as gsignal

async def main():
    ch = g.Chan[int](1)
    gsignal.notify(ch, signal.SIGINT)
    await g.syscall(os.kill, os.getpid(), signal.SIGINT)
    got = await ch.recv()  # Ctrl-C is a value now, not the end of the program
    gsignal.stop(ch)
    await g.syscall(os.kill, os.getpid(), signal.SIGINT)  # ends it again
    await g.sleep(30)
    return got

try:
    g.run(main, gomaxprocs=2)
    print(json.dumps("returned"))
except KeyboardInterrupt:
    print(json.dumps("KeyboardInterrupt"))
"""


def test_while_sigint_is_notified_ctrl_c_is_a_value_and_after_stop_it_ends_the_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CTRL_C)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '"KeyboardInterrupt"'
