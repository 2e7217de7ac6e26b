"""``mdh-creds export``: every format, read back by the tool it is meant for (bash, fish,
configparser, json) or checked as text (PowerShell, cmd.exe), and quoting that survives hostile
values."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import World, need_shell
from mdh_creds.formats import to_export
from mdh_creds.models import TemporaryCredentials
from powershell_grammar import read_assignments

VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
PRINT = 'printf "%s\\n" ' + " ".join(f'"${name}"' for name in VARIABLES)


def expected_values(data: dict[str, str]) -> list[str]:
    region = data.get("Region", "")
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    return [data[key] for key in keys] + [region, region]


@pytest.fixture
def exported(world: World) -> dict[str, str]:
    result = world.main("export", "--format", "json")
    assert result.code == 0, result.err
    data: dict[str, str] = json.loads(result.out)
    return data


def export_text(world: World, fmt: str) -> str:
    result = world.main("export", "--format", fmt)
    assert result.code == 0, result.err
    assert result.err == ""
    return result.out


def run_shell(argv: list[str], cwd: Path) -> list[str]:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=30, check=False, env=shell_env(cwd)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


def shell_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    return {"HOME": str(home), **{k: os.environ[k] for k in keep if k in os.environ}}


def bash_reads(path: Path, exported_check: bool) -> list[str]:
    script = f'eval "$(cat "$1")"; {PRINT}'
    if exported_check:
        script += "; printenv AWS_ACCESS_KEY_ID || echo NOT-EXPORTED"
    return run_shell(["bash", "-c", script, "bash", str(path)], path.parent)


def fish_reads(path: Path) -> list[str]:
    fish = need_shell("fish")
    script = f"source '{path}'; {PRINT}; printenv AWS_ACCESS_KEY_ID"
    return run_shell([fish, "--no-config", "-c", script], path.parent)


def test_env_is_read_by_bash(world: World, exported: dict[str, str]) -> None:
    path = world.tmp / "creds.sh"
    path.write_text(export_text(world, "env"))
    lines = bash_reads(path, exported_check=True)
    assert lines == [*expected_values(exported), exported["AccessKeyId"]]


def test_env_no_export_sets_shell_variables_only(world: World, exported: dict[str, str]) -> None:
    text = export_text(world, "env-no-export")
    assert "export " not in text
    path = world.tmp / "creds.sh"
    path.write_text(text)
    assert bash_reads(path, exported_check=True) == [*expected_values(exported), "NOT-EXPORTED"]


def test_fish_is_read_by_fish(world: World, exported: dict[str, str]) -> None:
    path = world.tmp / "creds.fish"
    path.write_text(export_text(world, "fish"))
    assert fish_reads(path) == [*expected_values(exported), exported["AccessKeyId"]]


def test_json_parses(world: World, exported: dict[str, str]) -> None:
    assert exported["Version"] == 1
    assert set(exported) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "Region",
    }
    assert exported["Expiration"].endswith("Z")


def test_ini_is_read_by_configparser(world: World, exported: dict[str, str]) -> None:
    parser = configparser.ConfigParser()
    parser.read_string(export_text(world, "ini"))
    section = parser["mdh"]
    assert section["aws_access_key_id"] == exported["AccessKeyId"]
    assert section["aws_secret_access_key"] == exported["SecretAccessKey"]
    assert section["aws_session_token"] == exported["SessionToken"]
    assert section["region"] == "us-east-1"


def test_powershell_text(world: World, exported: dict[str, str]) -> None:
    lines = export_text(world, "powershell").splitlines()
    assert read_powershell(lines) == dict(zip(VARIABLES, expected_values(exported)))


def test_windows_cmd_text(world: World, exported: dict[str, str]) -> None:
    lines = export_text(world, "windows-cmd").splitlines()
    values = dict(zip(VARIABLES, expected_values(exported)))
    assert lines == [f'set "{name}={value}"' for name, value in values.items()]


def read_powershell(lines: list[str]) -> dict[str, str]:
    """``$Env:NAME = ...`` lines read with PowerShell's grammar (``powershell_grammar``)."""
    return read_assignments(lines)


HOSTILE = TemporaryCredentials(
    access_key_id="AKIA'quote\"double",
    secret_access_key="sec ret $HOME `touch pwned-backtick` $(touch pwned-dollar) \\ end\\",
    session_token="tok'en; touch pwned-semicolon; echo ''\\'' \t tab * ?",
    expires_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    issued_at=datetime(2030, 1, 2, 2, 4, 5, tzinfo=timezone.utc),
)
HOSTILE_VALUES = [
    HOSTILE.access_key_id,
    HOSTILE.secret_access_key,
    HOSTILE.session_token,
    "2030-01-02T03:04:05Z",
    "eu-west-1",
    "eu-west-1",
]


@pytest.mark.parametrize("fmt", ["env", "env-no-export", "fish"])
def test_hostile_values_round_trip_through_shells(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "creds"
    path.write_text(to_export(HOSTILE, fmt, "eu-west-1", "mdh"))
    lines = fish_reads(path)[:-1] if fmt == "fish" else bash_reads(path, exported_check=False)
    assert lines == HOSTILE_VALUES
    assert not list(tmp_path.glob("pwned*"))


def test_hostile_values_in_powershell_and_cmd() -> None:
    lines = to_export(HOSTILE, "powershell", "eu-west-1", "mdh").splitlines()
    assert list(read_powershell(lines).values()) == HOSTILE_VALUES
    with pytest.raises(ValueError, match="powershell"):
        to_export(HOSTILE, "windows-cmd", "eu-west-1", "mdh")
