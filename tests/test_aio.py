"""aiobotocore in process, against the emulator and moto: ``aio_session()``, ``install()`` for
AioSessions (twice, undone, on a session created before), s3fs reading through the mdh profile
whose ``credential_process`` fails, in-process refresh across lifetimes, and a free event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiobotocore.session import AioSession
from botocore.exceptions import CredentialRetrievalError

import mdh_creds
from conftest import World
from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.provider import AioMdhCredentialProvider
from mdh_creds.testing.minters import moto_iam_minter
from test_end_to_end import ACCOUNT_ARN

BUCKET, KEY, DATA = "mdh-export", "results/part-0.csv", b"participant,steps\np1,1234\n"
FAILING_PROCESS = f"{sys.executable} -c \"raise SystemExit('credential_process must not run')\""


@pytest.fixture
def aws(world: World, moto: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world's environment in ``os.environ``, AWS at moto, minted keys known to moto IAM,
    and the profile's ``credential_process`` a command that fails."""
    world.emulator.minter = moto_iam_minter(moto.url)
    world.write_profile(credential_process=FAILING_PROCESS)
    for name in [n for n in os.environ if n.startswith("MDH_")]:
        monkeypatch.delenv(name)
    for name, value in world.env(AWS_ENDPOINT_URL=moto.url).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield world
    mdh_creds.uninstall()
    os.environ.pop(GUARD_VARIABLE, None)


def chain_of(session: Any) -> list[Any]:
    return list(session.get_component("credential_provider").providers)


def mdh_providers(session: Any) -> list[Any]:
    return [p for p in chain_of(session) if getattr(p, "METHOD", None) == "mdh"]


async def caller_arn(session: Any) -> str:
    async with session.create_client("sts", region_name="us-east-1") as sts:
        return str((await sts.get_caller_identity())["Arn"])


def test_aio_session_gets_the_minted_identity(aws: World) -> None:
    session = mdh_creds.aio_session("mdh")
    assert asyncio.run(caller_arn(session)) == ACCOUNT_ARN.format("mdh-export-1")
    assert isinstance(chain_of(session)[0], AioMdhCredentialProvider)
    assert aws.emulator.count("exchange") == 1


@pytest.mark.slow
def test_aio_credentials_refresh_in_process_across_lifetimes(aws: World) -> None:
    aws.emulator.credential_lifetime = 4  # botocore windows scaled: refreshed every ~2.7 s

    async def run() -> tuple[list[str], list[str]]:
        session = mdh_creds.aio_session("mdh")
        arns: list[str] = []
        errors: list[str] = []
        async with session.create_client("sts", region_name="us-east-1") as sts:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(set(arns)) < 3:
                try:
                    arns.append((await sts.get_caller_identity())["Arn"])
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)
        return arns, errors

    arns, errors = asyncio.run(run())
    assert errors == []
    users = list(dict.fromkeys(arns))
    assert users == [ACCOUNT_ARN.format(f"mdh-export-{n}") for n in (1, 2, 3)]


@pytest.mark.slow
def test_s3fs_reads_through_the_profile_and_refreshes_while_reading(aws: World, moto: Any) -> None:
    import s3fs

    s3 = boto3.Session().client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=DATA)
    aws.emulator.credential_lifetime = 4
    mdh_creds.install()
    fs = s3fs.S3FileSystem(profile="mdh", endpoint_url=moto.url, skip_instance_cache=True)
    keys: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(set(keys)) < 3:
        assert fs.cat(f"{BUCKET}/{KEY}") == DATA
        credentials = fs.s3._request_signer._credentials  # what signed the read just made
        assert credentials.method == "custom-mdh"
        keys.append(credentials._frozen_credentials.access_key)
        time.sleep(0.1)
    assert len(set(keys)) >= 3
    assert aws.emulator.count("exchange") == len(set(keys))


def test_install_twice_uninstall_and_a_session_made_before(aws: World) -> None:
    before = AioSession(profile="mdh")
    mdh_creds.install()
    mdh_creds.install()
    after = AioSession(profile="mdh")
    assert len(mdh_providers(after)) == 1
    assert isinstance(mdh_providers(after)[0], AioMdhCredentialProvider)
    assert mdh_providers(before) == []
    mdh_creds.install(before)
    mdh_creds.install(before)
    mdh_creds.install(after)
    assert len(mdh_providers(before)) == len(mdh_providers(after)) == 1

    async def both() -> list[str]:
        return [await caller_arn(before), await caller_arn(after)]

    assert asyncio.run(both()) == [ACCOUNT_ARN.format("mdh-export-1")] * 2
    mdh_creds.uninstall()
    mdh_creds.uninstall()
    assert mdh_providers(AioSession(profile="mdh")) == []


def test_a_plain_boto3_session_still_gets_the_sync_provider(aws: World) -> None:
    mdh_creds.install()
    session = boto3.Session(profile_name="mdh")
    assert session.get_credentials().method == "custom-mdh"
    assert [type(p).__name__ for p in mdh_providers(session._session)] == ["MdhCredentialProvider"]


def test_the_exchange_runs_off_the_event_loop(aws: World) -> None:
    aws.emulator.delay("token", 1.0)

    async def run() -> int:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.create_task(ticker())
        await mdh_creds.aio_session("mdh").get_credentials()
        done.set()
        await task
        return ticks

    assert asyncio.run(run()) >= 3  # a blocked loop would not have ticked at all


def test_a_failed_exchange_raises_a_credential_error_not_a_type_error(aws: World) -> None:
    aws.emulator.fail("token", 403, times=5)
    mdh_creds.install()
    with pytest.raises(CredentialRetrievalError) as raised:
        asyncio.run(AioSession(profile="mdh").get_credentials())
    assert "403" in str(raised.value) and "\n" not in str(raised.value)
