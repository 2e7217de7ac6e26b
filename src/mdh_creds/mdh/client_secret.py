"""Client authentication for the client-secret grant (RFC 6749 4.4, the older token SDK's flow).

``basic`` (the default) sends ``Authorization: Basic base64(urlencode(id) ":" urlencode(secret))``,
each part form-urlencoded first as RFC 6749 2.3.1 requires, so a ``:`` in the id and any
``%``, ``+`` or non-ASCII character survive; ``post`` puts ``client_id`` and ``client_secret`` in
the form body instead. Either way the request carries only these credentials: the ``auth``
object given to requests also keeps ``~/.netrc`` from adding or replacing an ``Authorization``.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

from mdh_creds.redact import register_secret

INVALID_CLIENT_HINT = (
    "the token endpoint rejected the client (invalid_client): check mdh_client_id / "
    "CONSUMER_KEY and the client secret (MDH_CLIENT_SECRET / CONSUMER_SECRET or the secret named "
    "by mdh_secret_id), mdh_client_auth (basic or post), and the mdh_token_url host"
)


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of RFC 6749 2.3.1: both parts form-urlencoded (UTF-8), then
    ``id:secret`` base64-encoded."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


class ClientAuth:
    """A requests ``auth`` callable: sets the Basic header, or (``post``) makes sure there is no
    ``Authorization`` at all. Its value stays out of ``repr``."""

    def __init__(self, header: str | None) -> None:
        self._header = header
        register_secret(header)

    def __repr__(self) -> str:
        return f"ClientAuth({'basic' if self._header else 'post'})"

    def __call__(self, request: Any) -> Any:
        if self._header is None:
            request.headers.pop("Authorization", None)
        else:
            request.headers["Authorization"] = self._header
        return request


def client_request(
    client_id: str, client_secret: str, scope: str, method: str
) -> tuple[dict[str, str], ClientAuth]:
    """The form body and the ``auth`` of a client-credentials token request for ``method``
    (``basic`` or ``post``)."""
    form = {"grant_type": "client_credentials", "scope": scope}
    if method == "post":
        form |= {"client_id": client_id, "client_secret": client_secret}
        return form, ClientAuth(None)
    return form, ClientAuth(basic_authorization(client_id, client_secret))
