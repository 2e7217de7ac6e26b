"""Write the benchmark's table into the manual's Performance page (``docs/performance.md``),
between two marker lines, so the figures there are always the ones ``make bench`` produced
(never typed by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _report import Row, machine, notes, row_cells

START = "<!-- bench:start (written by make bench; do not edit by hand) -->"
END = "<!-- bench:end -->"


def markdown_table(rows: list[Row]) -> str:
    headers = ["row", "ours (median)", "baseline (median)", "ratio", "target", "met"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [cell.replace("|", "\\|") for cell in row_cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(rows: list[Row]) -> str:
    about: dict[str, Any] = machine()
    where = (
        f"Measured by `make bench` on {about.get('cpu_count', '?')} CPUs, "
        f"Python {about.get('python', '?')}, side by side in one run (medians; ratios of medians)."
    )
    extra = [f"- {line}" for line in notes(rows)]
    chart = "![benchmark chart](../benchmarks/chart.png)"  # from docs/
    return "\n".join([START, "", where, "", markdown_table(rows), "", *extra, "", chart, "", END])


def update_readme(path: Path, rows: list[Row]) -> bool:
    """Replace the marked section of ``path``; False when the markers are missing."""
    text = path.read_text(encoding="utf-8")
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        return False
    path.write_text(head + section(rows) + tail, encoding="utf-8")
    return True
