"""A service account whose key is in AWS KMS: what ``mdh.keys.PrivateKey`` is for a PEM key (a
signer for assertions, a sealer for cache entries, a source for messages), with no key here.

The sealer's key material is KMS's signature over a fixed message (``aws.kms.sealing_material``),
remembered in a 0600 file outside the cache folder (``cache.material``) so that a cache hit makes
no AWS call. Without that file, only one who may call ``kms:Sign`` with the key can make the
material again: a stolen cache folder opens nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mdh_creds.aws.kms import KmsKey, region_of, sealing_material
from mdh_creds.cache.material import load_material, material_path, save_material
from mdh_creds.crypto import Sealer
from mdh_creds.errors import ConfigError
from mdh_creds.mdh.retry import Backoff, call_with_retries
from mdh_creds.settings.model import Settings

if TYPE_CHECKING:
    from mdh_creds.mdh.assertion import Signer
    from mdh_creds.mdh.keys import AccountKey

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KmsAccountKey:
    """The KMS key of one profile: it signs, and it gives the cache its sealing key."""

    kms: KmsKey
    settings: Settings = field(repr=False)
    environ: Mapping[str, str] = field(repr=False)

    @property
    def source(self) -> str:
        return f"KMS key {self.kms.key_id} ({self.settings.source('kms_key_id')})"

    def signer(self) -> Signer:
        """Each assertion is signed by KMS ``Sign`` (one call per exchange attempt)."""
        return self.kms.sign

    def sealer(self) -> Sealer:
        """The sealer from the remembered material, else from KMS (then remembered)."""
        path = material_path(self.environ, self.kms.key_id)
        material = load_material(path)
        if material is None:
            s = self.settings
            material = call_with_retries(
                lambda: sealing_material(self.kms), Backoff(s.retries, s.retry_interval_ms)
            )
            try:
                save_material(path, material)
            except OSError as exc:  # a read-only home (AWS Lambda): the next start asks again
                _log.debug("cannot keep the sealing material in %s: %s", path, exc.strerror)
        return Sealer.for_kms_material(material)


def kms_account_key(
    settings: Settings, environ: Mapping[str, str], loaded: AccountKey | None = None
) -> KmsAccountKey:
    """The KMS key ``mdh_kms_key_id`` names; its client is made on first use (never through
    the mdh profile itself: ``aws.clients``). Exit 3 when a private key was ``loaded`` too."""
    from mdh_creds.aws.clients import aws_client

    if loaded is not None:
        raise ConfigError(
            f"both a private key ({loaded.source}) and a KMS key "
            f"({settings.source('kms_key_id')}) are configured: a profile signs with one, "
            "remove the other"
        )
    key_id = str(settings.kms_key_id)
    region = region_of(key_id)
    kms = KmsKey(key_id, lambda: aws_client("kms", settings, environ, region))
    return KmsAccountKey(kms, settings, environ)
