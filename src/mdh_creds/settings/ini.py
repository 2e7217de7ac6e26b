"""The one reader of INI lines for the AWS config and credentials files.

It follows the line rules of ``configparser`` (CPython ``RawConfigParser._read``), which botocore
uses: comment lines start with ``#`` or ``;``; a header is ``[name]`` at the start of a line; a
key line holds ``=`` or ``:``, the key lowercased; a line indented deeper than the key line before
it continues that key's value; a blank line inside a value is kept as an empty line. Light:
the cache-hit fast path reads the profile through it (no configparser, no re).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SECTION, KEY, CONTINUATION, BLANK, STRAY = "section", "key", "continuation", "blank", "stray"
# One meaningful line: (index, kind, name of the header or key, value). A plain tuple: a
# NamedTuple costs a millisecond to define on the cache-hit path.
Line = tuple[int, str, str, str]


def header_of(stripped: str) -> str | None:
    """``configparser``'s ``\\[(?P<header>.+)\\]`` matched at the start of the stripped line."""
    last = stripped.rfind("]")
    return stripped[1:last] if stripped.startswith("[") and last > 1 else None


def key_of(stripped: str) -> tuple[str, str] | None:
    """``(key, value)`` split at the first ``=`` or ``:``; the key lowercased, both stripped."""
    cut = min((i for i in (stripped.find("="), stripped.find(":")) if i >= 0), default=-1)
    key = stripped[:cut].strip().lower() if cut >= 0 else ""
    return (key, stripped[cut + 1 :].strip()) if key else None


def read_lines(lines: Iterable[str]) -> Iterator[Line]:
    """The lines that mean something, classified. ``STRAY`` is a line that is neither a header
    nor a key (or a key before any header): the callers decide whether that is an error."""
    in_section, in_key, indent = False, False, 1 << 30
    for index, raw in enumerate(lines):
        stripped = raw.strip()
        if stripped[:1] in ("#", ";"):
            continue
        if not stripped:
            if in_key:
                yield index, BLANK, "", ""
            continue
        level = len(raw) - len(raw.lstrip())
        if in_key and level > indent:
            yield index, CONTINUATION, "", stripped
            continue
        indent, in_key = level, False
        header = header_of(stripped)
        pair = key_of(stripped)
        if header is not None:
            in_section = True
            yield index, SECTION, header, ""
        elif in_section and pair is not None:
            in_key = True
            yield index, KEY, pair[0], pair[1]
        else:
            yield index, STRAY, "", stripped
