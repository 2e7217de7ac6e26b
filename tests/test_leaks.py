"""No secret leaks: every command, with ``--debug``, in success and in failures, as a real process.

Scanned: stdout (the credential commands may print their own credential values, ``token`` its
access token; nothing else), stderr (the whole debug log), and every file of the cache folder (raw,
and decoded from base64 or hex), for the private key's base64 lines, each client assertion and
its signature, each access token, and each secret access key and session token ever minted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import Result, World
from mdh_creds.testing import MintRequest
from mdh_creds.testing._models import random_minter

CREDS, TOKEN, EXEC, LOCAL = "credentials", "token", "exec", "local"


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    kind: str  # CREDS prints credentials, TOKEN the access token; EXEC hands them to a child
    # that prints nothing; LOCAL needs no network
    module: str | None = None  # the command lives in this module, which may not exist yet
    after_dashes: tuple[str, ...] = ()

    def args(self) -> list[str]:
        """With ``--debug``; ``--force-refresh`` makes this process do the exchange itself."""
        extra = ["--force-refresh"] if self.kind != LOCAL else []
        rest = ["--", *self.after_dashes] if self.after_dashes else []
        return [*self.argv, "--debug", *extra, *rest]


COMMANDS = [
    Command("process", ("process",), CREDS),
    Command("token", ("token",), TOKEN),
    Command("export env", ("export", "--format", "env"), CREDS),
    Command("export json", ("export", "--format", "json"), CREDS),
    Command("exec", ("exec",), EXEC, "mdh_creds.cli.commands.exec", ("true",)),
    Command("status", ("status",), LOCAL),
    Command("status json", ("status", "--json"), LOCAL),
    Command("iam-policy", ("iam-policy",), LOCAL, "mdh_creds.cli.commands.iam_policy"),
    Command("clear", ("clear",), LOCAL),
    Command("list json", ("list", "--json"), LOCAL),
]


@dataclass
class Recorder:
    """What the emulator handed out: minted credentials and access tokens."""

    minted: list[Mapping[str, str]]
    tokens: list[str]

    def mint(self, request: MintRequest) -> Mapping[str, str]:
        creds = random_minter(request)
        self.minted.append(creds)
        return creds

    def token_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.tokens.append(str(answer["access_token"]))
        return answer


def wrong_key_file(world: World) -> None:
    """The real key cut to half its lines: it parses as PEM but cannot sign."""
    lines = world.account.key_pair.private_pem.strip().splitlines()
    body = lines[1:-1]
    cut = [lines[0], *body[: len(body) // 2], lines[-1]]
    world.account.key_file.write_text("\n".join(cut) + "\n")


def prior_answer_as_malformed(world: World, recorder: Recorder) -> None:
    """A malformed explorer answer that carries the real secrets of the earlier exchange."""
    earlier = recorder.minted[0]
    body = json.dumps(
        {
            "AccessKeyId": "not a key id",
            "SecretAccessKey": earlier["SecretAccessKey"],
            "SessionToken": earlier["SessionToken"],
            "Expiration": "soon",
        }
    )
    world.emulator.malformed("exchange", body, times=50)


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[World, Recorder], None]
    token_code: int  # exit code of commands that need an access token only
    exchange_code: int  # exit code of commands that need credentials
    message: str | None = None
    cache_opens: bool = True  # the cached credentials still open (``status --json`` health)


SCENARIOS = [
    Scenario("success", lambda world, recorder: None, 0, 0),
    Scenario(
        "token 400 invalid_client",
        lambda world, recorder: world.emulator.fail(
            "token", 400, times=50, body=json.dumps({"error": "invalid_client"})
        ),
        4,
        4,
        "invalid_client",
    ),
    Scenario(
        "exchange 500",
        lambda world, recorder: world.emulator.fail("exchange", 500, times=50),
        0,
        5,
        "answered HTTP 500",
    ),
    Scenario("malformed answer", prior_answer_as_malformed, 0, 4, "malformed AccessKeyId"),
    Scenario("bad key", lambda world, recorder: wrong_key_file(world), 3, 3, "private key", False),
]


def available(command: Command) -> bool:
    return command.module is None or importlib.util.find_spec(command.module) is not None


def key_lines(world: World) -> list[str]:
    pem = world.account.key_pair.private_pem
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assertions(world: World) -> list[str]:
    """Every client assertion the emulator received, and its signature alone."""
    found: list[str] = []
    for request in world.emulator.requests:
        assertion = (request.form or {}).get("client_assertion")
        if assertion:
            found += [assertion, assertion.rsplit(".", 1)[-1]]
    return found


def access_tokens(world: World, recorder: Recorder) -> list[str]:
    """Every access token handed out, and every one presented to an exchange endpoint."""
    found = list(recorder.tokens)
    for request in world.emulator.requests:
        if request.endpoint != "token" and request.headers.get("Authorization"):
            found.append(request.headers["Authorization"])
    return found


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]


def decoded_views(blob: bytes) -> Iterator[bytes]:
    """The bytes of a file, and what they decode to if they are base64 or hex."""
    yield blob
    compact = b"".join(blob.split())
    with contextlib.suppress(binascii.Error, ValueError):
        yield base64.b64decode(compact, validate=True)
    with contextlib.suppress(UnicodeDecodeError, ValueError):
        yield bytes.fromhex(compact.decode("ascii"))


def assert_absent(secrets: list[str], where: str, text: str) -> None:
    data = text.encode()
    for secret in secrets:
        for form in forms(secret):
            assert form not in data, f"a secret ({len(secret)} chars) leaked into {where}"


def assert_cache_clean(world: World, secrets: list[str]) -> None:
    folder = world.cache_dir
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        for view in decoded_views(path.read_bytes()):
            for secret in secrets:
                for form in forms(secret):
                    assert form not in view, f"a secret leaked into the cache file {path.name}"


def expected_code(scenario: Scenario, command: Command) -> int:
    if command.kind == TOKEN:
        return scenario.token_code
    if command.kind in (CREDS, EXEC):
        return scenario.exchange_code
    if command.name == "status json" and not scenario.cache_opens:
        return 1  # the health check: no valid credentials at hand
    return 0


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_no_secret_leaks(world: World, scenario: Scenario, command: Command) -> None:
    if not available(command):
        pytest.skip(f"{command.module} does not exist yet")
    recorder = Recorder([], [])
    world.emulator.minter = recorder.mint
    world.emulator.set_answer_override("token", recorder.token_answer)
    prior = world.main("process")  # fills the cache: its secrets are sealed in the folder now
    assert prior.code == 0, prior.err
    assert len(recorder.minted) == 1 and len(recorder.tokens) == 1
    scenario.setup(world, recorder)

    result: Result = world.run(*command.args())

    assert result.code == expected_code(scenario, command), result.err
    assert result.err == "" or result.err.endswith("\n")
    assert "mdh-creds: DEBUG: " in result.err or command.kind == LOCAL
    if result.code != 0 and command.name != "status json":  # a health check, not an error
        last = result.err.splitlines()[-1]
        assert last.startswith("mdh-creds: ") and "DEBUG" not in last
        if scenario.message:
            assert scenario.message in last
    minted = [c[name] for c in recorder.minted for name in ("SecretAccessKey", "SessionToken")]
    tokens = access_tokens(world, recorder)
    everything = key_lines(world) + assertions(world) + tokens + minted
    assert len(assertions(world)) >= 2 and tokens and minted

    assert_absent(everything, "stderr", result.err)
    allowed_on_stdout: list[str] = []
    if result.code == 0 and command.kind == CREDS:
        allowed_on_stdout = minted
    elif result.code == 0 and command.kind == TOKEN:
        allowed_on_stdout = tokens
    assert_absent([s for s in everything if s not in allowed_on_stdout], "stdout", result.out)
    assert_cache_clean(world, everything)

    if result.code == 0 and command.kind == CREDS:
        assert recorder.minted[-1]["SecretAccessKey"] in result.out  # the refreshed credentials
    if result.code == 0 and command.kind == TOKEN:
        assert result.out.strip() in tokens
    if result.code != 0 and command.name != "status json":  # the report comes with its verdict
        assert result.out == ""
