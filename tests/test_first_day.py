"""The first day, as a new user lives it: each mistake, run through the installed ``mdh-creds``
script in a real process with its own HOME, gets one message that names what to fix, with the
right exit code."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import Result, World
from mdh_creds.cache.file import FileCache
from mdh_creds.cache.stored import CacheKey
from servers import free_port
from test_role_chain import CHAIN, ROLE_A, plant_role_credentials, write_config
from test_wrap import Wrapped

SCRIPT = Path(sys.executable).parent / "mdh-creds"


def mdh_creds(
    world: World, *args: str, cwd: Path | None = None, typed: str | None = None, **env: str
) -> Result:
    """The console script, as a user at a shell runs it (``typed``: its standard input)."""
    done = subprocess.run(
        [str(SCRIPT), *args],
        env=world.env(**env),
        cwd=cwd or world.tmp,
        input=typed,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def error_line(result: Result) -> str:
    """The one error line; a failed run says nothing else and prints no traceback."""
    lines = result.err.splitlines()
    assert lines and lines[-1].startswith("mdh-creds: "), result.err
    assert "Traceback" not in result.err
    return lines[-1]


def configure_args(world: World, *extra: str) -> list[str]:
    return [
        "configure",
        "--profile",
        "mdh",
        "--service-account",
        world.account.name,
        "--private-key-file",
        str(world.account.key_file),
        "--project-code",
        world.account.project_code,
        *extra,
    ]


@pytest.fixture
def empty(world: World) -> World:
    """A machine where nothing is configured yet."""
    world.config.write_text("", encoding="utf-8")
    return world


# --- nothing configured ---------------------------------------------------------------------


def test_nothing_configured_points_at_configure(empty: World) -> None:
    result = mdh_creds(empty, AWS_PROFILE="")
    assert result.code == 3 and result.out == ""
    line = error_line(result)
    assert result.err.count("\n") == 1
    assert "no MDH service account is configured for profile default" in line
    assert "has no such profile" in line
    assert "run mdh-creds configure --profile mdh --service-account NAME" in line
    assert "--private-key-file KEY.pem --project-code CODE, then use --profile mdh" in line


def test_clear_all_needs_no_profile(world: World) -> None:
    world.write_profile(mdh_cache_dir=None)  # the default folder: $XDG_CACHE_HOME/mdh-creds
    assert mdh_creds(world, "process").code == 0
    default_folder = world.tmp / "xdg-cache" / "mdh-creds"
    assert len(list(default_folder.glob("*.bin"))) == 2
    world.config.write_text("", encoding="utf-8")
    result = mdh_creds(world, "clear", "--all", AWS_PROFILE="", MDH_CACHE="file")
    assert result.code == 0, result.err
    assert result.err == f"mdh-creds: removed 2 cached entries (files in {default_folder})\n"
    assert list(default_folder.glob("*.bin")) == []


# --- misspelt keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant", "code", "error"),
    [
        ("mdh_serviceaccount", "mdh_service_account", 3, "mdh_service_account is not set"),
        ("mdh_projectcode", "mdh_project_code", 4, "answered HTTP 400 (missing ProjectCode)"),
        ("mdh_cahce", "mdh_cache", 0, None),
    ],
)
def test_misspelt_key_names_the_key_meant(
    world: World, typo: str, meant: str, code: int, error: str | None
) -> None:
    value = world.keys.pop(meant)
    world.write_profile(**{typo: value})
    result = mdh_creds(world, "process", "--profile", "mdh")
    assert result.code == code, result.err
    warning = (
        f"mdh-creds: WARNING: unknown key {typo} in profile mdh of {world.config}: "
        f"did you mean {meant}?"
    )
    assert result.err.splitlines()[0] == warning
    if error:
        assert error in error_line(result) and result.out == ""
    else:
        assert json.loads(result.out)["Version"] == 1


def test_status_and_configure_name_a_misspelt_token_url(world: World) -> None:
    world.write_profile(mdh_token_url=None, mdh_tokenurl=world.emulator.token_url)
    expected = (
        f"unknown key mdh_tokenurl in profile mdh of {world.config}: did you mean mdh_token_url?"
    )
    status = json.loads(mdh_creds(world, "status", "--json").out)
    assert expected in status["warnings"]
    human = mdh_creds(world, "status")
    assert f"warning      {expected}" in human.out.splitlines()
    assert "WARNING" not in human.err  # said once, in the report
    configured = mdh_creds(world, *configure_args(world))
    assert configured.code == 0, configured.err
    assert f"mdh-creds: warning: {expected}" in configured.err.splitlines()
    assert world.emulator.count("token") == 0


# --- configure ------------------------------------------------------------------------------


def test_configure_writes_absolute_paths_a_region_and_names_the_next_step(empty: World) -> None:
    keys = empty.tmp / "keys"
    keys.mkdir()
    (keys / "sa.pem").write_text(empty.account.key_pair.private_pem)
    (keys / "sa.pem").chmod(0o600)
    args = configure_args(empty)
    args[args.index("--private-key-file") + 1] = "sa.pem"  # relative to the folder it runs in
    result = mdh_creds(empty, *args, cwd=keys)
    assert result.code == 0, result.err
    assert result.out == ""
    assert result.err.splitlines()[-1] == (
        "mdh-creds: next, check it: aws sts get-caller-identity --profile mdh"
    )
    written = empty.config.read_text()
    assert f"credential_process = {SCRIPT} process --profile mdh\n" in written
    assert f"mdh_private_key_file = {keys / 'sa.pem'}\n" in written
    assert "region = us-east-1\n" in written


@pytest.mark.parametrize(
    "old",
    ["mdh-creds process --profile mdh", "/gone/venv/bin/python -m mdh_creds process --profile mdh"],
    ids=["bare-name", "removed-environment"],
)
def test_configure_repairs_its_own_command_and_keeps_anyone_elses(world: World, old: str) -> None:
    world.write_profile(credential_process=old)
    assert mdh_creds(world, "configure", "--profile", "mdh").code == 0
    assert f"credential_process = {SCRIPT} process --profile mdh\n" in world.config.read_text()
    world.write_profile(credential_process="/opt/custom/helper --json")
    assert mdh_creds(world, "configure", "--profile", "mdh").code == 0
    assert "credential_process = /opt/custom/helper --json\n" in world.config.read_text()


def test_configure_keeps_a_region_unless_told(world: World) -> None:
    world.write_profile(region="eu-west-1")
    assert mdh_creds(world, *configure_args(world)).code == 0
    assert "region = eu-west-1\n" in world.config.read_text()
    assert mdh_creds(world, *configure_args(world, "--region", "eu-central-1")).code == 0
    assert "region = eu-central-1\n" in world.config.read_text()
    bad = mdh_creds(world, *configure_args(world, "--region", "Frankfurt"))
    assert bad.code == 3
    assert "invalid --region 'Frankfurt': an AWS region looks like us-east-1" in error_line(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist (from flag --private-key-file)"),
        ("this is not a key\n", "is neither PEM nor base64-encoded PEM"),
    ],
    ids=["missing", "not-a-key"],
)
def test_configure_refuses_a_key_file_that_holds_no_key(
    empty: World, content: str | None, message: str
) -> None:
    path = empty.tmp / "wrong.pem"
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    args = configure_args(empty)
    args[args.index("--private-key-file") + 1] = str(path)
    result = mdh_creds(empty, *args)
    assert result.code == 3
    line = error_line(result)
    assert str(path) in line and message in line
    assert empty.config.read_text() == ""  # nothing written


@pytest.mark.parametrize("shape", ["pem", "base64-body"])
def test_a_key_pasted_where_its_path_belongs_is_refused_unechoed(empty: World, shape: str) -> None:
    pem = empty.account.key_pair.private_pem
    pasted = pem if shape == "pem" else "".join(pem.splitlines()[1:-1])
    body_line = pem.splitlines()[2]
    args = configure_args(empty)
    args[args.index("--private-key-file") + 1] = pasted
    for result in (
        mdh_creds(empty, *args),
        mdh_creds(empty, "process", "--profile", "mdh", MDH_PRIVATE_KEY_FILE=pasted),
    ):
        assert result.code == 3
        assert "this looks like a key, not a path" in error_line(result)
        assert body_line not in result.err and pasted not in result.err
    assert empty.config.read_text() == ""


def test_configure_names_what_is_still_missing(empty: World) -> None:
    result = mdh_creds(empty, "configure", "--profile", "mdh", "--project-code", "RK.1.P")
    assert result.code == 0, result.err
    assert result.err.splitlines()[-1] == (
        "mdh-creds: profile mdh still needs: mdh-creds configure --profile mdh "
        "--service-account NAME --private-key-file KEY.pem"
    )


def test_create_table_through_the_mdh_profile_names_mdh_aws_profile(world: World) -> None:
    result = mdh_creds(world, "configure", "--profile", "mdh", "--create-table", AWS_PROFILE="mdh")
    assert result.code == 3, result.err
    line = error_line(result)
    assert "the plugin's own AWS calls never use the mdh profile mdh" in line
    assert "set mdh_aws_profile (--aws-profile, MDH_AWS_PROFILE)" in line


# --- status ---------------------------------------------------------------------------------


def test_status_shows_every_resolved_value(world: World) -> None:
    world.write_profile(mdh_cache_dir=None)
    configured = mdh_creds(world, *configure_args(world))
    assert configured.code == 0, configured.err
    assert mdh_creds(world, "process").code == 0
    report = json.loads(mdh_creds(world, "status", "--json").out)
    folder = str(world.tmp / "xdg-cache" / "mdh-creds")
    assert report["settings"]["cache_dir"] == {"value": folder, "source": "default"}
    assert report["cache"] == {
        "setting": "file",
        "backend": "file",
        "where": f"files in {folder}",
        "folder": folder,
    }
    assert sorted((e["kind"], e["state"]) for e in report["entries"]) == [
        ("credentials", "fresh"),
        ("token", "fresh"),
    ]
    assert report["clock_skew_seconds"] == 0
    assert report["credential_process"] == {
        "program": str(SCRIPT),
        "found": True,
        "path": str(SCRIPT),
    }
    assert report["warnings"] == [] and report["error"] is None
    human = mdh_creds(world, "status").out
    assert "None" not in human and "(not set)" not in human.split("cache_dir")[1].splitlines()[0]
    assert f"cache folder {folder}" in human
    assert f"credential_process runs {SCRIPT} (found)" in human
    assert "clock skew   +0 s against MDH" in human


@pytest.mark.parametrize(
    ("process", "warning"),
    [
        (None, "profile mdh has no credential_process: run mdh-creds configure --profile mdh"),
        (
            "/nonexistent/bin/mdh-creds process --profile mdh",
            "runs /nonexistent/bin/mdh-creds, which does not exist: run mdh-creds configure",
        ),
        (
            "mdh-creds process --profile mdh",
            "runs mdh-creds without a full path (not found on this PATH)",
        ),
    ],
    ids=["absent", "gone", "bare-name"],
)
def test_status_checks_credential_process(world: World, process: str | None, warning: str) -> None:
    world.write_profile(credential_process=process)
    result = mdh_creds(world, "status", "--json", PATH="/usr/bin:/bin")
    assert result.code == 1, result.err  # the health check: nothing cached yet
    report = json.loads(result.out)
    assert report["healthy"] is False and report["error"] is None
    assert report["credential_process"]["found"] is False
    assert any(warning in line for line in report["warnings"]), report["warnings"]


def test_status_with_nothing_configured_says_what_to_run(empty: World) -> None:
    result = mdh_creds(empty, "status", AWS_PROFILE="")
    assert result.code == 3
    assert "None" not in result.out
    assert "credential_process none in profile default" in result.out
    assert "error        no MDH service account" in result.out
    assert "mdh-creds configure --profile mdh" in result.out


# --- MDH refusals ---------------------------------------------------------------------------


def test_403_echoes_the_project_code_and_where_it_came_from(world: World) -> None:
    world.write_profile(mdh_project_code="RK.OTHER.Project")
    result = mdh_creds(world, "process")
    assert result.code == 4
    line = error_line(result)
    assert result.err.count("\n") == 1
    assert "answered HTTP 403" in line
    assert (
        "MDH refused project code 'RK.OTHER.Project' "
        f"(from mdh_project_code in profile mdh of {world.config})" in line
    )


def test_403_echoes_the_project_id_from_a_flag(world: World) -> None:
    world.write_profile(
        mdh_project_code=None, mdh_exchange_url=world.emulator.exchange_url_for("{project_id}")
    )
    result = mdh_creds(world, "process", "--project-id", "not-mine")
    assert result.code == 4
    assert "MDH refused project id 'not-mine' (from flag --project-id)" in error_line(result)


# --- help -----------------------------------------------------------------------------------


def test_help_puts_a_commands_own_options_first() -> None:
    def help_of(*args: str) -> str:
        done = subprocess.run(
            [str(SCRIPT), *args, "--help"], capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    configure = help_of("configure")
    assert configure.index("--region") < configure.index("common options:")
    assert configure.index("common options:") < configure.index("setting flags:")
    assert configure.index("setting flags:") < configure.index("--service-account")
    assert "--cache {auto,keyring,file,dynamodb,memory,none}" in configure
    assert configure.startswith("usage: mdh-creds configure [-h] [--region REGION]")
    top = help_of()
    assert "start here:" in top and "mdh-creds configure --profile mdh --service-account" in top
    assert "--service-account" not in top.split("start here:")[0]


def test_status_says_when_each_entry_expires_from_now(world: World) -> None:
    assert world.main("process").code == 0
    report = json.loads(world.main("status", "--json").out)
    creds = next(e for e in report["entries"] if e["kind"] == "credentials")
    assert 0 < creds["expires_in_seconds"] <= world.emulator.credential_lifetime
    text = world.main("status").out
    assert re.search(r"credentials \(file\) +fresh +expires \S+Z \(in \d+ (h|min)", text), text


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (42 * 60, "in 42 min"),
        (3900, "in 1 h 5 min"),
        (7200, "in 2 h"),
        (30, "in 30 s"),
        (-180, "3 min ago"),
    ],
)
def test_relative_expiry_reads_as_people_say_it(seconds: int, said: str) -> None:
    from mdh_creds.cli.commands.status import relative

    assert relative(seconds) == said


def test_a_missing_region_is_flagged_by_status_and_exec_server(world: World) -> None:
    assert "region       us-east-1" in world.main("status").out
    world.write_profile(region=None)
    report = json.loads(world.main("status", "--json").out)
    assert report["region"] is None
    assert any(w.startswith("no region: set region in profile mdh") for w in report["warnings"])
    assert "region       not set" in world.main("status").out
    result = world.main("exec", "--server", "--", sys.executable, "-c", "pass")
    assert result.code == 0, result.err
    assert "warning: no region for profile mdh" in result.err and "NoRegionError" in result.err


# --- configure never takes over another profile -----------------------------------------------


def account_flags(world: World) -> list[str]:
    return configure_args(world)[3:]  # without --profile mdh


@pytest.mark.parametrize(
    ("environment", "written"),
    [("", "mdh"), ("default", "mdh"), ("work", "work")],
    ids=["no-AWS_PROFILE", "AWS_PROFILE=default", "AWS_PROFILE=work"],
)
def test_configure_without_profile_writes_a_named_profile_never_default(
    empty: World, environment: str, written: str
) -> None:
    empty.config.write_text("[default]\nregion = eu-west-1\n", encoding="utf-8")
    result = mdh_creds(empty, "configure", *account_flags(empty), AWS_PROFILE=environment)
    assert result.code == 0, result.err
    text = empty.config.read_text()
    assert text.startswith("[default]\nregion = eu-west-1\n\n[profile " + written + "]\n"), text
    assert f"credential_process = {SCRIPT} process --profile {written}\n" in text
    assert f"mdh-creds: wrote profile {written} in {empty.config}" in result.err


def test_configure_writes_default_only_when_named(empty: World) -> None:
    result = mdh_creds(empty, "configure", "--profile", "default", *account_flags(empty))
    assert result.code == 0, result.err
    assert empty.config.read_text().startswith("[default]\ncredential_process = ")


OTHER_SOURCES = {
    "sso_session": "[profile mdh]\nsso_session = corp\nsso_account_id = 111122223333\n",
    "sso_start_url": "[profile mdh]\nsso_start_url = https://corp.awsapps.com/start\n",
    "role_arn": "[profile mdh]\nrole_arn = arn:aws:iam::111122223333:role/r\nsource_profile = b\n",
    "source_profile": "[profile mdh]\nsource_profile = base\n",
    "credential_source": "[profile mdh]\ncredential_source = Ec2InstanceMetadata\n",
    "web_identity_token_file": "[profile mdh]\nweb_identity_token_file = /var/token\n",
    "login_session": "[profile mdh]\nlogin_session = arn:aws:iam::111122223333:user/me\n",
    "aws_access_key_id": "[profile mdh]\naws_access_key_id = AKIAEXAMPLE\n",
    "someone else's credential_process": "[profile mdh]\ncredential_process = /opt/x --json\n",
}


@pytest.mark.parametrize("key", list(OTHER_SOURCES))
def test_configure_refuses_a_profile_with_another_credential_source(empty: World, key: str) -> None:
    before = "# mine\n" + OTHER_SOURCES[key] + "region = eu-west-1\n"
    empty.config.write_text(before, encoding="utf-8")
    result = mdh_creds(empty, "configure", "--profile", "mdh", *account_flags(empty))
    assert result.code == 3, result.err
    line = error_line(result)
    assert result.err.count("\n") == 1
    assert f"profile mdh in {empty.config} already gets AWS credentials another way ({key})" in line
    assert "nothing was written" in line and "--force" in line
    assert empty.config.read_text() == before
    forced = mdh_creds(empty, "configure", "--profile", "mdh", "--force", *account_flags(empty))
    assert forced.code == 0, forced.err
    assert f"credential_process = {SCRIPT} process --profile mdh\n" in empty.config.read_text()
    if key != "someone else's credential_process":
        assert f"warning: --force: profile mdh keeps {key}" in forced.err


# --- status, list, exec, did you mean ---------------------------------------------------------


def test_status_and_list_say_expired_for_an_expired_entry(world: World) -> None:
    world.plant_credentials(left=timedelta(minutes=-3), lifetime=timedelta(hours=1))
    report = json.loads(mdh_creds(world, "status", "--json").out)
    entry = next(e for e in report["entries"] if e["kind"] == "credentials")
    assert entry["state"] == "expired", report["entries"]
    assert -200 < entry["expires_in_seconds"] <= -180
    human = mdh_creds(world, "status").out
    assert re.search(r"credentials \(file\) +expired +expires \S+Z \(3 min ago\)", human), human
    listed = json.loads(mdh_creds(world, "list", "--json").out)["profiles"]
    assert [(p["profile"], p["state"]) for p in listed] == [("mdh", "expired")]
    assert world.emulator.count("token") == 0


def test_list_shows_every_mdh_profile_and_never_exchanges(world: World) -> None:
    assert mdh_creds(world, "process").code == 0
    exchanges, tokens = world.emulator.count("exchange"), world.emulator.count("token")
    with world.config.open("a", encoding="utf-8") as config:
        config.write("[profile mdh-dev]\nmdh_service_account = MyDataHelps.DEV.app\n")
        config.write("[profile mine]\nregion = eu-west-1\n")
        config.write("[profile wrapped]\ncredential_process = mdh-creds process --profile x\n")
    listed = json.loads(mdh_creds(world, "list", "--json").out)
    rows = {row["profile"]: row for row in listed["profiles"]}
    assert list(rows) == ["mdh", "mdh-dev", "wrapped"]  # mine is not an mdh profile
    assert rows["mdh"]["state"] == "fresh" and rows["mdh"]["kind"] == "service account"
    assert 0 < rows["mdh"]["expires_in_seconds"] <= world.emulator.credential_lifetime
    assert rows["mdh-dev"]["state"] == "error" and "no private key" in rows["mdh-dev"]["error"]
    human = mdh_creds(world, "list")
    assert human.code == 0, human.err
    assert re.search(
        r"^mdh +service account +fresh +\S+Z \(in \d+ (min|h)", human.out, re.MULTILINE
    ), human.out
    assert (world.emulator.count("exchange"), world.emulator.count("token")) == (exchanges, tokens)


ROLES = f"""
[profile mfa]
role_arn = {ROLE_A}
source_profile = A
mfa_serial = arn:aws:iam::123456789012:mfa/me

[profile keys]
aws_access_key_id = AKIAOTHERKEYS0000001
aws_secret_access_key = other-secret

[profile foreign]
role_arn = {ROLE_A}
source_profile = keys
"""


def test_list_shows_the_roles_on_an_mdh_profile_with_their_last_hops_entry(world: World) -> None:
    """A role chained on an mdh profile is listed with its root and the state of its last
    hop's entry, read from the cache with no STS call (the endpoint is closed) and no MDH call;
    a role on any other profile is botocore's and is not listed."""
    write_config(world, CHAIN.split("[profile b-cli]")[0] + ROLES)
    plant_role_credentials(world, "B", left=timedelta(minutes=10))  # inside the refresh window
    closed = f"http://127.0.0.1:{free_port()}"
    listed = mdh_creds(world, "list", "--json", AWS_ENDPOINT_URL=closed)
    assert listed.code == 0, listed.err
    rows = {row["profile"]: row for row in json.loads(listed.out)["profiles"]}
    assert list(rows) == ["mdh", "A", "B", "mfa"]
    assert [(rows[p]["kind"], rows[p]["root"], rows[p]["state"]) for p in ("A", "B")] == [
        ("role", "mdh", "none"),
        ("role", "mdh", "stale"),
    ]
    assert 540 < rows["B"]["expires_in_seconds"] <= 600
    assert rows["mfa"]["state"] == "error" and "sets mfa_serial" in rows["mfa"]["error"]
    assert (rows["mdh"]["kind"], rows["mdh"]["root"]) == ("service account", None)
    human = mdh_creds(world, "list", AWS_ENDPOINT_URL=closed)
    assert re.search(r"^B +role on mdh +stale +\S+Z \(in \d+ min", human.out, re.M), human.out
    assert re.search(r"^A +role on mdh +none +-$", human.out, re.M), human.out
    assert (world.emulator.count("exchange"), world.emulator.count("token")) == (0, 0)


def test_status_names_the_entries_of_the_wraps_the_config_runs(world: World) -> None:
    """An entry kept by a wrap of the AWS config file shows as that wrap (by its --name, else by
    its profile); another identity's entry still shows as such."""
    wrap = Wrapped(world.tmp)  # its cache folder is the mdh profile's
    assert wrap.cache == world.cache_dir
    command = shlex.join(wrap.command)
    with world.config.open("a", encoding="utf-8") as config:
        config.write(
            f"[profile corp]\ncredential_process = {SCRIPT} wrap --name corp -- {command}\n"
        )
        config.write(f"[profile plain]\ncredential_process = {SCRIPT} wrap -- {command}\n")
    assert wrap.run("--name", "corp").returncode == 0 and wrap.run().returncode == 0
    foreign = CacheKey("ab" * 32, "credentials")  # another profile's, of no wrap
    FileCache(world.cache_dir).save(foreign, b"\0" * 64, datetime.now(timezone.utc))
    report = json.loads(mdh_creds(world, "status", "--json").out)
    states = sorted(e["state"] for e in report["entries"] if e["kind"] == "credentials")
    assert states == ["other identity", "wrap (profile plain)", "wrap corp"], report["entries"]
    human = mdh_creds(world, "status").out
    assert re.search(r"^  credentials \(file\) +wrap corp *$", human, re.M), human
    assert re.search(r"^  credentials \(file\) +other identity *$", human, re.M), human


def test_list_with_no_mdh_profile_says_what_to_run(empty: World) -> None:
    result = mdh_creds(empty, "list")
    assert (result.code, result.out) == (0, "")
    assert result.err == f"mdh-creds: no mdh profile in {empty.config}: run mdh-creds configure\n"


def test_a_misspelt_profile_gets_a_did_you_mean(world: World) -> None:
    result = mdh_creds(world, "process", "--profile", "mhd")
    assert result.code == 3 and result.out == ""
    assert result.err == (
        f"mdh-creds: profile mhd is not in {world.config}: did you mean mdh? "
        "(mdh-creds list shows the mdh profiles)\n"
    )


def test_exec_without_a_command_opens_the_users_shell(world: World) -> None:
    typed = 'echo "key=$AWS_ACCESS_KEY_ID inside=$MDH_CREDS_EXEC profile=${AWS_PROFILE-unset}"\n'
    for shell in ("/bin/sh", "/bin/bash"):
        result = mdh_creds(world, "exec", typed=typed + "exit 7\n", SHELL=shell)
        assert result.code == 7, result.err
        key = re.fullmatch(r"key=(\S+) inside=mdh profile=unset\n", result.out)
        assert key and key.group(1).startswith("ASIA"), result.out
    nested = mdh_creds(world, "exec", MDH_CREDS_EXEC="mdh", SHELL="/bin/sh")
    assert nested.code == 3
    assert error_line(nested).endswith(
        "already inside `mdh-creds exec` for profile mdh: exit this shell first"
    )


def test_exec_without_a_command_or_shell_variable_runs_bin_sh(world: World) -> None:
    env = world.env()
    env.pop("SHELL", None)
    done = subprocess.run(
        [str(SCRIPT), "exec"],
        env=env,
        input="echo $0 $AWS_SESSION_TOKEN\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "/bin/sh" and len(done.stdout.split()) == 2


# --- the emulator serves an API client --------------------------------------------------------


def emulator_banner(process: subprocess.Popen[str]) -> list[str]:
    """The lines the emulator prints before it serves (bounded in time: a thread reads them)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in process.stdout or ()], daemon=True
    ).start()
    printed: list[str] = []
    deadline = time.monotonic() + 60
    while not printed or not printed[-1].startswith("Serving until interrupted"):
        assert time.monotonic() < deadline, f"no banner in time: {printed}"
        with contextlib.suppress(queue.Empty):
            printed.append(lines.get(timeout=1).rstrip("\n"))
    return printed


@pytest.mark.slow
def test_the_emulator_serves_an_api_client_with_a_profile_to_paste(empty: World) -> None:
    secret_file = empty.tmp / "client-secret"
    command = [sys.executable, "-m", "mdh_creds.testing.emulator", "--client-secret"]
    process = subprocess.Popen(
        [*command, "--secret-out", str(secret_file)],
        env=empty.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        printed = emulator_banner(process)
        start = printed.index("[profile mdh-emulator-client]")
        profile = printed[start : printed.index("", start)]
        secret = secret_file.read_text().strip()
        assert secret_file.stat().st_mode & 0o777 == 0o600
        assert secret not in "\n".join(printed)  # the secret is in its file only
        assert f'export MDH_CLIENT_SECRET="$(cat {secret_file})"' in printed
        empty.config.write_text("\n".join(profile) + "\n", encoding="utf-8")
        token = mdh_creds(
            empty, "token", "--profile", "mdh-emulator-client", MDH_CLIENT_SECRET=secret
        )
        assert token.code == 0, token.err
        assert len(token.out.strip()) > 20 and secret not in token.out
        listed = mdh_creds(empty, "list", "--json", MDH_CLIENT_SECRET=secret).out
        assert [(p["profile"], p["kind"], p["state"]) for p in json.loads(listed)["profiles"]] == [
            ("mdh-emulator-client", "api client", "fresh")
        ]
    finally:
        process.terminate()
        process.wait(timeout=30)
