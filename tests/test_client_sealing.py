"""What a client-secret profile's entries are named and sealed with: a key of their own that no
private key can give, names without a secret, and the RFC 6749 2.3.1 header byte for byte."""

from __future__ import annotations

import base64
import json

import pytest

from mdh_creds.cache.stored import CacheKey, client_identity, identity
from mdh_creds.crypto import Sealer, identity_digest
from mdh_creds.mdh.account import resolve
from mdh_creds.mdh.client_secret import basic_authorization
from mdh_creds.mdh.secrets import parse_secret
from mdh_creds.redact import redact
from mdh_creds.settings.model import parse_settings

SECRET = "a-client-secret-of-some-length"
PAYLOAD = {"AccessToken": "opaque", "Expiration": "2026-01-01T00:00:00+00:00"}


def test_the_basic_header_is_rfc_6749_2_3_1() -> None:
    expected = base64.b64encode(b"a%3Ab:c+d%2B%25%C3%BC%2F").decode()
    assert basic_authorization("a:b", "c d+%ü/") == f"Basic {expected}"
    assert (
        basic_authorization("plain", "Secret123")
        == "Basic " + base64.b64encode(b"plain:Secret123").decode()
    )  # letters and digits: the same bytes the older SDK sent


def test_a_client_secret_key_is_never_a_private_key_key() -> None:
    key = CacheKey.for_identity(client_identity(client_id="c", token_url="u", scope="s"), "token")
    sealed = Sealer.for_client_secret("c", SECRET).seal(key, PAYLOAD)
    assert Sealer.for_client_secret("c", SECRET).open(key, sealed) == PAYLOAD
    assert Sealer(SECRET.encode()).open(key, sealed) is None  # same bytes as key material
    assert Sealer.for_client_secret("other", SECRET).open(key, sealed) is None
    assert Sealer.for_client_secret("c", SECRET + "x").open(key, sealed) is None
    assert SECRET not in repr(Sealer.for_client_secret("c", SECRET))


def test_entry_names_hold_no_secret_and_never_meet_a_service_account() -> None:
    api = client_identity(client_id="svc", token_url="https://x/token", scope="api")
    account = identity(
        service_account="svc",
        token_url="https://x/token",
        exchange_url="https://x/token",
        project_id=None,
        project_code=None,
        scope="api",
    )
    assert identity_digest(api) != identity_digest(account)
    assert set(api) == {"grant", "client_id", "token_url", "scope"}
    other_scope = client_identity(client_id="svc", token_url="https://x/token", scope="api2")
    assert identity_digest(api) != identity_digest(other_scope)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"consumerKey": "k1", "consumerSecret": "s1-secret"}, ("k1", "s1-secret")),
        ({"client_id": "k2", "client_secret": "s2-secret"}, ("k2", "s2-secret")),
    ],
)
def test_a_secret_json_names_the_client(
    document: dict[str, str], expected: tuple[str, str]
) -> None:
    bundle = parse_secret(json.dumps(document), "sdk/secret")
    assert (bundle.client_id, bundle.client_secret) == expected
    assert expected[1] not in repr(bundle)
    assert redact(f"oops {expected[1]}") == "oops ****"


def test_the_account_keeps_its_secret_out_of_repr_and_logs() -> None:
    environ = {"MDH_CLIENT_ID": "client-1", "MDH_CLIENT_SECRET": "never-shown-secret"}
    settings = parse_settings(environ, profile_keys={})
    account = resolve(settings, environ)
    assert "never-shown-secret" not in repr(account) + repr(settings)
    assert redact("never-shown-secret") == "****"
    assert settings.items["client_secret"].shown() == "****"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"MDH_CLIENT_ID": "client-1"}, "no client secret"),
        ({"CONSUMER_SECRET": "lonely-secret"}, "no client id"),
        (
            {"MDH_CLIENT_ID": "c", "MDH_CLIENT_SECRET": "s" * 10, "MDH_CLIENT_AUTH": "digest"},
            "basic",
        ),
    ],
)
def test_half_a_client_is_a_configuration_error(environ: dict[str, str], fragment: str) -> None:
    from mdh_creds.errors import ConfigError

    with pytest.raises(ConfigError, match=fragment) as caught:
        resolve(parse_settings(environ, profile_keys={}), environ)
    assert "lonely-secret" not in str(caught.value)
