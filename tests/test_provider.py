"""The in-process botocore provider against the emulator and a moto server: identity, refresh,
threads, the global initializer, and the guard that keeps the plugin's own AWS clients out."""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import CredentialRetrievalError

import mdh_creds
from conftest import World
from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.provider import MdhCredentialProvider, uninstall
from mdh_creds.testing import sequence_minter
from servers import TABLE
from test_end_to_end import ACCOUNT_ARN, moto_iam_minter

STATIC_KEY = "AKIASTATICPROFILE001"


@pytest.fixture
def aws(world: World, moto: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world's environment in ``os.environ``, STS at moto, minted keys known to moto IAM."""
    world.emulator.minter = moto_iam_minter(moto.url)
    for name in [n for n in os.environ if n.startswith("MDH_")]:
        monkeypatch.delenv(name)
    for name, value in world.env(AWS_ENDPOINT_URL=moto.url).items():
        monkeypatch.setenv(name, value)
    yield world
    uninstall()
    os.environ.pop(GUARD_VARIABLE, None)


def add_static_profile(world: World) -> None:
    with world.config.open("a", encoding="utf-8") as config:
        config.write(
            "[profile static]\n"
            f"aws_access_key_id = {STATIC_KEY}\n"
            "aws_secret_access_key = static-secret\n"
            "region = us-east-1\n"
        )


def caller_arn(session: Any) -> str:
    return str(session.client("sts", region_name="us-east-1").get_caller_identity()["Arn"])


def chain_of(session: Any) -> list[str]:
    resolver = session._session.get_component("credential_provider")
    return [provider.METHOD for provider in resolver.providers]


def test_session_gets_the_minted_identity_in_process(aws: World) -> None:
    session = mdh_creds.session(profile_name="mdh")
    assert caller_arn(session) == ACCOUNT_ARN.format("mdh-export-1")
    assert session.get_credentials().method == "custom-mdh"
    assert chain_of(session)[0] == "mdh"
    assert aws.emulator.count("exchange") == 1


def test_install_makes_plain_boto3_sessions_resolve_mdh_profiles(aws: World) -> None:
    mdh_creds.install()
    mdh_creds.install()
    session = boto3.Session(profile_name="mdh")
    assert caller_arn(session) == ACCOUNT_ARN.format("mdh-export-1")
    assert session.get_credentials().method == "custom-mdh"
    assert chain_of(session).count("mdh") == 1
    assert chain_of(session).index("mdh") == chain_of(session).index("assume-role") - 1


def test_install_leaves_other_profiles_to_botocore(aws: World) -> None:
    add_static_profile(aws)
    mdh_creds.install()
    session = boto3.Session(profile_name="static")
    credentials = session.get_credentials()
    assert credentials.method == "config-file"
    assert credentials.get_frozen_credentials().access_key == STATIC_KEY
    assert "mdh" in chain_of(session)
    assert aws.emulator.count("exchange") == 0


def test_mdh_variables_do_not_take_over_a_profile_with_its_own_keys(
    aws: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_static_profile(aws)
    monkeypatch.setenv("MDH_SERVICE_ACCOUNT", aws.account.name)
    mdh_creds.install()
    assert boto3.Session(profile_name="static").get_credentials().method == "config-file"


def test_provider_on_its_own_reads_the_config_file(aws: World) -> None:
    add_static_profile(aws)
    assert MdhCredentialProvider("static").load() is None
    credentials = MdhCredentialProvider("mdh").load()
    assert credentials.method == "custom-mdh"
    assert credentials.get_frozen_credentials().access_key.startswith("AKIA")
    assert "secret" not in repr(MdhCredentialProvider("mdh")).lower()


def test_expiry_is_handed_to_botocore_in_local_time(aws: World) -> None:
    aws.emulator.date_skew = 600.0
    credentials = mdh_creds.session(profile_name="mdh").get_credentials()
    remaining = credentials._expiry_time.timestamp() - time.time()
    assert remaining == pytest.approx(3600, abs=5)
    assert credentials._advisory_refresh_timeout == 900


def test_install_into_one_existing_session(aws: World) -> None:
    session = boto3.Session(profile_name="mdh")
    mdh_creds.install(session)
    mdh_creds.install(session)
    assert chain_of(session).count("mdh") == 1
    assert caller_arn(session) == ACCOUNT_ARN.format("mdh-export-1")
    assert "mdh" not in chain_of(boto3.Session(profile_name="mdh"))


def test_session_for_a_profile_that_is_not_mdh_says_so(aws: World) -> None:
    add_static_profile(aws)
    with pytest.raises(CredentialRetrievalError, match="no MDH service account"):
        mdh_creds.session(profile_name="static").get_credentials()


def test_a_failed_exchange_raises_our_one_line_message(aws: World) -> None:
    aws.emulator.fail("token", 403, times=5)
    mdh_creds.install()
    with pytest.raises(CredentialRetrievalError) as raised:
        boto3.Session(profile_name="mdh").get_credentials()
    message = str(raised.value)
    assert "MDH token endpoint" in message and "403" in message and "\n" not in message


@pytest.mark.slow
def test_credentials_refresh_transparently_before_expiry(aws: World) -> None:
    aws.emulator.credential_lifetime = 6  # botocore refreshes 2 s before expiry
    session = mdh_creds.session(profile_name="mdh")
    sts = session.client("sts", region_name="us-east-1")
    seen: list[str] = []
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline and len(set(seen)) < 2:
        seen.append(sts.get_caller_identity()["Arn"])
        time.sleep(0.25)
    credentials = session.get_credentials()
    assert credentials._advisory_refresh_timeout == pytest.approx(2.0, abs=0.05)
    assert credentials._mandatory_refresh_timeout == pytest.approx(4 / 3, abs=0.05)
    assert seen[0] == ACCOUNT_ARN.format("mdh-export-1")
    assert seen[-1] == ACCOUNT_ARN.format("mdh-export-2")
    assert aws.emulator.count("exchange") == 2


@pytest.mark.slow
def test_threads_sharing_a_session_always_see_a_consistent_triple(aws: World) -> None:
    lifetime = 6
    aws.emulator.minter = sequence_minter()
    aws.emulator.credential_lifetime = lifetime
    session = mdh_creds.session(profile_name="mdh")
    started = time.monotonic()
    session.get_credentials()
    seen: set[int] = set()
    calls, problems = [0], []
    lock = threading.Lock()

    def work() -> None:
        mine, count = set(), 0
        while time.monotonic() < started + 5.5:
            frozen = session.get_credentials().get_frozen_credentials()
            match = re.fullmatch(r"ASIA(\d{16})", frozen.access_key)
            n = int(match.group(1)) if match else -1
            if (frozen.secret_key, frozen.token) != (f"secret-{n}", f"token-{n}"):
                problems.append(frozen.access_key)
            mine.add(n)
            count += 1
            time.sleep(0.0005)
        with lock:
            seen.update(mine)
            calls[0] += count

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert not problems
    assert calls[0] >= 2000
    assert seen == {1, 2}
    assert aws.emulator.count("exchange") <= elapsed / lifetime + 2


def test_aiobotocore_sessions_get_the_async_provider(aws: World) -> None:
    """Not the sync one, whose credentials aiobotocore cannot await (DESIGN 3.2)."""
    from aiobotocore.session import AioSession

    from mdh_creds.provider import AioMdhCredentialProvider

    mdh_creds.install()
    resolver = AioSession(profile="mdh").get_component("credential_provider")
    found = [p for p in resolver.providers if p.METHOD == "mdh"]
    assert len(found) == 1 and isinstance(found[0], AioMdhCredentialProvider)


@pytest.fixture
def container_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A container credentials endpoint (as on ECS) serving moto's test keys: the paths asked."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps(
                {
                    "AccessKeyId": "testing",
                    "SecretAccessKey": "testing",
                    "Token": "container-token",
                    "Expiration": "2999-01-01T00:00:00Z",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    uri = f"http://127.0.0.1:{server.server_port}/creds"
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
    yield asked
    server.shutdown()
    server.server_close()


def test_the_plugins_own_clients_do_not_resolve_through_it(
    dynamodb_table: Any,
    aws: World,
    container_credentials: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MDH_* variables make every profile an mdh profile, the one of the cache's client too:
    that client must get the container's credentials, not recurse into mdh-creds."""
    account = aws.account
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = {
        "MDH_SERVICE_ACCOUNT": account.name,
        "MDH_PRIVATE_KEY_FILE": str(account.key_file),
        "MDH_PROJECT_CODE": account.project_code,
        "MDH_TOKEN_URL": aws.emulator.token_url,
        "MDH_EXCHANGE_URL": aws.emulator.legacy_exchange_url,
        "MDH_CACHE": "dynamodb",
        "MDH_DYNAMODB_TABLE": TABLE,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    mdh_creds.install()
    session = boto3.Session()
    assert caller_arn(session) == ACCOUNT_ARN.format("mdh-export-1")
    assert session.get_credentials().method == "custom-mdh"
    assert container_credentials == ["/creds"]
    client, table = dynamodb_table
    stored = [item["pk"]["S"] for item in client.scan(TableName=table)["Items"]]
    assert any(name.startswith("credentials-") for name in stored)
