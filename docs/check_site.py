"""The built site as a reader sees it: `python docs/check_site.py build/site` after `mkdocs build`.

Fails (exit status 1, one line per problem) when the home page or a notebook page shows no image (an
`<img>` whose source is an inline PNG or a file of the site), or when any page links to a page, file or
anchor of the site that does not exist. `--may-skip NAME` excuses the notebook page `notebooks/NAME/` from
showing an image (a notebook that skips its work, saying so, when data outside the repository is absent).
"""

import argparse
import base64
import binascii
import html.parser
import pathlib
import sys
import urllib.parse

SKIPPED_SCHEMES = ("http:", "https:", "mailto:", "data:", "javascript:")
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(html.parser.HTMLParser):
    """The images, links and element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])
        for name in ("href", "src"):
            if attributes.get(name) and tag in ("a", "img", "link", "script"):
                self.links.append(attributes[name])


def _parse(path: pathlib.Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _target(site: pathlib.Path, page: pathlib.Path, url: str) -> tuple[pathlib.Path | None, str]:
    """The file a relative link points to (None for a link out of the site) and its anchor."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme or parts.netloc:
        return None, ""
    if not parts.path:
        return page, parts.fragment
    base = site if parts.path.startswith("/") else page.parent  # the 404 page links from the site's root
    target = (base / urllib.parse.unquote(parts.path).lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


def _image_shown(site: pathlib.Path, page: pathlib.Path, source: str) -> bool:
    if source.startswith("data:image/png;base64,"):
        try:
            picture = base64.b64decode(source.split(",", 1)[1], validate=True)
        except binascii.Error:
            return False
        return picture.startswith(PNG) and len(picture) > 100  # a picture, not an empty placeholder
    target, _ = _target(site, page, source)
    return target is not None and target.is_file() and target.stat().st_size > 0


def check_site(site: pathlib.Path, may_skip: tuple[str, ...] = ()) -> list[str]:
    """Every problem of the built site at `site`, as one line each (an empty list when there is none);
    the notebook pages named in `may_skip` need not show an image."""
    site = site.resolve()
    pages = {path: _parse(path) for path in sorted(site.rglob("*.html"))}
    if site / "index.html" not in pages:
        return [f"{site}: no index.html (is this a built site?)"]
    problems = []
    notebooks = sorted((site / "notebooks").glob("*/index.html"))
    if not notebooks:
        problems.append(f"{site / 'notebooks'}: no notebook pages")
    problems += [
        f"--may-skip {name}: no such notebook page"
        for name in may_skip
        if not (site / "notebooks" / name).is_dir()
    ]
    with_figures = [site / "index.html", *(path for path in notebooks if path.parent.name not in may_skip)]
    for path in with_figures:
        if not any(_image_shown(site, path, source) for source in pages[path].images):
            problems.append(f"{path.relative_to(site)}: no image is shown")
    for path, page in pages.items():
        for url in page.links:
            if url.startswith(SKIPPED_SCHEMES):
                continue
            target, anchor = _target(site, path, url)
            if target is None:
                continue
            if not target.is_file() or not target.is_relative_to(site):
                problems.append(f"{path.relative_to(site)}: broken link {url!r}")
            elif anchor and target.suffix == ".html" and anchor not in pages[target].ids:
                problems.append(f"{path.relative_to(site)}: link {url!r} to a missing anchor")
    return problems


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("site", nargs="?", default="build/site", type=pathlib.Path)
    parser.add_argument("--may-skip", action="append", default=[], metavar="NAME")
    arguments = parser.parse_args()
    found = check_site(arguments.site, tuple(arguments.may_skip))
    for problem in found:
        print(problem)
    print(f"check_site: {len(found)} problem(s)")
    sys.exit(1 if found else 0)
