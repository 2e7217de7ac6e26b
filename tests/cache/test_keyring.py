"""The keyring backend against a real Secret Service: pinning, failures, locking, the index."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mdh_creds.cache.backends import select
from mdh_creds.cache.keyring import INDEX_FILE, PIN_FILE, KeyringCache
from mdh_creds.cache.stored import CacheKey
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable
from mdh_creds.testing.servers import unlock_default_collection
from servers import SECRET_SERVICE_BACKEND

SEALER = Sealer(b"keyring test key material")
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
OTHER = CacheKey.for_identity({"account": "beta"}, "token")
LATER = datetime.now(timezone.utc) + timedelta(hours=1)
QUICK = 5.0


@pytest.fixture(autouse=True)
def empty_keyring(keyring_env: dict[str, str]) -> None:
    """No ``mdh-creds`` entry left by an earlier test (the Secret Service is per session)."""
    for item in _collection().search_items({"service": "mdh-creds"}):
        item.delete()


@pytest.fixture
def fresh_detection() -> Iterator[None]:
    """Forget keyring's once-per-process detection before and after the test."""
    import keyring.backend

    vars(keyring.backend.get_all_keyring).pop("saved_result", None)
    yield
    vars(keyring.backend.get_all_keyring).pop("saved_result", None)


@pytest.fixture
def detecting(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fresh_detection: None):
    """The Secret Service environment without ``PYTHON_KEYRING_BACKEND``: detection decides."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    return keyring_env


def _collection() -> Any:
    import secretstorage

    return secretstorage.get_default_collection(secretstorage.dbus_init())


def _unlock(collection: Any) -> None:
    unlock_default_collection(collection)
    assert not collection.is_locked()


@pytest.fixture
def locked(keyring_env: dict[str, str]) -> Iterator[None]:
    collection = _collection()
    collection.lock()
    assert collection.is_locked()
    try:
        yield
    finally:
        _unlock(collection)


def _timed_unavailable(build: Any) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(CacheUnavailable) as caught:
        build()
    return str(caught.value), time.monotonic() - start


def test_first_construction_pins_the_detected_backend(
    detecting: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring.backend

    first = KeyringCache(tmp_path)
    assert first.backend_path == SECRET_SERVICE_BACKEND
    assert (tmp_path / PIN_FILE).read_text().strip() == SECRET_SERVICE_BACKEND

    def no_detection() -> list[Any]:
        raise AssertionError("detection ran although a backend was pinned")

    monkeypatch.setattr(keyring.backend, "get_all_keyring", no_detection)
    second = KeyringCache(tmp_path)
    assert second.backend_path == SECRET_SERVICE_BACKEND
    second.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    assert SEALER.open(KEY, first.load(KEY)) == {"v": 1}


def test_environment_backend_is_used_and_not_pinned(
    keyring_env: dict[str, str], tmp_path: Path
) -> None:
    cache = select("keyring", folder=tmp_path)
    assert isinstance(cache, KeyringCache)
    assert cache.backend_path == SECRET_SERVICE_BACKEND
    assert not (tmp_path / PIN_FILE).exists()


@pytest.mark.parametrize(
    "pin",
    [
        "no.such.module.Keyring",
        "builtins.dict",
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "keyring.backends.chainer.ChainerBackend",
        "nodots",
    ],
)
def test_bogus_pin_falls_back_to_detection(
    detecting: dict[str, str], tmp_path: Path, pin: str
) -> None:
    (tmp_path / PIN_FILE).write_text(pin + "\n")
    start = time.monotonic()
    cache = KeyringCache(tmp_path)
    assert time.monotonic() - start < QUICK
    assert cache.backend_path == SECRET_SERVICE_BACKEND
    assert (tmp_path / PIN_FILE).read_text().strip() == SECRET_SERVICE_BACKEND


@pytest.mark.parametrize("backend", ["keyring.backends.null.Keyring", "no.such.Keyring"])
def test_unusable_environment_backend_is_unavailable(
    keyring_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    message, _ = _timed_unavailable(lambda: KeyringCache(tmp_path))
    assert backend in message
    assert "mdh_cache = file" in message


@pytest.mark.parametrize("how", ["environment", "pinned", "detected"])
def test_dead_session_bus_is_unavailable_quickly(
    keyring_env: dict[str, str],
    fresh_detection: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nothing'}")
    if how != "environment":
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    if how == "pinned":
        (tmp_path / PIN_FILE).write_text(SECRET_SERVICE_BACKEND)
    message, elapsed = _timed_unavailable(lambda: KeyringCache(tmp_path))
    assert elapsed < QUICK
    assert "mdh_cache = file" in message
    assert "\n" not in message


@pytest.mark.timeout(30)
def test_locked_keyring_is_unavailable_at_construction(
    keyring_env: dict[str, str], locked: None, tmp_path: Path
) -> None:
    message, elapsed = _timed_unavailable(lambda: KeyringCache(tmp_path))
    assert message == "the OS keyring is locked: unlock it or set mdh_cache = file"
    assert elapsed < QUICK


@pytest.mark.timeout(30)
def test_keyring_locked_later_is_unavailable_per_call(
    keyring_env: dict[str, str], tmp_path: Path
) -> None:
    cache = KeyringCache(tmp_path)
    collection = _collection()
    collection.lock()
    try:
        with pytest.raises(CacheUnavailable, match="locked"):
            cache.load(KEY)
        with pytest.raises(CacheUnavailable, match="locked"):
            cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    finally:
        _unlock(collection)
    assert cache.load(KEY) is None


def test_index_tracks_saves_and_deletes(keyring_env: dict[str, str], tmp_path: Path) -> None:
    cache = KeyringCache(tmp_path)
    cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    cache.save(OTHER, SEALER.seal(OTHER, {"v": 2}), LATER)
    cache.save(OTHER, SEALER.seal(OTHER, {"v": 3}), LATER)
    names = json.loads((tmp_path / INDEX_FILE).read_text())
    assert names == sorted([KEY.name, OTHER.name])
    cache.delete(KEY)
    assert list(KeyringCache(tmp_path).list_keys()) == [OTHER]
    assert cache.load(KEY) is None
    cache.delete(OTHER)
    assert list(cache.list_keys()) == []


@pytest.mark.parametrize("content", ["{not json", '{"a": 1}', '["credentials-nothex", 3]', ""])
def test_damaged_index_lists_nothing(
    keyring_env: dict[str, str], tmp_path: Path, content: str
) -> None:
    cache = KeyringCache(tmp_path)
    (tmp_path / INDEX_FILE).write_text(content)
    assert list(cache.list_keys()) == []
    cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    assert list(cache.list_keys()) == [KEY]


def test_a_planted_pin_is_never_imported(
    detecting: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN 6: nothing found in the cache folder is imported. The pin names a module that is
    importable (on sys.path) and would leave a mark: only keyring's own backends are taken."""
    planted = tmp_path / "planted"
    planted.mkdir()
    mark = tmp_path / "imported"
    (planted / "mdh_planted_pin.py").write_text(
        f"open({str(mark)!r}, 'w').close()\nclass Keyring:\n    priority = 10\n"
    )
    monkeypatch.syspath_prepend(str(planted))
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    (folder / PIN_FILE).write_text("mdh_planted_pin.Keyring\n")
    cache = KeyringCache(folder)
    assert "mdh_planted_pin" not in sys.modules
    assert not mark.exists()
    assert cache.backend_path == SECRET_SERVICE_BACKEND
    assert (folder / PIN_FILE).read_text().strip() == SECRET_SERVICE_BACKEND
