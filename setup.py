"""Build: the compiled core, from the same Python source, where it can be built.

`pip install .` compiles the scheduler's modules (COMPILED_MODULES) to a C
extension with mypyc when it can: mypyc is a build requirement only, and the
installed package needs nothing but the standard library. It builds the pure
package instead, saying why in one line, for:

  * GOROUTINES_PURE=1 in the environment;
  * an editable install (`pip install -e .`), so that edits take effect;
  * a free-threaded interpreter: mypyc's generated code reads lists and dicts
    without the locks free-threading needs (README, "Two builds");
  * no mypyc, no C compiler, or any error while compiling.

What a user's code awaits or calls into stays Python in both builds (the
package's chan, select, sync, time, net; runtime/calls, requests, tls):
Python's coroutines warn when never awaited, mypyc's do not. Those modules
make one call into the compiled runtime for each operation.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED_MODULES = [
    f"src/goroutines/runtime/{m}.py"
    for m in (
        "runtime2",
        "osapi",
        "proc",
        "sema",
        "timers",
        "netpoll",
        "fdmutex",
        "fd",
        "sysmon",
        "chan",
        "select",
        "trace",
    )
]


def pure_reason() -> str | None:
    """Why this build is pure, or None to compile."""
    if os.environ.get("GOROUTINES_PURE") == "1":
        return "GOROUTINES_PURE=1"
    if any(cmd in sys.argv for cmd in ("editable_wheel", "develop")):
        return "an editable install"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "a free-threaded interpreter (mypyc's code is not made for it)"
    return None


def say(msg: str) -> None:
    print(f"goroutines: {msg}", file=sys.stderr)


class optional_build_ext(build_ext):
    """build_ext that falls back to the pure package when compiling fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler, a compile error: the pure build serves
            for path in self.get_outputs():
                if os.path.exists(path):
                    os.remove(path)
            say(f"pure Python build: compiling the core failed ({type(e).__name__}: {e})")


def ext_modules() -> list[Any]:
    """mypyc's extensions for COMPILED_MODULES, or none (with the reason why)."""
    reason = pure_reason()
    if reason is None:
        try:
            from mypyc.build import mypycify
        except ImportError:
            reason = "mypyc is not installed"
        else:
            try:
                exts: list[Any] = mypycify(COMPILED_MODULES, opt_level="3")
            except Exception as e:  # mypyc itself failed: keep the pure modules
                reason = f"mypyc failed ({type(e).__name__}: {e})"
            else:
                say("compiling the core with mypyc")
                return exts
    say(f"pure Python build: {reason}")
    return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": optional_build_ext})
