"""Roles chained on an mdh profile (B <- A <- mdh): resolved in process with no subprocess, one
AssumeRole per hop across many processes sharing a cache, the AWS CLI through ``process`` and
``exec --server``, the cache sealed, and every profile mdh-creds cannot serve refused in one line.

The emulator mints real moto IAM keys; moto's STS assumes the roles and says who called."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import mdh_creds
from conftest import HEAVY, Result, World
from mdh_creds.testing.minters import moto_iam_minter
from mdh_creds.testing.proxy import CountingProxy
from servers import MotoServer, free_port

ROLE_A = "arn:aws:iam::123456789012:role/first"
ROLE_B = "arn:aws:iam::123456789012:role/second"
ASSUMED_B = "arn:aws:sts::123456789012:assumed-role/second/"
USER = "arn:aws:iam::123456789012:user/mdh-export-1"
CHAIN = f"""
[profile A]
role_arn = {ROLE_A}
source_profile = mdh
role_session_name = hop-a
region = us-east-1

[profile B]
role_arn = {ROLE_B}
source_profile = A
external_id = outer-id
duration_seconds = 1800
region = us-east-1

[profile b-cli]
credential_process = {sys.executable} -m mdh_creds process --profile B
region = us-east-1
"""


def write_config(world: World, extra: str = CHAIN) -> None:
    """The world's mdh profile (with no credential_process: nothing could run one), then
    ``extra``."""
    world.write_profile()
    with world.config.open("a", encoding="utf-8") as handle:
        handle.write(extra)


@pytest.fixture
def chained(world: World, moto: MotoServer) -> World:
    world.emulator.minter = moto_iam_minter(moto.url)
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    write_config(world)
    return world


@pytest.fixture
def in_env(chained: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world's environment in ``os.environ`` (for boto3 in this process)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "MDH_")):
            monkeypatch.delenv(name)
    for name, value in chained.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE")
    yield chained
    mdh_creds.uninstall()


def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything in this process starts a process (a credential_process)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a process was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_session_resolves_a_two_deep_chain_in_process(
    in_env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_subprocess(monkeypatch)
    session = mdh_creds.session("B")
    arn = session.client("sts").get_caller_identity()["Arn"]
    assert arn.startswith(ASSUMED_B), arn
    assert session.get_credentials().method == "custom-mdh"
    assert in_env.emulator.count("exchange") == 1


def test_install_resolves_the_chain_for_every_session(
    in_env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    no_subprocess(monkeypatch)
    mdh_creds.install()
    a = boto3.Session(profile_name="A").client("sts").get_caller_identity()["Arn"]
    b = boto3.Session(profile_name="B").client("sts").get_caller_identity()["Arn"]
    assert a == "arn:aws:sts::123456789012:assumed-role/first/hop-a"
    assert b.startswith(ASSUMED_B) and "/botocore-session-" in b, b
    assert in_env.emulator.count("exchange") == 1  # B's source is A's cached entry


def test_get_credentials_gives_the_role(in_env: World) -> None:
    import boto3

    creds = mdh_creds.get_credentials("B")
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    )
    assert sts.get_caller_identity()["Arn"].startswith(ASSUMED_B)


@pytest.mark.slow
def test_aio_session_resolves_the_chain(in_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    no_subprocess(monkeypatch)

    async def caller() -> str:
        async with mdh_creds.aio_session("B").create_client("sts") as sts:
            return str((await sts.get_caller_identity())["Arn"])

    assert asyncio.run(caller()).startswith(ASSUMED_B)


@pytest.mark.slow
def test_sixteen_processes_assume_each_role_once(chained: World) -> None:
    with CountingProxy(chained.extra_env["AWS_ENDPOINT_URL"]) as proxy:
        chained.extra_env["AWS_ENDPOINT_URL"] = proxy.url  # STS only: the minter calls moto
        with ThreadPoolExecutor(16) as pool:
            runs = list(pool.map(lambda _: chained.run("process", "--profile", "B"), range(16)))
        assert [r.code for r in runs] == [0] * 16, [r.err for r in runs if r.code]
        assert proxy.counts()["AssumeRole"] == 2, proxy.counts()  # A once, B once
    keys = {json.loads(r.out)["AccessKeyId"] for r in runs}
    assert len(keys) == 1
    assert chained.emulator.count("exchange") == 1


@pytest.mark.slow
def test_a_second_lifetime_is_served_from_the_cache(chained: World) -> None:
    first = chained.run("process", "--profile", "B")
    assert first.code == 0, first.err
    with CountingProxy(chained.extra_env["AWS_ENDPOINT_URL"]) as proxy:
        again = chained.run("process", "--profile", "B", AWS_ENDPOINT_URL=proxy.url)
        assert proxy.records() == []
    assert again.code == 0 and again.out == first.out
    expiration = datetime.fromisoformat(json.loads(first.out)["Expiration"].replace("Z", "+00:00"))
    left = (expiration - datetime.now(timezone.utc)).total_seconds()
    assert 1500 < left <= 1800  # duration_seconds = 1800 reached STS


def test_each_hop_sends_what_botocore_sends() -> None:
    """botocore's AssumeRole parameters: the session name given or its generated one, the
    external id and duration when set; the generated name stays out of the entry's key."""
    from mdh_creds.roles.chain import read_chain
    from mdh_creds.roles.sts import AssumeRoleSource

    profiles = {
        "mdh": {"mdh_service_account": "x"},
        "A": {"role_arn": ROLE_A, "source_profile": "mdh"},
        "B": {
            "role_arn": ROLE_B,
            "source_profile": "A",
            "role_session_name": "s",
            "external_id": "e",
            "duration_seconds": "900",
        },
    }
    chain = read_chain(profiles, "B")
    assert chain is not None and chain.root == "mdh"
    a, b = (AssumeRoleSource(hop, lambda: None, lambda _: None).arguments() for hop in chain.hops)
    assert a.keys() == {"RoleArn", "RoleSessionName"}
    assert a["RoleSessionName"].startswith("botocore-session-")
    assert b == {
        "RoleArn": ROLE_B,
        "RoleSessionName": "s",
        "ExternalId": "e",
        "DurationSeconds": 900,
    }
    assert chain.hops[0].identity("root")["role_session_name"] == ""


def aws_cli() -> str:
    import shutil

    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("the AWS CLI v1 is not installed in this environment (test extra 'awscli')")
    return found


def aws(world: World, *args: str, **extra: str) -> Result:
    done = subprocess.run(
        [aws_cli(), *args, "--output", "json"],
        env=world.env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.mark.slow
def test_the_aws_cli_gets_the_role_through_process(chained: World) -> None:
    done = aws(chained, "sts", "get-caller-identity", "--profile", "b-cli")
    assert done.code == 0, done.err
    assert json.loads(done.out)["Arn"].startswith(ASSUMED_B)


@pytest.mark.slow
def test_the_aws_cli_gets_the_role_through_exec_server(chained: World) -> None:
    done = chained.run(
        "exec", "--server", "--profile", "B", "--", aws_cli(), "sts", "get-caller-identity"
    )
    assert done.code == 0, done.err
    assert json.loads(done.out)["Arn"].startswith(ASSUMED_B)


@pytest.mark.slow
def test_serve_hands_out_the_role(chained: World) -> None:
    import boto3

    server = subprocess.Popen(
        [sys.executable, "-m", "mdh_creds", "serve", "--profile", "B"],
        env=chained.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        variables = read_variables(server)
        request = urllib.request.Request(
            variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
            headers={"Authorization": variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=chained.extra_env["AWS_ENDPOINT_URL"],
        aws_access_key_id=body["AccessKeyId"],
        aws_secret_access_key=body["SecretAccessKey"],
        aws_session_token=body["Token"],
    )
    assert sts.get_caller_identity()["Arn"].startswith(ASSUMED_B)
    assert server.returncode == 0


def read_variables(server: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, str]:
    """The ``KEY=value`` lines ``serve`` prints, once the URL and the token are there."""
    assert server.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    deadline, out = time.monotonic() + timeout, b""
    wanted = (b"AWS_CONTAINER_CREDENTIALS_FULL_URI=", b"AWS_CONTAINER_AUTHORIZATION_TOKEN=")
    while not all(name in out for name in wanted) or not out.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0 and server.poll() is None, "serve printed no variables"
        if selector.select(remaining):
            out += os.read(server.stdout.fileno(), 65536)
    selector.close()
    return dict(line.split("=", 1) for line in out.decode().splitlines() if "=" in line)


@pytest.mark.slow
def test_a_changed_hop_is_another_entry_the_hops_below_stay_cached(chained: World) -> None:
    assert chained.run("process", "--profile", "B").code == 0
    write_config(chained, CHAIN.replace("external_id = outer-id", "external_id = other-id"))
    with CountingProxy(chained.extra_env["AWS_ENDPOINT_URL"]) as proxy:
        again = chained.run("process", "--profile", "B", AWS_ENDPOINT_URL=proxy.url)
        assert proxy.counts()["AssumeRole"] == 1  # B again; A from the cache
    assert again.code == 0, again.err
    assert chained.emulator.count("exchange") == 1


@pytest.mark.slow
def test_a_stale_role_is_served_when_sts_fails(chained: World) -> None:
    """STS unreachable: the stale entry of B is served with a warning (the MDH exchange of the
    root still works), as for a failed MDH exchange."""
    planted = plant_role_credentials(chained, "B", left=timedelta(minutes=10))
    closed = f"http://127.0.0.1:{free_port()}"
    done = chained.run("process", "--profile", "B", AWS_ENDPOINT_URL=closed)
    assert done.code == 0, done.err
    assert json.loads(done.out)["AccessKeyId"] == planted.access_key_id
    assert "refresh failed" in done.err and "serving cached credentials" in done.err
    assert "STS AssumeRole of" in done.err


def plant_role_credentials(world: World, profile: str, *, left: timedelta) -> Any:
    """A stale entry of role ``profile`` in the cache, sealed as the chain's broker seals."""
    from mdh_creds.factory import build_chain_broker
    from mdh_creds.mdh.account import resolve
    from mdh_creds.models import TemporaryCredentials
    from mdh_creds.roles.chain import load_profiles
    from mdh_creds.roles.resolve import chain_for

    env = world.env()
    found = chain_for(load_profiles(str(world.config)), profile, env, {}, True)
    assert found is not None
    broker = build_chain_broker(*found, environ=env)
    now = datetime.now(timezone.utc)
    creds = TemporaryCredentials(
        "ASIAPLANTEDROLE00001",
        "planted-secret",
        "planted-token",
        expires_at=now + left,
        issued_at=now + left - timedelta(hours=1),
    )
    sealed = resolve(found[1], env).sealer().seal(broker.cred_key, creds.to_payload())
    assert broker.cache is not None
    broker.cache.save(broker.cred_key, sealed, creds.expires_at)
    return creds


def test_a_role_hit_is_served_by_the_fast_path(chained: World) -> None:
    """A fresh entry of the last hop is printed by the console script's fast path: no botocore,
    no datetime, no full command; the same document as the full command's."""
    first = chained.run("process", "--profile", "B")
    assert first.code == 0, first.err
    probe = (
        "import sys; from mdh_creds.cli.console import main; "
        "sys.argv = ['mdh-creds', *sys.argv[1:]]; code = main(); "
        f"sys.stderr.write('LOADED=' + repr([m for m in {HEAVY!r} if m in sys.modules])); "
        "raise SystemExit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "process", "--profile", "B"],
        env=chained.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "LOADED=[]" and done.stdout == first.out


def test_the_fast_path_never_serves_the_root_for_a_role(chained: World) -> None:
    """Settings from MDH_* variables fit every profile: the root's cached entry must not be
    what a role profile's hit prints."""
    env = {
        f"MDH_{key[4:].upper()}": value for key, value in chained.keys.items() if key[:4] == "mdh_"
    }
    chained.keys = {"region": "us-east-1"}
    write_config(chained)
    root = chained.run("process", "--profile", "mdh", **env)
    role = chained.run("process", "--profile", "B", **env)
    assert root.code == 0 and role.code == 0, root.err + role.err
    assert json.loads(role.out)["AccessKeyId"] != json.loads(root.out)["AccessKeyId"]


def test_clear_removes_the_roles_entry_only(chained: World) -> None:
    assert chained.run("process", "--profile", "B").code == 0
    done = chained.main("clear", "--profile", "B")
    assert done.code == 0 and "removed 1 cached entry" in done.err, done.err
    assert len(list(chained.cache_dir.rglob("*.bin"))) == 3  # mdh's token and credentials, A


def test_export_gives_the_role_and_token_refuses_it(chained: World) -> None:
    process = chained.main("process", "--profile", "B")
    export = chained.main("export", "--profile", "B", "--format", "json")
    assert export.code == 0, export.err
    assert json.loads(export.out)["AccessKeyId"] == json.loads(process.out)["AccessKeyId"]
    token = chained.run("token", "--profile", "B")
    assert token.code == 3 and token.out == ""
    assert token.err == (
        "mdh-creds: a role profile holds AWS credentials only: ask its mdh profile for the MDH "
        "access token\n"
    )


@pytest.mark.slow
def test_a_second_machine_takes_the_chain_from_the_dynamodb_tier(
    chained: World, moto: MotoServer, dynamodb_table: Any
) -> None:
    _client, table = dynamodb_table
    chained.extra_env.update(moto.env)
    chained.keys.update(mdh_cache="dynamodb", mdh_dynamodb_table=table)
    write_config(chained)
    first = chained.run("process", "--profile", "B")
    assert first.code == 0, first.err
    with CountingProxy(moto.url) as proxy:
        other = chained.run(
            "process",
            "--profile",
            "B",
            MDH_CACHE_DIR=str(chained.tmp / "other-machine"),
            AWS_ENDPOINT_URL=proxy.url,
        )
        assert other.code == 0, other.err
        assert proxy.counts()["AssumeRole"] == 0 and proxy.counts()["GetItem"] >= 1
    assert json.loads(other.out)["AccessKeyId"] == json.loads(first.out)["AccessKeyId"]
    assert chained.emulator.count("exchange") == 1


def test_the_cache_holds_no_plain_text_of_the_chained_credentials(chained: World) -> None:
    done = chained.run("process", "--profile", "B")
    assert done.code == 0, done.err
    creds = json.loads(done.out)
    stored = b"".join(p.read_bytes() for p in chained.cache_dir.rglob("*") if p.is_file())
    assert len(list(chained.cache_dir.rglob("*.bin"))) >= 3  # mdh, A and B
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        assert creds[name].encode() not in stored


@pytest.mark.parametrize(
    ("extra", "profile", "wanted"),
    [
        (
            f"[profile M]\nrole_arn = {ROLE_A}\nsource_profile = mdh\nmfa_serial = arn:mfa\n",
            "M",
            "profile M sets mfa_serial: mdh-creds cannot prompt",
        ),
        (
            f"[profile X]\nrole_arn = {ROLE_A}\nsource_profile = Y\n"
            f"[profile Y]\nrole_arn = {ROLE_B}\nsource_profile = X\n",
            "X",
            "the source_profile chain loops (X -> Y -> X)",
        ),
        (
            f"[profile G]\nrole_arn = {ROLE_A}\nsource_profile = gone\n",
            "G",
            "profile G names source_profile gone, which does not exist",
        ),
        (
            f"[profile S]\nrole_arn = {ROLE_A}\nsource_profile = static\n"
            "[profile static]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
            "S",
            "role profile S starts at profile static, which is not an mdh profile",
        ),
        (
            f"[profile C]\nrole_arn = {ROLE_A}\ncredential_source = Environment\n",
            "C",
            "role profile C takes its source credentials from credential_source",
        ),
    ],
    ids=["mfa_serial", "cycle", "missing-source", "static-root", "credential-source"],
)
def test_a_chain_mdh_creds_cannot_serve_is_one_line_and_exit_3(
    world: World, extra: str, profile: str, wanted: str
) -> None:
    write_config(world, extra)
    done = world.run("process", "--profile", profile)
    assert done.code == 3, done.err
    assert done.err.count("\n") == 1 and done.err.startswith("mdh-creds: "), done.err
    assert wanted in done.err, done.err
    assert "Traceback" not in done.err


def test_a_chain_on_a_foreign_root_is_left_to_botocore(
    in_env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed, the provider declines a chain whose root has static keys: botocore's own
    AssumeRoleProvider assumes it (and moto says so)."""
    import boto3

    extra = (
        f"[profile S]\nrole_arn = {ROLE_A}\nsource_profile = static\nregion = us-east-1\n"
        "[profile static]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    write_config(in_env, CHAIN + extra)
    mdh_creds.install()
    credentials = boto3.Session(profile_name="S").get_credentials()
    assert credentials.method == "assume-role"
    assert in_env.emulator.count("exchange") == 0


def test_status_shows_the_chain(chained: World) -> None:
    assert chained.run("process", "--profile", "B").code == 0
    done = chained.main("status", "--json", "--profile", "B")
    report = json.loads(done.out)
    assert done.code == 0, done.text
    assert report["chain"] == [
        "profile mdh",
        f"assume {ROLE_A} (profile A)",
        f"assume {ROLE_B} (profile B)",
    ]
    assert report["healthy"] is True
    human = chained.main("status", "--profile", "B").out
    assert f"chain        assume {ROLE_B} (profile B)" in human, human
    print(human)


def test_mdh_keys_of_a_role_in_the_chain_are_warned_about_once(
    world: World, moto: MotoServer
) -> None:
    world.emulator.minter = moto_iam_minter(moto.url)
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    write_config(
        world, CHAIN.replace("role_session_name = hop-a", "mdh_cache = none\nmdh_timeout = 9")
    )
    says = "profile A is a role (role_arn, source_profile) and holds mdh_cache, mdh_timeout"
    first = world.run("process", "--profile", "B")
    assert first.code == 0, first.err
    (line,) = first.err.splitlines()  # one line, once, though A is read for each hop
    assert says in line and "count only in the chain's root, profile mdh" in line, line
    assert world.run("process", "--profile", "B").err == ""  # a hit: the fast path reads no more
    status = world.run("status", "--profile", "B")
    assert status.code == 0 and status.err == "", status.err
    (shown,) = [ln for ln in status.out.splitlines() if says in ln]
    assert shown.startswith("warning      ")
    report = json.loads(world.run("status", "--json", "--profile", "B").out)
    assert sum(says in w for w in report["warnings"]) == 1
    root = world.run("status", "--profile", "mdh")  # the root's own keys: nothing to say
    assert root.code == 0 and "which are ignored" not in root.text
