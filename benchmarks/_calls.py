"""Rows 2 and 3: whole calls against their plain equivalents, interleaved.

2. ``aws sts get-caller-identity`` through the ``mdh`` profile (credential_process, warm file
   cache) against a profile with static keys, both against moto. The minted credentials are moto
   IAM keys, so the answered ARN proves which keys the CLI used.
3. A cold exchange, ``mdh-creds process`` without a cache, against ``minimal_exchange.py`` (the
   same two POSTs with requests and PyJWT) on the same emulator.
"""

from __future__ import annotations

import json
from pathlib import Path

from _hits import credentials_of, process_argv
from _measure import BenchError, Command, Outcome, interleave, run_once, summary
from _report import Row
from _world import PROFILE, STATIC_PROFILE, World

MINIMAL_SCRIPT = Path(__file__).with_name("minimal_exchange.py")
AWS_CLI_LIMIT = 1.15
COLD_LIMIT = 1.2


def _arn(outcome: Outcome) -> str:
    try:
        return str(json.loads(outcome.stdout)["Arn"])
    except (ValueError, KeyError) as exc:
        raise BenchError(f"aws answered no identity: {outcome.stdout[:80]!r}") from exc


def _check_answer(_command: Command, outcome: Outcome) -> None:
    credentials_of(outcome)


def _compare(
    names: tuple[str, str, str], ours: list[float], base: list[float], limit: float
) -> Row:
    key, label, baseline_label = names
    return Row(
        key=key,
        label=label,
        ours=summary(ours)["median"],
        baseline=summary(base)["median"],
        baseline_label=baseline_label,
        limit=limit,
        target=f"<= {limit:g}x",
        details={"ours": summary(ours), "baseline": summary(base)},
        samples={"ours": ours, "baseline": base},
    )


def _aws_command(world: World, profile: str) -> Command:
    aws = str(Path(world.python).parent / "aws")
    argv = [aws, "sts", "get-caller-identity", "--profile", profile, "--output", "json"]
    return Command(f"aws cli: {profile}", argv, world.aws_env())


def measure_aws_cli(world: World, rounds: int) -> Row:
    """Row 2: the AWS CLI through mdh-creds against static keys."""
    warm = Command("warm mdh profile", [*process_argv(world), "--profile", PROFILE], world.env())
    minted = credentials_of(run_once(warm))
    ours, base = _aws_command(world, PROFILE), _aws_command(world, STATIC_PROFILE)
    expected = {
        ours.label: _arn(run_once(ours)),
        base.label: _arn(run_once(base)),
    }
    if not expected[ours.label].split("/")[-1].startswith("mdh-bench-"):
        raise BenchError(f"the mdh profile did not use minted keys ({minted[:4]}...)")

    def verify(command: Command, outcome: Outcome) -> None:
        if _arn(outcome) != expected[command.label]:
            raise BenchError(f"{command.label} answered another identity")

    samples = interleave([ours, base], rounds, verify)
    return _compare(
        ("aws_cli", "2. aws sts (mdh profile) / static keys", "static-keys profile"),
        samples[ours.label],
        samples[base.label],
        AWS_CLI_LIMIT,
    )


def measure_cold(world: World, rounds: int) -> Row:
    """Row 3: a cold exchange by mdh-creds against the minimal script."""
    env = world.mdh_env("none")
    ours = Command("cold: mdh-creds", process_argv(world), env)
    base = Command("cold: minimal", [world.python, str(MINIMAL_SCRIPT)], env)
    before = world.emulator.count("exchange")
    for command in (ours, base):
        credentials_of(run_once(command))
    samples = interleave([ours, base], rounds, _check_answer)
    exchanges = world.emulator.count("exchange") - before
    if exchanges != 2 * (rounds + 1):
        raise BenchError(f"{exchanges} exchanges for {2 * (rounds + 1)} cold runs")
    return _compare(
        ("cold", "3. cold exchange / minimal script", "minimal_exchange.py"),
        samples[ours.label],
        samples[base.label],
        COLD_LIMIT,
    )
