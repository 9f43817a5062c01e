"""Check every link between the pages of the built site, offline: `make docs-linkcheck`.

    python docs/check_links.py docs/_build/html

Sphinx's own checks (make docs runs with -n -W) cover the cross-references it
resolves; this also covers what ends up in the HTML: every relative `href` and
`src` of every page must name a file of the site, and every `#anchor` an `id`
in that file. Web links (http:, https:, mailto:) are not followed: this machine
and CI reach no web site (`LINKCHECK_EXTERNAL=1 make docs-linkcheck` has Sphinx's
linkcheck visit them where the web is reachable).
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The links and the ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src"):
                self.links.append(value)


def parse(path: Path, cache: dict[Path, Page]) -> Page:
    if path not in cache:
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        cache[path] = page
    return cache[path]


def check(root: Path) -> list[str]:
    """Every broken internal link of the site under root, as 'page: link (why)'."""
    root = root.resolve()
    cache: dict[Path, Page] = {}
    problems = []
    pages = sorted(root.rglob("*.html"))
    if not pages:
        return [f"{root}: no HTML pages (run `make docs` first)"]
    for page_path in pages:
        page = parse(page_path, cache)
        for link in page.links:
            url = urlsplit(link)
            if url.scheme or url.netloc or link.startswith("//"):
                continue  # a web link (or mailto:, data:, ...)
            target = page_path if not url.path else (page_path.parent / unquote(url.path))
            target = target.resolve()
            where = f"{page_path.relative_to(root)}: {link}"
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root):
                problems.append(f"{where} (leaves the site)")
                continue
            if not target.is_file():
                problems.append(f"{where} (no such file)")
                continue
            anchor = unquote(url.fragment)
            if anchor and target.suffix == ".html" and anchor not in parse(target, cache).ids:
                problems.append(f"{where} (no #{anchor} in {target.relative_to(root)})")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    problems = check(root)
    for p in problems:
        print(p)
    npages = len(list(root.rglob("*.html")))
    print(f"{npages} pages, {len(problems)} broken internal links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
