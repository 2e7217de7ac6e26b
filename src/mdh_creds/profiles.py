"""Read one profile of the AWS config file the way botocore does, without importing botocore.

Light: the cache-hit fast path imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def select_profile(flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """``--profile``, else ``AWS_PROFILE``, else ``AWS_DEFAULT_PROFILE``, else ``default``."""
    for candidate in (
        flags.get("profile"),
        environ.get("AWS_PROFILE"),
        environ.get("AWS_DEFAULT_PROFILE"),
    ):
        if candidate:
            return str(candidate)
    return "default"


def config_file(environ: Mapping[str, str]) -> str:
    """``AWS_CONFIG_FILE``, else ``~/.aws/config``."""
    return os.path.expanduser(environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def load_profile(path: str, profile: str) -> dict[str, str] | None:
    """The keys of ``[profile NAME]`` (or ``[default]``) in an AWS config file; None if absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        from mdh_creds.errors import ConfigError

        raise ConfigError(f"cannot read the AWS config file {path}: {exc}") from exc
    return parse_profile(text, profile, origin=str(path))


def parse_profile(text: str, profile: str, *, origin: str = "AWS config") -> dict[str, str] | None:
    """Like botocore: ``[profile X]`` names profile X and ``[default]`` the default profile.

    Read exactly as ``configparser.RawConfigParser`` reads it (keys lowercased, ``=`` or ``:``,
    comment lines, continuation lines indented deeper than their key, repeated sections merged),
    without importing it: this runs on every cache hit.
    """
    reader = _IniReader(origin)
    for number, raw in enumerate(text.splitlines(), start=1):
        reader.feed(number, raw)
    for name in [f"profile {profile}"] + (["default"] if profile == "default" else []):
        if name in reader.sections:
            values = reader.sections[name]
            return {key: "\n".join(lines).strip() for key, lines in values.items()}
    return None


class _IniReader:
    """The line rules of ``configparser`` (CPython's ``RawConfigParser._read``)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.sections: dict[str, dict[str, list[str]]] = {}
        self._section: dict[str, list[str]] | None = None
        self._option: str | None = None
        self._indent = 1 << 30

    def feed(self, number: int, raw: str) -> None:
        value = raw.strip()
        if value[:1] in ("#", ";"):
            return
        if not value:
            if self._section is not None and self._option:
                self._section[self._option].append("")
            return
        indent = len(raw) - len(raw.lstrip())
        if self._section is not None and self._option and indent > self._indent:
            self._section[self._option].append(value)
            return
        self._indent = indent
        close = value.rfind("]")
        if value.startswith("[") and close > 1:
            self._section, self._option = self.sections.setdefault(value[1:close], {}), None
        elif self._section is None:
            self._fail(number, "is outside any [section]")
        else:
            self._option = self._assign(self._section, value, number)

    def _assign(self, section: dict[str, list[str]], line: str, number: int) -> str:
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key = line[:cut].strip().lower() if cut >= 0 else ""
        if not key:
            self._fail(number, "is not 'key = value'")
        section[key] = [line[cut + 1 :].strip()]
        return key

    def _fail(self, number: int, what: str) -> None:
        from mdh_creds.errors import ConfigError  # only for a broken file: the hit path stays lean

        raise ConfigError(
            f"the AWS config file {self.origin} cannot be parsed: line {number} {what}"
        )
