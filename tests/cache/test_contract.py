"""The contract every cache backend keeps, run against memory, file, keyring and dynamodb.

The keyring runs against a real Secret Service (``keyring_env``), DynamoDB against moto
(``dynamodb_table``), once as the table alone and once with its local copies in front
(``dynamodb+local``). Each backend is built through ``mdh_creds.cache.backends.select``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mdh_creds.cache.backends import CacheBackend, select
from mdh_creds.cache.stored import CacheKey, pack_entry
from mdh_creds.clock import utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import LockTimeout

SECRET = "Sentinel-Secret-4f1d9c0e7b2a"
SEALER = Sealer(b"contract test key material")
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
OTHER = CacheKey.for_identity({"account": "beta"}, "token")
SLACK = 3.0
BACKENDS = ["memory", "file", "keyring", "dynamodb", "dynamodb+local"]

LOCK_CHILD = """
import sys
from pathlib import Path
from mdh_creds.errors import LockTimeout
from mdh_creds.cache.stored import CacheKey
{build}
key = CacheKey(sys.argv[1], sys.argv[2])

def attempt(timeout):
    try:
        with backend.lock(key, timeout):
            return "acquired"
    except LockTimeout:
        return "timeout"

print(attempt(float(sys.argv[3])), flush=True)
sys.stdin.readline()
print(attempt(float(sys.argv[4])), flush=True)
"""


class MovableClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utc_now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Harness:
    """A backend plus raw access to where it keeps entries."""

    backend: CacheBackend
    clock: MovableClock
    raw_get: Callable[[CacheKey], bytes | None]
    raw_put: Callable[[CacheKey, bytes], None]
    dump: Callable[[], bytes]
    child_build: str | None
    env: dict[str, str]


def _far(clock: MovableClock) -> datetime:
    return clock() + timedelta(hours=1)


def _memory(request: Any, folder: Path, clock: MovableClock) -> Harness:
    from mdh_creds.cache.memory import MemoryCache

    # A private store: select("memory") gives the process's one store, shared across tests.
    backend: Any = MemoryCache(clock, private=True)
    return Harness(
        backend,
        clock,
        raw_get=backend.load,
        raw_put=lambda key, data: backend.save(key, data, _far(clock)),
        dump=lambda: b"".join(sealed for sealed, _ in backend._store.entries.values()),
        child_build=None,
        env=dict(os.environ),
    )


def _folder_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def _file(request: Any, folder: Path, clock: MovableClock) -> Harness:
    backend: Any = select("file", folder=folder, clock=clock)

    def raw_get(key: CacheKey) -> bytes | None:
        path = backend.path_for(key)
        return path.read_bytes() if path.exists() else None

    return Harness(
        backend,
        clock,
        raw_get=raw_get,
        raw_put=lambda key, data: backend.path_for(key).write_bytes(data),
        dump=lambda: _folder_bytes(folder),
        child_build=f"from mdh_creds.cache.file import FileCache\n"
        f"backend = FileCache(Path({str(folder)!r}))",
        env=dict(os.environ),
    )


def _keyring_items() -> list[Any]:
    import secretstorage

    connection = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(connection)
    return list(collection.search_items({"service": "mdh-creds"}))


def _keyring(request: Any, folder: Path, clock: MovableClock) -> Harness:
    backend: Any = select("keyring", folder=folder, clock=clock)
    store = backend._backend

    def raw_get(key: CacheKey) -> bytes | None:
        value = store.get_password("mdh-creds", key.name)
        return None if value is None else value.encode("latin-1")

    def dump() -> bytes:
        secrets = b"".join(item.get_secret() for item in _keyring_items())
        return secrets + _folder_bytes(folder)

    return Harness(
        backend,
        clock,
        raw_get=raw_get,
        raw_put=lambda key, data: store.set_password("mdh-creds", key.name, data.decode("latin-1")),
        dump=dump,
        child_build=f"from mdh_creds.cache.keyring import KeyringCache\n"
        f"backend = KeyringCache(Path({str(folder)!r}))",
        env=dict(os.environ),
    )


def _item_bytes(items: list[dict[str, Any]]) -> bytes:
    """Every attribute value of ``items``, binary values as they are."""
    values = [
        value for item in items for attribute in item.values() for value in attribute.values()
    ]
    return b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in values)


def _dynamodb(request: Any, folder: Path, clock: MovableClock, local: bool = False) -> Harness:
    client, table = request.getfixturevalue("dynamodb_table")
    url = request.getfixturevalue("moto").url
    backend: Any = select(
        "dynamodb",
        folder=folder,
        clock=clock,
        dynamodb_client_factory=lambda: client,
        table=table,
        local_copies=local,
    )

    def raw_get(key: CacheKey) -> bytes | None:
        item = client.get_item(TableName=table, Key={"pk": {"S": key.name}}).get("Item")
        return None if item is None else bytes(item["entry"]["B"])

    def raw_put(key: CacheKey, data: bytes) -> None:
        expires = str(int(_far(clock).timestamp()))
        item = {"pk": {"S": key.name}, "entry": {"B": data}, "expires_at": {"N": expires}}
        client.put_item(TableName=table, Item=item)
        if local:  # the local copy is damaged alike (else it would be served first)
            copy = folder / "dynamodb" / f"{key.name}.bin"
            copy.write_bytes(pack_entry(data, _far(clock)))

    build = (
        "from servers import dynamodb_client\n"
        "from mdh_creds.cache.backends import select\n"
        f"backend = select('dynamodb', folder=Path({str(folder)!r}), table={table!r}, "
        f"dynamodb_client_factory=lambda: dynamodb_client({url!r}), local_copies={local!r})"
    )
    return Harness(
        backend,
        clock,
        raw_get=raw_get,
        raw_put=raw_put,
        dump=lambda: _item_bytes(client.scan(TableName=table)["Items"]) + _folder_bytes(folder),
        child_build=build,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )


def _dynamodb_with_local_copies(request: Any, folder: Path, clock: MovableClock) -> Harness:
    return _dynamodb(request, folder, clock, local=True)


_BUILDERS = {
    "memory": _memory,
    "file": _file,
    "keyring": _keyring,
    "dynamodb": _dynamodb,
    "dynamodb+local": _dynamodb_with_local_copies,
}


@pytest.fixture(params=BACKENDS)
def make_backend(request: Any, tmp_path: Path) -> Callable[[], Harness]:
    """Builds a harness; every call is a new backend instance over the same store and clock."""
    clock = MovableClock()
    folder = tmp_path / "cache"
    if request.param == "keyring":
        request.getfixturevalue("keyring_env")
        for item in _keyring_items():
            item.delete()
    return lambda: _BUILDERS[request.param](request, folder, clock)


@pytest.fixture
def harness(make_backend: Callable[[], Harness]) -> Harness:
    return make_backend()


def _sealed(key: CacheKey, **payload: Any) -> bytes:
    return SEALER.seal(key, payload)


def _lock_in_thread(backend: CacheBackend, key: CacheKey, timeout: float) -> tuple[str, float]:
    """Try ``backend.lock`` in another thread: ``(outcome, seconds taken)``."""
    result: dict[str, Any] = {}

    def run() -> None:
        start = time.monotonic()
        try:
            with backend.lock(key, timeout):
                result["outcome"] = "acquired"
        except LockTimeout:
            result["outcome"] = "timeout"
        result["elapsed"] = time.monotonic() - start

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout + 30)
    assert not worker.is_alive()
    return result["outcome"], result["elapsed"]


def test_identity(harness: Harness, request: Any) -> None:
    assert harness.backend.name == request.node.callspec.params["make_backend"].split("+")[0]
    assert harness.backend.describe()


def test_round_trip(harness: Harness) -> None:
    sealed = _sealed(KEY, value=1)
    harness.backend.save(KEY, sealed, _far(harness.clock))
    assert harness.backend.load(KEY) == sealed
    assert SEALER.open(KEY, harness.backend.load(KEY)) == {"value": 1}


def test_missing_key_loads_none(harness: Harness) -> None:
    assert harness.backend.load(KEY) is None
    harness.backend.save(OTHER, _sealed(OTHER, value=1), _far(harness.clock))
    assert harness.backend.load(KEY) is None


def test_overwrite_replaces(harness: Harness) -> None:
    harness.backend.save(KEY, _sealed(KEY, value=1), _far(harness.clock))
    harness.backend.save(KEY, _sealed(KEY, value=2), _far(harness.clock))
    assert SEALER.open(KEY, harness.backend.load(KEY)) == {"value": 2}


def test_delete(harness: Harness) -> None:
    harness.backend.save(KEY, _sealed(KEY, value=1), _far(harness.clock))
    harness.backend.save(OTHER, _sealed(OTHER, value=2), _far(harness.clock))
    harness.backend.delete(KEY)
    assert harness.backend.load(KEY) is None
    assert list(harness.backend.list_keys()) == [OTHER]
    harness.backend.delete(KEY)
    assert SEALER.open(OTHER, harness.backend.load(OTHER)) == {"value": 2}


def test_list_keys(harness: Harness) -> None:
    assert list(harness.backend.list_keys()) == []
    harness.backend.save(KEY, _sealed(KEY, value=1), _far(harness.clock))
    harness.backend.save(OTHER, _sealed(OTHER, value=2), _far(harness.clock))
    with harness.backend.lock(KEY, 5):
        assert sorted(harness.backend.list_keys(), key=str) == sorted([KEY, OTHER], key=str)


def test_another_instance_sees_entries(make_backend: Callable[[], Harness]) -> None:
    first = make_backend()
    if first.backend.name == "memory":
        pytest.skip("a private store is one instance's (sharing: tests/test_process_world.py)")
    first.backend.save(KEY, _sealed(KEY, value=7), _far(first.clock))
    second = make_backend()
    assert SEALER.open(KEY, second.backend.load(KEY)) == {"value": 7}
    assert list(second.backend.list_keys()) == [KEY]


def test_expired_entry_loads_none(harness: Harness) -> None:
    harness.backend.save(KEY, _sealed(KEY, value=1), harness.clock() + timedelta(hours=1))
    harness.clock.advance(3599)
    assert SEALER.open(KEY, harness.backend.load(KEY)) == {"value": 1}
    harness.clock.advance(2)
    assert harness.backend.load(KEY) is None
    harness.backend.save(OTHER, _sealed(OTHER, value=2), harness.clock() - timedelta(seconds=5))
    assert harness.backend.load(OTHER) is None


def test_an_expired_entry_still_tells_its_expiry(harness: Harness, request: Any) -> None:
    """What ``status`` shows as expired rather than unreadable."""
    if request.node.callspec.params["make_backend"] == "dynamodb+local":
        pytest.skip("a DynamoDB cache with local copies: status asks each of its tiers")
    expiry = harness.backend.expiry  # type: ignore[attr-defined]
    expires = harness.clock() + timedelta(hours=1)
    harness.backend.save(KEY, _sealed(KEY, value=1), expires)
    harness.clock.advance(3601)
    assert harness.backend.load(KEY) is None
    assert expiry(KEY) == expires.timestamp()
    assert expiry(OTHER) is None


def _damaged(valid: bytes) -> list[bytes]:
    flipped = valid[:-1] + bytes([valid[-1] ^ 0x01])
    cuts = sorted({0, 1, 4, 11, 12, 13, 20, len(valid) // 2, len(valid) - 1})
    garbage = [b"\x00", b"garbage", os.urandom(64), b"MDH1" + os.urandom(40), flipped]
    return [valid[:cut] for cut in cuts] + garbage


def test_damaged_entries_never_open(harness: Harness) -> None:
    harness.backend.save(KEY, _sealed(KEY, value=1), _far(harness.clock))
    valid = harness.raw_get(KEY)
    assert valid
    for damaged in _damaged(valid):
        harness.raw_put(KEY, damaged)
        assert SEALER.open(KEY, harness.backend.load(KEY)) is None, damaged


def test_garbage_saved_through_the_api_never_opens(harness: Harness) -> None:
    for garbage in (b"x", os.urandom(100), _sealed(OTHER, value=1)):
        harness.backend.save(KEY, garbage, _far(harness.clock))
        assert SEALER.open(KEY, harness.backend.load(KEY)) is None


def test_no_plaintext_in_the_store(harness: Harness) -> None:
    sealed = SEALER.seal(KEY, {"SecretAccessKey": SECRET, "SessionToken": SECRET})
    harness.backend.save(KEY, sealed, _far(harness.clock))
    stored = harness.dump()
    assert sealed[-16:] in stored or base64.b64encode(sealed)[-16:] in stored
    for needle in (SECRET.encode(), base64.b64encode(SECRET.encode())[:24]):
        assert needle not in stored
    for text in (repr(harness.backend), harness.backend.describe()):
        assert SECRET not in text


def test_lock_excludes_other_threads(harness: Harness) -> None:
    with harness.backend.lock(KEY, 5):
        outcome, elapsed = _lock_in_thread(harness.backend, KEY, 0.5)
        assert outcome == "timeout"
        assert 0.4 <= elapsed < 0.5 + SLACK
        assert _lock_in_thread(harness.backend, KEY, 0)[0] == "timeout"
    assert _lock_in_thread(harness.backend, KEY, 5)[0] == "acquired"


def test_waiting_lock_acquires_after_release(harness: Harness) -> None:
    result: list[tuple[str, float]] = []
    with harness.backend.lock(KEY, 5):
        waiter = threading.Thread(
            target=lambda: result.append(_lock_in_thread(harness.backend, KEY, 10))
        )
        waiter.start()
        time.sleep(0.3)
        assert not result
    waiter.join(20)
    outcome, elapsed = result[0]
    assert outcome == "acquired"
    assert 0.2 <= elapsed < 10


def test_lock_on_other_keys_does_not_block(harness: Harness) -> None:
    with harness.backend.lock(KEY, 5):
        outcome, elapsed = _lock_in_thread(harness.backend, OTHER, 5)
    assert outcome == "acquired"
    assert elapsed < SLACK


def test_lock_released_when_the_block_raises(harness: Harness) -> None:
    with pytest.raises(RuntimeError), harness.backend.lock(KEY, 5):
        raise RuntimeError("boom")
    assert _lock_in_thread(harness.backend, KEY, 5)[0] == "acquired"


@pytest.mark.timeout(90)
def test_lock_excludes_other_processes(harness: Harness) -> None:
    if harness.child_build is None:
        pytest.skip("the memory cache is private to its process")
    code = LOCK_CHILD.format(build=harness.child_build)
    args = [sys.executable, "-c", code, KEY.digest, KEY.kind, "0.5", "20"]
    with harness.backend.lock(KEY, 5):
        child = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=harness.env,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdin is not None
        first = child.stdout.readline().strip()
    child.stdin.write("\n")
    child.stdin.flush()
    second = child.stdout.readline().strip()
    _, errors = child.communicate(timeout=30)
    assert (first, second) == ("timeout", "acquired"), errors
