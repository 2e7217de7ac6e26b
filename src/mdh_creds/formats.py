"""Render credentials: credential_process JSON, shell exports, an INI section, botocore metadata.

Light at import: the cache-hit fast path prints its document with ``process_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdh_creds.models import TemporaryCredentials

EXPORT_FORMATS = ("env", "env-no-export", "fish", "powershell", "windows-cmd", "json", "ini")
_CMD_SAFE = r"[A-Za-z0-9+/=_.:,@-]*"  # compiled on first use: not on the cache-hit path


def process_json(
    access_key_id: str,
    secret_access_key: str,
    session_token: str,
    expiration: str,
    account_id: str | None = None,
) -> str:
    """Exactly what botocore's ``credential_process`` reads (``Version`` is the integer 1);
    ``AccountId`` only when the profile names one (``aws_account_id``)."""
    document: dict[str, object] = {
        "Version": 1,
        "AccessKeyId": access_key_id,
        "SecretAccessKey": secret_access_key,
        "SessionToken": session_token,
        "Expiration": expiration,
    }
    if account_id:
        document["AccountId"] = account_id
    return json.dumps(document)


def to_process_json(creds: TemporaryCredentials, account_id: str | None = None) -> str:
    """The credential_process document for ``creds``."""
    from mdh_creds.clock import to_timestamp

    expiration = to_timestamp(creds.local_expires_at)
    return process_json(
        creds.access_key_id, creds.secret_access_key, creds.session_token, expiration, account_id
    )


def to_botocore_metadata(creds: TemporaryCredentials) -> dict[str, str]:
    """The dict a ``RefreshableCredentials`` refresh callback returns."""
    return {
        "access_key": creds.access_key_id,
        "secret_key": creds.secret_access_key,
        "token": creds.session_token,
        "expiry_time": creds.expires_at.isoformat(),
    }


def to_environment(creds: TemporaryCredentials, region: str | None) -> dict[str, str]:
    """The variables every AWS SDK reads, in a stable order."""
    from mdh_creds.clock import to_timestamp

    variables = {
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_SESSION_TOKEN": creds.session_token,
        "AWS_CREDENTIAL_EXPIRATION": to_timestamp(creds.local_expires_at),
    }
    if region:
        variables["AWS_REGION"] = region
        variables["AWS_DEFAULT_REGION"] = region
    return variables


def _writable(value: str, shell: str) -> str:
    """Refuse what no shell variable can hold: NUL (C strings end there) and lone surrogates
    (not Unicode, so not writable as UTF-8)."""
    if "\x00" in value:
        raise ValueError(f"a value holds a NUL character, which no {shell} variable can hold")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("a value holds a lone surrogate, which is not text: use --format json")
    return value


def quote_sh(value: str) -> str:
    """POSIX sh, bash, zsh, dash (XCU 2.2.2): inside ``'...'`` every character stands for itself
    and only ``'`` ends the string, so a quote is written ``'\\''`` (close, escaped, reopen)."""
    return "'" + _writable(value, "shell").replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    """fish (its manual, "Quotes"): inside ``'...'`` the only escapes are ``\\\\`` and
    ``\\'``; every other character, a newline or a lone backslash included, stands for itself."""
    escaped = _writable(value, "fish").replace("\\", "\\\\").replace("'", "\\'")
    return "'" + escaped + "'"


def quote_powershell(value: str) -> str:
    """A PowerShell expression for ``value``, in printable ASCII only.

    PowerShell's tokenizer (``ScanStringLiteral``, ``CharExtensions.IsSingleQuote``) ends a
    single-quoted string at ``'`` and at U+2018 to U+201B, two in a row standing for one. So
    printable ASCII runs go in single quotes with ``'`` doubled, and every other character is
    ``[char]0xHHHH`` (its UTF-16 code units), joined with ``+``: the four typographic quotes
    never appear raw, and neither does any non-ASCII byte, which Windows PowerShell may decode
    in a legacy code page (in cp1252 the UTF-8 byte 0x91 of a harmless letter is U+2018). The
    first operand is always a string, so ``+`` concatenates.
    """
    parts: list[str] = []
    run = ""
    for ch in _writable(value, "PowerShell"):
        if " " <= ch <= "~":
            run += "''" if ch == "'" else ch
            continue
        if run or not parts:
            parts.append(f"'{run}'")
        run = ""
        data = ch.encode("utf-16-be")
        parts += [f"[char]0x{data[i : i + 2].hex().upper()}" for i in range(0, len(data), 2)]
    if run or not parts:
        parts.append(f"'{run}'")
    return " + ".join(parts)


def quote_cmd(value: str) -> str:
    """cmd.exe has no quoting that is safe for every character (``%``, ``^``, ``!`` with delayed
    expansion, ``"``...): only plainly safe values are written, anything else is refused."""
    if not re.fullmatch(_CMD_SAFE, value):  # match() would let a trailing newline through
        raise ValueError(
            "a value holds characters cmd.exe cannot take safely; use --format powershell"
        )
    return value


def _ini_value(value: str) -> str:
    """A value configparser (and so botocore) reads back unchanged on one line: it strips
    whitespace around a value and ends a line at CR or LF."""
    if value != _writable(value, "INI").strip() or "\n" in value or "\r" in value:
        raise ValueError("a value cannot be written into an INI file unchanged; use --format json")
    return value


_LINE: dict[str, Callable[[str, str], str]] = {
    "env": lambda k, v: f"export {k}={quote_sh(v)}",
    "env-no-export": lambda k, v: f"{k}={quote_sh(v)}",
    "fish": lambda k, v: f"set -gx {k} {quote_fish(v)};",
    "powershell": lambda k, v: f"$Env:{k} = {quote_powershell(v)}",
    "windows-cmd": lambda k, v: f'set "{k}={quote_cmd(v)}"',
}


def export_line(fmt: str, name: str, value: str) -> str:
    """One variable in a shell format: ``ValueError`` when the shell cannot hold ``value``."""
    return _LINE[fmt](name, value)


def to_export(creds: TemporaryCredentials, fmt: str, region: str | None, profile: str) -> str:
    """The text of ``mdh-creds export --format FMT``, ending with a newline."""
    if fmt == "json":
        data = json.loads(to_process_json(creds))
        if region:
            data["Region"] = region
        return json.dumps(data, indent=2) + "\n"
    if fmt == "ini":
        if not profile.isprintable() or "]" in profile:
            raise ValueError("the profile name cannot be an INI section header")
        lines = [
            f"[{profile}]",
            f"aws_access_key_id = {_ini_value(creds.access_key_id)}",
            f"aws_secret_access_key = {_ini_value(creds.secret_access_key)}",
            f"aws_session_token = {_ini_value(creds.session_token)}",
        ]
        lines += [f"region = {_ini_value(region)}"] if region else []
        return "\n".join(lines) + "\n"
    variables = to_environment(creds, region).items()
    return "".join(export_line(fmt, k, v) + "\n" for k, v in variables)
