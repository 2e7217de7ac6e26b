"""The log format setting and the shape of one JSON log line. Light (no ``logging``): the
cache-hit fast path writes its ``cache hit`` line with it, the full command's log through
``cli.logs``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

FORMATS = ("text", "json")
ENV_VARIABLE = "MDH_LOG_FORMAT"


def chosen_format(flag: str | None, environ: Mapping[str, str]) -> str:
    """``--log-format``, else ``MDH_LOG_FORMAT``, else text; ``ValueError`` names a bad value."""
    value = (flag or environ.get(ENV_VARIABLE) or "text").strip().lower()
    if value not in FORMATS:
        source = "--log-format" if flag else ENV_VARIABLE
        raise ValueError(f"{source} must be text or json, not {value[:20]!r}")
    return value


def timestamp(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds % 1 * 1000):03d}Z"


def json_line(level: str, event: str, message: str, **fields: object) -> str:
    """One JSON log line, no newline. Not redacted here: ``cli.logs`` redacts what it writes."""
    document = {
        "time": timestamp(time.time()),
        "level": level,
        "event": event,
        "message": message,
        **fields,
    }
    return json.dumps(document, default=str)  # ASCII: no control character reaches a terminal
