"""The credentials endpoint in process, over real HTTP on 127.0.0.1, with a real broker against the
emulator: the protocol (fields, tokens, errors), background refresh, stale-while-error and 503."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import World, secrets_of
from mdh_creds.api import broker_for
from mdh_creds.server.endpoint import TOKEN_VARIABLE, Endpoint
from mdh_creds.server.keeper import CredentialKeeper
from mdh_creds.testing import sequence_minter

EXPIRATION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Served:
    """A running keeper and endpoint for the world's profile."""

    def __init__(self, world: World, account_id: str | None = None, **keeper: Any) -> None:
        broker = broker_for("mdh", environ=world.env())
        self.keeper = CredentialKeeper(broker.get_credentials, broker.refresh_due, **keeper)
        self.keeper.start()
        self.endpoint = Endpoint(self.keeper, account_id=account_id).start()

    def request(
        self, method: str = "GET", path: str = "/", token: str | None = ""
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Status, headers and JSON body; ``token=""`` sends the right one, None none."""
        parts = urlsplit(self.endpoint.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = token or self.endpoint.token
        try:
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            return response.status, dict(response.getheaders()), json.loads(body or b"{}")
        finally:
            connection.close()

    def stop(self) -> None:
        self.endpoint.stop()
        self.keeper.stop()


@pytest.fixture
def served(world: World) -> Iterator[Any]:
    world.emulator.minter = sequence_minter()
    started: list[Served] = []

    def start(**kwargs: Any) -> Served:
        started.append(Served(world, **kwargs))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def test_the_answer_is_the_container_credentials_document(served: Any, world: World) -> None:
    endpoint = served()
    status, headers, body = endpoint.request()
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert body["AccessKeyId"] == "ASIA0000000000000001"
    assert body["Token"] == "token-1"
    assert EXPIRATION.match(body["Expiration"])
    assert endpoint.endpoint.url.startswith("http://127.0.0.1:")
    assert endpoint.endpoint.url.endswith("/")
    assert world.emulator.count("exchange") == 1


def test_account_id_is_included_when_known(served: Any) -> None:
    status, _, body = served(account_id="123456789012").request()
    assert status == 200
    assert body["AccountId"] == "123456789012"


def test_the_token_is_32_random_bytes_base64url(served: Any) -> None:
    first, second = served().endpoint, served().endpoint
    for token in (first.token, second.token):
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert first.token != second.token
    assert set(first.variables()) == {"AWS_CONTAINER_CREDENTIALS_FULL_URI", TOKEN_VARIABLE}
    assert set(first.variables(token_file="/t")) == {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    }


@pytest.mark.parametrize(
    ("method", "path", "token", "status", "code"),
    [
        ("GET", "/", None, 401, "Unauthorized"),
        ("GET", "/", "wrong-token", 403, "Forbidden"),
        ("GET", "/", "Bearer x", 403, "Forbidden"),
        ("GET", "/other", "", 404, "NotFound"),
        ("POST", "/", "", 405, "MethodNotAllowed"),
        ("PUT", "/", "", 405, "MethodNotAllowed"),
    ],
)
def test_refusals_carry_a_code_and_message_and_no_credentials(
    served: Any, world: World, method: str, path: str, token: str | None, status: int, code: str
) -> None:
    endpoint = served()
    _, _, good = endpoint.request()
    got, headers, body = endpoint.request(method, path, token)
    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"Code", "Message"} and body["Code"] == code
    text = json.dumps(body)
    for secret in [
        *secrets_of(world),
        good["SecretAccessKey"],
        good["Token"],
        endpoint.endpoint.token,
    ]:
        assert secret not in text


def test_a_token_differing_in_its_last_character_is_refused(served: Any) -> None:
    endpoint = served()
    token = endpoint.endpoint.token
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert endpoint.request(token=near)[0] == 403
    assert endpoint.request(token=token + "x")[0] == 403
    assert endpoint.request(token=token)[0] == 200


def test_one_connection_serves_many_requests(served: Any) -> None:
    endpoint = served()
    parts = urlsplit(endpoint.endpoint.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        for _ in range(5):
            connection.request("GET", "/", headers={"Authorization": endpoint.endpoint.token})
            response = connection.getresponse()
            assert response.status == 200
            json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_refreshes_in_the_background_before_expiry(served: Any, world: World) -> None:
    world.emulator.credential_lifetime = 3  # window min(960, 3 / 3) = 1 s: refreshed every 2 s
    endpoint = served()
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(set(seen)) < 3:
        status, _, body = endpoint.request()
        assert status == 200, body
        seen.append(body["AccessKeyId"])
        time.sleep(0.1)
    assert len(set(seen)) >= 3
    assert seen == sorted(seen)  # ASIA...1, ASIA...2, ...: each refresh replaced the last


def test_answers_come_from_memory_however_often_asked(served: Any, world: World) -> None:
    endpoint = served()
    for _ in range(50):
        assert endpoint.request()[0] == 200
    assert world.emulator.count("exchange") == 1
    assert endpoint.keeper.fetches == 1


@pytest.mark.slow
def test_a_failed_refresh_serves_the_held_credentials_then_503(served: Any, world: World) -> None:
    world.emulator.credential_lifetime = 6  # due after 4 s, expired after 6 s
    endpoint = served(max_backoff=0.5)
    first = endpoint.request()[2]["AccessKeyId"]
    world.emulator.set_answer_override("exchange", lambda body: {"unexpected": True})
    statuses: list[tuple[int, str]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not statuses or statuses[-1][0] != 503):
        status, _, body = endpoint.request()
        statuses.append((status, body.get("AccessKeyId") or body.get("Code", "")))
        time.sleep(0.1)
    assert statuses[-1] == (503, "CredentialsUnavailable")
    assert {key for status, key in statuses if status == 200} == {first}
    assert world.emulator.count("exchange") > 1  # it did try, and kept the old ones meanwhile

    world.emulator.set_answer_override("exchange", None)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and endpoint.request()[0] != 200:
        time.sleep(0.1)
    status, _, body = endpoint.request()
    assert status == 200 and body["AccessKeyId"] != first
