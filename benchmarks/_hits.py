"""Row 1: a cache hit of ``mdh-creds process`` (the console script) per backend, against two floors,
and a hit of ``mdh-creds wrap`` around another credential_process (a file cache).

The floors are an empty interpreter (``python -c pass``) and the least a hit must import to open
an entry (json and AES-GCM). Every cache is warmed by one run, then all commands are interleaved
round-robin; the emulator must see no exchange while they run (every run was a real hit), the
warm DynamoDB profile no DynamoDB request (its hits are its local copies), and the profile whose
account lives in Secrets Manager (``mdh_secret_id``, a file cache) no AWS request at all, and
the wrapped command no run beyond the warming one (it counts its runs in a file).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from _measure import BenchError, Command, Outcome, interleave, run_once, summary
from _report import Row, failed_row, render_table, say, show
from _world import World

PASS_FLOOR = "floor: python -c pass"
DECRYPT_FLOOR = "floor: json + AESGCM import"
DECRYPT_CODE = "import json; from cryptography.hazmat.primitives.ciphers.aead import AESGCM"
TARGETS: dict[str, float | None] = {
    "file": 1.25,
    "keyring": 3.0,
    "dynamodb": 1.25,
    "secret": 1.25,
    "wrap": 1.25,
}
DYNAMODB_LABEL = "hit-dynamodb"  # the warm DynamoDB profile's name on the counting proxy
SECRET_LABEL = "hit-secret"  # the mdh_secret_id profile's (file cache) name on the proxy
WRAPPED_UPSTREAM = """\
import json, os, sys, time
with open(sys.argv[1], "a") as counter:
    counter.write("run\\n")
expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
print(json.dumps({"Version": 1, "AccessKeyId": "AKIAWRAPPEDBENCH0001",
                  "SecretAccessKey": os.urandom(20).hex(), "SessionToken": os.urandom(60).hex(),
                  "Expiration": expiration}))
"""


def target_text(limit: float | None) -> str:
    return f"<= {limit:g}x" if limit else "-"


def process_argv(world: World, *flags: str) -> list[str]:
    """``mdh-creds process`` as credential_process runs it (``python [flags] mdh-creds process``
    when interpreter flags such as ``-X importtime`` are given)."""
    if flags:
        return [world.python, *flags, world.script, "process"]
    return [world.script, "process"]


def wrap_command(world: World) -> Command:
    """``mdh-creds wrap`` around a command that prints credentials and counts its runs."""
    upstream, counter = world.root / "wrapped-upstream.py", world.root / "wrapped-runs"
    upstream.write_text(WRAPPED_UPSTREAM, encoding="utf-8")
    argv = [
        world.script,
        "wrap",
        "--name",
        "bench",
        "--",
        world.python,
        str(upstream),
        str(counter),
    ]
    env = world.env(MDH_CACHE="file", MDH_CACHE_DIR=str(world.cache_dir("wrap")))
    return Command("hit: wrap", argv, env)


def wrapped_runs(world: World) -> int:
    counter = world.root / "wrapped-runs"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def hit_command(world: World, backend: str) -> Command:
    if backend == "wrap":
        return wrap_command(world)
    if backend == "secret":  # a file cache, the account in Secrets Manager
        env = world.secret_env(world.cache_dir(backend), world.proxy.url_for(SECRET_LABEL))
        return Command(f"hit: {backend}", process_argv(world), env)
    endpoint = world.proxy.url_for(DYNAMODB_LABEL) if backend == "dynamodb" else None
    env = world.mdh_env(backend, world.cache_dir(backend), endpoint=endpoint)
    return Command(f"hit: {backend}", process_argv(world), env)


def floors(world: World) -> list[Command]:
    env = world.env()
    return [
        Command(PASS_FLOOR, [world.python, "-c", "pass"], env),
        Command(DECRYPT_FLOOR, [world.python, "-c", DECRYPT_CODE], env),
    ]


def credentials_of(outcome: Outcome) -> str:
    """The AccessKeyId of a ``credential_process`` answer (raises if it is not one)."""
    answer = json.loads(outcome.stdout)
    if answer.get("Version") != 1 or not answer.get("AccessKeyId"):
        raise BenchError(f"not a credential_process answer: {outcome.stdout[:80]!r}")
    return str(answer["AccessKeyId"])


def warm(commands: Sequence[Command]) -> dict[str, str]:
    """Run each command once (filling its cache); the stdout each must repeat."""
    expected = {}
    for command in commands:
        outcome = run_once(command)
        credentials_of(outcome)
        expected[command.label] = outcome.stdout
    return expected


def _backend_row(backend: str, samples: dict[str, list[float]]) -> Row:
    ours, floor = samples[f"hit: {backend}"], samples[DECRYPT_FLOOR]
    limit = TARGETS[backend]
    return Row(
        key=f"hit.{backend}",
        label=f"1. {backend} hit / decrypt floor",
        ours=summary(ours)["median"],
        baseline=summary(floor)["median"],
        baseline_label="decrypt floor",
        limit=limit,
        target=target_text(limit),
        details={"ours": summary(ours), "baseline": summary(floor)},
        samples={"ours": ours, "baseline": floor},
    )


def _print_detail(samples: dict[str, list[float]]) -> None:
    floor = summary(samples[DECRYPT_FLOOR])["median"]
    empty = summary(samples[PASS_FLOOR])["median"]
    body = []
    for label, values in samples.items():
        s = summary(values)
        body.append(
            [
                label,
                show(s["median"], "s"),
                show(s["p95"], "s"),
                f"{s['median'] / floor:.2f}x",
                f"{s['median'] / empty:.2f}x",
            ]
        )
    say(render_table(["command", "median", "p95", "/ decrypt floor", "/ pass"], body))


def measure_hits(world: World, rounds: int) -> list[Row]:
    """Rows for every backend (skipped ones included), measured in one interleaved run."""
    hits = [hit_command(world, b) for b in TARGETS if b != "keyring" or world.keyring_env]
    expected = warm(hits)
    before = world.emulator.count("exchange")

    def verify(command: Command, outcome: Outcome) -> None:
        if command.label in expected and outcome.stdout != expected[command.label]:
            raise BenchError(f"{command.label} answered other credentials than when warmed")

    labels = (DYNAMODB_LABEL, SECRET_LABEL)
    requests = sum(len(world.proxy.records(label)) for label in labels)
    samples = interleave([*floors(world), *hits], rounds, verify)
    exchanges = world.emulator.count("exchange") - before
    if exchanges:
        raise BenchError(f"{exchanges} exchanges during the hit rounds: not every run was a hit")
    requests = sum(len(world.proxy.records(label)) for label in labels) - requests
    if requests:
        raise BenchError(f"{requests} AWS requests during the hit rounds: not local hits")
    if wrapped_runs(world) > 1:
        raise BenchError("the wrapped command ran during the hit rounds: not every run was a hit")
    _print_detail(samples)
    rows = []
    for backend, limit in TARGETS.items():
        if f"hit: {backend}" in samples:
            rows.append(_backend_row(backend, samples))
        else:
            row = failed_row(f"hit.{backend}", f"1. {backend} hit", "skipped", "")
            row.note, row.target = str(world.keyring_skip), target_text(limit)
            rows.append(row)
    rows[0].samples.update({"pass_floor": samples[PASS_FLOOR]})
    rows[0].details["pass_floor"] = summary(samples[PASS_FLOOR])
    return rows
