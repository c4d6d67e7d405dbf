"""mkdocs hook: the README, one guide page per `## ` section, so the site and the README never disagree.

The README's introduction (up to its first `## `) is the home page; every section becomes
`guide/<slug>.md` with its heading promoted to the page title, listed under "Guide" in the order of the
README.
"""

import pathlib
import re

from mkdocs.structure.files import File
from mkdocs.structure.nav import Section
from mkdocs.structure.pages import Page

README = pathlib.Path(__file__).parents[1] / "README.md"


def _sections() -> tuple[str, list[tuple[str, str, str]]]:
    """The introduction, and `(title, path, markdown)` of each section."""
    intro, *parts = re.split(r"(?m)^## ", README.read_text())
    sections = []
    for part in parts:
        title = part.split("\n", 1)[0].strip()
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower().replace("`", "")).strip("-")
        sections.append((title.replace("`", ""), f"guide/{slug}.md", "# " + part))
    return intro, sections


def on_files(files, config):
    intro, sections = _sections()
    files.append(File.generated(config, "index.md", content=intro))
    for _, path, markdown in sections:
        files.append(File.generated(config, path, content=markdown))
    return files


def on_nav(nav, config, files):
    _, sections = _sections()
    pages = [Page(title, files.get_file_from_path(path), config) for title, path, _ in sections]
    guide = Section("Guide", pages)
    for page in pages:
        page.parent = guide
    nav.items.insert(1, guide)
    nav.pages[1:1] = pages
    return nav
