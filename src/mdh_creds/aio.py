"""aiobotocore's half of the provider: async credentials that refresh in process off the loop.

aiobotocore (s3fs, pandas ``storage_options``, aioboto3) awaits ``provider.load()`` and the
credentials' refresh callback. :func:`load_async` gives ``AioMdhCredentialProvider``
(``provider.py``) ``AioRefreshableCredentials`` (on aiobotocore's anyio primitives
``AnyioRefreshableCredentials``). The broker blocks (MDH over HTTP, file locks, DynamoDB), so its
calls, the first load included, run in a worker thread and the event loop keeps running.
botocore's advisory and mandatory windows are scaled with each credential's lifetime exactly as
for the sync provider (``refresh.apply_windows``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from mdh_creds.broker import CredentialBroker
from mdh_creds.models import TemporaryCredentials
from mdh_creds.refresh import METHOD_NAME, Refresher, apply_windows, local_metadata

__all__ = ["load_async"]
T = TypeVar("T")
Runner = Callable[[Callable[[], T]], Awaitable[T]]


class SyncProvider(Protocol):
    """What :func:`load_async` uses of ``MdhCredentialProvider``."""

    session: Any

    def prepare(self) -> CredentialBroker | None: ...

    def _fetch(self, broker: CredentialBroker) -> TemporaryCredentials: ...


def _uses_anyio(session: Any) -> bool:
    """True for a session on aiobotocore's anyio primitives (the httpx backend, trio)."""
    primitives = getattr(session, "_async_primitives", None)  # aiobotocore 3 and later
    return getattr(primitives, "value", None) == "anyio"


def _runner(session: Any) -> Runner[Any]:
    """How to run a blocking call off the event loop for this session's primitives."""
    if _uses_anyio(session):
        import anyio.to_thread

        run_sync: Runner[Any] = anyio.to_thread.run_sync
        return run_sync
    return asyncio.to_thread


def _credentials_class(session: Any) -> Any:
    if _uses_anyio(session):
        from aiobotocore.credentials import AnyioRefreshableCredentials

        return AnyioRefreshableCredentials
    from aiobotocore.credentials import AioRefreshableCredentials

    return AioRefreshableCredentials


class _ThreadedRefresh:
    """The async ``refresh_using`` callback: the sync ``Refresher`` run in a worker thread."""

    def __init__(self, refresher: Refresher, run: Runner[dict[str, str]]) -> None:
        self._refresher = refresher
        self._run = run

    def __repr__(self) -> str:
        return f"_ThreadedRefresh({self._refresher!r})"

    async def __call__(self) -> dict[str, str]:
        return await self._run(self._refresher)


async def load_async(provider: SyncProvider) -> Any:
    """Refreshable async credentials for ``provider``'s profile, or ``None`` when it does not
    act for that profile (errors as ``CredentialRetrievalError``, as the sync ``load``)."""
    run = _runner(provider.session)
    broker = await run(provider.prepare)
    if broker is None:
        return None

    def fetch() -> TemporaryCredentials:
        return provider._fetch(broker)

    window = broker.policy.refresh_window
    refresher = Refresher(fetch, window)
    first = await run(fetch)
    credentials = _credentials_class(provider.session).create_from_metadata(
        local_metadata(first), refresh_using=_ThreadedRefresh(refresher, run), method=METHOD_NAME
    )
    apply_windows(credentials, first, window)
    refresher.target = credentials
    return credentials
