"""The asyncio bridge in real programs: examples/aio_webapp.py and examples/aio_fetch.py.

The web app runs as its own process on 127.0.0.1 (a free port, read from the
line it prints), and these tests make real HTTP requests to it with urllib;
the fetch example runs against it and against its own in-process server. Both
need aiohttp (the `aio` extra, part of `test`): without it they are skipped.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest

pytest.importorskip("aiohttp", reason="the aio examples need aiohttp (pip install -e '.[aio]')")

pytestmark = pytest.mark.timeout(120)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WEBAPP = EXAMPLES / "aio_webapp.py"
FETCH = EXAMPLES / "aio_fetch.py"
START_TIMEOUT = 30.0  # seconds for the server to print its URL
STOP_TIMEOUT = 20.0  # seconds for it to stop after SIGTERM
HTTP_TIMEOUT = 20.0


def squares_sum(n: int) -> int:
    return n * (n + 1) * (2 * n + 1) // 6


# What examples/aio_fetch.py prints, whichever server it fetches from.
FETCH_EXPECTED = (
    "/squares?n=-1    HTTP 400\n"
    + "".join(f"{f'/squares?n={n}':16} sum {squares_sum(n)}\n" for n in range(19))
    + "pages: 20, never more than 4 fetches at once: True\n"
)


class Server:
    """examples/aio_webapp.py in a subprocess, on a free port of 127.0.0.1."""

    def __init__(self, gomaxprocs: str = "2") -> None:
        env = {**os.environ, "GOMAXPROCS": gomaxprocs, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(WEBAPP), "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # Read both pipes on threads, so that a full pipe never blocks the server
        # and every wait below has a timeout.
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put, True)),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err.append, False)),
        ]
        for t in self.readers:
            t.start()
        first = self.next_line(START_TIMEOUT)
        assert first is not None and first.startswith("listening on http://127.0.0.1:"), (
            first,
            self.stop_now(),
        )
        self.url = first.split()[-1]

    @staticmethod
    def _read(pipe: IO[str], put: Any, eof: bool) -> None:
        for line in pipe:
            put(line.rstrip("\n"))
        if eof:
            put(None)  # the end of stdout

    def next_line(self, timeout: float) -> str | None:
        """The next line of stdout, None at its end; fails after timeout seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop_now()
            pytest.fail(f"the web app printed nothing for {timeout}s; stderr: {self.err}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, list[str], str]:
        """Signal the server and wait for its end: (exit status, rest of stdout, stderr)."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop_now()
            pytest.fail(f"the web app did not stop within {STOP_TIMEOUT}s of {sig!r}")
        rest = []
        while (line := self.next_line(STOP_TIMEOUT)) is not None:
            rest.append(line)
        self.close()
        return code, rest, "\n".join(self.err)

    def stop_now(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.close()
        return "\n".join(self.err)

    def close(self) -> None:
        for t in self.readers:
            t.join(STOP_TIMEOUT)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()

    def get(self, path: str) -> tuple[int, Any]:
        """GET path: (HTTP status, the JSON body)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=HTTP_TIMEOUT) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.load(e)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    try:
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.stop()


def test_index_names_the_endpoints(server: Server) -> None:
    status, body = server.get("/")
    assert status == 200
    assert body["endpoints"] == ["/squares", "/primes", "/search", "/batch"]
    assert body["gomaxprocs"] == 2  # answered by a goroutine of the app's Runtime


def test_squares_pipeline_fans_out_to_the_workers(server: Server) -> None:
    status, body = server.get("/squares?n=1000&workers=4")
    assert status == 200
    assert body["sum"] == squares_sum(1000) == 333833500
    assert len(body["per_worker"]) == 4
    assert sum(body["per_worker"]) == 1000  # every number squared exactly once


def test_primes_errgroup_counts_every_chunk(server: Server) -> None:
    status, body = server.get("/primes?n=100000&chunks=8&limit=3")
    assert status == 200
    assert body["primes"] == 9592  # π(100000)
    assert len(body["per_chunk"]) == 8 and sum(body["per_chunk"]) == 9592
    assert body["per_chunk"][0] > body["per_chunk"][-1]  # primes thin out


def test_an_error_raised_in_a_goroutine_comes_back_as_a_400(server: Server) -> None:
    # The ValueError is raised by goroutine code and crosses rt.call into the handler.
    assert server.get("/primes?n=99999999") == (
        400,
        {"error": "n must be in 0..1000000, got 99999999"},
    )
    assert server.get("/squares?n=10&workers=0") == (
        400,
        {"error": "workers must be in 1..64, got 0"},
    )
    assert server.get("/squares?n=ten") == (400, {"error": "n must be an integer, got 'ten'"})


def test_search_takes_the_first_replica_under_a_deadline(server: Server) -> None:
    status, body = server.get("/search?q=golang&timeout_ms=5000&latency_ms=5")
    assert status == 200
    assert sorted(body["results"]) == ["image", "video", "web"]
    for kind, answer in body["results"].items():
        assert answer.startswith(f"{kind} result for 'golang' from replica "), answer
    assert body["timed_out"] == []


def test_search_gives_up_at_its_deadline(server: Server) -> None:
    t0 = time.monotonic()
    status, body = server.get("/search?q=slow&timeout_ms=50&latency_ms=3000")
    elapsed = time.monotonic() - t0
    assert status == 200
    assert body == {"query": "slow", "results": {}, "timed_out": ["image", "video", "web"]}
    assert elapsed < 2.5  # the deadline, not the 3 s backends, ended the request


def test_batch_goroutines_use_the_apps_session_on_the_apps_loop(server: Server) -> None:
    # Goroutines fetch /squares from this same server through aio.wait with the
    # app's ClientSession: it works only on the app's loop (aio.use_loop).
    status, body = server.get("/batch?n=12")
    assert status == 200
    assert body == {"n": 12, "limit": 4, "sums": [squares_sum(i) for i in range(1, 13)]}


def test_many_requests_at_once(server: Server) -> None:
    paths = [f"/squares?n={n}&workers={1 + n % 5}" for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(server.get, paths))
    assert [status for status, _ in got] == [200] * 40
    assert [body["sum"] for _, body in got] == [squares_sum(n) for n in range(40)]


def run_fetch(*args: str, gomaxprocs: str = "1") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOMAXPROCS": gomaxprocs}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_fetch_example_against_the_web_app(server: Server) -> None:
    out = run_fetch(str(FETCH), "--url", server.url)
    assert out.returncode == 0, out.stderr
    assert out.stdout == FETCH_EXPECTED


@pytest.mark.parametrize(
    "argv",
    [[str(FETCH)], ["-m", "goroutines", "run", str(FETCH)]],
    ids=["python", "goroutines run"],
)
@pytest.mark.parametrize("gomaxprocs", ["1", "2"])
def test_fetch_example_with_its_own_server(argv: list[str], gomaxprocs: str) -> None:
    out = run_fetch(*argv, gomaxprocs=gomaxprocs)
    assert out.returncode == 0, out.stderr
    assert out.stdout == FETCH_EXPECTED
    assert "most fetches at once: " in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_web_app_stops_cleanly(sig: int) -> None:
    srv = Server(gomaxprocs="1")
    try:
        assert srv.get("/squares?n=3&workers=2")[1]["sum"] == 14
        code, rest, err = srv.stop(sig)
    except BaseException:
        srv.stop_now()
        raise
    assert code == 0, err
    assert rest == ["server stopped"]  # the runner's cleanup ran: Runtime and session closed
    assert "Traceback" not in err and "Error" not in err, err
