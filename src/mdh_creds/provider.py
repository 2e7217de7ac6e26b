"""botocore integration: a credential provider for mdh profiles, refreshing in process.

``session(profile)`` gives a boto3 session whose credentials come from the broker (no
subprocess); ``install()`` makes every later botocore session resolve mdh profiles the same way,
and ``install(session)`` does it for one existing session; a role chained on an mdh profile too
(``roles``). For any other profile it answers ``None``: botocore's chain goes on. aiobotocore
sessions (s3fs, pandas, aioboto3) get :class:`AioMdhCredentialProvider`, whose credentials are
async (``mdh_creds.aio``); ``aio_session(profile)`` is ``session`` for them.

The plugin's own AWS clients (DynamoDB cache, Secrets Manager) are boto3 sessions too: while a
provider builds its broker or fetches, sessions created in that context are left alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from botocore.credentials import CredentialProvider

from mdh_creds.api import override_flags
from mdh_creds.aws.guard import inside, is_inside
from mdh_creds.broker import CredentialBroker
from mdh_creds.errors import MdhCredsError
from mdh_creds.models import TemporaryCredentials
from mdh_creds.redact import printable, redact
from mdh_creds.refresh import refreshable
from mdh_creds.roles.chain import is_role_profile
from mdh_creds.roles.resolve import chain_for, profiles_of
from mdh_creds.settings.model import Settings, config_file_path, parse_settings
from mdh_creds.settings.profiles import load_profile
from mdh_creds.settings.sources import select_profile

__all__ = [
    "AioMdhCredentialProvider",
    "MdhCredentialProvider",
    "aio_session",
    "install",
    "session",
    "uninstall",
]

# Keys with which a profile gets its credentials elsewhere: such a profile, holding no mdh_* key,
# is left to botocore even when MDH_* variables are set (a role profile: ``roles.resolve``).
_FOREIGN_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
)
_install_lock = threading.Lock()
_installed: dict[str, bool] = {"global": False}


class MdhCredentialProvider(CredentialProvider):
    """Credentials for an mdh profile, served by one broker and refreshed through it.

    The profile is ``profile_name``, else the botocore ``session``'s, else the one the
    environment names. With a session its keys are read from ``session.full_config``.
    ``overrides`` take setting names. ``required`` makes a profile that is not an mdh profile an
    error instead of ``None`` (for ``session()``, where mdh credentials were asked for).
    """

    METHOD = "mdh"
    CANONICAL_NAME = "custom-mdh"

    def __init__(
        self,
        profile_name: str | None = None,
        *,
        session: Any = None,
        environ: Mapping[str, str] | None = None,
        required: bool = False,
        **overrides: Any,
    ) -> None:
        super().__init__(session)
        override_flags(None, overrides)
        self._profile_name = profile_name
        self._environ = environ
        self._overrides = overrides
        self._required = required
        self._lock = threading.Lock()
        self._broker: CredentialBroker | None = None

    def __repr__(self) -> str:
        return f"MdhCredentialProvider(profile={self._profile() or '(default)'!r})"

    def load(self) -> Any:
        """``RefreshableCredentials``, or ``None`` when this is not an mdh profile."""
        broker = self.prepare()
        if broker is None:
            return None
        return refreshable(lambda: self._fetch(broker), broker.policy.refresh_window)

    def prepare(self) -> CredentialBroker | None:
        """The broker for the profile, or ``None`` when this provider does not act for it."""
        if is_inside():
            return None
        with inside():
            try:
                keys = self._profile_keys(self._profile())
                if keys is not None and is_role_profile(keys):
                    return self._chain_broker()
                settings = self._settings(keys)
                if not self._acts_for(settings, keys or {}):
                    return None
                return self._broker_for(settings)
            except MdhCredsError as exc:
                raise _retrieval_error(exc) from exc

    def _fetch(self, broker: CredentialBroker) -> TemporaryCredentials:
        with inside(), self._lock:
            try:
                return broker.get_credentials()
            except MdhCredsError as exc:
                raise _retrieval_error(exc) from exc

    def _profile(self) -> str | None:
        if self._profile_name:
            return self._profile_name
        if self.session is not None:
            return str(self.session.get_config_variable("profile") or "default")
        return None

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _profile_keys(self, profile: str | None) -> dict[str, str] | None:
        if self.session is None or profile is None:
            env = self._env()
            return load_profile(str(config_file_path(env)), profile or select_profile({}, env))
        return profiles_of(self.session, self._env()).get(profile)

    def _settings(self, keys: Mapping[str, str] | None) -> Settings:
        return parse_settings(self._env(), override_flags(self._profile(), self._overrides), keys)

    def _acts_for(self, settings: Settings, keys: Mapping[str, str]) -> bool:
        if self._required:
            return True
        if not any(k.startswith("mdh_") for k in keys) and any(k in keys for k in _FOREIGN_KEYS):
            return False
        return settings.is_mdh_profile

    def _chain_broker(self) -> CredentialBroker | None:
        """The broker of a role chained on an mdh profile (``None``: botocore's to resolve)."""
        from mdh_creds.factory import build_chain_broker

        env, profile = self._env(), str(self._profile() or select_profile({}, self._env()))
        flags, profiles = override_flags(profile, self._overrides), profiles_of(self.session, env)
        found = chain_for(profiles, profile, env, flags, self._required)
        with self._lock:
            if self._broker is None and found is not None:
                self._broker = build_chain_broker(*found, environ=env)
            return self._broker

    def _broker_for(self, settings: Settings) -> CredentialBroker:
        from mdh_creds.factory import build_broker

        with self._lock:
            if self._broker is None:
                self._broker = build_broker(settings, environ=self._env())
            return self._broker


def _retrieval_error(exc: MdhCredsError) -> Exception:
    from botocore.exceptions import CredentialRetrievalError

    return CredentialRetrievalError(provider="mdh", error_msg=printable(redact(str(exc))))


def _has_mdh(resolver: Any) -> bool:
    return any(
        getattr(p, "METHOD", None) == MdhCredentialProvider.METHOD for p in resolver.providers
    )


def _insert(resolver: Any, provider: MdhCredentialProvider, *, head: bool) -> Any:
    """Put ``provider`` first (``head``) or before assume-role, unless one is there already."""
    from botocore.exceptions import UnknownCredentialError

    if _has_mdh(resolver):
        return resolver
    if head:
        resolver.providers.insert(0, provider)
        return resolver
    try:
        resolver.insert_before("assume-role", provider)
    except UnknownCredentialError:
        resolver.providers.insert(0, provider)
    return resolver


def _default_chain(botocore_session: Any) -> Any:
    """The chain the session would have built itself (aiobotocore's async one for an AioSession)."""
    return botocore_session._create_credential_resolver()


def _lazy_chain(botocore_session: Any, provider: MdhCredentialProvider, *, head: bool) -> None:
    """Replace the session's resolver factory: botocore's chain plus ``provider``, at first use."""
    botocore_session.lazy_register_component(
        "credential_provider",
        lambda: _insert(_default_chain(botocore_session), provider, head=head),
    )


def _is_aiobotocore(botocore_session: Any) -> bool:
    return type(botocore_session).__module__.startswith("aiobotocore")


class AioMdhCredentialProvider(MdhCredentialProvider):
    """The provider for aiobotocore, which awaits ``load()``: async credentials, the blocking
    broker calls in a worker thread (``mdh_creds.aio``)."""

    async def load(self) -> Any:
        from mdh_creds.aio import load_async

        return await load_async(self)


def _provider_for(botocore_session: Any) -> MdhCredentialProvider:
    """The provider a session can use: the async one for an aiobotocore session."""
    kind = AioMdhCredentialProvider if _is_aiobotocore(botocore_session) else MdhCredentialProvider
    return kind(session=botocore_session)


def _initializer(botocore_session: Any) -> None:
    """Run by botocore for every new session (after ``install()``); the profile is read later."""
    if is_inside():
        return
    _lazy_chain(botocore_session, _provider_for(botocore_session), head=False)


def session(profile_name: str | None = None, **overrides: Any) -> Any:
    """A ``boto3.Session`` whose credentials come from mdh-creds first, refreshed in process.

    ``overrides`` take setting names (``cache="file"``, ``refresh_window=600``...). When the
    profile is not an mdh profile, using the credentials raises ``CredentialRetrievalError``.
    """
    import boto3

    override_flags(None, overrides)
    result = boto3.Session(profile_name=profile_name)
    botocore_session = result._session
    provider = MdhCredentialProvider(
        profile_name, session=botocore_session, required=True, **overrides
    )
    _lazy_chain(botocore_session, provider, head=True)
    return result


def aio_session(profile_name: str | None = None, **overrides: Any) -> Any:
    """An ``aiobotocore`` ``AioSession`` whose credentials come from mdh-creds first, refreshed
    in process; ``overrides`` as for :func:`session`.

    ``async with aio_session("mdh").create_client("s3") as s3: ...``, or
    ``s3fs.S3FileSystem(session=aio_session("mdh"))``.
    """
    from aiobotocore.session import AioSession

    override_flags(None, overrides)
    result = AioSession(profile=profile_name)
    provider = AioMdhCredentialProvider(profile_name, session=result, required=True, **overrides)
    _lazy_chain(result, provider, head=True)
    return result


def install(session: Any = None) -> None:
    """Resolve mdh profiles in ``session`` (boto3, botocore or aiobotocore), or in every later
    session, aiobotocore's included.

    With a session, install before its credentials are first used. Without one, the provider is
    registered as a botocore initializer; calling it again changes nothing.
    """
    if session is not None:
        botocore_session = getattr(session, "_session", session)
        resolver = botocore_session.get_component("credential_provider")
        _insert(resolver, _provider_for(botocore_session), head=False)
        return
    import botocore

    with _install_lock:
        if not _installed["global"]:
            botocore.register_initializer(_initializer)
            _installed["global"] = True


def uninstall() -> None:
    """Undo ``install()`` for sessions created from now on (existing ones keep their chain)."""
    import botocore

    with _install_lock:
        if _installed["global"]:
            botocore.unregister_initializer(_initializer)
            _installed["global"] = False
