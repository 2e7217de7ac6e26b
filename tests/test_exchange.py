"""The MDH exchange against the emulator: headers, claims, both endpoints, retries, timeouts."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from conftest import World
from mdh_creds.clock import parse_timestamp


def test_legacy_endpoint_sends_exact_headers_and_claims(world: World) -> None:
    result = world.main("process", MDH_CACHE="none")
    assert result.code == 0, result.err
    token_req, exchange_req = world.emulator.requests
    assert token_req.status == 200 and exchange_req.status == 200
    assert token_req.form is not None
    assert token_req.form["grant_type"] == "client_credentials"
    assert token_req.form["scope"] == "api"
    assert token_req.form["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    claims, header = token_req.claims, token_req.jwt_header
    assert claims is not None and header is not None
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert claims["iss"] == claims["sub"] == world.account.name
    assert claims["aud"] == world.emulator.token_url
    assert isinstance(claims["exp"], int) and 0 < claims["exp"] - claims["iat"] <= 300
    assert uuid.UUID(claims["jti"]).version == 4
    assert exchange_req.endpoint == "legacy"
    assert exchange_req.headers["ProjectCode"] == world.account.project_code
    assert not exchange_req.headers["Authorization"].startswith("Bearer")
    assert exchange_req.headers["Accept"] == "application/json"
    assert exchange_req.headers["Content-Type"] == "application/json"


def test_newer_endpoint_with_project_id(world: World) -> None:
    world.write_profile(
        mdh_project_code=None,
        mdh_project_id=world.account.project_id,
        mdh_exchange_url=world.emulator.base_url + "/projects/{project_id}/export-explorer/token",
    )
    result = world.main("process")
    assert result.code == 0, result.err
    exchange = world.emulator.requests[-1]
    assert exchange.endpoint == "explorer"
    assert exchange.path == f"/projects/{world.account.project_id}/export-explorer/token"
    assert "ProjectCode" not in exchange.headers


def test_process_output_is_exactly_the_credential_process_document(world: World) -> None:
    result = world.main("process")
    document = json.loads(result.out)
    assert list(document) == [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ]
    assert document["Version"] == 1
    assert document["Expiration"].endswith("Z") and "." not in document["Expiration"]
    parse_timestamp(document["Expiration"])
    assert result.out.count("\n") == 1 and result.err == ""


def test_two_server_errors_then_success_takes_three_fresh_assertions(world: World) -> None:
    world.emulator.fail("token", 503, times=2)
    result = world.main("process")
    assert result.code == 0, result.err
    token_requests = [r for r in world.emulator.requests if r.endpoint == "token"]
    assert len(token_requests) == 3
    jtis = {r.claims["jti"] for r in token_requests if r.claims}
    assert len(jtis) == 3


def test_429_with_retry_after_waits(world: World) -> None:
    world.emulator.fail("exchange", 429, times=1, headers={"Retry-After": "1"})
    started = time.monotonic()
    result = world.main("process")
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 0.9
    assert world.emulator.count("exchange") == 2


@pytest.mark.parametrize(
    ("status", "endpoint"), [(400, "token"), (401, "token"), (401, "exchange"), (403, "exchange")]
)
def test_client_errors_are_not_retried(world: World, status: int, endpoint: str) -> None:
    world.emulator.fail(endpoint, status, times=3)
    result = world.main("process")
    assert result.code == 4, result.err
    assert world.emulator.count(endpoint) == 1
    assert result.err.startswith("mdh-creds: ") and result.err.count("\n") == 1


def test_hanging_server_gives_exit_5_within_timeout_times_attempts(world: World) -> None:
    world.write_profile(mdh_timeout="0.5", mdh_retries="1")
    world.emulator.delay("token", 3.0, times=2)
    started = time.monotonic()
    result = world.main("process")
    elapsed = time.monotonic() - started
    assert result.code == 5, result.err
    assert "timed out" in result.err
    assert elapsed < 0.5 * 2 + 2.0  # two attempts, plus generous slack for a loaded machine


def test_unreachable_server_gives_exit_5(world: World) -> None:
    world.write_profile(mdh_token_url="http://127.0.0.1:9/identityserver/connect/token")
    result = world.main("process", MDH_CACHE="none")
    assert result.code == 5
    assert "cannot reach" in result.err and result.err.count("\n") == 1
    assert "the connection was refused" in result.err and "check the URL" in result.err


def test_tls_to_a_plain_http_server_says_tls_failed_and_what_to_set(world: World) -> None:
    plain = world.emulator.token_url.replace("http://", "https://")  # it speaks no TLS
    world.write_profile(mdh_token_url=plain)
    result = world.main("process", MDH_CACHE="none")
    assert result.code == 5
    assert "TLS failed" in result.err and "AWS_CA_BUNDLE" in result.err
    assert result.err.count("\n") == 1


def test_token_command_prints_the_access_token(world: World) -> None:
    result = world.main("token")
    assert result.code == 0, result.err
    token = result.out.strip()
    world.main("process")
    exchange = world.emulator.requests[-1]
    assert exchange.headers["Authorization"] == token
    assert world.emulator.count("token") == 1  # the cached token served the exchange
