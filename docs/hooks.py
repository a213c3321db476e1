"""mkdocs hooks: the suite reference is generated from the dataclasses that validate suites
(``redteam.schema``), and the figures the results show come from ``experiments/figures/``."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- generated: redteam.schema.suite_reference -->"


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
    if MARKER not in markdown:
        return markdown
    from redteam.schema import suite_reference

    return markdown.replace(MARKER, suite_reference())
