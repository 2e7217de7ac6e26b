"""Read one profile of the AWS config file the way botocore does, without importing botocore.

Light: the cache-hit fast path imports it.
"""

from __future__ import annotations

from mdh_creds.settings import ini


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

    Read with the line rules of ``configparser.RawConfigParser`` (``settings.ini``), repeated
    sections merged, without importing it: this runs on every cache hit.
    """
    sections = read_sections(text.splitlines(), origin)
    for name in [f"profile {profile}"] + (["default"] if profile == "default" else []):
        if name in sections:
            values = sections[name]
            return {key: "\n".join(lines).strip() for key, lines in values.items()}
    return None


def read_sections(lines: list[str], origin: str) -> dict[str, dict[str, list[str]]]:
    """Every section's keys with their value lines; a stray line is a ``ConfigError``."""
    sections: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] = {}
    key = ""
    for index, kind, name, value in ini.read_lines(lines):
        if kind == ini.SECTION:
            section = sections.setdefault(name, {})
        elif kind == ini.KEY:
            key, section[name] = name, [value]
        elif kind in (ini.CONTINUATION, ini.BLANK):
            section[key].append(value)
        else:
            what = "is not 'key = value'" if sections else "is outside any [section]"
            _fail(origin, index + 1, what)
    return sections


def _fail(origin: str, number: int, what: str) -> None:
    from mdh_creds.errors import ConfigError  # only for a broken file: the hit path stays lean

    raise ConfigError(f"the AWS config file {origin} cannot be parsed: line {number} {what}")
