"""aiobotocore (s3fs, pandas ``storage_options``, aioboto3): mdh profiles resolved in process.

aiobotocore awaits ``provider.load()`` and the credentials' refresh callback, so the provider
here is async: :class:`AioMdhCredentialProvider` returns ``AioRefreshableCredentials`` (on the
anyio backend ``AnyioRefreshableCredentials``). The broker blocks (MDH over HTTP, file locks,
DynamoDB), so its calls, the first load included, run in a worker thread and the event loop
keeps running. botocore's advisory and mandatory windows are scaled with each credential's
lifetime exactly as the sync provider scales them (``refresh.apply_windows``).

``mdh_creds.install()`` gives every later ``AioSession`` this provider, ``install(session)`` one
existing session; :func:`aio_session` returns a new session that resolves mdh credentials first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mdh_creds.api import override_flags
from mdh_creds.models import TemporaryCredentials
from mdh_creds.provider import MdhCredentialProvider, _insert
from mdh_creds.refresh import METHOD_NAME, Refresher, apply_windows, local_metadata

__all__ = ["AioMdhCredentialProvider", "aio_session", "install_aio"]
T = TypeVar("T")
Runner = Callable[[Callable[[], T]], Awaitable[T]]


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


class AioMdhCredentialProvider(MdhCredentialProvider):
    """``MdhCredentialProvider`` for aiobotocore: ``load()`` is awaited and never blocks."""

    async def load(self) -> Any:
        """Refreshable async credentials, or ``None`` when this is not an mdh profile."""
        run = _runner(self.session)
        broker = await run(self.prepare)
        if broker is None:
            return None

        def fetch() -> TemporaryCredentials:
            return self._fetch(broker)

        window = broker.policy.refresh_window
        refresher = Refresher(fetch, window)
        first = await run(fetch)
        credentials = _credentials_class(self.session).create_from_metadata(
            local_metadata(first),
            refresh_using=_ThreadedRefresh(refresher, run),
            method=METHOD_NAME,
        )
        apply_windows(credentials, first, window)
        refresher.target = credentials
        return credentials


def _chain(session: Any, provider: AioMdhCredentialProvider, *, head: bool) -> Any:
    """aiobotocore's own chain for ``session`` with ``provider`` in it (once)."""
    return _insert(session._create_credential_resolver(), provider, head=head)


def install_aio(session: Any, *, lazy: bool) -> None:
    """Add the async provider to an ``AioSession``: at its first credential lookup (``lazy``,
    from ``install()``'s initializer), or now into its resolver (``install(session)``)."""
    provider = AioMdhCredentialProvider(session=session)
    if lazy:
        session.lazy_register_component(
            "credential_provider", lambda: _chain(session, provider, head=False)
        )
        return
    _insert(session.get_component("credential_provider"), provider, head=False)


def aio_session(profile_name: str | None = None, **overrides: Any) -> Any:
    """An ``aiobotocore.session.AioSession`` whose credentials come from mdh-creds first,
    refreshed in process; ``overrides`` take setting names (``cache="file"``...).

    Use it as any AioSession: ``async with aio_session("mdh").create_client("s3") as s3``, or
    ``s3fs.S3FileSystem(session=aio_session("mdh"))``.
    """
    from aiobotocore.session import AioSession

    override_flags(None, overrides)
    session = AioSession(profile=profile_name)
    provider = AioMdhCredentialProvider(profile_name, session=session, required=True, **overrides)
    session.lazy_register_component(
        "credential_provider", lambda: _chain(session, provider, head=True)
    )
    return session
