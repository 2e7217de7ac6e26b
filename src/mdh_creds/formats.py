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
_CMD_SAFE = re.compile(r"^[A-Za-z0-9+/=_.:,@-]*$")


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


def _sh_quote(value: str) -> str:
    import shlex  # only for exports: the fast path imports this module for process_json

    return shlex.quote(value)


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _powershell_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cmd_value(value: str) -> str:
    # cmd.exe has no quoting that is safe for every character: refuse rather than mangle.
    if not _CMD_SAFE.match(value):
        raise ValueError(
            "a value holds characters cmd.exe cannot take safely; use --format powershell"
        )
    return value


_LINE: dict[str, Callable[[str, str], str]] = {
    "env": lambda k, v: f"export {k}={_sh_quote(v)}",
    "env-no-export": lambda k, v: f"{k}={_sh_quote(v)}",
    "fish": lambda k, v: f"set -gx {k} {_fish_quote(v)};",
    "powershell": lambda k, v: f"$Env:{k} = {_powershell_quote(v)}",
    "windows-cmd": lambda k, v: f'set "{k}={_cmd_value(v)}"',
}


def to_export(creds: TemporaryCredentials, fmt: str, region: str | None, profile: str) -> str:
    """The text of ``mdh-creds export --format FMT``, ending with a newline."""
    if fmt == "json":
        data = json.loads(to_process_json(creds))
        if region:
            data["Region"] = region
        return json.dumps(data, indent=2) + "\n"
    if fmt == "ini":
        lines = [
            f"[{profile}]",
            f"aws_access_key_id = {creds.access_key_id}",
            f"aws_secret_access_key = {creds.secret_access_key}",
            f"aws_session_token = {creds.session_token}",
        ]
        lines += [f"region = {region}"] if region else []
        return "\n".join(lines) + "\n"
    render = _LINE[fmt]
    return "".join(render(k, v) + "\n" for k, v in to_environment(creds, region).items())
