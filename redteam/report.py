"""The suite's report: results tables, plots, ``report.md`` and ``report.html`` in one folder."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from redteam import excess, plots
from redteam.metrics import CellResult
from redteam.scorecard import (
    CAPTION,
    SCORECARD,
    GroupRow,
    cells_frame,
    groups_frame,
    zero_success_warnings,
)

PLOTS = {
    "infection_curves.png": "Share of honest agents infected at least once, by round.",
    "roc_curves.png": "Detector ROC curves: compromised against honest agent-rounds.",
    "harm_vs_strength.png": "Harm (the economy's welfare lost against the clean twin) against "
    "attack strength, with 95% t intervals over seeds.",
}


def _figures(results: Sequence[CellResult], rows: Sequence[GroupRow]) -> dict[str, object]:
    return {
        "infection_curves.png": plots.infection_curves(results),
        "roc_curves.png": plots.roc_curves(results),
        "harm_vs_strength.png": plots.harm_vs_strength(rows),
    }


def write_report(
    out: Path,
    title: str,
    results: Sequence[CellResult],
    rows: Sequence[GroupRow],
    context: dict[str, str],
) -> list[Path]:
    """Write every file of the report into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    cells = cells_frame(results)
    cells.to_csv(out / "cells.csv", index=False)
    groups_frame(rows).to_csv(out / "groups.csv", index=False)
    written += [out / "cells.csv", out / "groups.csv"]
    images = []
    for name, fig in _figures(results, rows).items():
        if fig is None:
            continue
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        images.append(name)
        written.append(out / name)
    headers = ["economy", "attack", "defense", "seeds", *(h for _, h in SCORECARD)]
    table = [
        [
            *row.group.split(" | ", 2),
            str(len(row.seeds)),
            *(row.estimates[m].short() for m, _ in SCORECARD),
        ]
        for row in rows
    ]
    warnings = zero_success_warnings(rows)
    placebo = excess.excess_over_placebo(cells) if len(cells) else []
    report = _markdown(title, context, headers, table, images, warnings, excess.markdown(placebo))
    (out / "report.md").write_text(report)
    html_report = _html(title, context, headers, table, images, warnings, excess.table(placebo))
    (out / "report.html").write_text(html_report)
    return [*written, out / "report.md", out / "report.html"]


def _markdown(
    title: str,
    context: dict[str, str],
    headers: list[str],
    table: list[list[str]],
    images: list[str],
    warnings: list[str],
    placebo: list[str],
) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in context.items()]
    lines += ["", CAPTION + ".", ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(r) + " |" for r in table]
    lines += placebo
    lines += [
        "",
        "Every metric of every cell: `cells.csv`; per group, with intervals: `groups.csv`.",
    ]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    for name in images:
        lines += ["", f"![{PLOTS[name]}]({name})", "", PLOTS[name]]
    return "\n".join(lines) + "\n"


def _html(
    title: str,
    context: dict[str, str],
    headers: list[str],
    table: list[list[str]],
    images: list[str],
    warnings: list[str],
    placebo: list[list[str]],
) -> str:
    e = html.escape
    items = "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in context.items())
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in table)
    warned = "".join(f"<li>{e(w)}</li>" for w in warnings)
    warned = f"<h2>Warnings</h2><ul>{warned}</ul>" if warnings else ""
    excess_table = ""
    if placebo:
        excess_head = "".join(f"<th>{e(h)}</th>" for h in excess.HEADERS)
        excess_body = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in placebo
        )
        excess_table = (
            f"<p>{e(excess.CAPTION)}</p><table><tr>{excess_head}</tr>{excess_body}</table>"
        )
    figures = "".join(
        f'<figure><img src="{e(n)}" alt="{e(PLOTS[n])}"><figcaption>{e(PLOTS[n])}</figcaption>'
        "</figure>"
        for n in images
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{style}</style></head><body><h1>{e(title)}</h1><ul>{items}</ul>"
        f"<p>{e(CAPTION)}.</p>"
        f"<table><tr>{head}</tr>{body}</table>{excess_table}{warned}{figures}</body></html>\n"
    )
