"""mdh-creds: short-lived AWS credentials from a MyDataHelps service account, cached and refreshed.

The public API. Heavy parts (botocore, requests) load on first use, so importing the package for
a cache hit stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdh_creds.api import get_access_token, get_credentials
    from mdh_creds.models import AccessToken, TemporaryCredentials
    from mdh_creds.provider import (
        MdhCredentialProvider,
        aio_session,
        install,
        session,
        uninstall,
    )
    from mdh_creds.version import __version__ as __version__

__all__ = [
    "AccessToken",
    "CacheError",
    "CacheUnavailable",
    "ConfigError",
    "ExchangeError",
    "ExchangeRejected",
    "ExchangeUnavailable",
    "LockTimeout",
    "MdhCredentialProvider",
    "MdhCredsError",
    "PrivateKeyError",
    "TemporaryCredentials",
    "aio_session",
    "get_access_token",
    "get_credentials",
    "install",
    "session",
    "uninstall",
]
_ERRORS = (
    "CacheError",
    "CacheUnavailable",
    "ConfigError",
    "ExchangeError",
    "ExchangeRejected",
    "ExchangeUnavailable",
    "LockTimeout",
    "MdhCredsError",
    "PrivateKeyError",
)
_LAZY = {
    **dict.fromkeys(_ERRORS, "mdh_creds.errors"),
    "__version__": "mdh_creds.version",
    "AccessToken": "mdh_creds.models",
    "TemporaryCredentials": "mdh_creds.models",
    "get_credentials": "mdh_creds.api",
    "get_access_token": "mdh_creds.api",
    "session": "mdh_creds.provider",
    "aio_session": "mdh_creds.provider",
    "install": "mdh_creds.provider",
    "uninstall": "mdh_creds.provider",
    "MdhCredentialProvider": "mdh_creds.provider",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mdh_creds' has no attribute {name!r}")
