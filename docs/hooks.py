"""mkdocs hooks: the suite reference is generated from the dataclasses that validate suites
(``redteam.schema``), the map of the packages is the README's (one copy, so the two cannot
drift apart), and the figures the results show come from ``experiments/figures/``."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- generated: redteam.schema.suite_reference -->"
PACKAGES_MARKER = "<!-- generated: the README's map of the packages -->"
# The map's heading, a line of its own; the section runs to the next second-level heading.
PACKAGES_HEADING = re.compile(r"^## Map of the packages[ \t]*$", re.MULTILINE)
NEXT_HEADING = re.compile(r"^## ", re.MULTILINE)


def readme_package_map() -> str:
    """The README's map section, from under its heading to the next heading or the end (the
    section is a table: no fenced block in it could hold a "## " line)."""
    readme = (ROOT / "README.md").read_text()
    heading = PACKAGES_HEADING.search(readme)
    if heading is None:
        raise ValueError("README.md: no '## Map of the packages' section for docs/packages.md")
    section = readme[heading.end() :]
    following = NEXT_HEADING.search(section)
    return (section[: following.start()] if following else section).strip() + "\n"


def on_files(files: Files, config: dict) -> Files:
    for figure in sorted((ROOT / "experiments" / "figures").glob("*.png")):
        files.append(
            File(
                str(figure.relative_to(ROOT)),
                str(ROOT),
                config["site_dir"],
                config["use_directory_urls"],
            )
        )
    return files


def on_page_markdown(markdown: str, page, config: dict, files: Files) -> str:
    if PACKAGES_MARKER in markdown:
        markdown = markdown.replace(PACKAGES_MARKER, readme_package_map())
    if MARKER not in markdown:
        return markdown
    from redteam.schema import suite_reference

    return markdown.replace(MARKER, suite_reference())
