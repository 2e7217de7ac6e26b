"""PowerShell's grammar for what ``export --format powershell`` writes, to check it where
``pwsh`` cannot run: ``$Env:NAME = OPERAND [+ OPERAND]...`` where an operand is a single-quoted
string, read as PowerShell's tokenizer reads one (``ScanStringLiteral``: it ends at any of
``'`` U+2018 U+2019 U+201A U+201B, and two of them in a row stand for the second), or a
``[char]0xHHHH`` cast of one UTF-16 code unit."""

from __future__ import annotations

import re

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"  # CharExtensions.IsSingleQuote
_CHAR = re.compile(r"\[char\]0x([0-9A-Fa-f]{1,4})")
_ASSIGNMENT = re.compile(r"\$Env:([A-Za-z_][A-Za-z0-9_]*) = ")


def scan_string_literal(text: str, start: int) -> tuple[str, int]:
    """The value of the single-quoted string opening at ``text[start]``, and the index after
    its closing quote; ``ValueError`` when it never closes."""
    if text[start] not in SINGLE_QUOTES:
        raise ValueError("not a single-quoted string")
    index, out = start + 1, []
    while index < len(text):
        ch = text[index]
        if ch in SINGLE_QUOTES:
            if index + 1 < len(text) and text[index + 1] in SINGLE_QUOTES:
                out.append(text[index + 1])
                index += 2
                continue
            return "".join(out), index + 1
        out.append(ch)
        index += 1
    raise ValueError("the string never ends")


def read_expression(text: str) -> str:
    """The string ``text`` evaluates to; ``ValueError`` for anything beyond the grammar above,
    such as text left after a string ended early."""
    units: list[int] = []
    index = 0
    while True:
        cast = _CHAR.match(text, index)
        if cast:
            units.append(int(cast.group(1), 16))
            index = cast.end()
        else:
            value, index = scan_string_literal(text, index)
            units += _utf16(value)
        if index == len(text):
            break
        if not text.startswith(" + ", index):
            raise ValueError(f"unexpected text after an operand: {text[index:]!r}")
        index += 3
    data = b"".join(unit.to_bytes(2, "big") for unit in units)
    return data.decode("utf-16-be")


def _utf16(value: str) -> list[int]:
    data = value.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def read_assignments(lines: list[str]) -> dict[str, str]:
    """``$Env:NAME = EXPRESSION`` lines as name -> value."""
    found = {}
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if not match:
            raise ValueError(f"not an assignment: {line!r}")
        found[match.group(1)] = read_expression(line[match.end() :])
    return found
