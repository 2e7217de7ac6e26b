"""The emulator's client-secret endpoint (RFC 6749 4.4), spoken to with plain requests: Basic and
form credentials, the RFC 6749 2.3.1 encoding, refusals, fault injection and call counts."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
import requests

from mdh_creds.testing import MdhEmulator
from mdh_creds.testing.pytest_plugin import EmulatorClient

AWKWARD_ID = "team:api%20+ü"
AWKWARD_SECRET = "s3:cr%et+/=ü€ "


def rfc_basic(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1, written out here: form-urlencode each part, then base64 of id:secret."""
    pair = quote_plus(client_id, safe="") + ":" + quote_plus(secret, safe="")
    return "Basic " + base64.b64encode(pair.encode()).decode()


def post(
    emu: MdhEmulator, *, headers: dict[str, str] | None = None, **form: str
) -> requests.Response:
    data = {"grant_type": "client_credentials", "scope": "api.read", **form}
    return requests.post(emu.client_token_url, data=data, headers=headers or {}, timeout=10)


def basic(emu: MdhEmulator, client_id: str, secret: str, **form: str) -> requests.Response:
    return post(emu, headers={"Authorization": rfc_basic(client_id, secret)}, **form)


def test_basic_credentials_get_a_bearer_token(
    mdh_emulator: MdhEmulator, mdh_api_client: EmulatorClient
) -> None:
    answer = basic(mdh_emulator, mdh_api_client.client_id, mdh_api_client.client_secret)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "api.read")
    assert mdh_emulator.token_client(body["access_token"]) == mdh_api_client.client_id
    assert mdh_emulator.token_client("not-a-token") is None
    assert (mdh_emulator.count("client_token"), mdh_emulator.count("token")) == (1, 0)
    assert mdh_emulator.requests[-1].account == mdh_api_client.client_id


def test_form_credentials_get_a_bearer_token(
    mdh_emulator: MdhEmulator, mdh_api_client: EmulatorClient
) -> None:
    answer = post(
        mdh_emulator,
        client_id=mdh_api_client.client_id,
        client_secret=mdh_api_client.client_secret,
    )
    assert answer.status_code == 200, answer.text
    recorded = mdh_emulator.requests[-1]
    assert "Authorization" not in recorded.headers
    assert mdh_api_client.client_secret not in repr(recorded)


@pytest.mark.parametrize("mode", ["basic", "form"])
def test_awkward_characters_are_decoded_as_the_rfc_says(
    mdh_emulator: MdhEmulator, mode: str
) -> None:
    mdh_emulator.register_client(AWKWARD_ID, AWKWARD_SECRET)
    if mode == "basic":
        answer = basic(mdh_emulator, AWKWARD_ID, AWKWARD_SECRET)
    else:
        answer = post(mdh_emulator, client_id=AWKWARD_ID, client_secret=AWKWARD_SECRET)
    assert answer.status_code == 200, answer.text
    assert mdh_emulator.requests[-1].account == AWKWARD_ID


def test_basic_without_the_form_encoding_is_refused(mdh_emulator: MdhEmulator) -> None:
    """Sent raw (as the older SDK did), a '+' reads as a space and '%' as an escape."""
    mdh_emulator.register_client("plain-id", "a+b%41")
    raw = "Basic " + base64.b64encode(b"plain-id:a+b%41").decode()
    assert post(mdh_emulator, headers={"Authorization": raw}).json() == {"error": "invalid_client"}
    assert basic(mdh_emulator, "plain-id", "a+b%41").status_code == 200


@pytest.mark.parametrize(
    ("headers", "form", "error"),
    [
        ({"Authorization": rfc_basic("c1", "wrong")}, {}, "invalid_client"),
        ({"Authorization": rfc_basic("nobody", "s1")}, {}, "invalid_client"),
        ({}, {"client_id": "c1", "client_secret": "wrong"}, "invalid_client"),
        ({}, {}, "invalid_client"),
        ({"Authorization": "Bearer x"}, {}, "invalid_client"),
        ({"Authorization": "Basic %%%"}, {}, "invalid_client"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
            {},
            "invalid_client",
        ),
        ({"Authorization": rfc_basic("c1", "s1")}, {"client_id": "c1"}, "invalid_request"),
        (
            {"Authorization": rfc_basic("c1", "s1")},
            {"grant_type": "password"},
            "unsupported_grant_type",
        ),
        ({"Authorization": rfc_basic("c1", "s1")}, {"scope": "admin"}, "invalid_scope"),
    ],
)
def test_refusals_are_rfc_6749_errors(
    mdh_emulator: MdhEmulator, headers: dict[str, str], form: dict[str, str], error: str
) -> None:
    mdh_emulator.register_client("c1", "s1", scopes=["api.read"])
    answer = post(mdh_emulator, headers=headers, **form)
    assert (answer.status_code, answer.json()) == (400, {"error": error})
    assert mdh_emulator.successes("client_token") == 0


def test_faults_delays_and_counts(
    mdh_emulator: MdhEmulator, mdh_api_client: EmulatorClient
) -> None:
    mdh_emulator.fail("client_token", 503, times=2, headers={"Retry-After": "1"})
    mdh_emulator.delay("client_token", 0.1)
    client_id, secret = mdh_api_client.client_id, mdh_api_client.client_secret
    statuses = [basic(mdh_emulator, client_id, secret).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert (mdh_emulator.count("client_token"), mdh_emulator.successes("client_token")) == (3, 1)
    mdh_emulator.malformed("client_token", "<html>")
    assert basic(mdh_emulator, client_id, secret).text == "<html>"


def test_a_client_token_opens_no_explorer(
    mdh_emulator: MdhEmulator, mdh_api_client: EmulatorClient
) -> None:
    token = basic(mdh_emulator, mdh_api_client.client_id, mdh_api_client.client_secret).json()
    headers = {
        "Authorization": token["access_token"],
        "Accept": "application/json",
        "Content-Type": "application/json",
        "ProjectCode": "RK.TEST.Project",
    }
    answer = requests.post(mdh_emulator.legacy_exchange_url, headers=headers, timeout=10)
    assert answer.status_code == 403


def test_reset_forgets_clients(mdh_emulator: MdhEmulator, mdh_api_client: EmulatorClient) -> None:
    mdh_emulator.reset()
    answer = basic(mdh_emulator, mdh_api_client.client_id, mdh_api_client.client_secret)
    assert answer.json() == {"error": "invalid_client"}
