"""The command's log on stderr: ``mdh-creds: LEVEL: message`` lines, or with ``--log-format json``
(``MDH_LOG_FORMAT=json``) one redacted JSON object per line for log pipelines.

A JSON line holds ``time`` (UTC, ms), ``level``, ``logger``, ``event`` (``exchange``, ``cache hit``,
``cache miss``, ``stale served``, ``lease wait``, ``takeover``, ``error``, ``command``; ``log`` for
any other record), ``message``, and the fields the event carries (``backend``, ``kind``,
``seconds``...). The text format shows warnings and errors; JSON shows INFO too (the events an
operator counts); ``--debug`` shows everything in either. Every line passes through the secret
registry (``redact``), whatever the format.
"""

from __future__ import annotations

import logging
from typing import TextIO

from mdh_creds.cli.logline import ENV_VARIABLE, FORMATS, chosen_format, json_line
from mdh_creds.redact import RedactingFilter, printable, redact

__all__ = ["ENV_VARIABLE", "FORMATS", "JsonFormatter", "chosen_format", "error_line", "setup"]

#: Record attributes a JSON line carries when a log call sets them (``extra=``).
EVENT_FIELDS = (
    "event",
    "backend",
    "kind",
    "state",
    "tier",
    "item",
    "seconds",
    "command",
    "exit_code",
)
_LOGGERS = ("mdh_creds", "urllib3")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: its event and fields, the message redacted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name) for name in EVENT_FIELDS[1:] if hasattr(record, name)}
        if record.exc_text:
            fields["exception"] = record.exc_text
        return redact(
            json_line(
                record.levelname,
                str(getattr(record, "event", "log")),
                record.getMessage(),
                logger=record.name,
                **fields,
            )
        )


def setup(log_format: str, debug: bool, stderr: TextIO) -> logging.Handler:
    """Send our log (and urllib3's with ``debug``) to ``stderr`` in ``log_format``."""
    handler = logging.StreamHandler(stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("mdh-creds: %(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    level = logging.DEBUG if debug else logging.INFO if log_format == "json" else logging.WARNING
    for name in _LOGGERS if debug else _LOGGERS[:1]:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
    logging.getLogger("mdh_creds").propagate = False
    return handler


def teardown(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)


def error_line(log_format: str, message: str, exit_code: int) -> str:
    """The one line a failed command prints last (redacted), in the chosen format."""
    shown = printable(redact(message))  # it may quote what a server sent
    if log_format == "json":
        return redact(json_line("ERROR", "error", shown, exit_code=exit_code)) + "\n"
    return f"mdh-creds: {shown}\n"
