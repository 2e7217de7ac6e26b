"""The network as an attacker or an unlucky user meets it (DESIGN 6), against real servers on
127.0.0.1: a server that trickles (the deadline frees the lock), gzip decoded by us, private CAs
(``AWS_CA_BUNDLE`` > ``ca_bundle`` > ``REQUESTS_CA_BUNDLE``) and proxies. The outcomes of single
faults (huge answers, gzip bombs, ``~/.netrc``...) are rows of ``test_fault_matrix``.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import filelock
import pytest

import hostile
from conftest import Result, World
from hostile import Hostile, Relayed


@pytest.fixture
def servers() -> Iterator[list[Hostile]]:
    """Hostile servers started by a test, stopped after it."""
    started: list[Hostile] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[Hostile], answer: hostile.Answer, **kwargs: object) -> Hostile:
    server = Hostile(answer, **kwargs)  # type: ignore[arg-type]
    servers.append(server)
    return server


def exchange_through(world: World, server: Hostile) -> None:
    """The explorer endpoint is ``server`` (relaying to the emulator, or not)."""
    path = world.emulator.legacy_exchange_url.removeprefix(world.emulator.base_url)
    world.write_profile(mdh_exchange_url=server.url + path)


def lock_is_held(world: World) -> bool:
    (path,) = (world.cache_dir / "locks").glob("credentials-*.lock")
    probe = filelock.FileLock(path, is_singleton=False)
    try:
        probe.acquire(timeout=0.1)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def test_a_trickling_server_meets_the_deadline_and_the_lock_is_freed(
    world: World, servers: list[Hostile]
) -> None:
    # Two bytes per second: requests' per-read timeout never fires; only a total deadline can.
    trickler = serve(servers, hostile.trickled(world.emulator.base_url))
    exchange_through(world, trickler)
    world.write_profile(mdh_timeout="1", mdh_retries="0")
    results: list[Result] = []
    runner = threading.Thread(target=lambda: results.append(world.main("process")), daemon=True)
    runner.start()
    assert trickler.arrived.wait(30)
    assert lock_is_held(world)  # the exchange runs under the entry's lock
    runner.join(60)  # the trickle would last minutes
    assert not runner.is_alive()
    (result,) = results
    assert result.code == 5, result.err
    assert result.err.endswith("timed out after 1 s\n") and result.err.count("\n") == 1
    assert not lock_is_held(world)
    world.write_profile(mdh_exchange_url=world.emulator.legacy_exchange_url)
    assert world.main("process").code == 0


def _gzipped(relayed: Relayed) -> Relayed:
    kept = [(k, v) for k, v in relayed.headers if k.lower() != "content-encoding"]
    body = gzip.compress(relayed.body)
    return Relayed(relayed.status, [*kept, ("Content-Encoding", "gzip")], body)


def test_a_gzip_answer_is_decoded(world: World, servers: list[Hostile]) -> None:
    relay = serve(servers, hostile.rewritten(world.emulator.base_url, _gzipped))
    exchange_through(world, relay)
    result = world.main("process")
    assert result.code == 0, result.err
    assert json.loads(result.out)["AccessKeyId"]


# --- CA bundles -----------------------------------------------------------------------------


@pytest.fixture
def tls_relay(world: World, servers: list[Hostile], tmp_path: Path) -> tuple[Path, Path]:
    """The explorer behind TLS signed by a private CA; (that CA's bundle, another CA's)."""
    ca, other = hostile.PrivateCa(tmp_path / "ca"), hostile.PrivateCa(tmp_path / "other", "other")
    relay = serve(
        servers,
        hostile.rewritten(world.emulator.base_url, lambda r: r),
        tls=ca.server_context(),
    )
    exchange_through(world, relay)
    return ca.bundle, other.bundle


@pytest.mark.parametrize(
    ("aws_ca_bundle", "profile_ca_bundle", "requests_ca_bundle", "served"),
    [
        (None, None, None, False),
        ("right", None, None, True),
        (None, "right", None, True),
        (None, None, "right", True),
        ("wrong", "right", None, False),  # AWS_CA_BUNDLE outranks the profile, as in botocore
        (None, "right", "wrong", True),  # requests' variable ranks below the profile
        ("right", None, "wrong", True),
    ],
)
def test_ca_bundles_in_botocore_order(
    world: World,
    tls_relay: tuple[Path, Path],
    aws_ca_bundle: str | None,
    profile_ca_bundle: str | None,
    requests_ca_bundle: str | None,
    served: bool,
) -> None:
    bundles = {"right": str(tls_relay[0]), "wrong": str(tls_relay[1])}
    env = {}
    if aws_ca_bundle:
        env["AWS_CA_BUNDLE"] = bundles[aws_ca_bundle]
    if requests_ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = bundles[requests_ca_bundle]
    if profile_ca_bundle:
        world.write_profile(ca_bundle=bundles[profile_ca_bundle])
    result = world.main("process", **env)
    if served:
        assert result.code == 0, result.err
    else:
        assert result.code == 5, result.err
        assert "SSLError" in result.err


def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error(world: World) -> None:
    result = world.main("process", AWS_CA_BUNDLE=str(world.tmp / "no-such-bundle.pem"))
    assert result.code == 3, result.err
    assert "invalid ca_bundle" in result.err and "(from AWS_CA_BUNDLE)" in result.err
    assert "no such file or folder" in result.err


# --- proxies --------------------------------------------------------------------------------


@pytest.mark.parametrize("bypass", [False, True], ids=["through-proxy", "no-proxy"])
def test_proxy_variables_are_still_honoured(
    world: World, servers: list[Hostile], bypass: bool
) -> None:
    proxy = serve(servers, hostile.forward_proxy())
    bypassed = "127.0.0.1" if bypass else ""
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": bypassed}
    env |= {name.lower(): value for name, value in env.items()}  # urllib reads both spellings
    result = world.run("process", "--no-cache", **env)
    assert result.code == 0, result.err
    assert proxy.requests == (0 if bypass else 2)
    assert world.emulator.successes("token") == 1
