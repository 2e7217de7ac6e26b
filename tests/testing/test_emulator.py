"""Tests of the MDH emulator itself, spoken to with plain requests and PyJWT."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from mdh_creds.testing import (
    Fault,
    KeyPair,
    MdhEmulator,
    MintRequest,
    generate_key_pair,
    sequence_minter,
)
from mdh_creds.testing.pytest_plugin import EmulatorAccount

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXPIRATION_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AUD_AS_LIST = "<the token URL inside a list>"
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def pem_header(kind: str) -> str:
    """A PEM BEGIN line, built at run time so no tracked file looks like it holds a key."""
    return "-" * 5 + f"BEGIN {kind}" + "-" * 5


def make_assertion(
    key_pair: KeyPair, name: str, audience: str, *, drop: tuple[str, ...] = (), **overrides: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": name,
        "sub": name,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    for claim in drop:
        claims.pop(claim)
    return jwt.encode(claims, key_pair.private_pem, algorithm="RS256", headers={"typ": "JWT"})


def post_token(emu: MdhEmulator, assertion: str, **form: str) -> requests.Response:
    data = {
        "scope": "api",
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    data.update(form)
    return requests.post(emu.token_url, data=data, timeout=10)


def get_token(emu: MdhEmulator, account: EmulatorAccount) -> str:
    answer = post_token(emu, make_assertion(account.key_pair, account.name, emu.token_url))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def legacy_exchange(
    emu: MdhEmulator, token: str, project: str | None, **headers: str
) -> requests.Response:
    sent = {**JSON_HEADERS, "Authorization": token, **headers}
    if project is not None:
        sent["ProjectCode"] = project
    return requests.post(emu.legacy_exchange_url, headers=sent, timeout=10)


def explorer_exchange(emu: MdhEmulator, token: str, project_id: str) -> requests.Response:
    headers = {**JSON_HEADERS, "Authorization": token}
    return requests.post(emu.exchange_url_for(project_id), headers=headers, timeout=10)


def assert_invalid_client(answer: requests.Response) -> None:
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_client"}


# --- token endpoint ---------------------------------------------------------------


def test_valid_assertion_gets_bearer_token(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    assertion = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url)
    answer = post_token(mdh_emulator, assertion)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api"
    recorded = mdh_emulator.requests[-1]
    assert recorded.endpoint == "token"
    assert recorded.account == mdh_account.name
    assert recorded.claims is not None
    assert recorded.claims["iss"] == mdh_account.name
    assert recorded.jwt_header == {"alg": "RS256", "typ": "JWT"}
    assert recorded.form is not None
    assert recorded.form["grant_type"] == "client_credentials"


def test_token_lifetime_setting_sets_expires_in(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.token_lifetime = 120
    assertion = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url)
    assert post_token(mdh_emulator, assertion).json()["expires_in"] == 120


def test_assertion_signed_with_wrong_key_is_invalid_client(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    other = generate_key_pair()
    answer = post_token(
        mdh_emulator, make_assertion(other, mdh_account.name, mdh_emulator.token_url)
    )
    assert_invalid_client(answer)
    recorded = mdh_emulator.requests[-1]
    assert recorded.claims is not None
    assert recorded.claims["sub"] == mdh_account.name
    assert recorded.status == 400


def test_unknown_account_is_invalid_client(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    assertion = make_assertion(mdh_account.key_pair, "MyDataHelps.NOPE.app", mdh_emulator.token_url)
    assert_invalid_client(post_token(mdh_emulator, assertion))


def test_reused_jti_is_invalid_client(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    jti = str(uuid.uuid4())
    first = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url, jti=jti)
    second = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url, jti=jti)
    assert post_token(mdh_emulator, first).status_code == 200
    assert_invalid_client(post_token(mdh_emulator, second))
    assert mdh_emulator.requests[-1].reason == "jti reused"


@pytest.mark.parametrize(
    ("overrides", "drop"),
    [
        pytest.param(
            {"aud": "http://127.0.0.1:1/identityserver/connect/token"}, (), id="wrong-aud"
        ),
        pytest.param({"aud": AUD_AS_LIST}, (), id="aud-list"),
        pytest.param({"sub": "MyDataHelps.OTHER.app"}, (), id="iss-not-sub"),
        pytest.param(
            {"exp": int(time.time()) - 301, "iat": int(time.time()) - 400}, (), id="expired"
        ),
        pytest.param({"exp": int(time.time()) + 3600}, (), id="exp-too-far"),
        pytest.param({"exp": str(int(time.time()) + 60)}, (), id="exp-not-int"),
        pytest.param({}, ("exp",), id="exp-missing"),
        pytest.param({}, ("iat",), id="iat-missing"),
        pytest.param({}, ("jti",), id="jti-missing"),
        pytest.param({"iat": int(time.time()) + 3600}, (), id="iat-in-future"),
    ],
)
def test_bad_claims_are_invalid_client(
    mdh_emulator: MdhEmulator,
    mdh_account: EmulatorAccount,
    overrides: dict[str, Any],
    drop: tuple[str, ...],
) -> None:
    if overrides.get("aud") == AUD_AS_LIST:
        overrides = {"aud": [mdh_emulator.token_url]}
    assertion = make_assertion(
        mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url, drop=drop, **overrides
    )
    assert_invalid_client(post_token(mdh_emulator, assertion))


def test_exp_slightly_past_is_within_leeway(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    now = int(time.time())
    assertion = make_assertion(
        mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url, iat=now - 90, exp=now - 60
    )
    assert post_token(mdh_emulator, assertion).status_code == 200


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_non_rs256_assertion_is_invalid_client(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount, algorithm: str
) -> None:
    now = int(time.time())
    claims = {
        "iss": mdh_account.name,
        "sub": mdh_account.name,
        "aud": mdh_emulator.token_url,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    key = "a-shared-secret-of-sufficient-length" if algorithm == "HS256" else ""
    token = jwt.encode(claims, key, algorithm=algorithm)
    assert_invalid_client(post_token(mdh_emulator, token))


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:other"}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"client_assertion": ""}, "invalid_request"),
    ],
)
def test_bad_form_fields_are_rejected(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount, form: dict[str, str], error: str
) -> None:
    assertion = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url)
    answer = post_token(mdh_emulator, assertion, **form)
    assert answer.status_code == 400
    assert answer.json() == {"error": error}


def test_token_request_that_is_not_a_form_is_invalid_request(mdh_emulator: MdhEmulator) -> None:
    answer = requests.post(mdh_emulator.token_url, json={"grant_type": "x"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request"}
    assert mdh_emulator.requests[-1].form is None


# --- exchange endpoints -------------------------------------------------------------


def test_legacy_exchange_returns_credentials(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    answer = legacy_exchange(mdh_emulator, token, mdh_account.project_code)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", body["AccessKeyId"])
    assert len(body["SecretAccessKey"]) == 40
    assert len(body["SessionToken"]) > 100
    assert EXPIRATION_RE.match(body["Expiration"])
    expiration = datetime.fromisoformat(body["Expiration"].replace("Z", "+00:00"))
    assert abs(expiration.timestamp() - (time.time() + 3600)) < 10
    recorded = mdh_emulator.requests[-1]
    assert recorded.endpoint == "legacy"
    assert recorded.headers["projectcode"] == mdh_account.project_code
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.headers["ACCEPT"] == "application/json"


def test_legacy_exchange_requires_project_code(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    missing = legacy_exchange(mdh_emulator, token, None)
    assert missing.status_code == 400
    assert missing.json() == {"error": "missing ProjectCode"}
    assert legacy_exchange(mdh_emulator, token, "RK.OTHER.Project").status_code == 403


def test_exchange_requires_raw_authorization_token(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    project = mdh_account.project_code
    assert legacy_exchange(mdh_emulator, f"Bearer {token}", project).status_code == 401
    assert legacy_exchange(mdh_emulator, "not-a-token", project).status_code == 401
    assert legacy_exchange(mdh_emulator, token, project).status_code == 200


def test_expired_access_token_is_unauthorized(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.token_lifetime = 0
    token = get_token(mdh_emulator, mdh_account)
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).status_code == 401


def test_exchange_checks_content_type_and_accept(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    code = mdh_account.project_code
    bad_type = legacy_exchange(mdh_emulator, token, code, **{"Content-Type": "text/plain"})
    assert bad_type.status_code == 415
    assert legacy_exchange(mdh_emulator, token, code, Accept="text/html").status_code == 406


def test_explorer_exchange_uses_project_id_from_path(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    answer = explorer_exchange(mdh_emulator, token, mdh_account.project_id)
    assert answer.status_code == 200
    assert EXPIRATION_RE.match(answer.json()["Expiration"])
    assert explorer_exchange(mdh_emulator, token, "some-other-project").status_code == 403
    assert mdh_emulator.requests[-1].endpoint == "explorer"


def test_unrestricted_account_may_use_any_project(
    mdh_emulator: MdhEmulator, mdh_key_pair: KeyPair, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.register_account("MyDataHelps.ANY.app", mdh_key_pair.public_pem)
    assertion = make_assertion(mdh_key_pair, "MyDataHelps.ANY.app", mdh_emulator.token_url)
    token = post_token(mdh_emulator, assertion).json()["access_token"]
    assert legacy_exchange(mdh_emulator, token, "RK.ANY.Thing").status_code == 200
    assert explorer_exchange(mdh_emulator, token, "anything").status_code == 200


# --- faults, delays, overrides ----------------------------------------------------------


def test_fail_answers_status_for_next_calls_then_recovers(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.fail("token", 503, times=2, headers={"Retry-After": "1"})
    key, name, url = mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url
    for _ in range(2):
        failed = post_token(mdh_emulator, make_assertion(key, name, url))
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "1"
        assert failed.json() == {"error": "server_error"}
    assert post_token(mdh_emulator, make_assertion(key, name, url)).status_code == 200
    assert mdh_emulator.count("token") == 3
    assert mdh_emulator.successes("token") == 1
    assert mdh_emulator.requests[0].claims is not None


def test_fail_default_4xx_body_and_custom_body(mdh_emulator: MdhEmulator) -> None:
    mdh_emulator.fail("token", 429)
    mdh_emulator.fail("token", 502, body="<html>bad gateway</html>")
    first = requests.post(mdh_emulator.token_url, timeout=10)
    assert first.status_code == 429
    assert first.json() == {"error": "too_many_requests"}
    second = requests.post(mdh_emulator.token_url, timeout=10)
    assert (second.status_code, second.text) == (502, "<html>bad gateway</html>")


def test_fail_on_exchange_applies_to_either_exchange_endpoint(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    mdh_emulator.fail("exchange", 500, times=2)
    assert explorer_exchange(mdh_emulator, token, mdh_account.project_id).status_code == 500
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).status_code == 500
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).status_code == 200
    assert mdh_emulator.count("exchange") == 3
    assert mdh_emulator.count("legacy") == 2
    assert mdh_emulator.count("explorer") == 1
    assert mdh_emulator.successes("exchange") == 1


def test_inject_custom_fault(mdh_emulator: MdhEmulator) -> None:
    mdh_emulator.inject("legacy", Fault(418, b"teapot", {"X-Why": "tea"}, "text/plain"))
    answer = requests.post(mdh_emulator.legacy_exchange_url, timeout=10)
    assert (answer.status_code, answer.text, answer.headers["X-Why"]) == (418, "teapot", "tea")
    assert answer.headers["Content-Type"] == "text/plain"


def test_delay_slows_next_answer_only(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    # The delay is long enough that an undelayed answer on a loaded machine still comes sooner.
    mdh_emulator.delay("token", 1.5)
    started = time.monotonic()
    assert get_token(mdh_emulator, mdh_account)
    assert time.monotonic() - started >= 1.5
    started = time.monotonic()
    assert get_token(mdh_emulator, mdh_account)
    assert time.monotonic() - started < 1.5


def test_delay_combines_with_fault(mdh_emulator: MdhEmulator) -> None:
    mdh_emulator.delay("legacy", 0.2)
    mdh_emulator.fail("legacy", 504)
    started = time.monotonic()
    answer = requests.post(mdh_emulator.legacy_exchange_url, timeout=10)
    assert answer.status_code == 504
    assert time.monotonic() - started >= 0.2


def test_delay_longer_than_client_timeout_times_out(mdh_emulator: MdhEmulator) -> None:
    mdh_emulator.delay("token", 0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(mdh_emulator.token_url, timeout=0.1)
    assert requests.post(mdh_emulator.token_url, timeout=10).status_code == 400
    deadline = time.monotonic() + 5
    while mdh_emulator.count("token") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mdh_emulator.count("token") == 2
    assert mdh_emulator.errors == []


def test_requests_in_flight_during_reset_are_not_recorded(mdh_emulator: MdhEmulator) -> None:
    mdh_emulator.delay("token", 0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(mdh_emulator.token_url, timeout=0.05)
    mdh_emulator.reset()
    time.sleep(0.4)
    assert mdh_emulator.requests == []


def test_malformed_body_then_recovery(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    token = get_token(mdh_emulator, mdh_account)
    mdh_emulator.malformed("legacy", "{not json", times=1)
    broken = legacy_exchange(mdh_emulator, token, mdh_account.project_code)
    assert (broken.status_code, broken.text) == (200, "{not json")
    assert broken.headers["Content-Type"] == "application/json"
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).json()["AccessKeyId"]


def test_answer_override_alters_successful_answers(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.set_answer_override("exchange", lambda body: {**body, "Expiration": None})
    mdh_emulator.set_answer_override("token", lambda body: {**body, "expires_in": -5})
    assertion = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url)
    token_answer = post_token(mdh_emulator, assertion).json()
    assert token_answer["expires_in"] == -5
    token = token_answer["access_token"]
    assert (
        legacy_exchange(mdh_emulator, token, mdh_account.project_code).json()["Expiration"] is None
    )
    mdh_emulator.set_answer_override("legacy", None)
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).json()["Expiration"]


# --- clock, minting, bookkeeping ------------------------------------------------------


def test_date_skew_shows_in_date_header_and_expiration(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.date_skew = 7200.0
    mdh_emulator.credential_lifetime = 900
    token = get_token(mdh_emulator, mdh_account)
    answer = legacy_exchange(mdh_emulator, token, mdh_account.project_code)
    server_now = parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert abs(server_now - (time.time() + 7200)) < 5
    expiration = datetime.fromisoformat(answer.json()["Expiration"].replace("Z", "+00:00"))
    assert abs(expiration.timestamp() - (time.time() + 7200 + 900)) < 5


def test_every_answer_has_date_header(mdh_emulator: MdhEmulator) -> None:
    answer = requests.get(mdh_emulator.base_url + "/nowhere", timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found"}
    assert parsedate_to_datetime(answer.headers["Date"]).tzinfo is not None
    assert mdh_emulator.count("other") == 1


def test_wrong_method_is_405(mdh_emulator: MdhEmulator) -> None:
    answer = requests.get(mdh_emulator.token_url, timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_sequence_minter_numbers_credentials(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.minter = sequence_minter()
    token = get_token(mdh_emulator, mdh_account)
    first = legacy_exchange(mdh_emulator, token, mdh_account.project_code).json()
    second = explorer_exchange(mdh_emulator, token, mdh_account.project_id).json()
    assert first["AccessKeyId"] == "ASIA0000000000000001"
    assert (first["SecretAccessKey"], first["SessionToken"]) == ("secret-1", "token-1")
    assert second["AccessKeyId"] == "ASIA0000000000000002"


def test_custom_minter_receives_mint_request(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    seen: list[MintRequest] = []

    def minter(request: MintRequest) -> dict[str, str]:
        seen.append(request)
        return {"AccessKeyId": "AKID", "SecretAccessKey": "SECRET", "SessionToken": "SESSION"}

    mdh_emulator.minter = minter
    token = get_token(mdh_emulator, mdh_account)
    body = explorer_exchange(mdh_emulator, token, mdh_account.project_id).json()
    assert body["AccessKeyId"] == "AKID"
    assert seen == [MintRequest(mdh_account.name, mdh_account.project_id, 1)]


def test_concurrent_exchanges_get_consistent_triples(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.minter = sequence_minter()
    token = get_token(mdh_emulator, mdh_account)
    results: list[dict[str, str]] = []
    lock = threading.Lock()

    def exchange() -> None:
        body = legacy_exchange(mdh_emulator, token, mdh_account.project_code).json()
        with lock:
            results.append(body)

    threads = [threading.Thread(target=exchange) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(int(r["AccessKeyId"][4:]) for r in results)
    assert numbers == list(range(1, 17))
    for r in results:
        n = int(r["AccessKeyId"][4:])
        assert (r["SecretAccessKey"], r["SessionToken"]) == (f"secret-{n}", f"token-{n}")
    assert mdh_emulator.successes("legacy") == 16


def test_reset_clears_state_and_settings(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    mdh_emulator.token_lifetime = 5
    mdh_emulator.date_skew = 100.0
    mdh_emulator.minter = sequence_minter()
    token = get_token(mdh_emulator, mdh_account)
    mdh_emulator.fail("token", 500, times=5)
    mdh_emulator.reset()
    assert mdh_emulator.count("token") == 0
    assert mdh_emulator.requests == []
    assert (mdh_emulator.token_lifetime, mdh_emulator.date_skew) == (3600, 0.0)
    assert legacy_exchange(mdh_emulator, token, mdh_account.project_code).status_code == 401
    assertion = make_assertion(mdh_account.key_pair, mdh_account.name, mdh_emulator.token_url)
    assert_invalid_client(post_token(mdh_emulator, assertion))


def test_garbage_requests_do_not_break_the_server(
    mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    undecodable = requests.post(
        mdh_emulator.token_url,
        data=b"\xff\xfe\x00garbage",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert undecodable.status_code == 400
    not_a_jwt = post_token(mdh_emulator, "this.is-not.a-jwt")
    assert_invalid_client(not_a_jwt)
    host, port = mdh_emulator.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/")
    assert get_token(mdh_emulator, mdh_account)
    assert mdh_emulator.errors == []


def test_reprs_hide_secrets(mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount) -> None:
    token = get_token(mdh_emulator, mdh_account)
    legacy_exchange(mdh_emulator, token, mdh_account.project_code)
    text = repr(mdh_emulator.requests) + repr(mdh_account) + repr(mdh_emulator)
    assert token not in text
    assert "PRIVATE KEY" not in text
    assert mdh_emulator.requests[0].form is not None
    assert mdh_emulator.requests[0].form["client_assertion"] not in text


def test_unknown_endpoint_name_is_rejected(mdh_emulator: MdhEmulator) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        mdh_emulator.fail("tokens", 500)
    with pytest.raises(ValueError, match="unknown endpoint"):
        mdh_emulator.count("nope")


def test_emulator_context_manager_binds_loopback() -> None:
    with MdhEmulator() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.exchange_url_for("p1") == emu.base_url + "/projects/p1/export-explorer/token"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(emu.token_url, timeout=2)


# --- keys ---------------------------------------------------------------------------------


def test_key_pair_formats_and_private_file_mode(mdh_key_pair: KeyPair, tmp_path: Path) -> None:
    assert mdh_key_pair.private_pem.startswith(pem_header("RSA PRIVATE KEY"))
    assert mdh_key_pair.private_pem_pkcs1 == mdh_key_pair.private_pem
    assert mdh_key_pair.private_pem_pkcs8.startswith(pem_header("PRIVATE KEY"))
    assert mdh_key_pair.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in repr(mdh_key_pair)
    path = mdh_key_pair.write_private_key(tmp_path / "key.pem")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == mdh_key_pair.private_pem


def test_mdh_profile_fixture_writes_isolated_config(
    mdh_profile: str, mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount
) -> None:
    assert mdh_profile == "mdh"
    config = Path(os.environ["AWS_CONFIG_FILE"]).read_text()
    assert "[profile mdh]" in config
    assert f"mdh_token_url = {mdh_emulator.token_url}" in config
    assert f"mdh_private_key_file = {mdh_account.key_file}" in config
    assert Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).read_text() == ""
    assert "AWS_PROFILE" not in os.environ


# --- command line ---------------------------------------------------------------------------


def test_module_help_exits_zero() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mdh_creds.testing.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "--key-out" in done.stdout


def test_module_serves_until_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "demo.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "mdh_creds.testing.emulator", "--key-out", str(key_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] and not lines[-1].startswith("Serving until"):
            lines.append(process.stdout.readline())
        token_url = lines[0].split()[-1]
        answer = requests.post(token_url, timeout=10)
        assert answer.status_code == 400
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    output = "".join(lines) + out
    assert "[profile mdh-emulator]" in output
    assert f"mdh_private_key_file = {key_file.resolve()}" in output
    assert "PRIVATE KEY" not in output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
