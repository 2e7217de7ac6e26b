"""Result rows, the printed tables and ``results.json``.

A ``Row`` is one line of the final table: our median against a baseline median, their ratio, the
target and whether it was met. Times are kept in seconds; the table shows milliseconds (or
microseconds per call). Text that reaches the output goes through ``scrub`` so no path of this
machine is written or printed.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

_PLACEHOLDERS: list[tuple[str, str]] = []
PACKAGES = ("boto3", "botocore", "awscli", "cryptography", "requests", "PyJWT", "keyring", "moto")


def hide_path(path: str | os.PathLike[str], placeholder: str) -> None:
    """Replace ``path`` by ``placeholder`` in everything printed or written from now on."""
    text = str(path)
    if text and text not in dict(_PLACEHOLDERS):
        _PLACEHOLDERS.append((text, placeholder))
        _PLACEHOLDERS.sort(key=lambda pair: -len(pair[0]))


def scrub(text: str) -> str:
    """``text`` without any registered path."""
    for path, placeholder in _PLACEHOLDERS:
        text = text.replace(path, placeholder)
    return text


def _scrub_tree(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_tree(v) for v in value]
    return value


@dataclass
class Row:
    """One measured comparison (or a skipped / failed one)."""

    key: str
    label: str
    unit: str = "s"
    ours: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    target: str = "-"
    limit: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)
    status: str = "ok"
    note: str = ""
    ours_text: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        if self.status != "ok":
            return None
        verdicts = list(self.checks.values())
        if self.limit is not None and self.ratio is not None:
            verdicts.append(self.ratio <= self.limit)
        return all(verdicts) if verdicts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "status": self.status,
            "unit": self.unit,
            "ours_median": self.ours,
            "baseline": self.baseline_label,
            "baseline_median": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "limit": self.limit,
            "checks": self.checks,
            "met": self.met,
            "note": self.note,
            "details": self.details,
            "samples": self.samples,
        }


def failed_row(key: str, label: str, status: str, note: str) -> Row:
    """A row that could not be measured (``skipped``, ``n/a`` or ``error``)."""
    return Row(key, label, status=status, note=note)


def show(value: float | None, unit: str) -> str:
    """A time for humans: ms for whole processes, µs for in-process calls."""
    if value is None:
        return "-"
    if unit == "s/call":
        return f"{value * 1e6:.3f} µs/call"
    if unit == "req":
        return f"{value:.2f} req/machine"
    return f"{value * 1000:.1f} ms"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def row_cells(row: Row) -> list[str]:
    if row.status != "ok":
        shown = row.note if row.status == "n/a" else f"{row.status}: {row.note}"
        return [row.label, scrub(shown), "-", "-", row.target, "-"]
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    ours = row.ours_text or show(row.ours, row.unit)
    return [row.label, ours, show(row.baseline, row.unit), ratio, row.target, _verdict(row.met)]


def render_table(headers: list[str], body: list[list[str]], limit: int = 60) -> str:
    """A plain aligned text table; cells longer than ``limit`` are cut."""
    body = [[c if len(c) <= limit else c[: limit - 3] + "..." for c in line] for line in body]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    rule = "  ".join("-" * w for w in widths)
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    head = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    return "\n".join([head, rule, *lines])


def final_table(rows: list[Row]) -> str:
    headers = ["row", "ours (median)", "baseline (median)", "ratio", "target", "met"]
    return render_table(headers, [row_cells(row) for row in rows])


def notes(rows: list[Row]) -> list[str]:
    """One line per row with something to explain (failures, skips, counts, missed targets)."""
    return [f"{row.label}: {scrub(row.note)}" for row in rows if row.note]


def machine() -> dict[str, Any]:
    """What the numbers depend on, without paths or host names."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "packages": versions,
        "load_average_at_end": list(load) if load else None,
    }


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """``results.json``: every raw sample and summary, paths scrubbed."""
    path.write_text(json.dumps(_scrub_tree(payload), indent=2, sort_keys=False) + "\n")


def say(text: str = "") -> None:
    """Print progress and tables (flushed, so a slow row shows where it is)."""
    print(scrub(text), flush=True)
    sys.stdout.flush()
