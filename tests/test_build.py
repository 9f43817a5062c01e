"""Which build is under test: the compiled core or the pure source (README, "Two builds")."""

from __future__ import annotations

import os
import sys
import sysconfig

import goroutines
from goroutines.runtime import chan, proc, program


def test_compiled_says_which_build_runs() -> None:
    compiled = not proc.__file__.endswith(".py")
    assert goroutines.COMPILED is compiled
    assert chan.__file__.endswith(".py") is not compiled  # the core is compiled whole
    assert program.__file__.endswith(".py")  # what users' code calls into stays Python
    assert goroutines.__file__.endswith(".py")


def test_the_build_ci_asked_for() -> None:
    # CI names the build it expects, so that a silent fall back to the pure
    # build (no compiler, a mypyc error) fails instead of passing unnoticed.
    if os.environ.get("GOROUTINES_EXPECT_PURE") == "1":
        assert not goroutines.COMPILED
    if os.environ.get("GOROUTINES_EXPECT_COMPILED") == "1":
        assert goroutines.COMPILED
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        assert not goroutines.COMPILED, "free-threaded interpreters get the pure build"
    assert sys.version_info >= (3, 11)
