"""Edit AWS config and credentials files line by line, keeping every other byte as it was.

A file is a list of lines with their own endings. A section runs from its header to the next
header; a key line holds ``=`` or ``:``; the lines indented deeper than it that follow are its
continuation (nested values such as ``s3 =``). Lines are read the way ``configparser`` reads
them, but nothing is rebuilt from a model: comments, blank lines, the spelling of other keys and
line endings stay byte for byte. Files are replaced atomically.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mdh_creds import persist
from mdh_creds.errors import ConfigError
from mdh_creds.settings import ini

BACKUP_INFIX = ".mdh-creds-backup-"
# Static keys in the shared credentials file, which botocore prefers to credential_process.
STATIC_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass
class Entry:
    """One key: its line and its continuation lines, ``lines[start:end]``."""

    key: str
    start: int
    end: int


@dataclass
class Section:
    """A header at ``lines[start]``, its body up to ``lines[end]`` (the next header or EOF)."""

    name: str
    start: int
    end: int
    entries: list[Entry] = field(default_factory=list)


def split_lines(text: str) -> list[str]:
    """The lines with their endings, split only where Python's text files split them."""
    return _LINE.findall(text)


def parse_sections(lines: list[str]) -> list[Section]:
    """Every section with its keys (``settings.ini`` rules); lines before the first header and
    stray lines belong to none."""
    sections: list[Section] = []
    entry: Entry | None = None
    for index, kind, name, _value in ini.read_lines(lines):
        if kind == ini.SECTION:
            if sections:
                sections[-1].end = index
            sections.append(Section(name, index, len(lines)))
            entry = None
        elif kind == ini.KEY:
            entry = Entry(name, index, index + 1)
            sections[-1].entries.append(entry)
        elif kind == ini.CONTINUATION and entry is not None:
            entry.end = index + 1
        elif kind == ini.STRAY:
            entry = None
    return sections


def find_section(text: str, name: str) -> Section | None:
    return next((s for s in parse_sections(split_lines(text)) if s.name == name), None)


def section_names(text: str) -> list[str]:
    return [section.name for section in parse_sections(split_lines(text))]


def section_keys(text: str, name: str) -> list[str]:
    """The keys of the first section called ``name`` (empty if there is none)."""
    section = find_section(text, name)
    return [entry.key for entry in section.entries] if section else []


def _newline(lines: list[str]) -> str:
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _replaced(line: str, value: str, newline: str) -> str:
    """``line`` with a new value, keeping its indentation, key spelling and line ending."""
    cut = min(i for i in (line.find("="), line.find(":")) if i >= 0)
    return f"{line[:cut].rstrip()} {line[cut]} {value}{_ending(line) or newline}"


def _terminated(out: list[str], newline: str) -> None:
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += newline


def update_section(
    text: str, name: str, values: Mapping[str, str], defaults: Mapping[str, str] | None = None
) -> str:
    """``text`` with ``values`` set in section ``name`` (created at the end if missing).

    ``defaults`` are written only for keys the section does not hold yet. Keys that exist are
    rewritten where they are; new keys go after the section's last key.
    """
    lines = split_lines(text)
    newline = _newline(lines)
    section = next((s for s in parse_sections(lines) if s.name == name), None)
    present = {entry.key for entry in section.entries} if section else set()
    wanted = {k: v for k, v in (defaults or {}).items() if k not in present} | dict(values)
    new_lines = [f"{k} = {v}{newline}" for k, v in wanted.items() if k not in present]
    if section is None:
        out = list(lines)
        _terminated(out, newline)
        if out and out[-1].strip():
            out.append(newline)
        return "".join([*out, f"[{name}]{newline}", *new_lines])
    return "".join(_edit(lines, section, wanted, new_lines, newline))


def _edit(
    lines: list[str], section: Section, wanted: Mapping[str, str], new: list[str], newline: str
) -> list[str]:
    """The lines with the section's wanted keys rewritten and ``new`` after its last key."""
    replace = {e.start: e for e in section.entries if e.key in wanted}
    skip = {i for e in replace.values() for i in range(e.start + 1, e.end)}
    insert_at = section.entries[-1].end if section.entries else section.start + 1
    out: list[str] = []
    for index, line in enumerate([*lines, None]):
        if index == insert_at and new:
            _terminated(out, newline)
            out += new
        if line is None or index in skip:
            continue
        entry = replace.get(index)
        out.append(_replaced(line, wanted[entry.key], newline) if entry else line)
    return out


def remove_keys(text: str, name: str, keys: Collection[str]) -> str:
    """``text`` without ``keys`` in section ``name``; the section goes too once it has no key."""
    lines = split_lines(text)
    section = next((s for s in parse_sections(lines) if s.name == name), None)
    if section is None:
        return text
    doomed = [e for e in section.entries if e.key in keys]
    drop = {i for e in doomed for i in range(e.start, e.end)}
    if doomed and len(doomed) == len(section.entries):
        last = max(e.end for e in doomed)
        while last < section.end and not lines[last].strip():
            last += 1
        drop |= set(range(section.start, last))
    return "".join(line for index, line in enumerate(lines) if index not in drop)


def credentials_file_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


def read_text(path: Path) -> str | None:
    """The file's text with its line endings untouched; ``None`` if it does not exist."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:  # its cause holds bytes of the file, perhaps of a secret key
        raise ConfigError(f"cannot read {path}: it is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc


def write_atomic(path: Path, text: str) -> None:
    """Replace the file ``path`` names (through a symlink, as editors do) atomically, keeping its
    permission bits and owner (0600 when new); a missing folder is created 0700."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    persist.write_atomic(path, text.encode("utf-8"), keep=old)


def backup_file(path: Path) -> Path:
    """Copy ``path`` to ``<path>.mdh-creds-backup-<UTC time>`` (mode 0600, never overwritten)."""
    data = path.read_bytes()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for attempt in range(100):
        target = path.with_name(
            f"{path.name}{BACKUP_INFIX}{stamp}{f'-{attempt}' if attempt else ''}"
        )
        try:
            fd = os.open(target, flags, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(target, 0o600)
        return target
    raise ConfigError(f"cannot find a free backup name next to {path}")


def find_shadowing_keys(environ: Mapping[str, str], profile: str) -> list[str]:
    """Names of the static keys in ``[profile]`` of the shared credentials file that botocore
    would use instead of ``credential_process`` (empty when there is no access key id there).

    Only key names, never values. Raises ``ConfigError`` if the file exists but is unreadable.
    """
    text = read_text(credentials_file_path(environ))
    keys = section_keys(text or "", profile)
    if STATIC_KEYS[0] not in keys:
        return []
    return [key for key in STATIC_KEYS if key in keys]
