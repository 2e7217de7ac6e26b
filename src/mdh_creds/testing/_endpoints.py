"""What the emulated token and exchange endpoints answer to one parsed request."""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from mdh_creds.testing._assertion import AssertionRejected, peek, verify_assertion
from mdh_creds.testing._client_auth import ClientAuthError, client_credentials
from mdh_creds.testing._models import Headers, MintRequest, Response, json_error
from mdh_creds.testing._state import CLIENT_OWNER, EmulatorState

__all__ = [
    "CLIENT_TOKEN_PATH",
    "LEGACY_PATH",
    "TOKEN_PATH",
    "Incoming",
    "Outcome",
    "answer",
    "explorer_path",
    "route",
]

TOKEN_PATH = "/identityserver/connect/token"
CLIENT_TOKEN_PATH = "/oauth2/token"  # the client-secret grant (an API client's id and secret)
LEGACY_PATH = "/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_EXPLORER = re.compile(r"^/projects/([^/]+)/export-explorer/token$")
_FORM_TYPE = "application/x-www-form-urlencoded"


def explorer_path(project_id: str) -> str:
    """The path of the newer exchange endpoint for ``project_id``."""
    return f"/projects/{project_id}/export-explorer/token"


def route(path: str) -> tuple[str, str | None]:
    """The endpoint serving ``path`` and, for the newer exchange, the project id."""
    if path == TOKEN_PATH:
        return "token", None
    if path == CLIENT_TOKEN_PATH:
        return "client_token", None
    if path == LEGACY_PATH:
        return "legacy", None
    match = _EXPLORER.match(path)
    if match:
        return "explorer", unquote(match.group(1))
    return "other", None


@dataclass(frozen=True)
class Incoming:
    """A received request reduced to what the endpoints look at."""

    endpoint: str
    method: str
    path: str
    project: str | None
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """The answer to a request plus what is worth recording about it."""

    response: Response
    form: dict[str, str] | None = None
    claims: dict[str, Any] | None = None
    jwt_header: dict[str, Any] | None = None
    account: str | None = None
    reason: str | None = None


def answer(state: EmulatorState, request: Incoming) -> Outcome:
    """Apply any queued delay and fault, else process ``request`` normally."""
    form = _parse_form(request) if request.endpoint in ("token", "client_token") else None
    jwt_header, claims = peek(form.get("client_assertion", "")) if form else (None, None)
    seconds = state.take_delay(request.endpoint)
    if seconds > 0:
        time.sleep(seconds)
    fault = state.take_fault(request.endpoint)
    if fault is not None:
        return Outcome(Response.from_fault(fault), form, claims, jwt_header, reason="fault")
    outcome = _process(state, request, form)
    return Outcome(outcome.response, form, claims, jwt_header, outcome.account, outcome.reason)


def _process(state: EmulatorState, request: Incoming, form: dict[str, str] | None) -> Outcome:
    if request.endpoint == "other":
        return Outcome(json_error(404, "not_found"), reason="unknown path")
    if request.method != "POST":
        error = json_error(405, "method_not_allowed")
        return Outcome(Response(405, error.body, {"Allow": "POST"}), reason="not POST")
    if request.endpoint == "token":
        return _token(state, form)
    if request.endpoint == "client_token":
        return _client_token(state, request.headers, form)
    return _exchange(state, request)


def _parse_form(request: Incoming) -> dict[str, str] | None:
    media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != _FORM_TYPE:
        return None
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


def _refuse(status: int, error: str, reason: str, account: str | None = None) -> Outcome:
    return Outcome(json_error(status, error), account=account, reason=reason)


def _form_problem(form: dict[str, str]) -> Outcome | None:
    if "grant_type" not in form:
        return _refuse(400, "invalid_request", "grant_type missing")
    if form["grant_type"] != "client_credentials":
        return _refuse(400, "unsupported_grant_type", "grant_type is not client_credentials")
    if form.get("client_assertion_type") != JWT_BEARER:
        return _refuse(400, "invalid_request", "client_assertion_type is not jwt-bearer")
    if not form.get("scope"):
        return _refuse(400, "invalid_request", "scope missing")
    if not form.get("client_assertion"):
        return _refuse(400, "invalid_request", "client_assertion missing")
    return None


def _key_lookup(state: EmulatorState) -> Callable[[str], RSAPublicKey | None]:
    def lookup(name: str) -> RSAPublicKey | None:
        account = state.account(name)
        return account.public_key if account else None

    return lookup


def _token(state: EmulatorState, form: dict[str, str] | None) -> Outcome:
    if form is None:
        return _refuse(400, "invalid_request", "body is not a form without repeated fields")
    problem = _form_problem(form)
    if problem is not None:
        return problem
    audience = state.base_url + TOKEN_PATH
    lookup = _key_lookup(state)
    try:
        claims = verify_assertion(
            form["client_assertion"], lookup=lookup, audience=audience, now=time.time()
        )
    except AssertionRejected as exc:
        return _refuse(400, "invalid_client", str(exc))
    name = str(claims["iss"])
    if not state.consume_jti(claims["jti"]):
        return _refuse(400, "invalid_client", "jti reused", name)
    body = {
        "access_token": state.issue_token(name),
        "expires_in": state.token_lifetime,
        "token_type": "Bearer",
        "scope": form["scope"],
    }
    return Outcome(_success(state, "token", body), account=name)


def _client_token(state: EmulatorState, headers: Headers, form: dict[str, str] | None) -> Outcome:
    """The client-secret grant (RFC 6749 4.4): Basic or form credentials, then the scope."""
    if form is None:
        return _refuse(400, "invalid_request", "body is not a form without repeated fields")
    if form.get("grant_type") != "client_credentials":
        return _refuse(400, "unsupported_grant_type", "grant_type is not client_credentials")
    try:
        client_id = _authenticated_client(state, headers, form)
    except ClientAuthError as exc:
        return _refuse(400, exc.error, exc.reason, exc.client_id)
    scope = form.get("scope", "")
    client = state.client(client_id)
    if not scope or client is None or not client.allows(scope):
        return _refuse(400, "invalid_scope", f"scope {scope!r} not allowed", client_id)
    body = {
        "access_token": state.issue_token(CLIENT_OWNER + client_id),
        "expires_in": state.token_lifetime,
        "token_type": "Bearer",
        "scope": scope,
    }
    return Outcome(_success(state, "client_token", body), account=client_id)


def _authenticated_client(state: EmulatorState, headers: Headers, form: dict[str, str]) -> str:
    """The id of the registered client whose secret the request holds (compared in constant
    time), else ``ClientAuthError``."""
    client_id, secret = client_credentials(headers, form)
    client = state.client(client_id)
    if client is None:
        raise ClientAuthError("invalid_client", "unknown client id")
    if not hmac.compare_digest(client.secret.encode(), secret.encode()):
        raise ClientAuthError("invalid_client", "wrong client secret", client_id)
    return client_id


def _exchange(state: EmulatorState, request: Incoming) -> Outcome:
    token = request.headers.get("Authorization", "")
    name = state.token_account(token) if token else None
    if name is None:
        return _refuse(401, "unauthorized", "Authorization is not a valid access token")
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _refuse(415, "unsupported_media_type", "Content-Type is not application/json", name)
    if "application/json" not in request.headers.get("Accept", "").lower():
        return _refuse(406, "not_acceptable", "Accept lacks application/json", name)
    if request.endpoint == "legacy":
        project = request.headers.get("ProjectCode", "")
        if not project:
            return _refuse(400, "missing ProjectCode", "ProjectCode header missing", name)
    else:
        project = request.project or ""
    account = state.account(name)
    if account is None or not account.allows(request.endpoint, project):
        return _refuse(403, "forbidden", f"account may not use project {project!r}", name)
    return Outcome(_success(state, request.endpoint, _mint(state, name, project)), account=name)


def _mint(state: EmulatorState, name: str, project: str) -> dict[str, Any]:
    credentials = state.minter(MintRequest(name, project, state.next_sequence()))
    expiration = datetime.fromtimestamp(state.now() + state.credential_lifetime, timezone.utc)
    return {**credentials, "Expiration": state.expiration_format(expiration)}


def _success(state: EmulatorState, endpoint: str, body: dict[str, Any]) -> Response:
    transform = state.override(endpoint)
    if transform is not None:
        body = transform(dict(body))
    return Response(200, json.dumps(body).encode())
