"""Rows 7 and 8: the credentials endpoint (``mdh-creds serve``, ``exec --server``).

7. Answer time: ``mdh-creds serve`` runs as a real process; a client in this process asks it
   ``--requests`` times, each on a new connection (what an SDK does at worst), and again through
   botocore's own ``ContainerMetadataFetcher`` (what a Python child does), and on one kept-alive
   connection. Target: median under 5 ms (the JS SDK gives up after 1 s). Then 32 clients ask at
   once, each on new connections (threads of this process, so the clients' own GIL is counted
   too): p50 and p99, target p99 under 1 s, the JS SDK's limit.
8. Long-lived child: ``mdh-creds exec --server`` runs a boto3 child that reads its credentials
   in a tight loop for ``--child-seconds`` while the emulator mints credentials of 6 s (refresh
   window 2 s, so one exchange is due every 4 s). botocore asks the endpoint on every read, as it
   does whenever 15 minutes or less are left. Target: at most one exchange per refresh window
   (plus the first), however often the child asks.
"""

from __future__ import annotations

import http.client
import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _measure import BenchError, percentile, summary, tail
from _report import Row, show
from _world import World

ANSWER_LIMIT = 0.005
CONCURRENT_CLIENTS = 32
JS_SDK_LIMIT = 1.0
LIFETIME = 6  # seconds: window min(960, 6 / 3) = 2 s, so a refresh is due every 4 s
CHILD = """
import json, sys, time
import boto3
credentials = boto3.Session().get_credentials()
reads, keys, deadline = 0, set(), time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    keys.add(credentials.get_frozen_credentials().access_key)
    reads += 1
print(json.dumps({"reads": reads, "keys": len(keys), "method": credentials.method}))
"""


def _start_serve(world: World, env_file: Path) -> subprocess.Popen[bytes]:
    env = world.mdh_env("file", world.cache_dir("endpoint"))
    argv = [world.python, "-m", "mdh_creds", "serve", "--write-env-file", str(env_file)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise BenchError(f"serve did not start: {tail(process.communicate()[1].decode())}")
        time.sleep(0.05)
    return process


def _fresh_connection(url: str, token: str) -> float:
    parts = urlsplit(url)
    start = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("GET", "/", headers={"Authorization": token})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    elapsed = time.perf_counter() - start
    if response.status != 200 or b"AccessKeyId" not in body:
        raise BenchError(f"the endpoint answered {response.status}")
    return elapsed


def _botocore_fetches(url: str, token: str, count: int) -> list[float]:
    from botocore.utils import ContainerMetadataFetcher

    fetcher = ContainerMetadataFetcher()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        fetcher.retrieve_full_uri(url, headers={"Authorization": token})
        samples.append(time.perf_counter() - start)
    return samples


def _kept_alive(url: str, token: str, count: int) -> list[float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        connection.request("GET", "/", headers={"Authorization": token})
        connection.getresponse().read()
        samples.append(time.perf_counter() - start)
    connection.close()
    return samples


def _concurrent(url: str, token: str, each: int) -> list[float]:
    """``CONCURRENT_CLIENTS`` clients asking at once, ``each`` requests apiece."""
    start = threading.Barrier(CONCURRENT_CLIENTS)
    samples: list[float] = []
    failures: list[str] = []

    def client() -> None:
        start.wait()
        for _ in range(each):
            try:
                samples.append(_fresh_connection(url, token))
            except (OSError, BenchError) as exc:
                failures.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(CONCURRENT_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(f"{len(failures)} concurrent requests failed: {failures[0]}")
    return samples


def measure_endpoint(world: World, requests: int) -> list[Row]:
    """Rows 7 and 7b: answer times of a running ``mdh-creds serve``, one client, then 32."""
    env_file = world.root / "endpoint.env"
    process = _start_serve(world, env_file)
    try:
        variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        url = variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        for _ in range(20):  # warm-up
            _fresh_connection(url, token)
        fresh = [_fresh_connection(url, token) for _ in range(requests)]
        botocore = summary(_botocore_fetches(url, token, requests))
        alive = summary(_kept_alive(url, token, requests))
        crowd = _concurrent(url, token, max(5, requests // 8))
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    return [_single_row(summary(fresh), fresh, botocore, alive, requests, code), _crowd_row(crowd)]


def _single_row(
    stats: dict[str, float],
    fresh: list[float],
    botocore: dict[str, float],
    alive: dict[str, float],
    requests: int,
    code: int,
) -> Row:
    return Row(
        key="endpoint",
        label="7. endpoint answer (new connection)",
        ours=stats["median"],
        ours_text=f"{show(stats['median'], 's')} (p95 {show(stats['p95'], 's')})",
        target="median < 5 ms",
        checks={"median_under_5_ms": stats["median"] < ANSWER_LIMIT, "clean_stop": code == 0},
        note=(
            f"{requests} requests each: new connection median {show(stats['median'], 's')}, "
            f"botocore ContainerMetadataFetcher {show(botocore['median'], 's')}, "
            f"kept-alive connection {show(alive['median'], 's')}; serve exited {code} on SIGTERM"
        ),
        details={
            "latency": stats,
            "botocore_fetcher": botocore,
            "kept_alive": alive,
        },
        samples={"ours": fresh},
    )


def _crowd_row(samples: list[float]) -> Row:
    stats, p99, slowest = summary(samples), percentile(samples, 99), max(samples)
    return Row(
        key="endpoint_crowd",
        label=f"7b. endpoint answer, {CONCURRENT_CLIENTS} clients at once",
        ours=stats["median"],
        ours_text=f"p50 {show(stats['median'], 's')}, p99 {show(p99, 's')}",
        target="p99 < 1 s",
        checks={"p99_under_js_sdk_limit": p99 < JS_SDK_LIMIT},
        note=(
            f"{CONCURRENT_CLIENTS} clients asking at once on new connections, "
            f"{len(samples)} requests: p50 {show(stats['median'], 's')}, p95 "
            f"{show(stats['p95'], 's')}, p99 {show(p99, 's')}, slowest {show(slowest, 's')}"
        ),
        details={"latency": stats, "p99": p99, "clients": CONCURRENT_CLIENTS},
        samples={"ours": samples},
    )


def measure_long_child(world: World, seconds: float) -> Row:
    """Row 8: exchanges made while a child asks for credentials as fast as it can."""
    emulator = world.emulator
    lifetime, emulator.credential_lifetime = emulator.credential_lifetime, LIFETIME
    before = emulator.count("exchange")
    env = world.mdh_env("file", world.cache_dir("long-child"))
    argv = [world.python, "-m", "mdh_creds", "exec", "--server", "--"]
    argv += [sys.executable, "-c", CHILD, str(seconds)]
    try:
        start = time.perf_counter()
        done = subprocess.run(
            argv, check=False, env=env, capture_output=True, text=True, timeout=seconds + 120
        )
        elapsed = time.perf_counter() - start
    finally:
        emulator.credential_lifetime = lifetime
    if done.returncode != 0:
        raise BenchError(f"exec --server exited {done.returncode}: {tail(done.stderr)}")
    report = json.loads(done.stdout)
    exchanges = emulator.count("exchange") - before
    allowed = 1 + math.ceil(elapsed / (LIFETIME * 2 / 3))
    return Row(
        key="long_child",
        label="8. long-lived child: exchanges",
        ours_text=f"{exchanges} exchanges for {report['reads']:,} reads",
        target="<= 1 per refresh window",
        checks={
            "at_most_one_per_window": exchanges <= allowed,
            "served_the_endpoint": report["method"] == "container-role",
        },
        note=(
            f"{LIFETIME} s credentials, a refresh due every {LIFETIME * 2 / 3:g} s: the child read "
            f"its credentials {report['reads']:,} times in {seconds:g} s (each read asks the "
            f"endpoint), saw {report['keys']} sets, and caused {exchanges} exchanges in "
            f"{elapsed:.1f} s (allowed {allowed})"
        ),
        details={"reads": report["reads"], "exchanges": exchanges, "allowed": allowed},
    )
