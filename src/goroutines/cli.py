"""The `goroutines` command (also `python -m goroutines`).

    goroutines run [--gomaxprocs N] [--schedtrace MS] [--scheddetail] [--trace OUT]
                   FILE.py [args...]
    goroutines trace summary [--limit N] TRACE
    goroutines trace html TRACE [-o OUT.html]
    goroutines trace convert TRACE [-o OUT.json]

`run` is `go run` for a Python file: it loads FILE.py and runs its
`async def main()` under goroutines.run. Options come before FILE; everything
after FILE is the script's own sys.argv[1:] (sys.argv[0] is FILE). The file is
loaded as a module named `__goroutines_main__` (registered in sys.modules, its
directory first on sys.path), so its `if __name__ == "__main__":` block does
not run: the same file can still be run with plain `python FILE.py` through
that block. Exit status: 0 when main returns; 2 on a panic (`panic: ...`, the
traceback and the goroutine note on stderr), on a deadlock (Go's
`fatal error: all goroutines are asleep - deadlock!` and the goroutine dump),
and, with a one-line error, for a missing file, a file without an async
`main`, or a bad setting. SystemExit from the program exits as Python does.

The `trace` subcommands read a trace written by `run --trace` (or
run(trace=...)), in either format (the compact stream, or JSON): `summary`
prints what tracetools.summary computes, `html` writes the self-contained
timeline page (tracetools.html) and `convert` the Perfetto JSON
(tracetools.convert); both print the path they wrote. A file that cannot be
read or is not a trace is a one-line error, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import traceback
import types
from collections.abc import Sequence

from .runtime import debug, program
from .runtime.errors import Deadlock
from .tracetools import convert, html, summary
from .tracetools.model import Model
from .tracetools.read import load

MODULE_NAME = "__goroutines_main__"


class UsageError(Exception):
    """A one-line error: exit status 2, no traceback."""


def positive(s: str) -> int:
    """An argparse type: an integer >= 1."""
    n = int(s)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def nonnegative(s: str) -> int:
    """An argparse type: an integer >= 0."""
    n = int(s)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def parser() -> argparse.ArgumentParser:
    """The command line of `goroutines`."""
    ap = argparse.ArgumentParser(prog="goroutines", description="Go's GMP scheduler for Python.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    r = sub.add_parser(
        "run",
        help="run FILE.py's async def main() on the goroutine runtime (like go run)",
        description="Run FILE.py's async def main() under goroutines.run. Options come "
        "before FILE; everything after FILE is the script's sys.argv[1:].",
    )
    r.add_argument("--gomaxprocs", type=positive, metavar="N", help="number of Ps")
    r.add_argument(
        "--schedtrace", type=nonnegative, metavar="MS", help="print SCHED lines every MS ms"
    )
    r.add_argument("--scheddetail", action="store_true", help="with --schedtrace: every P, M, G")
    r.add_argument(
        "--trace",
        metavar="OUT",
        help="write an execution trace to OUT: Perfetto JSON if it ends in .json, "
        "else the compact stream (e.g. trace.out) that `goroutines trace` reads",
    )
    r.add_argument("file", metavar="FILE.py")
    r.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    t = sub.add_parser("trace", help="look at an execution trace written by run --trace")
    tsub = t.add_subparsers(dest="tracecmd", required=True, metavar="SUBCOMMAND")
    s = tsub.add_parser("summary", help="goroutine times, scheduling latency, P utilisation")
    s.add_argument("path", metavar="TRACE")
    s.add_argument(
        "--limit", type=nonnegative, default=100, help="goroutines listed (0: all; default 100)"
    )
    h = tsub.add_parser("html", help="write a self-contained page drawing the timeline")
    h.add_argument("path", metavar="TRACE")
    h.add_argument("-o", "--output", metavar="OUT.html", help="default: TRACE with .html")
    c = tsub.add_parser("convert", help="write Perfetto / chrome://tracing JSON")
    c.add_argument("path", metavar="TRACE")
    c.add_argument("-o", "--output", metavar="OUT.json", help="default: TRACE with .json")
    return ap


def load_script(path: str) -> types.ModuleType:
    """Execute FILE as module __goroutines_main__; a UsageError if it cannot be read."""
    if not os.path.isfile(path):
        raise UsageError(f"stat {path}: no such file")
    loader = importlib.machinery.SourceFileLoader(MODULE_NAME, path)
    spec = importlib.util.spec_from_loader(MODULE_NAME, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    loader.exec_module(module)
    return module


def cmd_run(ns: argparse.Namespace) -> int:
    """`goroutines run`: the script's main under run(); Go's exit statuses."""
    try:
        debug.parsedebugvars(os.environ.get("GODEBUG", ""))
    except ValueError as e:
        raise UsageError(str(e)) from None
    # As `python FILE.py args` would: the module's own code may read sys.argv.
    sys.argv = [ns.file, *ns.args]
    module = load_script(ns.file)
    main = getattr(module, "main", None)
    if main is None:
        raise UsageError(f"{ns.file}: no function main: define 'async def main()'")
    if not inspect.iscoroutinefunction(main):
        raise UsageError(f"{ns.file}: main must be an async function ('async def main()')")
    try:
        program.run(
            main,
            gomaxprocs=ns.gomaxprocs,
            schedtrace=ns.schedtrace,
            scheddetail=True if ns.scheddetail else None,
            trace=ns.trace,
        )
    except Deadlock as e:
        print(f"fatal error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if ns.trace is not None and e.filename == ns.trace:
            raise UsageError(f"--trace {ns.trace}: {e.strerror}") from None
        panicked(e)
        return 2
    except Exception as e:
        panicked(e)
        return 2
    return 0


def panicked(e: BaseException) -> None:
    """Print a panic as Go does (`panic: ...`), then the goroutine's traceback and note."""
    msg = str(e)
    print(f"panic: {type(e).__qualname__}{': ' + msg if msg else ''}\n", file=sys.stderr)
    traceback.print_exception(type(e), e, goroutine_tb(e.__traceback__), file=sys.stderr)


def goroutine_tb(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The part of a traceback in the goroutine's code: what follows run() re-raising it."""
    start = tb
    while tb is not None:
        if tb.tb_frame.f_code is program.Runtime.runmain.__code__:
            start = tb.tb_next
        tb = tb.tb_next
    return start


def cmd_trace(ns: argparse.Namespace) -> int:
    """`goroutines trace summary|html|convert`."""
    try:
        raw = load(ns.path)
    except OSError as e:
        raise UsageError(f"{ns.path}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    if ns.tracecmd == "summary":
        print(summary.summary(Model(raw), ns.limit))
        return 0
    ext = ".html" if ns.tracecmd == "html" else ".json"
    out = ns.output or os.path.splitext(ns.path)[0] + ext
    if os.path.abspath(out) == os.path.abspath(ns.path):
        raise UsageError(f"{out}: would overwrite the trace; name another with -o")
    try:
        with open(out, "w", encoding="utf-8") as f:
            if ns.tracecmd == "html":
                f.write(html.render(Model(raw), os.path.basename(ns.path)))
            else:
                convert.write(f, raw)
    except OSError as e:
        raise UsageError(f"{out}: {e.strerror}") from None
    print(out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `goroutines` console script; returns the exit status."""
    ns = parser().parse_args(argv)
    try:
        return cmd_run(ns) if ns.cmd == "run" else cmd_trace(ns)
    except UsageError as e:
        print(f"goroutines {ns.cmd}: {e}", file=sys.stderr)
        return 2
