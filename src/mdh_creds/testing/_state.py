"""The emulator's mutable state behind one lock: accounts, tokens, replay cache, records, faults."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from mdh_creds.testing._models import (
    Fault,
    Minter,
    RecordedRequest,
    Transform,
    format_expiration,
    random_minter,
    resolve_endpoint,
)

__all__ = [
    "CLIENT_OWNER",
    "DEFAULT_CREDENTIAL_LIFETIME",
    "DEFAULT_TOKEN_LIFETIME",
    "Account",
    "Client",
    "EmulatorState",
]

T = TypeVar("T")

DEFAULT_TOKEN_LIFETIME = 3600
DEFAULT_CREDENTIAL_LIFETIME = 3600
CLIENT_OWNER = "client:"  # prefix of a token owner that is an API client, not an account


@dataclass(frozen=True)
class Account:
    """A registered service account; ``None`` project sets allow every project."""

    name: str
    public_key: RSAPublicKey
    project_codes: frozenset[str] | None
    project_ids: frozenset[str] | None

    def allows(self, endpoint: str, project: str) -> bool:
        """Whether this account may exchange for ``project`` on ``endpoint``."""
        allowed = self.project_codes if endpoint == "legacy" else self.project_ids
        return allowed is None or project in allowed


@dataclass(frozen=True)
class Client:
    """A registered API client of the client-secret grant; ``None`` scopes allow every scope."""

    client_id: str
    secret: str = field(repr=False)
    scopes: frozenset[str] | None

    def allows(self, scope: str) -> bool:
        return self.scopes is None or set(scope.split()) <= self.scopes


@dataclass
class _Queued(Generic[T]):
    targets: tuple[str, ...]
    item: T
    remaining: int


def _take(queue: list[_Queued[T]], endpoint: str) -> T | None:
    for entry in queue:
        if endpoint in entry.targets:
            entry.remaining -= 1
            if entry.remaining <= 0:
                queue.remove(entry)
            return entry.item
    return None


class EmulatorState:
    """Everything the request handlers read and write; every method is thread-safe."""

    token_lifetime: int
    credential_lifetime: int
    date_skew: float
    expiration_format: Callable[[datetime], str]
    minter: Minter

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.base_url = ""
        self._epoch = 0
        with self.lock:
            self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        self.credential_lifetime = DEFAULT_CREDENTIAL_LIFETIME
        self.date_skew = 0.0
        self.expiration_format = format_expiration
        self.minter = random_minter
        self._accounts: dict[str, Account] = {}
        self._clients: dict[str, Client] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._jtis: set[str] = set()
        self._records: list[RecordedRequest] = []
        self._faults: list[_Queued[Fault]] = []
        self._delays: list[_Queued[float]] = []
        self._overrides: dict[str, Transform] = {}
        self._mints = 0
        self._errors: list[str] = []

    def reset(self) -> None:
        """Forget everything, accounts included, and restore default settings.

        Requests still in flight during a reset are not recorded afterwards.
        """
        with self.lock:
            self._epoch += 1
            self._reset_unlocked()

    def epoch(self) -> int:
        """How many resets happened; a request remembers it on arrival."""
        with self.lock:
            return self._epoch

    def now(self) -> float:
        """The emulated server clock: real time plus ``date_skew``."""
        return time.time() + self.date_skew

    def add_account(self, account: Account) -> None:
        with self.lock:
            self._accounts[account.name] = account

    def account(self, name: str) -> Account | None:
        with self.lock:
            return self._accounts.get(name)

    def add_client(self, client: Client) -> None:
        with self.lock:
            self._clients[client.client_id] = client

    def client(self, client_id: str) -> Client | None:
        with self.lock:
            return self._clients.get(client_id)

    def queue_fault(self, target: str, fault: Fault, times: int) -> None:
        with self.lock:
            self._faults.append(_Queued(resolve_endpoint(target), fault, times))

    def queue_delay(self, target: str, seconds: float, times: int) -> None:
        with self.lock:
            self._delays.append(_Queued(resolve_endpoint(target), seconds, times))

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            return _take(self._faults, endpoint)

    def take_delay(self, endpoint: str) -> float:
        with self.lock:
            return _take(self._delays, endpoint) or 0.0

    def set_override(self, target: str, transform: Transform | None) -> None:
        with self.lock:
            for endpoint in resolve_endpoint(target):
                if transform is None:
                    self._overrides.pop(endpoint, None)
                else:
                    self._overrides[endpoint] = transform

    def override(self, endpoint: str) -> Transform | None:
        with self.lock:
            return self._overrides.get(endpoint)

    def record(self, request: RecordedRequest, epoch: int) -> None:
        """Keep ``request`` unless the state was reset since it arrived (``epoch``)."""
        with self.lock:
            if epoch == self._epoch:
                self._records.append(request)

    def records(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._records)

    def count(self, name: str, *, status: int | None = None) -> int:
        """Requests received by ``name`` (optionally only those answered ``status``)."""
        endpoints = resolve_endpoint(name, allow_other=True)
        with self.lock:
            return sum(
                1
                for r in self._records
                if r.endpoint in endpoints and (status is None or r.status == status)
            )

    def consume_jti(self, jti: str) -> bool:
        """Remember ``jti``; False when it was seen before."""
        with self.lock:
            if jti in self._jtis:
                return False
            self._jtis.add(jti)
            return True

    def issue_token(self, account: str) -> str:
        """A new opaque access token for ``account`` valid for ``token_lifetime``."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens[token] = (account, self.now() + self.token_lifetime)
        return token

    def token_account(self, token: str) -> str | None:
        """The account an unexpired ``token`` was issued to, else ``None``."""
        with self.lock:
            entry = self._tokens.get(token)
        if entry is None or self.now() >= entry[1]:
            return None
        return entry[0]

    def next_sequence(self) -> int:
        with self.lock:
            self._mints += 1
            return self._mints

    def note_error(self, text: str) -> None:
        with self.lock:
            self._errors.append(text)

    def errors(self) -> list[str]:
        with self.lock:
            return list(self._errors)
