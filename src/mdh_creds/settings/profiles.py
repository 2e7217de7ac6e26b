"""Read the AWS config file's profiles exactly as botocore does, without importing botocore.

botocore (``configloader.raw_config_parse``, then ``build_profile_map``) reads the file with a
strict ``configparser.RawConfigParser``: a repeated section, a repeated key in one section, or a
line that is neither a header nor a key refuses the whole file; ``[DEFAULT]``'s keys reach every
section; a value that starts on the line after its key is a nested map, each of whose lines must
hold ``=``. A section whose name starts with ``profile`` is the profile ``shlex.split(name)[1]``
when that split gives exactly two words, so ``[profile  mdh]`` and ``[profile "mdh"]`` are both
profile mdh; ``[default]`` is profile default; when two sections name one profile, the later one
wins whole. ``tests/test_profiles.py`` holds this reader against botocore's on random files.

Light: the cache-hit fast path imports it (``shlex`` only for a section name with quotes or
backslashes).
"""

from __future__ import annotations

import os

from mdh_creds.settings import ini

DEFAULT_SECTION = "DEFAULT"  # configparser's default_section
Value = str | dict[str, str]
Config = dict[str, dict[str, Value]]


def load_profile(path: str, profile: str) -> dict[str, str] | None:
    """The keys of the profile in an AWS config file; None if it or the file is absent."""
    text = _read_file(path)
    return None if text is None else parse_profile(text, profile, origin=str(path))


def load_profiles(path: str) -> dict[str, dict[str, str]]:
    """Every profile of an AWS config file with its plain keys, in file order (none when the
    file is absent); ``ConfigError`` when botocore would refuse the file."""
    text = _read_file(path)
    if text is None:
        return {}
    config = read_config(text, str(path))
    return {
        name: {key: value for key, value in config[section].items() if isinstance(value, str)}
        for name, section in profile_sections(config).items()
    }


def _read_file(path: str) -> str | None:
    if not os.path.isfile(path):  # botocore: not a regular file (a FIFO too) is no config
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        from mdh_creds.errors import ConfigError

        raise ConfigError(f"cannot read the AWS config file {path}: {exc}") from None


def parse_profile(text: str, profile: str, *, origin: str = "AWS config") -> dict[str, str] | None:
    """The plain (not nested) values of ``profile`` as botocore reads them; None if absent.

    ``ConfigError`` when botocore would refuse the file."""
    config = read_config(text, origin)
    section = profile_sections(config).get(profile)
    if section is None:
        return None
    return {key: value for key, value in config[section].items() if isinstance(value, str)}


def profile_section(text: str, profile: str, *, origin: str = "AWS config") -> str | None:
    """The name of the section botocore reads ``profile`` from (None when there is none)."""
    return profile_sections(read_config(text, origin)).get(profile)


def profile_sections(config: Config) -> dict[str, str]:
    """Profile name -> the section it is read from (``build_profile_map``: the later wins)."""
    found: dict[str, str] = {}
    for section in config:
        if section.startswith("profile"):
            name = profile_name(section)
            if name is not None:
                found[name] = section
        elif section == "default":
            found["default"] = section
    return found


def profile_name(section: str) -> str | None:
    """botocore's ``_parse_section``: the second of exactly two shell words, else None."""
    if any(ch in section for ch in "'\"\\"):
        import shlex

        try:
            words = shlex.split(section)
        except ValueError:  # an unclosed quote or a trailing backslash
            return None
    else:  # shlex's whitespace is space, tab, CR and LF; a line holds neither CR nor LF
        words = [word for word in section.replace("\t", " ").split(" ") if word]
    return words[1] if len(words) == 2 else None


def read_config(text: str, origin: str) -> Config:
    """Every section (``[DEFAULT]`` folded in) with its values: ``raw_config_parse``."""
    defaults, sections = read_sections(ini.split_text(text), origin)
    config: Config = {}
    for name, keys in sections.items():
        merged = {**defaults, **keys}
        config[name] = {key: _value(lines, origin) for key, lines in merged.items()}
    return config


def _value(lines: list[str], origin: str) -> Value:
    value = "\n".join(lines).rstrip()
    if not value.startswith("\n"):
        return value
    nested: dict[str, str] = {}
    for raw in value.splitlines():  # botocore's _parse_nested splits with str.splitlines
        line = raw.strip()
        if line:
            key, sep, rest = line.partition("=")
            if not sep:
                _fail(origin, 0, "holds a nested value with a line that is not 'key = value'")
            nested[key.strip()] = rest.strip()
    return nested


def read_sections(
    lines: list[str], origin: str
) -> tuple[dict[str, list[str]], dict[str, dict[str, list[str]]]]:
    """``[DEFAULT]``'s keys and every other section's, with their value lines, as a strict
    ``RawConfigParser`` reads them; ``ConfigError`` where it raises."""
    defaults: dict[str, list[str]] = {}
    sections: dict[str, dict[str, list[str]]] = {}
    section, name, key, seen = defaults, "", "", set()
    for index, kind, found, value in ini.read_lines(lines):
        if kind == ini.SECTION:
            if found in sections:
                _fail(origin, index + 1, f"repeats the section [{found!r}]: merge the two")
            name, key = found, ""
            section = defaults if found == DEFAULT_SECTION else sections.setdefault(found, {})
        elif kind == ini.KEY:
            if (name, found) in seen:
                _fail(origin, index + 1, f"repeats the key {found!r} in [{name!r}]")
            seen.add((name, found))
            key, section[found] = found, [value]
        elif kind in (ini.CONTINUATION, ini.BLANK):
            section[key].append(value)
        else:
            what = "is not 'key = value'" if name else "is outside any [section]"
            _fail(origin, index + 1, what)
    return defaults, sections


def _fail(origin: str, number: int, what: str) -> None:
    from mdh_creds.errors import ConfigError  # only for a broken file: the hit path stays lean

    where = f"line {number} " if number else ""
    raise ConfigError(
        f"the AWS config file {origin} cannot be parsed: {where}{what} "
        "(botocore refuses such a file too)"
    )
