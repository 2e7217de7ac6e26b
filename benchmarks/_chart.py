"""``chart.png``: one panel per measured row, our median beside the baseline median.

Rows measure different things (milliseconds per process, microseconds per call), so each panel
has its own axis. Crowd rows without a baseline show the median and p95 latency instead.
"""

from __future__ import annotations

from pathlib import Path

from _report import Row

OURS_COLOR = "#1f6fb4"
BASE_COLOR = "#b0b0b0"


def _bars(row: Row) -> tuple[list[str], list[float], list[str], str]:
    scale, unit = {
        "s/call": (1e6, "µs per call"),
        "req": (1.0, "DynamoDB requests per machine"),
    }.get(row.unit, (1000.0, "ms"))
    assert row.ours is not None
    if row.baseline is not None:
        values = [row.baseline * scale, row.ours * scale]
        names = [row.baseline_label or "baseline", "mdh-creds"]
        return names, values, [BASE_COLOR, OURS_COLOR], unit
    p95 = float(row.details["latency"]["p95"])
    return ["p95", "median"], [p95 * scale, row.ours * scale], [BASE_COLOR, OURS_COLOR], unit


def _title(row: Row) -> str:
    verdict = {True: "met", False: "MISSED", None: ""}[row.met]
    ratio = f"  ratio {row.ratio:.2f}x" if row.ratio is not None else ""
    return f"{row.label}{ratio}  (target {row.target}) {verdict}".strip()


def draw(rows: list[Row], path: Path) -> None:
    """Write the chart; rows without a median (skipped, n/a, failed) are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.status == "ok" and r.ours is not None]
    if not shown:
        return
    figure, axes = plt.subplots(len(shown), 1, figsize=(10, 1.5 * len(shown) + 0.6), squeeze=False)
    for axis, row in zip(axes[:, 0], shown, strict=True):
        labels, values, colors, unit = _bars(row)
        bars = axis.barh(labels, values, color=colors)
        axis.bar_label(bars, labels=[f"{v:,.2f}" for v in values], padding=3, fontsize=8)
        axis.set_title(_title(row), fontsize=9, loc="left")
        axis.set_xlabel(unit, fontsize=8)
        axis.set_xlim(0, max(values) * 1.25)
        axis.tick_params(labelsize=8)
    figure.suptitle("mdh-creds benchmark: medians (ours vs baseline)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
