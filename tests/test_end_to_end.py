"""The whole flow through real tools: the AWS CLI v1 and boto3 run ``credential_process``, get
credentials the emulator minted as real moto IAM keys, and call STS as that IAM user."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import World
from mdh_creds.testing.minters import moto_iam_minter

ACCOUNT_ARN = "arn:aws:iam::123456789012:user/{}"


@pytest.fixture
def minted_world(world: World, moto: Any) -> World:
    world.emulator.minter = moto_iam_minter(moto.url)
    world.write_profile(
        credential_process=f"{sys.executable} -m mdh_creds process --profile {world.profile}"
    )
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    return world


def aws_cli() -> str:
    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("the AWS CLI v1 is not installed in this environment (test extra 'awscli')")
    return found


def test_aws_cli_gets_the_minted_identity(minted_world: World) -> None:
    done = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--profile", "mdh", "--output", "json"],
        env=minted_world.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert minted_world.emulator.count("exchange") == 1


def test_aws_cli_shows_our_error_when_the_exchange_fails(minted_world: World) -> None:
    minted_world.emulator.fail("token", 403, times=5)
    done = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--profile", "mdh"],
        env=minted_world.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "mdh-creds: MDH token endpoint" in done.stderr and "403" in done.stderr


def test_boto3_session_gets_the_minted_identity(
    minted_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in minted_world.env().items():
        monkeypatch.setenv(name, value)
    session = boto3.Session(profile_name="mdh")
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert session.get_credentials().method == "custom-process"
