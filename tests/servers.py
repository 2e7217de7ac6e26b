"""Pytest fixtures running real servers on 127.0.0.1: a moto server and a private Secret Service.

Loaded through ``pytest_plugins = ["servers"]``. Session fixtures start each server once and stop
it (by pid) when the session ends; function fixtures reset state and patch ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from mdh_creds.testing.servers import (
    SECRET_SERVICE_BACKEND,
    SECRET_SERVICE_PASSWORD,
    ServerError,
    free_port,
    http_ok,
    secret_service_missing,
    start_moto,
    start_secret_service,
)

__all__ = ["SECRET_SERVICE_BACKEND", "SECRET_SERVICE_PASSWORD", "TABLE", "Calls", "free_port"]
TABLE = "mdh-creds-cache"


class MotoServer(NamedTuple):
    url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a moto server on 127.0.0.1, shared by the session."""
    with contextlib.ExitStack() as stack:
        try:
            url = start_moto(tmp_path_factory.mktemp("moto"), stack)
        except ServerError as exc:
            pytest.fail(str(exc))
        yield url


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, emptied, with its endpoint and fake credentials in ``os.environ``."""
    if not http_ok(f"{moto_server}/moto-api/reset", method="POST"):
        pytest.fail("moto_server did not reset")
    env = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return MotoServer(moto_server, env)


def dynamodb_client(url: str, **config: Any) -> Any:
    """A low-level DynamoDB client for ``url`` with the fake credentials."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config) if config else None,
    )


class Calls:
    """Counts the DynamoDB operations a real boto3 client sends (botocore's event hooks)."""

    def __init__(self, client: Any) -> None:
        self.made: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._note)

    def _note(self, model: Any, **_: Any) -> None:
        self.made.append(model.name)

    def count(self, operation: str) -> int:
        return self.made.count(operation)


@pytest.fixture
def dynamodb_table(moto: MotoServer) -> tuple[Any, str]:
    """``(client, table_name)``: the cache table created in the fresh moto server."""
    from mdh_creds.cache.dynamodb import create_table

    client = dynamodb_client(moto.url)
    create_table(client, TABLE)
    return client, TABLE


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private, unlocked Secret Service: the environment that reaches it."""
    missing = secret_service_missing()
    if missing:
        message = f"the Secret Service tests need gnome-keyring and dbus: {missing}"
        if os.environ.get("MDH_CREDS_REQUIRE_KEYRING") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with contextlib.ExitStack() as stack:
        try:
            env = start_secret_service(tmp_path_factory.mktemp("keyring-home"), stack)
        except ServerError as exc:
            pytest.fail(str(exc))
        yield env


@pytest.fixture
def keyring_env(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Secret Service environment, patched into ``os.environ`` for in-process keyring use."""
    for name, value in secret_service.items():
        monkeypatch.setenv(name, value)
    return dict(secret_service)
