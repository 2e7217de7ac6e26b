"""A local stand-in for the MyDataHelps token and Explorer exchange endpoints, and for the
token endpoint of a client-secret API (an API client's id and secret, RFC 6749 4.4).

Run ``python -m mdh_creds.testing.emulator`` to serve one demo account until interrupted.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from mdh_creds.testing._cli import banner, parse_args, serve_client, wait_for_signal
from mdh_creds.testing._endpoints import CLIENT_TOKEN_PATH, LEGACY_PATH, TOKEN_PATH, explorer_path
from mdh_creds.testing._handlers import EmulatorServer
from mdh_creds.testing._models import (
    Fault,
    Minter,
    MintRequest,
    RecordedRequest,
    Transform,
    error_name,
    format_expiration,
    sequence_minter,
)
from mdh_creds.testing._state import CLIENT_OWNER, Account, Client, EmulatorState
from mdh_creds.testing.keys import KeyPair, generate_key_pair

__all__ = [
    "Fault",
    "MdhEmulator",
    "MintRequest",
    "Minter",
    "RecordedRequest",
    "format_expiration",
    "main",
    "sequence_minter",
]

T = TypeVar("T")


class _Setting(Generic[T]):
    """Exposes one :class:`EmulatorState` setting as a read/write emulator attribute."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Setting[T]: ...
    @overload
    def __get__(self, obj: MdhEmulator, owner: type[Any]) -> T: ...
    def __get__(self, obj: MdhEmulator | None, owner: type[Any]) -> T | _Setting[T]:
        if obj is None:
            return self
        value: T = getattr(obj._state, self._name)
        return value

    def __set__(self, obj: MdhEmulator, value: T) -> None:
        setattr(obj._state, self._name, value)


class MdhEmulator:
    """A real HTTP server on 127.0.0.1 emulating the MyDataHelps endpoints for tests.

    Settings (``token_lifetime``, ``credential_lifetime``, ``date_skew``,
    ``expiration_format``, ``minter``) may be changed at any time. ``date_skew`` moves the
    server clock used for the ``Date`` header, ``Expiration`` and access-token expiry;
    assertion ``exp``/``iat`` are judged against the real clock with 5 minutes leeway.
    :meth:`reset` forgets everything, registered accounts included, and restores defaults.
    """

    token_lifetime = _Setting[int]()
    credential_lifetime = _Setting[int]()
    date_skew = _Setting[float]()
    expiration_format = _Setting[Callable[[datetime], str]]()
    minter = _Setting[Minter]()

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._state = EmulatorState()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._state.base_url if self._server else "not running"
        return f"MdhEmulator({where})"

    def start(self) -> MdhEmulator:
        """Bind and serve in a daemon thread; return ``self``."""
        if self._server is not None:
            raise RuntimeError("emulator is already running")
        server = EmulatorServer((self._host, self._port), self._state)
        self._state.base_url = f"http://{self._host}:{server.server_port}"
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mdh-emulator-{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a no-op when not running."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> MdhEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if not self._state.base_url:
            raise RuntimeError("emulator has not been started")
        return self._state.base_url

    @property
    def token_url(self) -> str:
        """The token endpoint; also the only ``aud`` accepted in assertions."""
        return self.base_url + TOKEN_PATH

    @property
    def client_token_url(self) -> str:
        """The client-secret grant's token endpoint (HTTP Basic or form credentials)."""
        return self.base_url + CLIENT_TOKEN_PATH

    @property
    def legacy_exchange_url(self) -> str:
        """The legacy exchange endpoint (project chosen by the ``ProjectCode`` header)."""
        return self.base_url + LEGACY_PATH

    def exchange_url_for(self, project_id: str) -> str:
        """The newer exchange endpoint for ``project_id``."""
        return self.base_url + explorer_path(project_id)

    def register_account(
        self,
        name: str,
        public_key_pem: str | KeyPair,
        *,
        project_codes: Iterable[str] | None = None,
        project_ids: Iterable[str] | None = None,
    ) -> None:
        """Accept assertions from ``name``; ``None`` project sets allow any project."""
        pem = public_key_pem.public_pem if isinstance(public_key_pem, KeyPair) else public_key_pem
        key = serialization.load_pem_public_key(pem.encode("ascii"))
        if not isinstance(key, RSAPublicKey):
            raise ValueError("service account keys must be RSA public keys")
        codes = None if project_codes is None else frozenset(project_codes)
        ids = None if project_ids is None else frozenset(project_ids)
        self._state.add_account(Account(name, key, codes, ids))

    def register_client(
        self, client_id: str, client_secret: str, *, scopes: Iterable[str] | None = None
    ) -> None:
        """Accept this API client at :attr:`client_token_url`; ``None`` scopes allow any.

        A wrong secret is answered ``400 {"error": "invalid_client"}``, an unknown client too.
        """
        allowed = None if scopes is None else frozenset(scopes)
        self._state.add_client(Client(client_id, client_secret, allowed))

    def token_client(self, token: str) -> str | None:
        """The API client an unexpired access token was issued to (``None`` if none was):
        what an API under test checks a ``Bearer`` token with."""
        owner = self._state.token_account(token)
        if owner is None or not owner.startswith(CLIENT_OWNER):
            return None
        return owner[len(CLIENT_OWNER) :]

    def count(self, endpoint: str) -> int:
        """Requests received by ``endpoint`` (token, client_token, legacy, explorer, exchange,
        other)."""
        return self._state.count(endpoint)

    def successes(self, endpoint: str) -> int:
        """Requests to ``endpoint`` answered with status 200."""
        return self._state.count(endpoint, status=200)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        return self._state.records()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected errors inside the emulator (should stay empty)."""
        return self._state.errors()

    def inject(self, endpoint: str, fault: Fault, *, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``fault``."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._state.queue_fault(endpoint, fault, times)

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        times: int = 1,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status``.

        ``endpoint`` is token, client_token, legacy, explorer or exchange (either exchange). The
        default
        body is a JSON ``{"error": ...}``; ``headers`` (e.g. ``Retry-After``) are added.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"invalid HTTP status {status}")
        payload = _default_error_body(status) if body is None else _as_bytes(body)
        self.inject(endpoint, Fault(status, payload, dict(headers or {})), times=times)

    def malformed(
        self,
        endpoint: str,
        body: str | bytes,
        *,
        times: int = 1,
        status: int = 200,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with this raw body."""
        self.inject(endpoint, Fault(status, _as_bytes(body), {}, content_type), times=times)

    def delay(self, endpoint: str, seconds: float, *, times: int = 1) -> None:
        """Sleep ``seconds`` before answering each of the next ``times`` requests."""
        if times < 1 or seconds < 0:
            raise ValueError("times must be at least 1 and seconds not negative")
        self._state.queue_delay(endpoint, seconds, times)

    def set_answer_override(self, endpoint: str, transform: Transform | None) -> None:
        """Rewrite successful JSON answers of ``endpoint`` until reset (``None`` removes)."""
        self._state.set_override(endpoint, transform)

    def reset(self) -> None:
        """Forget accounts, tokens, jtis, records, faults and overrides; restore defaults."""
        self._state.reset()


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _default_error_body(status: int) -> bytes:
    if status < 400:
        return b"{}"
    return json.dumps({"error": error_name(status)}).encode()


def main(argv: list[str] | None = None) -> int:
    """Generate a key, register one account, print a profile and serve until signalled
    (with ``--client-secret``: register an API client and print its profile instead).

    Without ``--key-out`` the key goes to a temporary directory removed on exit; with
    ``--moto URL`` every exchange mints the keys of a new IAM user on that moto server.
    """
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mdh-emulator-") as scratch:
        key_file: Path = (args.key_out or Path(scratch) / "service-account.pem").resolve()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_pair = generate_key_pair()
        key_pair.write_private_key(key_file)
        emulator = MdhEmulator(args.host, args.port)
        emulator.token_lifetime = args.token_lifetime
        emulator.credential_lifetime = args.credential_lifetime
        emulator.register_account(args.account, key_pair, project_codes=[args.project_code])
        if args.moto:
            from mdh_creds.testing.minters import moto_iam_minter

            emulator.minter = moto_iam_minter(args.moto)
        with emulator:
            if args.client_secret:  # an API client's secret, in a file like the key
                secret_file = (args.secret_out or Path(scratch) / "client-secret").resolve()
                text = serve_client(emulator, args, secret_file)
            else:
                text = banner(emulator.token_url, emulator.legacy_exchange_url, args, key_file)

            def ready() -> None:  # printed once SIGTERM is handled: callers may send it next
                print(text)
                sys.stdout.flush()

            wait_for_signal(ready)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
