"""``mdh-creds configure``: edits only its own section, byte for byte elsewhere, checks values
first, migrates shadowing static keys, and leaves the AWS CLI resolving the profile through
``credential_process``."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.configloader import load_config

from conftest import World
from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.settings.awsconfig import find_shadowing_keys
from servers import dynamodb_client

ORIGINAL = """\
# AWS config kept by hand
[default]
region = eu-west-1
output = json

; single sign-on
[sso-session x]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile other]
region = us-west-2
s3 =
    max_concurrent_requests = 20
    max_queue_size = 1000
# about the next one

[profile mdh]
# keep me
region = us-east-1
mdh_retries = 1
unrelated = yes

[profile last]
output = text"""
CREDENTIALS = """\
# static keys
[default]
aws_access_key_id = AKIADEFAULTKEY
aws_secret_access_key = default-secret-value

[mdh]
aws_access_key_id = AKIASTATICMDH
aws_secret_access_key = static-secret-value-1234
aws_session_token = static-token-5678

[other]
aws_access_key_id = AKIAOTHERKEY
aws_secret_access_key = other-secret-value
"""
STATIC_VALUES = ("AKIASTATICMDH", "static-secret-value-1234", "static-token-5678")
# In process, the running program is this Python: configure writes its absolute path.
PYTHON_M = shlex.join([sys.executable, "-m", "mdh_creds"])
PROCESS = f"credential_process = {PYTHON_M} process --profile {{}}\n"


@pytest.fixture
def hand_made(world: World) -> World:
    world.config.write_text(ORIGINAL, encoding="utf-8")
    return world


def configure(world: World, *args: str, **env: str) -> str:
    result = world.main("configure", *args, **env)
    assert result.code == 0, result.err
    assert result.out == ""
    return result.err


def test_new_profile_is_appended_and_nothing_else_changes(hand_made: World) -> None:
    key_file = hand_made.account.key_file
    err = configure(
        hand_made,
        "--profile",
        "fresh",
        "--retries",
        "3",
        "--service-account",
        "sa-name",
        "--private-key-file",
        str(key_file),
    )
    assert err.splitlines()[0] == f"mdh-creds: wrote profile fresh in {hand_made.config}"
    assert hand_made.config.read_text() == ORIGINAL + "\n\n[profile fresh]\n" + (
        PROCESS.format("fresh")
        + "mdh_service_account = sa-name\n"
        + f"mdh_private_key_file = {key_file}\n"
        + "mdh_retries = 3\n"
        + "region = us-east-1\n"
    )


def test_existing_profile_keeps_its_comments_and_unrelated_keys(hand_made: World) -> None:
    configure(hand_made, "--profile", "mdh", "--retries", "4", "--service-account", "sa")
    expected = ORIGINAL.replace(
        "mdh_retries = 1\nunrelated = yes\n",
        "mdh_retries = 4\nunrelated = yes\n" + PROCESS.format("mdh") + "mdh_service_account = sa\n",
    )
    assert hand_made.config.read_text() == expected


def test_nested_values_stay_whole(hand_made: World) -> None:
    configure(hand_made, "--profile", "other", "--cache", "file")
    expected = ORIGINAL.replace(
        "    max_queue_size = 1000\n",
        "    max_queue_size = 1000\n" + PROCESS.format("other") + "mdh_cache = file\n",
    )
    assert hand_made.config.read_text() == expected
    other = load_config(str(hand_made.config))["profiles"]["other"]
    assert other["s3"] == {"max_concurrent_requests": "20", "max_queue_size": "1000"}
    assert other["mdh_cache"] == "file"


def test_default_profile_uses_the_default_section(hand_made: World) -> None:
    configure(hand_made, "--profile", "default", "--timeout", "7")
    expected = ORIGINAL.replace(
        "output = json\n",
        "output = json\n" + PROCESS.format("default") + "mdh_timeout = 7\n",
    )
    assert hand_made.config.read_text() == expected


def test_existing_credential_process_is_kept_and_a_rerun_changes_nothing(world: World) -> None:
    # beside mdh_* keys, another program is a wrapper of mdh-creds (alone, it is refused)
    world.config.write_text(
        "[profile mdh]\r\ncredential_process = /opt/custom --x\r\nmdh_scope = a\r\n"
    )
    configure(world, "--profile", "mdh", "--retries", "2")
    expected = (
        "[profile mdh]\r\ncredential_process = /opt/custom --x\r\nmdh_scope = a\r\n"
        "mdh_retries = 2\r\nregion = us-east-1\r\n"
    )
    assert world.config.read_bytes().decode() == expected
    err = configure(world, "--profile", "mdh", "--retries", "2")
    assert "already up to date" in err
    assert world.config.read_bytes().decode() == expected


@pytest.mark.parametrize(
    "args",
    [
        ("--profile", "mdh", "--retries", "abc"),
        ("--profile", "mdh", "--token-url", "http://example.com/token"),
        ("--profile", "mdh", "--service-account", "two\nlines"),
        ("--profile", "a]b"),
        ("--profile", "with space"),
        ("--profile", "new\nline"),
    ],
    ids=["retries", "http-url", "newline-value", "bracket", "space", "newline-name"],
)
def test_bad_input_writes_nothing(hand_made: World, args: tuple[str, ...]) -> None:
    result = hand_made.main("configure", *args)
    assert result.code == 3
    assert result.err.startswith("mdh-creds: invalid ")
    assert result.err.count("\n") == 1, result.err
    assert hand_made.config.read_bytes() == ORIGINAL.encode()
    assert sorted(p.name for p in hand_made.config.parent.iterdir()) == ["config", "credentials"]


def test_new_file_is_private_and_an_existing_one_keeps_its_mode(world: World) -> None:
    fresh = world.tmp / "new-folder" / "aws" / "config"
    configure(world, "--profile", "mdh", AWS_CONFIG_FILE=str(fresh))
    assert fresh.read_text() == "[profile mdh]\n" + PROCESS.format("mdh") + "region = us-east-1\n"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    world.config.chmod(0o640)
    configure(world, "--profile", "mdh")
    assert stat.S_IMODE(world.config.stat().st_mode) == 0o640
    assert sorted(p.name for p in world.config.parent.iterdir()) == ["config", "credentials"]


def test_shadowing_keys_warn_without_migrate(world: World) -> None:
    world.credentials_file.write_text(CREDENTIALS)
    assert find_shadowing_keys(world.env(), "mdh") == [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ]
    err = configure(world, "--profile", "mdh")
    warning = err.splitlines()[1]
    assert warning.startswith("mdh-creds: warning: [mdh] in ")
    assert "win over credential_process" in warning and "--migrate" in warning
    assert not any(value in err for value in STATIC_VALUES)
    assert world.credentials_file.read_text() == CREDENTIALS


def test_migrate_removes_the_keys_and_keeps_a_backup(world: World) -> None:
    world.credentials_file.write_text(CREDENTIALS)
    err = configure(world, "--profile", "mdh", "--migrate")
    assert not any(value in err for value in STATIC_VALUES)
    assert world.credentials_file.read_text() == CREDENTIALS.replace(
        "[mdh]\naws_access_key_id = AKIASTATICMDH\naws_secret_access_key = "
        "static-secret-value-1234\naws_session_token = static-token-5678\n\n",
        "",
    )
    (backup,) = world.credentials_file.parent.glob("credentials.mdh-creds-backup-*")
    assert backup.read_text() == CREDENTIALS
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert str(backup) in err
    assert find_shadowing_keys(world.env(), "mdh") == []
    again = configure(world, "--profile", "mdh", "--migrate")
    assert "no static keys for [mdh]" in again
    assert len(list(world.credentials_file.parent.glob("credentials.mdh-creds-backup-*"))) == 1


def test_migrate_keeps_a_section_that_holds_other_keys(world: World) -> None:
    world.credentials_file.write_text(
        "[mdh]\n# note\naws_access_key_id = AKIASTATICMDH\nregion = eu-west-1\n"
        "aws_secret_access_key = static-secret-value-1234\n"
    )
    configure(world, "--profile", "mdh", "--migrate")
    assert world.credentials_file.read_text() == "[mdh]\n# note\nregion = eu-west-1\n"


def aws_configure_list(world: World) -> str:
    venv_bin = Path(sys.executable).parent
    env = world.env(PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        [str(venv_bin / "aws"), "configure", "list", "--profile", world.profile],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_aws_cli_uses_credential_process_after_migration(world: World) -> None:
    world.credentials_file.write_text(CREDENTIALS)
    configure(world, "--profile", "mdh")
    assert "shared-credentials-file" in aws_configure_list(world)
    configure(world, "--profile", "mdh", "--migrate")
    listed = aws_configure_list(world)
    assert "custom-process" in listed, listed
    assert world.emulator.count("exchange") == 1


def test_create_table_is_idempotent(
    world: World, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(world.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(world.credentials_file))
    monkeypatch.setenv(GUARD_VARIABLE, "")  # restored after the test: aws_client sets it
    args = ("--profile", "mdh", "--create-table", "--dynamodb-table", "mdh-configure-test")
    err = configure(world, *args, AWS_PROFILE="", **moto.env)
    assert err.splitlines()[-2] == "mdh-creds: created table mdh-configure-test"
    err = configure(world, *args, AWS_PROFILE="", **moto.env)
    assert err.splitlines()[-2] == "mdh-creds: table mdh-configure-test already exists"
    table = dynamodb_client(moto.url).describe_table(TableName="mdh-configure-test")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_status_warns_about_shadowing_static_keys(world: World) -> None:
    world.credentials_file.write_text(
        "[mdh]\naws_access_key_id = AKIAOLDPASTEDKEY0001\naws_secret_access_key = oldPastedSecret\n"
    )
    result = world.main("status")
    assert "win over credential_process" in result.out
    assert "--migrate" in result.out
    assert "oldPastedSecret" not in result.out
    report = json.loads(world.main("status", "--json").out)
    assert len([w for w in report["warnings"] if "win over credential_process" in w]) == 1


# --- configure writes only files botocore reads as we do -------------------------------------


def botocore_profile(world: World, name: str) -> dict[str, Any]:
    return dict(load_config(str(world.config))["profiles"][name])


@pytest.mark.parametrize(
    "header", ["[profile  mdh]", '[profile "mdh"]', "[profile\tmdh]", "[profile 'mdh']"]
)
def test_the_section_botocore_reads_is_the_one_edited(world: World, header: str) -> None:
    """A header botocore takes for profile mdh is edited in place: no second section appended
    (it would hide the first from botocore, or be hidden by it)."""
    world.config.write_text(f"{header}\nregion = eu-west-1\n")
    configure(world, "--profile", "mdh", "--retries", "3")
    text = world.config.read_text()
    assert text.count("[") == 1
    assert text.startswith(f"{header}\nregion = eu-west-1\n")
    profile = botocore_profile(world, "mdh")
    assert profile["mdh_retries"] == "3"
    assert profile["credential_process"] == f"{PYTHON_M} process --profile mdh"
    assert profile["region"] == "eu-west-1"


@pytest.mark.parametrize(
    "layout",
    [
        "[profile default]\nregion = a\n\n[default]\nregion = b\n",
        "[default]\nregion = b\n\n[profile default]\nregion = a\n",
    ],
)
def test_default_goes_where_botocore_reads_default(world: World, layout: str) -> None:
    world.config.write_text(layout)
    configure(world, "--profile", "default", "--timeout", "7")
    profile = botocore_profile(world, "default")
    assert profile["mdh_timeout"] == "7"
    assert profile["region"] == ("b" if layout.startswith("[profile") else "a")


@pytest.mark.parametrize(
    "broken",
    [
        "[profile mdh]\nregion = a\n\n[profile mdh]\nregion = b\n",
        "[profile mdh]\nregion = a\nregion = b\n",
        "[profile mdh]\nregion = a\nnot a key line\n",
    ],
)
def test_a_file_botocore_refuses_is_refused_and_kept(world: World, broken: str) -> None:
    world.config.write_text(broken)
    for args in (["configure", "--profile", "mdh", "--retries", "3"], ["process"], ["status"]):
        result = world.main(*args)
        assert result.code == 3, result.err
        assert "cannot be parsed" in result.err and "botocore refuses" in result.err
        assert len(result.err.splitlines()) == 1
    assert world.config.read_text() == broken
