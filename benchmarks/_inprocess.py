"""Row 6: in-process cost of ``session.get_credentials().get_frozen_credentials()``.

``mdh_creds.session(profile_name="mdh")`` (refreshing credentials from the warm file cache)
against a plain ``boto3.Session`` with static credentials, in the same process, interleaved in
blocks of calls. The ratio is of time per call (the inverse of the throughput ratio). For
reference, botocore's own refreshing credentials (``credential_process`` of the same profile,
through a plain ``boto3.Session``) are timed in the same blocks.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from _measure import BenchError, summary
from _report import Row, failed_row, show
from _world import PROFILE, REGION, World

LIMIT = 1.1
LABEL = "6. in-process get_frozen_credentials / static"


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` replaced by ``env`` for the block, then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def time_block(session: Any, calls: int) -> float:
    """Seconds per call of ``calls`` back-to-back credential reads."""
    start = time.perf_counter()
    for _ in range(calls):
        session.get_credentials().get_frozen_credentials()
    return (time.perf_counter() - start) / calls


def interleave_blocks(sessions: dict[str, Any], blocks: int, calls: int) -> dict[str, list[float]]:
    """Alternate blocks of calls between sessions (order flipped every block)."""
    names = list(sessions)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(blocks):
        for name in names if index % 2 == 0 else names[::-1]:
            samples[name].append(time_block(sessions[name], calls))
    return samples


def _provider() -> Callable[..., Any] | None:
    try:
        import mdh_creds

        session: Callable[..., Any] = mdh_creds.session
    except (ImportError, AttributeError):
        return None
    return session


def _sessions(make_session: Callable[..., Any]) -> dict[str, Any]:
    import boto3

    ours = make_session(profile_name=PROFILE)
    frozen = ours.get_credentials().get_frozen_credentials()
    if not frozen.access_key:
        raise BenchError("mdh_creds.session returned no credentials")
    static = boto3.Session(
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        region_name=REGION,
    )
    reference = boto3.Session(profile_name=PROFILE)
    if reference.get_credentials().method != "custom-process":
        raise BenchError("the reference session did not use credential_process")
    return {"ours": ours, "static": static, "credential_process": reference}


def measure_inprocess(world: World, blocks: int, calls: int) -> Row:
    """Row 6, or ``n/a`` while ``mdh_creds.provider`` does not exist."""
    make_session = _provider()
    if make_session is None:
        return failed_row("inprocess", LABEL, "n/a", "n/a (provider not available)")
    with patched_environ(world.env()):
        sessions = _sessions(make_session)
        interleave_blocks(sessions, 1, calls)
        samples = interleave_blocks(sessions, blocks, calls)
    ours, static = summary(samples["ours"]), summary(samples["static"])
    reference = summary(samples["credential_process"])
    return Row(
        key="inprocess",
        label=LABEL,
        unit="s/call",
        ours=ours["median"],
        baseline=static["median"],
        baseline_label="static boto3 session",
        limit=LIMIT,
        target=f"<= {LIMIT:g}x time/call",
        note=(
            f"{blocks} blocks x {calls} calls: {1 / ours['median']:,.0f} calls/s vs "
            f"{1 / static['median']:,.0f} static; botocore's own credential_process "
            f"credentials: {show(reference['median'], 's/call')} "
            f"({reference['median'] / static['median']:.2f}x static)"
        ),
        details={
            "ours": ours,
            "baseline": static,
            "credential_process_reference": reference,
            "blocks": blocks,
            "calls_per_block": calls,
        },
        samples={
            "ours": samples["ours"],
            "baseline": samples["static"],
            "credential_process_reference": samples["credential_process"],
        },
    )
