"""Sphinx configuration of the goroutines reference site (`make docs`).

Pages are Markdown (myst-parser); the API reference comes from the
docstrings (autodoc) of the source tree beside this folder, with links to the
highlighted source (viewcode). The pages of the examples are generated here,
one per directory of examples/gobyexample/, before Sphinx reads anything.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document this tree's goroutines, not whatever copy is installed.
sys.path.insert(0, str(ROOT / "src"))

_meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
project = "goroutines"
author = "the goroutines authors"
copyright = "the goroutines authors"
release = version = _meta["version"]

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "README.md", "examples/_toctree.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # ## headings get #anchors that [text](page.md#anchor) can use

html_theme = "furo"
html_title = f"goroutines {release}"
html_static_path: list[str] = []

# Docstrings write code in single backquotes (`await ch.recv()`): show it as code.
default_role = "literal"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
add_module_names = False
autodoc_default_options = {"undoc-members": False}
python_use_unqualified_type_names = True
# The API pages document the names where users import them (goroutines.Chan), the GMP page
# the runtime's functions where they live: viewcode keeps one back-link target per module, so
# it must not follow the re-exports (they get no [source] link; their modules are linked).
viewcode_follow_imported_members = False

# Every cross-reference must resolve (make docs runs with -n -W), except those to the standard
# library and typing, whose inventory (intersphinx) this offline build cannot download, and the
# type variables and internal helpers that appear in signatures.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(asyncio|collections\.abc|typing|types|typing_extensions|concurrent\.futures)\..*",
    ),
    (r"py:.*", r"(Any|Awaitable|Callable|Coroutine|Generator|Iterable|Iterator|NoReturn|Self)"),
    (r"py:.*", r"(T|T_co|T_contra|Buffer|Addr)"),
    (r"py:.*", r"(.*\.)?(T|Addr)"),
    (r"py:class", r"(int|float|str|bytes|bool|object|tuple|list|dict|None|BaseException)"),
    (r"py:class", r"(Exception|RuntimeError|TimeoutError|EOFError|OSError|type)"),
    # Internal awaitables and helpers returned by public functions.
    (r"py:class", r"(goroutines\.[\w.]+\.)?_\w+"),
    (r"py:class", r"goroutines\.(runtime\.)?select\.scase"),
    (r"py:class", r"goroutines\.sync\.Locker"),
    (r"py:class", r"goroutines\.net\.netFD"),
]

# Web links: this machine and CI reach no web site, so `make docs-linkcheck` checks them only
# when LINKCHECK_EXTERNAL=1; the links between pages are checked by docs/check_links.py.
if os.environ.get("LINKCHECK_EXTERNAL") != "1":
    linkcheck_ignore = [r"https?://.*"]
linkcheck_timeout = 10


# ---------------------------------------------------------------------------
# The examples: one generated page per examples/gobyexample/NAME/.

EXAMPLES = ROOT / "examples" / "gobyexample"
GENERATED = DOCS / "examples" / "gobyexample"
# Go by Example's order of the concurrency chapters; an example not listed goes last.
ORDER = [
    "goroutines",
    "channels",
    "channel-buffering",
    "channel-synchronization",
    "channel-directions",
    "select",
    "timeouts",
    "non-blocking-channel-operations",
    "closing-channels",
    "range-over-channels",
    "timers",
    "tickers",
    "worker-pools",
    "waitgroups",
    "rate-limiting",
    "atomic-counters",
    "mutexes",
    "stateful-goroutines",
    "context",
    "signals",
]


def _checker() -> ModuleType:
    """examples/check_examples.py, which knows how CI checks each example."""
    spec = importlib.util.spec_from_file_location(
        "check_examples", ROOT / "examples" / "check_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def example_names() -> list[str]:
    names = sorted(p.parent.name for p in EXAMPLES.glob("*/main.py"))
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def _title(main_py: Path) -> str:
    import ast

    doc = ast.get_docstring(ast.parse(main_py.read_text(encoding="utf-8"))) or main_py.parent.name
    return doc.splitlines()[0]


def _example_page(name: str, checker: ModuleType) -> str:
    how = checker.how_checked(name)
    title = _title(EXAMPLES / name / "main.py")
    rel = f"../../../examples/gobyexample/{name}"
    return f"""# {title}

A port of Go by Example's [{title}](https://gobyexample.com/{name}) chapter.
Run it from the repository's root with `python examples/gobyexample/{name}/main.py`
or `goroutines run examples/gobyexample/{name}/main.py`.

```{{literalinclude}} {rel}/main.py
:language: python
:caption: examples/gobyexample/{name}/main.py
```

What it prints ({"the output of one run" if name in checker.RULES else "every run"}):

```{{literalinclude}} {rel}/main.out
:language: text
:caption: examples/gobyexample/{name}/main.out
```

How CI checks it: {how}
"""


def generate_examples() -> None:
    """Write docs/examples/gobyexample/NAME.md for each example (only when it changed)."""
    checker = _checker()
    GENERATED.mkdir(parents=True, exist_ok=True)
    names = example_names()
    wanted = {f"{n}.md": _example_page(n, checker) for n in names}
    for f in GENERATED.glob("*.md"):
        if f.name not in wanted:
            f.unlink()
    for fname, text in wanted.items():
        path = GENERATED / fname
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    toc = "\n".join(f"gobyexample/{n}" for n in names)
    index = GENERATED.parent / "_toctree.md"
    text = f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n"
    if not index.exists() or index.read_text(encoding="utf-8") != text:
        index.write_text(text, encoding="utf-8")


generate_examples()


# ---------------------------------------------------------------------------
# Modules being written: their reference from the docstrings once they exist.


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class IfModule(SphinxDirective):
    """``{if-module} goroutines.context``: the content if the module exists, else a note.

    Pages of modules that other branches are still writing keep their autodoc
    directives in here, so that the build has no warning before the module
    lands and documents it from its docstrings after.
    """

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if module_exists(name):
            return self.parse_content_to_nodes()
        note = nodes.note()
        para = nodes.paragraph()
        para += nodes.Text(f"{name} is not in this build of goroutines yet. This page is written ")
        para += nodes.Text("from the API contract; the reference generated from the module's ")
        para += nodes.Text("docstrings appears here once it is.")
        note += para
        return [note]


# ---------------------------------------------------------------------------
# The docstrings are plain text written for people reading the source, not
# reStructuredText. Two habits of theirs would break the build or the layout:
# `*args` and `**kwargs` outside backquotes (RST emphasis), and indented blocks
# laid out by hand after a line ending in ":" (RST block quotes that then
# indent further). Both are rewritten here, in what Sphinx reads only.

_STARS = re.compile(r"(?<![`\w*])(\*{1,2}\w+)")


def _literal_stars(line: str) -> str:
    """`*args` and `**kwargs` outside backquotes become literals."""
    parts = line.split("`")
    for i in range(0, len(parts), 2):  # the even parts are outside backquotes
        parts[i] = _STARS.sub(r"``\1``", parts[i])
    return "`".join(parts)


def _preformatted_blocks(lines: list[str]) -> list[str]:
    """An indented block after a paragraph is laid out by hand: make it a literal block."""
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i + 2 >= len(lines) or not line.strip() or lines[i + 1].strip():
            continue
        following = lines[i + 2]
        indent = len(line) - len(line.lstrip())
        if not following.strip() or len(following) - len(following.lstrip()) <= indent:
            continue
        stripped = line.rstrip()
        if stripped.endswith("::"):
            continue
        if stripped.endswith(":"):
            out[-1] = stripped + ":"
        else:
            out += ["", " " * indent + "::"]
    return out


def clean_docstring(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    lines[:] = [_literal_stars(line) for line in lines]
    if what == "module":
        lines[:] = _preformatted_blocks(lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", clean_docstring)
    app.add_directive("if-module", IfModule)
    return {"parallel_read_safe": True}
