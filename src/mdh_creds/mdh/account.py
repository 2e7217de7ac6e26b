"""The account a ``Settings`` names, made whole: settings completed from a Secrets Manager
secret, then either the service account (its key loaded, or its KMS key named; explorer URL
chosen) or the API client of the client-secret grant (id and secret).

Each account class carries its own behaviour, as google-auth's credential classes do: the
identity of its entries, the exchange that speaks for it, the sealer of its entries, and the
refusal it gives when asked for what it cannot yield. The factory asks; it never tests a type.
A profile has a private key, a KMS key or a client secret, never two (DESIGN 2.3)."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdh_creds.cache.stored import client_identity, identity
from mdh_creds.clock import Clock
from mdh_creds.crypto import Sealer
from mdh_creds.errors import ConfigError
from mdh_creds.mdh.keys import AccountKey, PrivateKey
from mdh_creds.mdh.keystore import Prompt, load_private_key
from mdh_creds.mdh.memo import memo_path, secret_scope, to_memo
from mdh_creds.redact import register_secret
from mdh_creds.settings.model import Setting, Settings
from mdh_creds.settings.sources import CLIENT_SETTINGS, from_alias
from mdh_creds.settings.specs import resolve_exchange_url

if TYPE_CHECKING:
    from mdh_creds.broker import Exchange

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceAccount:
    """Settings completed from a secret, with its key: loaded (hidden), or a KMS key."""

    settings: Settings
    key: AccountKey
    exchange_url: str
    service_account: str

    @property
    def identity(self) -> dict[str, str]:
        s = self.settings
        return identity(
            service_account=self.service_account,
            token_url=s.token_url,
            exchange_url=self.exchange_url,
            project_id=s.project_id,
            project_code=s.project_code,
            scope=s.scope,
        )

    @property
    def project_sent(self) -> str:
        """The project MDH is sent and where each part came from (no secret), for messages."""
        s, parts = self.settings, []
        template = s.exchange_url  # the project id goes into the URL, as resolve fills it
        if s.project_id and (template is None or "{project_id}" in template):
            parts.append(f"project id {s.project_id!r} (from {s.source('project_id')})")
        if s.project_code:
            parts.append(f"project code {s.project_code!r} (from {s.source('project_code')})")
        return " and ".join(parts) or f"no project (the explorer URL {self.exchange_url})"

    @property
    def refusal(self) -> str | None:
        """A service account yields both access tokens and AWS credentials."""
        return None

    def exchange(self, clock: Clock, http: Any = None) -> Exchange:
        """The assertion, then the explorer credentials, for this account."""
        from mdh_creds.mdh.exchange import BoundExchange

        return BoundExchange(
            self.settings,
            service_account=self.service_account,
            sign=self.key.signer(),
            exchange_url=self.exchange_url,
            sent=self.project_sent,
            clock=clock,
            http=http,
        )

    def sealer(self) -> Sealer:
        """Entries are sealed with a key derived from the private key (DESIGN 5), or for a KMS
        key from KMS's signature over a fixed message (``mdh.kms_key``)."""
        return self.key.sealer()

    def remember(self, folder: Path, environ: Mapping[str, str]) -> None:
        """For an account read from a secret: the memo that lets this machine's cache hits skip
        Secrets Manager (``mdh.memo``); a folder that cannot take it costs the fast path only."""
        s = self.settings
        source = f"secret {s.secret_id}"
        key = self.key
        if s.secret_id is None or not isinstance(key, PrivateKey) or key.source != source:
            return
        from mdh_creds.cache.folder import is_private_folder
        from mdh_creds.crypto import derive_key
        from mdh_creds.persist import write_atomic

        scope = secret_scope(s.secret_id, s.aws_profile, s.region, environ)
        names = {  # only what the secret gave: the fast path fills what is unset, as here
            name: s.items[name].value if s.source(name) == source else None
            for name in ("service_account", "project_code", "project_id")
        }
        data = to_memo(names, derive_key(key.der), time.time())
        if is_private_folder(folder):
            try:
                write_atomic(Path(memo_path(str(folder), scope)), data)
            except OSError as exc:
                _log.debug("the secret memo was not written: %s", exc)

    def same_secret(self, other: Account) -> bool:
        """True when ``other`` holds this very private key (no rotation between them); for a
        KMS key, the same key (KMS rotates nothing that the secret holds)."""
        if not isinstance(other, ServiceAccount):
            return False
        mine, theirs = self.key, other.key
        if isinstance(mine, PrivateKey) and isinstance(theirs, PrivateKey):
            return hmac.compare_digest(mine.der, theirs.der)
        return mine.source == theirs.source


@dataclass(frozen=True)
class ClientAccount:
    """An API client of the client-secret grant: it yields access tokens, never AWS credentials.
    The secret stays out of ``repr``."""

    settings: Settings
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def identity(self) -> dict[str, str]:
        s = self.settings
        return client_identity(client_id=self.client_id, token_url=s.token_url, scope=s.scope)

    @property
    def refusal(self) -> str | None:
        """Asked for AWS credentials, an API client refuses with this line (exit 3)."""
        return token_only_message(self.settings)

    def exchange(self, clock: Clock, http: Any = None) -> Exchange:
        """The client-secret token call for this client."""
        from mdh_creds.mdh.exchange import ClientSecretExchange

        return ClientSecretExchange(
            self.settings,
            client_id=self.client_id,
            client_secret=self.client_secret,
            refusal=token_only_message(self.settings),
            clock=clock,
            http=http,
        )

    def sealer(self) -> Sealer:
        """Entries are sealed with a key derived from the client secret."""
        return Sealer.for_client_secret(self.client_id, self.client_secret)

    def remember(self, folder: Path, environ: Mapping[str, str]) -> None:
        """An API client is never served by the fast path: nothing to remember."""

    def same_secret(self, other: Account) -> bool:
        """True when ``other`` holds this very client secret (no rotation between them)."""
        return isinstance(other, ClientAccount) and hmac.compare_digest(
            other.client_secret.encode(), self.client_secret.encode()
        )


Account = ServiceAccount | ClientAccount


def token_only_message(settings: Settings) -> str:
    """Why a client-secret configuration gives no AWS credentials, and what to use instead."""
    return (
        f"this configuration (profile {settings.profile}) holds an API token (a client id and "
        "secret), not AWS credentials: use `mdh-creds token` or mdh_creds.get_access_token()"
    )


def resolve(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    fresh_secret: bool = False,
    prompt: Prompt | None = None,
) -> Account:
    """Load the key (text, file, OS keyring or secret; ``prompt`` may ask for its passphrase),
    name the KMS key, or take the client secret; fill settings from a secret (memoized per
    process; ``fresh_secret`` reads it again); check what is required."""
    if not settings.is_mdh_profile:
        raise ConfigError(first_run_advice(settings))
    key: AccountKey | None = load_private_key(settings, environ, prompt)
    if settings.kms_key_id:
        from mdh_creds.mdh.kms_key import kms_account_key

        key = kms_account_key(settings, environ, key)
    if settings.secret_id and not _complete(settings, key):
        settings, key = _from_secret(settings, environ, key, fresh_secret)
    if key is not None and settings.service_account:  # a whole service account: the generic
        # CONSUMER_* variables are not for it (the secret named its kind)
        settings = _without_generic_client(settings)
    if settings.client_id or settings.client_secret:
        return _client_account(settings, key)
    if key is None:
        raise ConfigError(
            "no private key: set mdh_private_key_file in the profile (mdh-creds configure "
            f"--profile {settings.profile} --private-key-file KEY.pem), MDH_PRIVATE_KEY, "
            "or mdh_secret_id"
        )
    if not settings.service_account:
        raise ConfigError(
            f"mdh_service_account is not set: add it to profile {settings.profile} in "
            f"{settings.config_file} (mdh-creds configure --profile {settings.profile} "
            "--service-account NAME) or set MDH_SERVICE_ACCOUNT"
        )
    return ServiceAccount(settings, key, exchange_url_for(settings), settings.service_account)


def first_run_advice(settings: Settings) -> str:
    """What to do when nothing names a service account: ``mdh-creds configure``, with an example
    (for the default profile, a profile of its own, so other AWS work keeps its credentials)."""
    profile = settings.profile
    if not settings.profile_found:
        from mdh_creds.settings.typos import nearest_profile

        meant = nearest_profile(str(settings.config_file), profile)
        if meant:
            return (
                f"profile {profile} is not in {settings.config_file}: did you mean {meant}? "
                "(mdh-creds list shows the mdh profiles)"
            )
    target = "mdh" if profile == "default" else profile
    where = f"{settings.config_file}" + ("" if settings.profile_found else " has no such profile")
    then = f", then use --profile {target}" if target != profile else ""
    return (
        f"no MDH service account is configured for profile {profile} ({where}): run "
        f"mdh-creds configure --profile {target} --service-account NAME "
        f"--private-key-file KEY.pem --project-code CODE{then} "
        "(or set MDH_SERVICE_ACCOUNT and MDH_PRIVATE_KEY; for an API client, mdh_client_id "
        "and MDH_CLIENT_SECRET)"
    )


def _from_secret(
    settings: Settings, environ: Mapping[str, str], key: AccountKey | None, fresh: bool
) -> tuple[Settings, AccountKey | None]:
    from mdh_creds.aws.clients import aws_client
    from mdh_creds.mdh.secrets import fetch_secret, read_secret

    secret_id = str(settings.secret_id)
    scope = secret_scope(secret_id, settings.aws_profile, settings.region, environ)
    bundle = read_secret(
        scope,
        lambda: fetch_secret(aws_client("secretsmanager", settings, environ), secret_id),
        fresh=fresh,
    )
    filled = settings.with_values(
        f"secret {secret_id}",
        service_account=bundle.service_account,
        project_code=bundle.project_code,
        project_id=bundle.project_id,
    )
    filled = filled.with_values(
        f"secret {secret_id}", client_id=bundle.client_id, client_secret=bundle.client_secret
    )
    return filled, key or bundle.private_key


def _without_generic_client(settings: Settings) -> Settings:
    """The settings without a client id or secret that came from the older tools' generic
    variables (``settings.sources.settle_kind``, applied once the secret named the kind)."""
    items = dict(settings.items)
    for name in CLIENT_SETTINGS:
        if items[name].value is not None and from_alias(name, items[name].source):
            _log.debug("%s ignored: the account is a service account", items[name].source)
            items[name] = Setting(name, None, "default", items[name].secret)
    return replace(settings, items=items)


def _complete(settings: Settings, key: AccountKey | None) -> bool:
    """True when the settings name a whole account without the Secrets Manager secret."""
    has_client = bool(settings.client_id and settings.client_secret)
    return has_client or (key is not None and bool(settings.service_account))


def _client_account(settings: Settings, key: AccountKey | None) -> ClientAccount:
    """The API client; exit 3 when a private key is configured too or a half is missing."""
    client_source = settings.source("client_secret" if settings.client_secret else "client_id")
    if key is not None:
        raise ConfigError(
            f"both a private key ({key.source}) and a client id or secret "
            f"({client_source}) are configured: a profile uses one or the other, remove one"
        )
    if not settings.client_secret:
        raise ConfigError(
            f"mdh_client_id is set ({settings.source('client_id')}) but no client secret: set "
            "MDH_CLIENT_SECRET (or CONSUMER_SECRET), or consumerSecret in the secret named by "
            "mdh_secret_id"
        )
    if not settings.client_id:
        raise ConfigError(
            f"a client secret is set ({client_source}) but no client id: set mdh_client_id in "
            f"profile {settings.profile}, MDH_CLIENT_ID (or CONSUMER_KEY), or consumerKey in "
            "the secret named by mdh_secret_id"
        )
    register_secret(settings.client_secret)
    return ClientAccount(settings, _printable(settings, "client_id"), settings.client_secret)


def _printable(settings: Settings, name: str) -> str:
    """A value read from a secret is checked like one from a variable (one printable line)."""
    value = str(settings.items[name].value)
    if not value.isprintable():
        raise ConfigError(f"invalid mdh_{name} ({settings.source(name)}): not one printable line")
    return value


def exchange_url_for(settings: Settings) -> str:
    """The explorer URL: explicit, else by project id (newer), else by project code (legacy)."""
    try:
        url = resolve_exchange_url(
            settings.exchange_url, settings.project_id, settings.project_code
        )
    except ValueError as exc:
        raise ConfigError(f"{exc} ({settings.source('exchange_url')})") from exc
    if url is None:
        raise ConfigError(
            "no project: set mdh_project_code (legacy endpoint) or mdh_project_id "
            f"in profile {settings.profile} (mdh-creds configure --profile {settings.profile} "
            "--project-code CODE) or the environment"
        )
    return url
