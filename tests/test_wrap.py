"""``mdh-creds wrap``: any credential_process served through our cache, as real processes.

The wrapped command is a counting script written at test time: it prints credential_process JSON
(or what a case asks for) and appends one line to a counter file per run.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import clean_environ
from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey
from mdh_creds.wrapped.identity import CHAIN_VARIABLE, chain_link, wrap_identity

SECRET = "wrapped-secret-access-key-0123456789"
TOKEN = "wrapped-session-token-0123456789"
KEY_ID = "AKIAWRAPPEDEXAMPLE01"
SCRIPT = """\
import json, os, sys, time
from datetime import datetime, timedelta, timezone
with open(os.environ["WRAP_COUNTER"], "a") as counter:
    counter.write("run\\n")
mode = os.environ.get("WRAP_MODE", "ok")
time.sleep(float(os.environ.get("WRAP_HOLD", "0")))  # an upstream that takes its time
if mode == "fail":
    sys.exit(1)
if mode == "text":
    print("<html>sign in first</html>")
    sys.exit(0)
left = float(os.environ.get("WRAP_LEFT", "3600"))
expiration = (datetime.now(timezone.utc) + timedelta(seconds=left)).strftime("%Y-%m-%dT%H:%M:%SZ")
document = {"Version": 1, "AccessKeyId": "@KEY@", "SecretAccessKey": "@SECRET@",
            "SessionToken": "@TOKEN@", "Expiration": expiration}
for name in os.environ.get("WRAP_DROP", "").split(","):
    document.pop(name, None)
if mode == "v2":
    document["Version"] = 2
print(json.dumps(document))
"""
SCRIPT = SCRIPT.replace("@KEY@", KEY_ID).replace("@SECRET@", SECRET).replace("@TOKEN@", TOKEN)


class Wrapped:
    """A cache folder, a counting script, and ``mdh-creds wrap`` around it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.cache = tmp, tmp / "cache"
        self.script, self.counter = tmp / "upstream.py", tmp / "runs"
        self.script.write_text(SCRIPT, encoding="utf-8")
        self.command = [sys.executable, str(self.script)]

    @property
    def runs(self) -> int:
        return len(self.counter.read_text().splitlines()) if self.counter.exists() else 0

    def env(self, **extra: str) -> dict[str, str]:
        return clean_environ(
            {
                "HOME": str(self.tmp),
                "MDH_CACHE": "file",
                "MDH_CACHE_DIR": str(self.cache),
                "WRAP_COUNTER": str(self.counter),
                **extra,
            }
        )

    def run(self, *options: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The installed console script (fast path first), as the AWS CLI runs it."""
        return subprocess.run(
            [console_script(), "wrap", *options, "--", *self.command],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def plant(self, *, left: timedelta, lifetime: timedelta, name: str | None = None) -> None:
        """An entry as ``wrap`` seals it, with ``left`` of ``lifetime`` left."""
        from mdh_creds.cache.file import FileCache
        from mdh_creds.crypto import Sealer
        from mdh_creds.models import TemporaryCredentials
        from mdh_creds.wrapped.keys import load_sealing_key

        key, _ = load_sealing_key(str(self.cache), self.env())
        now = datetime.now(timezone.utc)
        creds = TemporaryCredentials(
            "ASIAPLANTEDWRAP00001",
            "planted-wrapped-secret",
            "planted-wrapped-token",
            expires_at=now + left,
            issued_at=now + left - lifetime,
        )
        entry = CacheKey.for_identity(wrap_identity(self.command, name), KIND_CREDENTIALS)
        sealed = Sealer.from_entry_key(key).seal(entry, creds.to_payload())
        FileCache(self.cache).save(entry, sealed, creds.expires_at)


def console_script() -> str:
    found = shutil.which("mdh-creds", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("the mdh-creds console script is not installed in this environment")
    return found


@pytest.fixture
def wrapped(tmp_path: Path) -> Wrapped:
    return Wrapped(tmp_path)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mdh-creds: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.slow
def test_32_concurrent_callers_run_the_command_once(wrapped: Wrapped) -> None:
    def call(_: int) -> subprocess.CompletedProcess[str]:
        return wrapped.run("--name", "corp", WRAP_HOLD="0.5")

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(call, range(32)))
    for result in results:
        assert result.returncode == 0, result.stderr
    documents = {result.stdout for result in results}
    assert len(documents) == 1
    answer = json.loads(documents.pop())
    assert (answer["AccessKeyId"], answer["SecretAccessKey"]) == (KEY_ID, SECRET)
    assert answer["SessionToken"] == TOKEN and answer["Version"] == 1
    assert wrapped.runs == 1


def test_the_cache_holds_no_plain_text(wrapped: Wrapped) -> None:
    first = wrapped.run()
    assert first.returncode == 0, first.stderr
    assert wrapped.run().stdout == first.stdout and wrapped.runs == 1
    files = [path for path in wrapped.cache.rglob("*") if path.is_file()]
    assert any(path.suffix == ".bin" for path in files)
    for path in files:
        data = path.read_bytes()
        for value in (SECRET, TOKEN, KEY_ID):
            assert value.encode() not in data, path
        assert path.stat().st_mode & 0o077 == 0, path


def test_a_failing_upstream_with_a_stale_entry_is_served_with_a_warning(wrapped: Wrapped) -> None:
    wrapped.plant(left=timedelta(minutes=5), lifetime=timedelta(hours=1))
    result = wrapped.run(WRAP_MODE="fail")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == "ASIAPLANTEDWRAP00001"
    assert "WARNING: refresh failed" in result.stderr
    assert "planted-wrapped" not in result.stderr
    assert wrapped.runs == 1


def test_a_stale_entry_is_refreshed_when_the_upstream_answers(wrapped: Wrapped) -> None:
    wrapped.plant(left=timedelta(minutes=5), lifetime=timedelta(hours=1))
    result = wrapped.run()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == KEY_ID
    assert result.stderr == "" and wrapped.runs == 1


@pytest.mark.parametrize(
    ("env", "code", "says"),
    [
        ({"WRAP_MODE": "fail"}, 4, "exited with 1"),
        ({"WRAP_MODE": "text"}, 4, "printed no JSON document"),
        ({"WRAP_MODE": "v2"}, 4, 'printed no "Version": 1'),
        ({"WRAP_DROP": "SecretAccessKey"}, 4, "printed no SecretAccessKey"),
        ({"WRAP_DROP": "Expiration"}, 4, "printed no Expiration"),
        ({"WRAP_LEFT": "-60"}, 4, "Expiration already past"),
        ({"WRAP_HOLD": "30"}, 5, "did not answer within 2 s"),
    ],
)
def test_a_bad_answer_with_no_entry_is_one_line_and_nothing_cached(
    wrapped: Wrapped, env: dict[str, str], code: int, says: str
) -> None:
    timeout = "2" if "WRAP_HOLD" in env else "60"  # a loaded machine starts Python slowly
    result = wrapped.run("--command-timeout", timeout, **env)
    assert result.returncode == code
    line = one_line_error(result)
    assert f"the wrapped command {Path(sys.executable).name} " in line and says in line
    for value in (SECRET, TOKEN, str(wrapped.script)):
        assert value not in line
    assert result.stdout == ""
    assert not list(wrapped.cache.glob("*.bin"))


def test_long_term_keys_are_kept_for_the_default_lifetime(wrapped: Wrapped) -> None:
    result = wrapped.run("--default-lifetime", "3600", WRAP_DROP="Expiration,SessionToken")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "SessionToken" not in answer and answer["AccessKeyId"] == KEY_ID
    expires = datetime.strptime(answer["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    left = expires.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert timedelta(minutes=58) < left <= timedelta(hours=1)
    again = wrapped.run("--default-lifetime", "3600", WRAP_DROP="Expiration,SessionToken")
    assert again.stdout == result.stdout and wrapped.runs == 1
    full = wrapped.run("--default-lifetime", "3600", "--debug", WRAP_DROP="Expiration,SessionToken")
    assert full.stdout == result.stdout and "cache hit" in full.stderr  # the full command's hit
    assert wrapped.runs == 1


def test_a_missing_command_is_a_setting_to_fix(wrapped: Wrapped) -> None:
    wrapped.command = [str(wrapped.tmp / "no-such-program")]
    result = wrapped.run()
    assert result.returncode == 3
    assert "no-such-program was not found" in one_line_error(result)


def test_a_wrap_that_runs_itself_is_refused(wrapped: Wrapped) -> None:
    result = wrapped.run(**{CHAIN_VARIABLE: f"0123456789abcdef:{chain_link(wrapped.command)}"})
    assert result.returncode == 3
    assert "a loop" in one_line_error(result)
    assert wrapped.runs == 0


def test_without_a_command_is_a_usage_error(wrapped: Wrapped) -> None:
    done = subprocess.run(
        [console_script(), "wrap", "--name", "corp"],
        env=wrapped.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "needs a command after --" in done.stderr


# Prints FLOOD_CHUNKS times 64 KiB (its own memory stays small), then holds stdout open.
FLOOD = """\
import os, sys, time
chunk = b"x" * (1 << 16)
for _ in range(int(os.environ["FLOOD_CHUNKS"])):
    sys.stdout.buffer.write(chunk)
sys.stdout.flush()
time.sleep(float(os.environ.get("FLOOD_HOLD", "0")))
"""


MEASURED = """\
import atexit, os, sys
def report():
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_FILE"], "w", encoding="ascii") as out:
        out.write(peak)
atexit.register(report)
from mdh_creds.cli.console import main
sys.argv[0] = "mdh-creds"
sys.exit(main())
"""


def run_measured(wrapped: Wrapped, args: list[str], **extra: str) -> tuple[int, str, int]:
    """``mdh-creds ARGS`` as a real process: its exit code, its stderr, and its own peak
    resident memory in KiB (VmHWM, read by the process as it exits). Not ``wait4``'s
    ``ru_maxrss``: that also counts the high-water mark of the process that forked it (the
    test worker, hundreds of MiB late in a run) through the exec."""
    peak_file = wrapped.tmp / "peak-kib"
    argv = [sys.executable, "-c", MEASURED, *args]
    done = subprocess.run(
        argv,
        env=wrapped.env(PEAK_FILE=str(peak_file), **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr, int(peak_file.read_text(encoding="ascii"))


@pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="peak memory is read from /proc"
)
def test_a_command_printing_100_mb_is_refused_without_reading_it_all(wrapped: Wrapped) -> None:
    flood = wrapped.tmp / "flood.py"
    flood.write_text(FLOOD, encoding="utf-8")
    args = ["wrap", "--", sys.executable, str(flood)]
    code, err, peak_kib = run_measured(wrapped, args, FLOOD_CHUNKS="1600")
    assert code == 4
    line = one_line_error(subprocess.CompletedProcess(args, code, "", err))
    assert "printed more than 1048576 bytes" in line
    assert peak_kib < 100 * 1024, f"the wrap peaked at {peak_kib // 1024} MiB"  # read all: 230
    assert not list(wrapped.cache.glob("*.bin"))


def test_a_command_printing_past_the_limit_is_killed_at_once(wrapped: Wrapped) -> None:
    flood = wrapped.tmp / "flood.py"
    flood.write_text(FLOOD, encoding="utf-8")
    wrapped.command = [sys.executable, str(flood)]
    started = time.monotonic()
    result = wrapped.run("--command-timeout", "50", FLOOD_CHUNKS="32", FLOOD_HOLD="120")
    assert result.returncode == 4  # not 5: stopped at the limit, not at the timeout
    assert "printed more than 1048576 bytes" in one_line_error(result)
    assert time.monotonic() - started < 45


def test_status_says_where_the_sealing_key_is_kept(wrapped: Wrapped) -> None:
    before = wrapped.run("--status")
    assert before.returncode == 1  # nothing cached yet, and no key made just to look
    assert "sealing key: none yet" in before.stdout
    assert not (wrapped.cache / "wrap-sealing.key").exists() and wrapped.runs == 0
    assert wrapped.run("--name", "corp").returncode == 0
    shown = wrapped.run("--name", "corp", "--status")
    assert shown.returncode == 0, shown.stderr
    assert f"sealing key: key file {wrapped.cache / 'wrap-sealing.key'}" in shown.stdout
    assert ": fresh, expires " in shown.stdout
    assert SECRET not in shown.stdout and wrapped.runs == 1


def test_clear_removes_this_wraps_entry_and_runs_nothing(wrapped: Wrapped) -> None:
    assert wrapped.run("--name", "corp").returncode == 0
    assert wrapped.run("--name", "other").returncode == 0
    done = wrapped.run("--name", "corp", "--clear")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert done.stderr == f"mdh-creds: removed 1 cached entry (files in {wrapped.cache})\n"
    assert wrapped.runs == 2  # CMD did not run
    assert wrapped.run("--name", "corp", "--status").returncode == 1  # its entry is gone
    assert wrapped.run("--name", "other", "--status").returncode == 0  # the other one stays
    again = wrapped.run("--name", "corp", "--clear")
    assert again.returncode == 0 and "removed 0 cached entries" in again.stderr
    both = wrapped.run("--name", "corp", "--clear", "--status")
    assert both.returncode == 2 and "not allowed with argument" in one_line_error(both)


def test_the_sealing_key_is_kept_in_the_os_keyring_when_one_answers(
    wrapped: Wrapped, keyring_env: dict[str, str]
) -> None:
    first = wrapped.run("--name", "keyring", **keyring_env)
    assert first.returncode == 0, first.stderr
    assert not (wrapped.cache / "wrap-sealing.key").exists()
    shown = wrapped.run("--name", "keyring", "--status", **keyring_env)
    assert "sealing key: OS keyring" in shown.stdout, shown.stdout + shown.stderr
    assert wrapped.run("--name", "keyring", **keyring_env).stdout == first.stdout
    assert wrapped.runs == 1


HEAVY = (
    "boto3",
    "botocore",
    "requests",
    "jwt",
    "keyring",
    "datetime",
    "logging",
    "argparse",
    "hashlib",
)
PROBE = (
    "import sys; from mdh_creds.cli.console import main; sys.argv = ['mdh-creds', *sys.argv[1:]]; "
    "code = main(); "
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
    "sys.stderr.write('LOADED=' + repr(sorted(heavy))); "
    "raise SystemExit(code)"
)


def test_a_hit_is_served_by_the_fast_path(wrapped: Wrapped) -> None:
    first = wrapped.run("--name", "fast")
    assert first.returncode == 0, first.stderr
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "wrap", "--name", "fast", "--", *wrapped.command],
        env=wrapped.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    err, _, loaded = done.stderr.rpartition("LOADED=")
    assert done.returncode == 0 and err == ""
    assert eval(loaded) == []
    assert done.stdout == first.stdout and wrapped.runs == 1


@pytest.mark.slow
def test_the_aws_cli_runs_a_wrapped_command(wrapped: Wrapped, moto: Any) -> None:
    aws = shutil.which("aws", path=str(Path(sys.executable).parent))
    if not aws:
        pytest.fail("the AWS CLI v1 is not installed in this environment (test extra 'awscli')")
    config = wrapped.tmp / "config"
    command = " ".join([console_script(), "wrap", "--name", "corp", "--", *wrapped.command])
    config.write_text(f"[profile corp]\ncredential_process = {command}\nregion = us-east-1\n")
    env = wrapped.env(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(wrapped.tmp / "credentials"),
        AWS_ENDPOINT_URL=moto.url,
        AWS_EC2_METADATA_DISABLED="true",
    )
    for _ in range(2):
        done = subprocess.run(
            [aws, "sts", "get-caller-identity", "--profile", "corp", "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["Account"]
    assert wrapped.runs == 1


@pytest.mark.slow
def test_two_machines_share_one_run_through_the_dynamodb_tier(
    wrapped: Wrapped, moto: Any, dynamodb_table: tuple[Any, str]
) -> None:
    table = {
        "MDH_CACHE": "dynamodb",
        "MDH_DYNAMODB_TABLE": dynamodb_table[1],
        **moto.env,
    }
    first = wrapped.run("--name", "fleet", **table)
    assert first.returncode == 0, first.stderr
    other = wrapped.tmp / "other-machine"
    other.mkdir(mode=0o700)
    shutil.copy2(wrapped.cache / "wrap-sealing.key", other / "wrap-sealing.key")
    second = wrapped.run("--name", "fleet", MDH_CACHE_DIR=str(other), **table)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout and wrapped.runs == 1


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_debug_logs_hold_no_secret(wrapped: Wrapped, mode: str) -> None:
    if mode == "fail":
        wrapped.plant(left=timedelta(minutes=5), lifetime=timedelta(hours=1))
    miss = wrapped.run("--debug", WRAP_MODE=mode)
    hit = wrapped.run("--debug", WRAP_MODE=mode)
    assert miss.returncode == hit.returncode == 0, miss.stderr
    assert "mdh-creds: DEBUG: " in miss.stderr
    for value in (SECRET, TOKEN, "planted-wrapped-secret", "planted-wrapped-token"):
        assert value not in miss.stderr + hit.stderr


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--name", "p"],
        ["--name=p"],
        ["--command-timeout", "5", "--name", "p"],
        ["--default-lifetime=600"],
    ],
)
def test_the_fast_path_answers_as_the_full_command(wrapped: Wrapped, options: list[str]) -> None:
    from mdh_creds.cli.wrap_fastpath import try_serve

    first = wrapped.run(*options, "--debug")  # --debug: the full command fills the cache
    assert first.returncode == 0 and "cache miss" in first.stderr, first.stderr
    out = io.StringIO()
    assert try_serve(["wrap", *options, "--", *wrapped.command], wrapped.env(), out) == 0
    assert out.getvalue() == first.stdout and wrapped.runs == 1


@pytest.mark.parametrize(
    "options",
    [
        ["--command-timeout", "x"],
        ["--status"],
        ["--debug"],
        ["--force-refresh"],
        ["--no-cache"],
        ["--cache", "none"],
        ["--name", "other"],
    ],
)
def test_the_fast_path_leaves_the_rest_to_the_full_command(
    wrapped: Wrapped, options: list[str]
) -> None:
    from mdh_creds.cli.wrap_fastpath import try_serve

    assert wrapped.run().returncode == 0
    out = io.StringIO()
    assert try_serve(["wrap", *options, "--", *wrapped.command], wrapped.env(), out) is None
    assert out.getvalue() == ""
    assert try_serve(["wrap", "--", *wrapped.command], wrapped.env(MDH_CACHE="none"), out) is None


@pytest.mark.slow
def test_a_fleet_shares_entries_through_a_kms_sealing_key(
    wrapped: Wrapped, moto: Any, dynamodb_table: tuple[Any, str]
) -> None:
    from test_kms import create_kms_key

    key_id, _ = create_kms_key(moto.url)
    fleet = {"MDH_CACHE": "dynamodb", "MDH_DYNAMODB_TABLE": dynamodb_table[1], **moto.env}
    outputs = []
    for machine in ("one", "two"):
        home = wrapped.tmp / machine
        home.mkdir(mode=0o700)
        machine_env = {
            **fleet,
            "MDH_KMS_KEY_ID": key_id,
            "MDH_CACHE_DIR": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
        }
        result = wrapped.run("--name", "fleet", **machine_env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
        assert not (home / "cache" / "wrap-sealing.key").exists()
        shown = wrapped.run("--name", "fleet", "--status", **machine_env)
        assert f"sealing key: KMS key {key_id}" in shown.stdout, shown.stdout + shown.stderr
    assert outputs[0] == outputs[1] and wrapped.runs == 1


@pytest.mark.slow
def test_iam_policy_for_a_wrap_covers_exactly_the_calls_it_makes(
    wrapped: Wrapped, moto: Any, dynamodb_table: tuple[Any, str]
) -> None:
    """A wrap on the DynamoDB tier with a KMS sealing key: ``iam-policy --wrap`` allows what its
    runs and ``--clear`` call, and the listing statement what ``--status`` adds; a secret the
    environment names is no wrap's concern."""
    from mdh_creds.testing.proxy import CountingProxy
    from test_kms import create_kms_key

    key_id, _ = create_kms_key(moto.url)
    with CountingProxy(moto.url) as proxy:
        env = {
            **moto.env,
            "AWS_ENDPOINT_URL": proxy.url,
            "AWS_REGION": "us-east-1",
            "MDH_CACHE": "dynamodb",
            "MDH_DYNAMODB_TABLE": dynamodb_table[1],
            "MDH_KMS_KEY_ID": key_id,
            "MDH_SECRET_ID": "mdh/not-read-by-a-wrap",
            "XDG_DATA_HOME": str(wrapped.tmp / "data"),
        }
        for options in (["--name", "fleet"], ["--name", "fleet"], ["--name", "fleet", "--clear"]):
            done = wrapped.run(*options, **env)
            assert done.returncode == 0, done.stderr
        runtime = set(proxy.counts())
        wrapped.run("--name", "fleet", "--status", **env)
        listing = set(proxy.counts()) - runtime
    policy = subprocess.run(
        [console_script(), "iam-policy", "--wrap"],
        env=wrapped.env(**env, AWS_ACCOUNT_ID="123456789012"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert policy.returncode == 0, policy.stderr
    statements = {s["Sid"]: s for s in json.loads(policy.stdout)["Statement"]}
    assert set(statements) == {"MdhCredsCache", "MdhCredsCacheListing", "MdhCredsKmsSign"}
    allowed = statements["MdhCredsCache"]["Action"] + statements["MdhCredsKmsSign"]["Action"]
    assert {action.split(":")[1] for action in allowed} == runtime
    assert listing == {"Scan"} and statements["MdhCredsCacheListing"]["Action"] == ["dynamodb:Scan"]
    kms = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    assert statements["MdhCredsKmsSign"]["Resource"] == kms
    assert "not for those the wrapped command prints" in policy.stderr


GUARD_SCRIPT = """\
#!/bin/sh
# Bounds the depth whatever happens (a loop must not grow without end), and records it.
depth=$(( ${WRAP_DEPTH:-0} + 1 ))
echo "$depth" >> "$WRAP_DEPTHS"
[ "$depth" -gt 4 ] && exit 1
WRAP_DEPTH=$depth exec "$@"
"""


@pytest.mark.slow
def test_a_cache_client_that_would_run_the_same_wrap_is_refused_at_once(
    wrapped: Wrapped, moto: Any, dynamodb_table: tuple[Any, str]
) -> None:
    guard, depths = wrapped.tmp / "guard.sh", wrapped.tmp / "depths"
    guard.write_text(GUARD_SCRIPT, encoding="utf-8")
    guard.chmod(0o700)
    wrap = [str(guard), console_script(), "wrap", "--", *wrapped.command]
    config = wrapped.tmp / "config"  # the default profile is this very wrap
    config.write_text(f"[default]\ncredential_process = {' '.join(wrap)}\n", encoding="utf-8")
    env = wrapped.env(
        MDH_CACHE="dynamodb",
        MDH_DYNAMODB_TABLE=dynamodb_table[1],
        AWS_ENDPOINT_URL=moto.url,
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(wrapped.tmp / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        WRAP_DEPTHS=str(depths),
    )
    done = subprocess.run(wrap, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["AccessKeyId"] == KEY_ID
    assert depths.read_text().split() == ["1", "2"]  # the wrap beneath refused at once
    assert "cache unavailable" in done.stderr and wrapped.runs == 1
