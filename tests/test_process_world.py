"""Processes and the shell around them (DESIGN 4 and 6): a forked child never reuses the parent's
connections, ``mdh_cache = memory`` is one cache per process, the generic aliases rank below the
profile, a closed stdout is one line, and nothing a server sent reaches the terminal raw.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections import Counter
from typing import Any

import pytest

from conftest import Result, World
from mdh_creds.aws.clients import LOCAL_ENDPOINT, aws_client
from mdh_creds.cli.fastcache import read_settings
from mdh_creds.redact import RedactingFilter, printable
from mdh_creds.settings.model import parse_settings


def run_python(world: World, code: str, **env: str) -> Any:
    """``code`` in a fresh interpreter with the world's environment; its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=world.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


FORKING_CHILDREN = """
    import json, os
    from mdh_creds.api import broker_for

    broker = broker_for(cache="none")
    parent = broker.get_credentials().access_key_id  # leaves a kept-alive connection pooled
    pipes = []
    for _ in range(4):
        read, write = os.pipe()
        if os.fork() == 0:
            os.close(read)
            try:
                key = broker.get_credentials().access_key_id
            except Exception as exc:
                key = f"failed: {type(exc).__name__}"
            os.write(write, key.encode())
            os._exit(0)
        os.close(write)
        pipes.append(read)
    children = [os.read(read, 200).decode() for read in pipes]
    for _ in pipes:
        os.wait()
    print(json.dumps({"parent": parent, "children": children}))
"""


def test_a_forked_child_never_reuses_the_parents_connection(world: World) -> None:
    found = run_python(world, FORKING_CHILDREN, MDH_TIMEOUT="5", MDH_RETRIES="0")
    records = world.emulator.requests
    assert all(r.status == 200 for r in records), records
    parent_peer = records[0].peer
    assert records[1].peer == parent_peer  # the parent kept its connection alive
    children_peers = Counter(r.peer for r in records[2:])
    assert parent_peer not in children_peers
    # Each child: one connection of its own (a token and a credentials request over it).
    assert sorted(children_peers.values()) == [2, 2, 2, 2]
    keys = [found["parent"], *found["children"]]
    assert len(set(keys)) == 5 and not any(k.startswith("failed") for k in keys), keys


TWENTY_SESSIONS = """
    import json, threading
    import mdh_creds

    keys = []
    def use_a_session():
        frozen = mdh_creds.session(cache="memory").get_credentials().get_frozen_credentials()
        keys.append(frozen.access_key)

    use_a_session()
    threads = [threading.Thread(target=use_a_session) for _ in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(10):
        use_a_session()
    print(json.dumps(keys))
"""


def test_twenty_sessions_of_one_process_share_one_memory_cache(world: World) -> None:
    keys = run_python(world, TWENTY_SESSIONS)
    assert len(keys) == 20 and len(set(keys)) == 1
    assert world.emulator.count("exchange") == 1
    assert world.emulator.count("token") == 1


# --- generic aliases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"URL": "https://elsewhere.example/token"}, "profile"),
        ({"MDH_TOKEN_URL": "https://mdh.example/token"}, "https://mdh.example/token"),
        ({"MDH_TOKEN_URL": "https://mdh.example/token", "URL": "https://x.example/"}, None),
    ],
)
def test_generic_aliases_rank_below_the_profile(
    world: World, env: dict[str, str], expected: str | None
) -> None:
    environ = world.env(**env)
    settings = parse_settings(environ)
    wanted = world.keys["mdh_token_url"] if expected == "profile" else expected
    wanted = wanted or env["MDH_TOKEN_URL"]
    assert settings.token_url == wanted
    # The cache-hit fast path reads settings through the same functions.
    from mdh_creds.settings.profiles import load_profile

    keys = load_profile(str(world.config), world.profile) or {}
    assert read_settings(environ, keys, "profile")["token_url"] == wanted


def test_a_generic_alias_still_applies_when_the_profile_is_silent(world: World) -> None:
    world.write_profile(mdh_token_url=None, mdh_scope=None)
    settings = parse_settings(world.env(URL=world.emulator.token_url, SCOPE="api", RETRIES="1"))
    assert settings.token_url == world.emulator.token_url
    assert settings.source("token_url") == "URL"
    assert settings.retries == 1


def test_an_exported_url_never_receives_the_assertion(world: World) -> None:
    # Many tools export URL; the profile names the token endpoint, so the signed assertion
    # goes there and nowhere else.
    result = world.main("process", URL="http://127.0.0.1:9/collects-assertions")
    assert result.code == 0, result.err
    assert world.emulator.successes("token") == 1


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"IS_LOCAL": "true"}, LOCAL_ENDPOINT),
        ({"IS_LOCAL": "true", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8123"}, "8123"),
        ({"IS_LOCAL": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:8124"}, "8124"),
    ],
)
def test_is_local_ranks_below_botocores_endpoints(
    world: World, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    environ = world.env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", **variables)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # botocore reads os.environ
    monkeypatch.delenv("AWS_PROFILE")
    client = aws_client("dynamodb", parse_settings(environ), environ)
    assert expected in client.meta.endpoint_url


# --- the terminal ---------------------------------------------------------------------------


def _run_with_stdout(world: World, mode: str) -> Result:
    command = [sys.executable, "-m", "mdh_creds", "process"]
    if mode == "closed":
        done = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", *command],
            env=world.env(),
            stderr=subprocess.PIPE,
            text=True,
            timeout=90,
            check=False,
        )
        return Result(done.returncode, "", done.stderr)
    read, write = os.pipe()
    os.close(read)  # a reader that has gone away: the write gets EPIPE
    try:
        done = subprocess.run(
            command,
            env=world.env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        os.close(write)
    return Result(done.returncode, "", done.stderr)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm (fast path)"])
@pytest.mark.parametrize("mode", ["closed", "broken-pipe"])
def test_a_closed_stdout_is_one_line_and_a_nonzero_exit(
    world: World, mode: str, warm: bool
) -> None:
    if warm:
        assert world.run("process").code == 0
    result = _run_with_stdout(world, mode)
    assert result.code == 1
    assert result.err == (
        "mdh-creds: stdout is closed: nothing was printed (run mdh-creds with its output open)\n"
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("text/html", "text/html"),
        ("text/html\x1b]0;owned\x07\x1b[2J", "text/html\\x1b]0;owned\\x07\\x1b[2J"),
        ("a\nmdh-creds: fake line", "a\\nmdh-creds: fake line"),
        ("right\u202eto left", "right\\u202eto left"),
        ("caf\u00e9", "caf\u00e9"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert printable(raw * 100, 40).endswith("...")


def test_log_records_reach_the_terminal_escaped() -> None:
    record = logging.LogRecord("mdh_creds", logging.WARNING, __file__, 1, "%s", ("\x1b[2J",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "\\x1b[2J"
