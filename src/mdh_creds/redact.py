"""Keep what reaches a terminal safe: registered secrets masked, and control characters from the
network (escape sequences, bidi overrides, line breaks) escaped by ``printable``; the logging
filter does both to every record."""

from __future__ import annotations

import logging
import threading

_MASK = "****"
_MIN_LENGTH = 8
_secrets: set[str] = set()
_guard = threading.Lock()


def register_secret(*secrets: str | None) -> None:
    """Remember values that must never be shown (keys, assertions, tokens)."""
    with _guard:
        _secrets.update(s for s in secrets if s and len(s) >= _MIN_LENGTH)


def printable(text: str, limit: int | None = None) -> str:
    """``text`` with every character a terminal would act on escaped (``\\x1b``, ``\\u202e``,
    ``\\n``...), cut to ``limit`` characters: for anything a server sent that is echoed."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    return repr(ch)[1:-1]  # only called for characters that repr escapes


def redact(text: str) -> str:
    """``text`` with every registered secret masked (longest first, so parts do not leak)."""
    with _guard:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = printable(redact(message)), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
