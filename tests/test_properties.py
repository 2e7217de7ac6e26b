"""Property tests for every parser of outside input: a valid value or one of our own errors.

Settings text, the AWS config file, the ``.env`` file, both MDH answers, ``Retry-After``, the
cache envelope, the private key and timestamps. Anything else escaping (``ValueError``,
``OverflowError``, ``RuntimeError``...) would reach the CLI as "unexpected error", exit 1.
Inputs that once escaped as foreign exceptions have their own example tests beside the property.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mdh_creds import redact
from mdh_creds.cache.stored import CacheKey
from mdh_creds.clock import parse_timestamp, to_timestamp
from mdh_creds.crypto import Sealer
from mdh_creds.errors import ConfigError, ExchangeRejected, PrivateKeyError
from mdh_creds.mdh.answers import MAX_TOKEN_LIFETIME, parse_credentials_answer, parse_token_answer
from mdh_creds.mdh.keys import PrivateKey, parse_private_key
from mdh_creds.mdh.retry import MAX_RETRY_AFTER, parse_retry_after
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.settings.model import Settings, load_env_file, parse_settings
from mdh_creds.settings.profiles import parse_profile
from mdh_creds.testing.keys import generate_key_pair

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
SEALER = Sealer(b"property test key material, not a real key")
KEY = CacheKey.for_identity({"service_account": "alpha"}, "credentials")
KEY_PAIR = generate_key_pair(1024)


@pytest.fixture(autouse=True, scope="module")
def _keep_secret_registry() -> Iterator[None]:
    """Parsing a key registers it as a secret; forget what these examples registered."""
    saved = set(redact._secrets)
    yield
    redact._secrets.clear()
    redact._secrets.update(saved)


def attempt(error: type[Exception], call: Any, *args: Any) -> tuple[Any, Exception | None]:
    """``(value, None)``, or ``(None, exc)`` if ``call`` raised ``error``; anything else escapes."""
    try:
        return call(*args), None
    except error as exc:
        return None, exc


# --- strategies -----------------------------------------------------------------------------

safe_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | safe_text
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(safe_text, children, max_size=4)
    ),
    max_leaves=12,
)
finite_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
key_ids = st.from_regex(r"\A(ASIA|AKIA)[A-Z0-9]{16}\Z") | safe_text
iso_times = st.builds(
    lambda moment, offset, sep: moment.replace(tzinfo=timezone(offset)).isoformat(sep=sep),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
        lambda d: timedelta(minutes=d // timedelta(minutes=1))
    ),
    st.sampled_from(["T", " "]),
)
expirations = (
    iso_times
    | iso_times.map(lambda t: t[:19])  # no timezone
    | iso_times.map(lambda t: t[:19] + ".1234567Z")  # .NET precision
    | json_scalars
)


def dict_with(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries where each field may be present (with a value from its strategy) or not."""
    present = st.fixed_dictionaries({}, optional=fields)
    return st.builds(lambda a, b: {**b, **a}, present, st.dictionaries(safe_text, json_values))


token_answers = (
    dict_with(
        {
            "access_token": safe_text | json_values,
            "expires_in": st.integers() | st.floats() | safe_text | st.integers().map(str),
            "token_type": st.just("Bearer"),
        }
    )
    | json_values
)
credential_answers = (
    dict_with(
        {
            "AccessKeyId": key_ids | json_values,
            "SecretAccessKey": safe_text | json_values,
            "SessionToken": safe_text | json_values,
            "Expiration": expirations,
        }
    )
    | json_values
)


# --- settings -------------------------------------------------------------------------------

SETTING_VARIABLES = {
    "MDH_TOKEN_URL": "token_url",
    "MDH_EXCHANGE_URL": "exchange_url",
    "MDH_RETRIES": "retries",
    "MDH_RETRY_INTERVAL_MS": "retry_interval_ms",
    "MDH_TIMEOUT": "timeout",
    "MDH_REFRESH_WINDOW": "refresh_window",
    "MDH_CACHE": "cache",
    "MDH_DYNAMODB_TABLE": "dynamodb_table",
    "MDH_PROJECT_ID": "project_id",
    "MDH_PROJECT_CODE": "project_code",
    "MDH_SCOPE": "scope",
    "MDH_CACHE_DIR": "cache_dir",
    "MDH_PRIVATE_KEY_FILE": "private_key_file",
}
setting_text = (
    st.text(max_size=60)
    | st.integers(-(10**6), 10**6).map(str)
    | st.floats().map(str)
    | st.sampled_from(["auto", "file", " KEYRING ", "dynamodb", "none", "nan", "inf", "1e3"])
    | st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
        st.sampled_from(["http", "https", "ftp", "HTTPS", ""]),
        st.sampled_from(["127.0.0.1", "localhost", "[::1]", "example.com", "user:pw@h", "[::1"]),
        st.sampled_from(["", ":443", ":0", ":99999", ":x"]),
        st.text(max_size=20),
    )
)


def check_setting(variable: str, text: str) -> None:
    name = SETTING_VARIABLES[variable]
    found, error = attempt(ConfigError, parse_settings, {variable: text}, None, {})
    if error is not None:
        assert f"mdh_{name}" in str(error)
        assert "\n" not in str(error)
        return
    assert isinstance(found, Settings)
    value = found.items[name].value
    if not text:
        assert found.items[name].source == "default"
        return
    assert found.items[name].source == variable
    if name in ("retries", "retry_interval_ms", "refresh_window"):
        assert isinstance(value, int) and value >= 0
    elif name == "timeout":
        assert isinstance(value, float) and 0.1 <= value <= 300.0
    elif name == "cache":
        assert value in ("auto", "keyring", "file", "dynamodb", "memory", "none")
    elif name in ("token_url", "exchange_url"):
        assert value.lower().startswith(("https://", "http://"))
    elif name in ("project_id", "project_code"):
        assert value.isascii() and value.isprintable() and len(value) <= 256
    elif name == "dynamodb_table":
        assert 3 <= len(value) <= 255
    elif name in ("cache_dir", "private_key_file"):
        assert isinstance(value, str) and not value.startswith("~")
        assert isinstance(getattr(found, name), Path)
    else:
        assert isinstance(value, str) and value == value.strip() and value


@PROPERTY
@given(variable=st.sampled_from(sorted(SETTING_VARIABLES)), text=setting_text)
@example(variable="MDH_TIMEOUT", text="nan")
@example(variable="MDH_RETRIES", text="9" * 5000)
@example(variable="MDH_TOKEN_URL", text="http://[::1")
@example(variable="MDH_TOKEN_URL", text="https://h:99999/")
@example(variable="MDH_PROJECT_ID", text="a/b")
def test_a_setting_is_a_value_or_a_config_error(variable: str, text: str) -> None:
    check_setting(variable, text)


@pytest.mark.parametrize("variable", ["MDH_CACHE_DIR", "MDH_PRIVATE_KEY_FILE"])
def test_a_path_under_an_unknown_users_home_is_a_config_error(variable: str) -> None:
    check_setting(variable, "~no-such-user-here/mdh-creds")


def test_a_rejected_private_key_setting_is_not_shown() -> None:
    text = " K3Y-MATERIAL " * 2000  # too long for any setting
    with pytest.raises(ConfigError) as caught:
        parse_settings({"MDH_PRIVATE_KEY": text}, profile_keys={})
    assert "mdh_private_key" in str(caught.value)
    assert "K3Y" not in str(caught.value)


# --- files ----------------------------------------------------------------------------------

ini_lines = st.lists(
    st.sampled_from(
        [
            "[profile mdh]",
            "[default]",
            "[profile  mdh ]",
            "[mdh]",
            "[",
            "mdh_retries = 3",
            "mdh_token_url=https://x",
            "  continued",
            "key",
            "= value",
            "; comment",
            "# comment",
            "%(interpolate)s = x",
            "",
        ]
    )
    | st.text(max_size=30),
    max_size=12,
)


@PROPERTY
@given(lines=ini_lines, profile=st.sampled_from(["mdh", "default", " ", "x]"]) | st.text())
def test_the_aws_config_file_is_a_profile_or_a_config_error(lines: list[str], profile: str) -> None:
    text = "\n".join(lines)
    found, error = attempt(ConfigError, parse_profile, text, profile)
    if error is not None:
        assert "\n" not in str(error)
        return
    assert found is None or all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())


env_lines = st.lists(
    st.sampled_from(
        [
            "MDH_RETRIES=3",
            "export MDH_SCOPE='api x'",
            'MDH_TOKEN_URL="https://x\\ny"',
            "A=${B:-${C}}",
            "=no name",
            "NO_VALUE",
            "# comment",
            "'unterminated",
            'B="unterminated',
        ]
    )
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
    max_size=10,
)


@PROPERTY
@given(lines=env_lines)
def test_an_env_file_is_a_dict_or_a_config_error(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.env"
        path.write_text("\n".join(lines), encoding="utf-8")
        try:
            found = load_env_file(path)
        except ConfigError:
            return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())


def test_an_env_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.env"
    path.write_bytes("MDH_SCOPE=caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_env_file(path)


def test_a_missing_env_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_env_file(tmp_path / "absent.env")
    with pytest.raises(ConfigError):
        load_env_file(tmp_path)  # a folder


# --- the MDH answers ------------------------------------------------------------------------


@PROPERTY
@given(answer=token_answers, skew=st.integers(-3600, 3600))
@example(answer={"access_token": "abcdefgh", "expires_in": float("nan")}, skew=0)
@example(answer={"access_token": "abcdefgh", "expires_in": True}, skew=0)
@example(answer={"access_token": "abcdefgh", "expires_in": " 3600 "}, skew=0)
def test_a_token_answer_is_a_token_or_rejected(answer: Any, skew: int) -> None:
    now = NOW + timedelta(seconds=skew)
    token, error = attempt(
        ExchangeRejected, parse_token_answer, answer, now, timedelta(seconds=skew)
    )
    if error is not None:
        assert isinstance(error, ExchangeRejected) and error.exit_code == 4
        assert "\n" not in str(error)
        return
    assert isinstance(token, AccessToken)
    assert token.value.strip() and token.value.isprintable()
    assert now < token.expires_at <= now + timedelta(seconds=MAX_TOKEN_LIFETIME) or (
        token.expires_at == now  # a lifetime under a microsecond rounds to nothing
    )
    assert token.issued_at == now


@pytest.mark.parametrize(
    "lifetime",
    ["\u00b2", "3\u00b2", "\u2460", "9" * 5000],
    ids=["superscript-two", "digit-superscript", "circled-one", "5000-digits"],
)
def test_an_expires_in_that_int_refuses_is_rejected(lifetime: str) -> None:
    with pytest.raises(ExchangeRejected):
        parse_token_answer({"access_token": "abcdefgh", "expires_in": lifetime}, NOW, timedelta())


@PROPERTY
@given(answer=credential_answers, skew=st.integers(-3600, 3600))
@example(
    answer={
        "AccessKeyId": "ASIA0000000000000001",
        "SecretAccessKey": "s",
        "SessionToken": "t",
        "Expiration": "2025-06-01T13:00:00.1234567",
    },
    skew=0,
)
def test_a_credentials_answer_is_credentials_or_rejected(answer: Any, skew: int) -> None:
    now = NOW + timedelta(seconds=skew)
    creds, error = attempt(
        ExchangeRejected, parse_credentials_answer, answer, now, timedelta(seconds=skew)
    )
    if error is not None:
        assert isinstance(error, ExchangeRejected) and error.exit_code == 4
        assert "\n" not in str(error)
        return
    assert isinstance(creds, TemporaryCredentials)
    assert creds.expires_at > now and creds.expires_at.tzinfo is not None
    assert creds.access_key_id == answer["AccessKeyId"]
    assert creds.secret_access_key == answer["SecretAccessKey"]
    assert creds.session_token == answer["SessionToken"]
    assert TemporaryCredentials.from_payload(creds.to_payload()) == creds


@pytest.mark.parametrize("expiration", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_an_expiration_at_the_edge_of_time_is_rejected(expiration: str) -> None:
    answer = {
        "AccessKeyId": "ASIA0000000000000001",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": expiration,
    }
    with pytest.raises(ExchangeRejected):
        parse_credentials_answer(answer, NOW, timedelta())


@PROPERTY
@given(value=st.none() | st.text(max_size=40) | st.floats().map(str) | st.integers().map(str))
@example(value="Wed, 21 Oct 2015 07:28:00 GMT")
@example(value="Wed, 21 Oct 2015 07:28:00 -0000")
@example(value="1e400")
@example(value="\u00b2")
def test_retry_after_is_none_or_bounded_seconds(value: str | None) -> None:
    found = parse_retry_after(value, NOW)
    assert found is None or (isinstance(found, float) and 0.0 <= found <= MAX_RETRY_AFTER)


# --- timestamps -----------------------------------------------------------------------------


@PROPERTY
@given(text=st.text(max_size=70) | iso_times | iso_times.map(lambda t: t[:19]))
@example(text="2024-06-19T21:56:16.1234567Z")
@example(text="2024-06-19T21:56:16.1Z")
@example(text="z")
def test_a_timestamp_is_an_aware_utc_datetime_or_a_value_error(text: str) -> None:
    try:
        found = parse_timestamp(text)
    except ValueError:
        return
    assert found.tzinfo is not None and found.utcoffset() == timedelta(0)


@PROPERTY
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(None)
    )
)
def test_timestamps_round_trip(moment: datetime) -> None:
    aware = moment.replace(tzinfo=timezone.utc)
    assert parse_timestamp(aware.isoformat()) == aware
    assert parse_timestamp(to_timestamp(aware)) == aware.replace(microsecond=0)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_at_the_edge_of_time_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


# --- the cache envelope ---------------------------------------------------------------------

envelopes = st.binary(max_size=200) | st.binary(max_size=200).map(lambda b: b"MDH1" + b)


@PROPERTY
@given(sealed=st.none() | envelopes)
def test_opening_arbitrary_bytes_is_none_or_a_dict(sealed: bytes | None) -> None:
    found = SEALER.open(KEY, sealed)
    assert found is None or isinstance(found, dict)


json_dicts = st.dictionaries(st.text(max_size=12), finite_json, max_size=6)


@PROPERTY
@given(payload=json_dicts)
def test_seal_then_open_round_trips(payload: dict[str, Any]) -> None:
    sealed = SEALER.seal(KEY, payload)
    assert SEALER.open(KEY, sealed) == payload
    other = CacheKey(KEY.digest, "token")
    assert SEALER.open(other, sealed) is None  # bound to the entry it was sealed for


@PROPERTY
@given(payload=json_dicts, data=st.data())
def test_any_flipped_byte_or_truncation_is_a_miss(payload: dict[str, Any], data: Any) -> None:
    sealed = SEALER.seal(KEY, payload)
    index = data.draw(st.integers(0, len(sealed) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="mask")
    flipped = bytearray(sealed)
    flipped[index] ^= mask
    assert SEALER.open(KEY, bytes(flipped)) is None
    cut = data.draw(st.integers(0, len(sealed) - 1), label="cut")
    assert SEALER.open(KEY, sealed[:cut]) is None


# --- the private key ------------------------------------------------------------------------

PEM = KEY_PAIR.private_pem


def mangled_pem(data: Any) -> str:
    """The real key with a few characters deleted, replaced or inserted."""
    text = PEM
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        what = data.draw(st.text(max_size=3), label="what")
        cut = data.draw(st.integers(0, 3), label="cut")
        text = text[:at] + what + text[at + cut :]
    return text


key_texts = (
    st.text(max_size=80)
    | st.builds(
        lambda kind, body: f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----",
        st.sampled_from(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED KEY"]),
        st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=60),
    )
    | st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode())
)


def check_key(text: str) -> None:
    key, error = attempt(PrivateKeyError, parse_private_key, text, "property test")
    if error is not None:
        assert "property test" in str(error) and "\n" not in str(error)
        return
    assert isinstance(key, PrivateKey)
    assert key.pem.startswith("-----BEGIN ") and key.pem.endswith("-----\n")
    assert len(key.der) >= 64


@PROPERTY
@given(text=key_texts)
@example(text=PEM)
@example(text=PEM.replace("\n", "\\n"))
@example(text=base64.b64encode(PEM.encode()).decode())
@example(text=KEY_PAIR.private_pem_pkcs8)
def test_a_private_key_is_parsed_or_a_private_key_error(text: str) -> None:
    check_key(text)


@PROPERTY
@given(data=st.data())
def test_a_damaged_private_key_is_parsed_or_a_private_key_error(data: Any) -> None:
    check_key(mangled_pem(data))


def test_the_real_key_parses_to_its_der() -> None:
    key = parse_private_key(PEM, "property test")
    body = "".join(line for line in PEM.splitlines() if not line.startswith("-----"))
    assert key.der == base64.b64decode(body)
    assert key.pem == PEM
    assert body[:40] not in repr(key)  # the key stays out of repr
