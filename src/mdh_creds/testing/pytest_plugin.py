"""Pytest fixtures running the MDH emulator, loaded automatically through the pytest11 entry point.

Importing this module starts nothing; the emulator starts when a fixture first asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mdh_creds.testing.emulator import MdhEmulator
    from mdh_creds.testing.keys import KeyPair

__all__ = [
    "TEST_ACCOUNT",
    "TEST_PROJECT_CODE",
    "TEST_PROJECT_ID",
    "EmulatorAccount",
    "EmulatorClient",
    "mdh_account",
    "mdh_api_client",
    "mdh_emulator",
    "mdh_emulator_session",
    "mdh_key_pair",
    "mdh_profile",
]

TEST_ACCOUNT = "MyDataHelps.TEST.app"
TEST_PROJECT_CODE = "RK.TEST.Project"
TEST_PROJECT_ID = "5c6c7a3e-0000-4000-8000-00000000e001"
PROFILE_NAME = "mdh"
TEST_CLIENT_SCOPE = "api.read"


@dataclass(frozen=True)
class EmulatorAccount:
    """A service account registered on the emulator, with its key written to disk."""

    name: str
    key_pair: KeyPair
    key_file: Path
    project_code: str
    project_id: str


@dataclass(frozen=True)
class EmulatorClient:
    """An API client of the client-secret grant registered on the emulator."""

    client_id: str
    client_secret: str = field(repr=False)
    token_url: str
    scope: str


@pytest.fixture(scope="session")
def mdh_emulator_session() -> Iterator[MdhEmulator]:
    """One running emulator shared by the whole session (state persists between tests)."""
    from mdh_creds.testing.emulator import MdhEmulator

    with MdhEmulator() as emulator:
        yield emulator


@pytest.fixture
def mdh_emulator(mdh_emulator_session: MdhEmulator) -> MdhEmulator:
    """The session emulator, reset: no accounts, faults, records or changed settings."""
    mdh_emulator_session.reset()
    return mdh_emulator_session


@pytest.fixture(scope="session")
def mdh_key_pair() -> KeyPair:
    """An RSA key pair generated once per session."""
    from mdh_creds.testing.keys import generate_key_pair

    return generate_key_pair()


@pytest.fixture
def mdh_account(
    mdh_emulator: MdhEmulator, mdh_key_pair: KeyPair, tmp_path: Path
) -> EmulatorAccount:
    """``MyDataHelps.TEST.app`` registered for one project code and id, key file 0600."""
    mdh_emulator.register_account(
        TEST_ACCOUNT,
        mdh_key_pair,
        project_codes=[TEST_PROJECT_CODE],
        project_ids=[TEST_PROJECT_ID],
    )
    key_file = mdh_key_pair.write_private_key(tmp_path / "mdh-service-account.pem")
    return EmulatorAccount(TEST_ACCOUNT, mdh_key_pair, key_file, TEST_PROJECT_CODE, TEST_PROJECT_ID)


@pytest.fixture
def mdh_api_client(mdh_emulator: MdhEmulator) -> EmulatorClient:
    """An API client with a random id and secret, registered for one scope at the emulator's
    client-secret endpoint (``mdh_emulator.client_token_url``)."""
    import secrets

    client = EmulatorClient(
        f"test-client-{secrets.token_hex(4)}",
        secrets.token_urlsafe(24),
        mdh_emulator.client_token_url,
        TEST_CLIENT_SCOPE,
    )
    mdh_emulator.register_client(client.client_id, client.client_secret, scopes=[client.scope])
    return client


@pytest.fixture
def mdh_profile(
    mdh_emulator: MdhEmulator,
    mdh_account: EmulatorAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Name of an AWS profile (``mdh``) pointing at the emulator, in an isolated config."""
    config = tmp_path / "aws-config"
    config.write_text(
        "\n".join(
            [
                f"[profile {PROFILE_NAME}]",
                f"mdh_service_account = {mdh_account.name}",
                f"mdh_private_key_file = {mdh_account.key_file}",
                f"mdh_project_code = {mdh_account.project_code}",
                f"mdh_token_url = {mdh_emulator.token_url}",
                f"mdh_exchange_url = {mdh_emulator.legacy_exchange_url}",
                "mdh_cache = none",
                "region = us-east-1",
                "",
            ]
        ),
        encoding="utf-8",
    )
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return PROFILE_NAME
