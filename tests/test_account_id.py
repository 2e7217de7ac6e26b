"""``configure --lookup-account-id`` against moto's STS, and ``AccountId`` in ``process`` output
(fast path and full path) and in what botocore reads from it."""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import pytest

from conftest import World
from mdh_creds.testing.minters import moto_iam_minter
from servers import free_port

ACCOUNT_ID = "123456789012"  # moto's account


@pytest.fixture
def minted(world: World, moto: Any) -> World:
    world.emulator.minter = moto_iam_minter(moto.url)
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    return world


def test_lookup_writes_the_account_id_and_process_passes_it_on(minted: World) -> None:
    result = minted.run("configure", "--profile", "mdh", "--lookup-account-id")
    assert result.code == 0, result.err
    assert f"wrote aws_account_id = {ACCOUNT_ID} to profile mdh" in result.err
    assert f"aws_account_id = {ACCOUNT_ID}" in minted.config.read_text()
    assert minted.emulator.count("exchange") == 1
    full = json.loads(minted.run("process", "--debug").out)
    fast = json.loads(minted.run("process").out)  # a cache hit: the fast path
    assert full["AccountId"] == fast["AccountId"] == ACCOUNT_ID
    assert list(fast) == [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "AccountId",
    ]
    assert minted.emulator.count("exchange") == 1


def test_botocore_reads_the_account_id_from_process(
    minted: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    minted.write_profile(
        aws_account_id=ACCOUNT_ID,
        credential_process=f"{sys.executable} -m mdh_creds process --profile mdh",
    )
    for name, value in minted.env().items():
        monkeypatch.setenv(name, value)
    credentials = boto3.Session(profile_name="mdh").get_credentials()
    assert credentials.method == "custom-process"
    assert credentials.get_frozen_credentials().account_id == ACCOUNT_ID


def test_without_the_key_there_is_no_account_id(world: World) -> None:
    assert "AccountId" not in json.loads(world.run("process").out)


def test_an_invalid_account_id_names_the_key(world: World) -> None:
    world.write_profile(aws_account_id="12345")
    result = world.run("process")
    assert result.code == 3
    assert "invalid aws_account_id = '12345'" in result.err and "12 digits" in result.err
    assert result.err.count("\n") == 1


def test_a_failed_lookup_says_what_to_do(minted: World) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = minted.run("configure", "--lookup-account-id", AWS_ENDPOINT_URL=unreachable)
    assert result.code == 3
    assert "cannot look up the account id" in result.err
    assert "set aws_account_id in profile mdh" in result.err
    assert "aws_account_id" not in minted.config.read_text()
