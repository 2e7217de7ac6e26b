"""One bounded HTTP exchange for every MDH call (DESIGN 6).

- A total deadline per attempt, however slowly a server sends: requests' timeout bounds each
  socket read, so a watchdog also shuts the attempt's socket down when its time is up (connect,
  TLS, request, headers and body alike).
- The answer is read within 1 MiB (``mdh.body``).
- Only the settings' credentials reach MDH: ``trust_env`` is off, so ``~/.netrc`` can never replace
  the explorer's ``Authorization``; the proxies (``HTTPS_PROXY``, ``NO_PROXY``) and the CA bundle
  are passed explicitly.
- After ``fork`` a child never reuses the parent's pooled connections: a session used in a new
  process gets new connection pools first.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from mdh_creds.errors import ExchangeUnavailable, MdhCredsError
from mdh_creds.mdh.body import read_body

if TYPE_CHECKING:
    from collections.abc import Mapping

_current = threading.local()  # the watchdog of the attempt this thread is making
_NETWORK_ERRORS = (OSError, requests.RequestException, urllib3.exceptions.HTTPError)


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer, its body decoded and within 1 MiB."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)


class _Watchdog:
    """Shuts down the sockets of one attempt once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._guard = threading.Lock()
        self._connections: list[Any] = []
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        _current.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _current.watchdog = None

    def watch(self, connection: Any) -> None:
        with self._guard:
            if connection not in self._connections:
                self._connections.append(connection)
            if self.fired:
                _shut(connection)

    def _fire(self) -> None:
        with self._guard:
            self.fired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: Any) -> None:
    """Shut the connection's socket down: a read blocked on it returns at once."""
    sock = getattr(connection, "sock", None)
    sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(sock, socket.socket):
        # The plain socket's method: SSLSocket.shutdown would also drop its TLS state under the
        # reading thread's feet.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(connection: Any) -> None:
    watchdog = getattr(_current, "watchdog", None)
    if watchdog is not None:
        watchdog.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _watched(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)  # a kept-alive connection was made in an earlier attempt
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _watched(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _use_watched_pools(manager: Any) -> Any:
    """Our pool classes in ``manager``, unless it has its own (SOCKS proxies keep theirs)."""
    classes = getattr(manager, "pool_classes_by_scheme", {})
    if classes.get("http") in (HTTPConnectionPool, _HTTPPool):
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with watched connections and no retries of its own (``mdh.retry``)."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _use_watched_pools(super().proxy_manager_for(proxy, **proxy_kwargs))


class BoundedHttp:
    """POSTs to MDH over ``session`` (its adapters replaced), each bounded in time and size."""

    def __init__(self, session: requests.Session, *, ca_bundle: str | None = None) -> None:
        self._session = session
        self._verify: str | bool = ca_bundle or True
        session.trust_env = False  # no ~/.netrc; proxies and CA bundle are passed explicitly
        self._mount()

    def _mount(self) -> None:
        self._pid = os.getpid()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, _WatchedAdapter())

    def post(
        self, url: str, *, label: str, timeout: float, deadline: float, **kwargs: Any
    ) -> Answer:
        """One attempt of at most ``timeout`` seconds, ending by ``deadline`` (monotonic)."""
        if os.getpid() != self._pid:  # forked: the parent's connections stay the parent's
            self._mount()
        seconds = min(timeout, deadline - time.monotonic())
        if seconds <= 0:
            raise _timed_out(label, timeout)
        with _Watchdog(seconds) as watchdog:
            try:
                return self._attempt(url, label, seconds, **kwargs)
            except MdhCredsError:
                raise
            except Exception as exc:
                # Once the watchdog has shut the socket, whatever the reader raised means "late".
                if watchdog.fired:
                    raise _timed_out(label, timeout) from exc
                if isinstance(exc, _NETWORK_ERRORS):
                    raise _unreachable(label, timeout, exc) from exc
                raise

    def _attempt(self, url: str, label: str, seconds: float, **kwargs: Any) -> Answer:
        response = self._session.post(
            url,
            timeout=(seconds, seconds),
            allow_redirects=False,
            stream=True,
            verify=self._verify,
            proxies=get_environ_proxies(url),
            **kwargs,
        )
        with response:
            body = read_body(response.raw, response.headers, label, response.status_code)
        return Answer(response.status_code, response.headers, body)


def _timed_out(label: str, timeout: float) -> ExchangeUnavailable:
    return ExchangeUnavailable(f"{label} timed out after {timeout:g} s")


def _unreachable(label: str, timeout: float, exc: Exception) -> ExchangeUnavailable:
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return _timed_out(label, timeout)
    return ExchangeUnavailable(f"cannot reach the {label}: {why_unreachable(exc)}")


def why_unreachable(exc: BaseException) -> str:
    """Which of TLS, the proxy, DNS or a refused connection failed, and what to do; the
    exception's type name otherwise. Nothing of the exception's text (it may quote a URL's
    query) is shown."""
    chain = _chain(exc)
    name = type(exc).__name__
    if any(isinstance(e, requests.exceptions.SSLError | ssl.SSLError) for e in chain):
        return (
            f"TLS failed ({name}): the server's certificate is not trusted here; behind a "
            "TLS-inspecting proxy set AWS_CA_BUNDLE or ca_bundle to its CA bundle"
        )
    if any(isinstance(e, requests.exceptions.ProxyError) for e in chain):
        return f"the proxy failed ({name}): check HTTPS_PROXY and NO_PROXY"
    if any(isinstance(e, socket.gaierror | urllib3.exceptions.NameResolutionError) for e in chain):
        return f"the host name does not resolve ({name}): check the URL's host and the DNS"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"the connection was refused ({name}): nothing listens there; check the URL"
    return name


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes and contexts, and the reason urllib3 wraps in ``MaxRetryError``."""
    found: list[BaseException] = []
    pending: list[object] = [exc]
    while pending and len(found) < 16:
        current = pending.pop()
        if not isinstance(current, BaseException) or current in found:
            continue  # ssl.SSLError's ``reason`` is a string, not an exception
        found.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += list(current.args)
    return found
