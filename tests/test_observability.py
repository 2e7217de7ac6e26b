"""What an operator sees (DESIGN 7): JSON log lines with events and durations, the user agent on
MDH and AWS calls, and ``status --json``'s exit code as a health check."""

from __future__ import annotations

import json
from typing import Any

from conftest import World
from mdh_creds import __version__
from mdh_creds.testing.proxy import CountingProxy
from servers import MotoServer

AGENT = f"mdh-creds/{__version__}"


def log_lines(err: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(d, dict) and d.get("event") for d in documents), err
    return documents


def test_json_log_lines_carry_events_backends_and_durations(world: World) -> None:
    cold = world.main("process", "--log-format", "json")
    assert cold.code == 0, cold.err
    events = log_lines(cold.err)
    assert [(e["event"], e.get("kind")) for e in events if e["event"] != "log"] == [
        ("cache miss", "credentials"),
        ("cache miss", "token"),
        ("exchange", "token"),
        ("exchange", "credentials"),
        ("command", None),
    ]
    exchange = next(e for e in events if e["event"] == "exchange")
    assert exchange["seconds"] >= 0 and exchange["level"] == "INFO"
    assert all(e["backend"] == "file" for e in events if e["event"] == "cache miss")
    assert events[-1]["exit_code"] == 0 and events[-1]["command"] == "process"

    warm = world.main("process", MDH_LOG_FORMAT="json")
    hit = log_lines(warm.err)[0]
    assert (hit["event"], hit["kind"], hit["backend"]) == ("cache hit", "credentials", "file")


def test_the_fast_path_logs_its_hit_as_json(world: World) -> None:
    assert world.run("process").code == 0
    warm = world.run("process", MDH_LOG_FORMAT="json")
    assert warm.code == 0
    (hit,) = log_lines(warm.err)
    assert hit["event"] == "cache hit" and hit["logger"] == "mdh_creds.cli.fastpath"
    assert hit["kind"] == "credentials" and hit["seconds"] >= 0


def test_a_bad_log_format_is_a_configuration_error(world: World) -> None:
    result = world.run("process", MDH_LOG_FORMAT="xml")
    assert result.code == 3
    assert result.err == "mdh-creds: MDH_LOG_FORMAT must be text or json, not 'xml'\n"
    assert world.main("process", "--log-format", "xml").code == 2


def test_status_json_exit_code_says_whether_valid_credentials_are_at_hand(world: World) -> None:
    empty = world.main("status", "--json")
    assert (empty.code, json.loads(empty.out)["healthy"]) == (1, False)
    assert world.main("status").code == 0  # the human view is not a health check
    assert world.main("process").code == 0
    healthy = world.main("status", "--json")
    assert (healthy.code, json.loads(healthy.out)["healthy"]) == (0, True)
    assert world.main("clear").code == 0
    assert world.main("status", "--json").code == 1
    world.write_profile(mdh_service_account=None)
    broken = world.main("status", "--json")
    assert broken.code == 3 and json.loads(broken.out)["error"]


def test_mdh_and_dynamodb_calls_name_the_broker(
    world: World, moto: MotoServer, dynamodb_table: Any
) -> None:
    _client, table = dynamodb_table
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=table)
    with CountingProxy(moto.url) as proxy:
        world.extra_env.update(moto.env, AWS_ENDPOINT_URL=proxy.url)
        assert world.run("process").code == 0
        dynamodb = proxy.records()
    assert dynamodb and all(AGENT in r.user_agent.split() for r in dynamodb)
    mdh = world.emulator.requests
    assert {r.endpoint for r in mdh} == {"token", "legacy"}
    assert all(r.headers["User-Agent"].startswith(AGENT + " python-requests/") for r in mdh)
