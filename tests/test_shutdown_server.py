"""examples/shutdown_server.py shuts down gracefully on SIGTERM and SIGINT.

Each test runs the example as its own process, as a user would, reads the port
it prints, talks to it over plain sockets, signals it, and checks what the
clients receive, what it prints and how it exits. Nothing waits by sleeping:
each step waits for a line from the server or for a reply; every wait has a
hard timeout (sockets, the process's watchdog, pytest-timeout).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shutdown_server.py"
GRACE = float(re.search(r"^GRACE = ([\d.]+)", EXAMPLE.read_text(), re.M)[1])  # type: ignore[index]
IO_TIMEOUT = 10.0  # seconds for any one reply or line
WATCHDOG = 30.0  # the server process is killed after this, whatever happens
EXIT_WITHIN = 5.0  # seconds from the signal to the exit, for a server that has nothing left to do

pytestmark = pytest.mark.timeout(60)


def gomaxprocs_default() -> int:
    return 1 if getattr(sys, "_is_gil_enabled", lambda: True)() else 2


class Client:
    """A client of the server: a plain blocking socket with a timeout."""

    def __init__(self, port: int, stack: ExitStack) -> None:
        self.sock = stack.enter_context(
            socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        )
        self.file = stack.enter_context(self.sock.makefile("rb"))

    def send(self, line: bytes) -> None:
        self.sock.sendall(line + b"\n")

    def readline(self) -> bytes:
        return self.file.readline()

    def ask(self, line: bytes) -> bytes:
        self.send(line)
        return self.readline()

    def close(self) -> None:
        self.file.close()  # the socket stays open while its file is
        self.sock.close()


class Server:
    """The example, running as its own process."""

    def __init__(self, p: subprocess.Popen[str], stack: ExitStack) -> None:
        self.p = p
        self.stack = stack
        self.out: list[str] = []
        first = self.line()
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", first)
        assert m, f"first line {first!r}"
        self.port = int(m[1])
        self.signalled_at = 0.0

    def line(self) -> str:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        self.out.append(line)
        return line

    def connect(self) -> Client:
        return Client(self.port, self.stack)

    def signal(self, signum: int) -> None:
        self.signalled_at = time.monotonic()
        self.p.send_signal(signum)

    def finish(self) -> tuple[int, str, str, float]:
        """Wait for the exit: (status, all of stdout, stderr, seconds since the last signal)."""
        out, err = self.p.communicate(timeout=WATCHDOG)
        return self.p.returncode, "".join(self.out) + out, err, time.monotonic() - self.signalled_at


@contextmanager
def server(cli: bool = False, gomaxprocs: int | None = None) -> Iterator[Server]:
    """Start the example; kill it at the end if it is still running."""
    argv = [sys.executable, *(["-m", "goroutines", "run"] if cli else []), str(EXAMPLE)]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    if gomaxprocs is not None:
        env["GOMAXPROCS"] = str(gomaxprocs)
    with (
        ExitStack() as stack,
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        ) as p,
    ):
        watchdog = threading.Timer(WATCHDOG, stop_stuck, (p,))  # ends any read from its pipes
        watchdog.start()
        srv = None
        try:
            srv = Server(p, stack)
            yield srv
        except BaseException as e:
            e.add_note(post_mortem(p, srv.out if srv else []))
            raise
        finally:
            watchdog.cancel()
            if p.poll() is None:
                p.kill()
                p.communicate()


def stop_stuck(p: subprocess.Popen[str]) -> None:
    """Kill a server that hangs, after asking it for its goroutine dump (SIGQUIT, to stderr)."""
    p.send_signal(signal.SIGQUIT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        p.wait(timeout=2.0)  # it may go on running after the dump: then it is killed
    p.kill()


def post_mortem(p: subprocess.Popen[str], out: list[str]) -> str:
    """What a failed test's server printed; the goroutine dump (SIGQUIT) if it was still running."""
    running = p.poll() is None
    if running:
        stop_stuck(p)
    rest, err = p.communicate()
    state = "was still running (SIGQUIT, then killed)" if running else f"exit status {p.returncode}"
    return f"the server {state}; stdout:\n{''.join(out)}{rest}\nstderr:\n{err}"


# Every test runs once as `python shutdown_server.py` with the default GOMAXPROCS (1 with the
# GIL, the CPUs without it) and once as `goroutines run` with the other (so: 1 P and several).
RUNS = [
    pytest.param(False, None, id="python"),
    pytest.param(True, 2 if gomaxprocs_default() == 1 else 1, id="goroutines-run"),
]


@pytest.mark.parametrize(("cli", "gomaxprocs"), RUNS)
def test_sigterm_lets_the_requests_in_flight_finish(cli: bool, gomaxprocs: int | None) -> None:
    with server(cli, gomaxprocs) as srv:
        gone = srv.connect()  # a client that leaves before the shutdown
        assert gone.ask(b"hi there") == b"HI THERE\n"
        gone.close()
        idle = srv.connect()
        assert idle.ask(b"hello") == b"HELLO\n"
        assert idle.ask(b"slow x y") == b"SLOW X Y\n"  # not a number: an ordinary line
        busy = srv.connect()
        assert busy.ask(b"slow 0.3 world") == b"working\n"

        srv.signal(signal.SIGTERM)
        assert srv.line() == "shutting down\n"
        # The idle connection is told at once, once the listener is closed...
        assert idle.readline() == b"bye\n"
        assert idle.readline() == b""
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
        # ...and the busy one gets its answer first.
        assert busy.readline() == b"WORLD\n"
        assert busy.readline() == b"bye\n"
        assert busy.readline() == b""

        status, out, err, seconds = srv.finish()
    assert (status, err) == (0, ""), err
    assert out == (
        f"listening on 127.0.0.1:{srv.port}\n"
        "shutting down\n"
        "shutdown complete: 3 connections, 4 requests, 0 cancelled\n"
    )
    assert seconds < EXIT_WITHIN


@pytest.mark.parametrize(("cli", "gomaxprocs"), RUNS)
def test_sigint_cancels_what_outlasts_the_grace_period(cli: bool, gomaxprocs: int | None) -> None:
    with server(cli, gomaxprocs) as srv:
        stuck = srv.connect()
        assert stuck.ask(b"slow 60 never") == b"working\n"
        idle = srv.connect()
        assert idle.ask(b"hello") == b"HELLO\n"

        srv.signal(signal.SIGINT)  # Ctrl-C: a value on a channel, no KeyboardInterrupt
        assert srv.line() == "shutting down\n"
        assert idle.readline() == b"bye\n"
        assert idle.readline() == b""
        assert stuck.readline() == b""  # cancelled: closed with no answer...
        assert time.monotonic() - srv.signalled_at >= GRACE  # ...once the grace period is over

        status, out, err, seconds = srv.finish()
    assert (status, err) == (0, ""), err
    assert out == (
        f"listening on 127.0.0.1:{srv.port}\n"
        "shutting down\n"
        "shutdown complete: 2 connections, 2 requests, 1 cancelled\n"
    )
    assert seconds < GRACE + EXIT_WITHIN


def test_a_second_interrupt_ends_it_at_once() -> None:
    """main calls stop() when the shutdown begins: Ctrl-C is KeyboardInterrupt again."""
    with server() as srv:
        stuck = srv.connect()
        assert stuck.ask(b"slow 60 never") == b"working\n"
        srv.signal(signal.SIGINT)
        assert srv.line() == "shutting down\n"  # printed after stop()
        srv.signal(signal.SIGINT)
        status, out, err, seconds = srv.finish()
        assert stuck.readline() == b""
    assert status == -signal.SIGINT  # Python's exit on an uncaught KeyboardInterrupt
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert "shutdown complete" not in out
    assert seconds < EXIT_WITHIN
