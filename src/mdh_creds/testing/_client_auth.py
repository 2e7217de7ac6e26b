"""How the emulated client-secret endpoint reads a client's id and secret (RFC 6749 2.3.1).

Written from the RFC, independently of the package's own client code, so a shared mistake
cannot pass unseen: HTTP Basic holds ``base64(urlencode(id) ":" urlencode(secret))``, or the form
holds ``client_id`` and ``client_secret``; using both at once is an error (RFC 6749 2.3).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import unquote_plus

__all__ = ["ClientAuthError", "client_credentials"]


class ClientAuthError(Exception):
    """The request's client authentication is unusable: ``error`` is the RFC 6749 code,
    ``client_id`` the client it named when that client is known."""

    def __init__(self, error: str, reason: str, client_id: str | None = None) -> None:
        super().__init__(reason)
        self.error, self.reason, self.client_id = error, reason, client_id


def _form_decoded(text: str) -> str:
    try:
        return unquote_plus(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ClientAuthError("invalid_client", "Basic credentials are not UTF-8") from None


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ClientAuthError("invalid_client", "Authorization is not Basic")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ClientAuthError("invalid_client", "Basic credentials are not base64 ASCII") from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise ClientAuthError("invalid_client", "Basic credentials hold no ':'")
    return _form_decoded(raw_id), _form_decoded(raw_secret)


def client_credentials(headers: Mapping[str, str], form: Mapping[str, str]) -> tuple[str, str]:
    """``(client_id, client_secret)`` of a token request, from Basic or from the form."""
    header = headers.get("Authorization", "")
    in_form = "client_id" in form or "client_secret" in form
    if header and in_form:
        raise ClientAuthError("invalid_request", "client authenticated both in Basic and form")
    if header:
        return _basic(header)
    if in_form:
        return form.get("client_id", ""), form.get("client_secret", "")
    raise ClientAuthError("invalid_client", "no client authentication")
