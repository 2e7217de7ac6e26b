"""Bad input: each is one line on stderr with the right exit code, no traceback, no secret."""

from __future__ import annotations

import json

import pytest

from conftest import World, secrets_of
from mdh_creds.testing import generate_key_pair


def assert_one_clean_line(world: World, err: str, *also_secret: str) -> None:
    assert err.startswith("mdh-creds: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for secret in secrets_of(world, *also_secret):
        assert secret not in err


def test_no_settings_at_all(world: World) -> None:
    world.config.write_text("", encoding="utf-8")
    result = world.run("process", AWS_PROFILE="")
    assert result.code == 3
    assert_one_clean_line(world, result.err)
    assert "no MDH service account is configured for profile default" in result.err
    assert result.out == ""


def test_missing_service_account(world: World) -> None:
    world.write_profile(mdh_service_account=None)
    result = world.main("process", "--profile", "mdh")
    assert result.code == 3
    assert "mdh_service_account is not set" in result.err
    assert_one_clean_line(world, result.err)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pem: pem[: len(pem) // 2],  # truncated
        lambda pem: pem.replace("A", "*", 5),  # not base64
        lambda pem: "hello, I am not a key",
        lambda pem: pem.replace("RSA PRIVATE KEY", "EC PRIVATE KEY"),
        lambda pem: pem[:200] + "\n-----END RSA PRIVATE KEY-----\n",  # valid base64, bad DER
    ],
    ids=["truncated", "bad-base64", "not-pem", "wrong-kind", "bad-der"],
)
def test_malformed_private_key(world: World, mangle: object) -> None:
    pem = world.account.key_pair.private_pem
    bad = world.tmp / "bad.pem"
    bad.write_text(mangle(pem))  # type: ignore[operator]
    bad.chmod(0o600)
    result = world.main("process", "--private-key-file", str(bad))
    assert result.code == 3, result.err
    assert "private key" in result.err
    assert_one_clean_line(world, result.err, pem)


def test_key_file_that_does_not_exist(world: World) -> None:
    result = world.main("process", "--profile", "mdh", "--private-key-file", "/nonexistent/k.pem")
    assert result.code == 3
    assert "/nonexistent/k.pem does not exist" in result.err
    assert_one_clean_line(world, result.err)


def test_wrong_key_lists_the_usual_causes(world: World) -> None:
    other = generate_key_pair()
    result = world.main("process", "--profile", "mdh", MDH_PRIVATE_KEY=other.private_pem)
    assert result.code == 4
    assert "invalid_client" in result.err and "clock" in result.err
    assert_one_clean_line(world, result.err, other.private_pem)


def test_http_url_to_a_remote_host_is_refused(world: World) -> None:
    result = world.main(
        "process", "--profile", "mdh", "--token-url", "http://example.com/connect/token"
    )
    assert result.code == 3
    assert "mdh_token_url" in result.err and "https://" in result.err
    assert_one_clean_line(world, result.err)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Service Unavailable</body></html>", "text/html"),
        ("", "application/json"),
        (json.dumps({"AccessKeyId": "ASIAAAAAAAAAAAAAAAAA", "SecretAccessKey": "x"}), None),
        ("[1, 2, 3]", None),
    ],
    ids=["html", "empty", "missing-field", "not-an-object"],
)
def test_malformed_explorer_answer(world: World, body: str, content_type: str | None) -> None:
    world.emulator.malformed("exchange", body, content_type=content_type or "application/json")
    result = world.main("process", "--profile", "mdh")
    assert result.code == 4, result.err
    assert_one_clean_line(world, result.err)
    assert result.out == ""


def test_expiration_in_the_past(world: World) -> None:
    world.emulator.set_answer_override(
        "exchange", lambda answer: {**answer, "Expiration": "2020-01-01T00:00:00Z"}
    )
    result = world.main("process", "--profile", "mdh")
    assert result.code == 4
    assert "expired" in result.err
    assert_one_clean_line(world, result.err)


@pytest.mark.parametrize(("where", "value"), [("profile", "abc"), ("env", "-1"), ("flag", "2.5")])
def test_bad_number_in_retries_names_setting_and_source(
    world: World, where: str, value: str
) -> None:
    args = ["process", "--profile", "mdh"]
    env = {}
    if where == "profile":
        world.write_profile(mdh_retries=value)
    elif where == "env":
        env["MDH_RETRIES"] = value
    else:
        args += ["--retries", value]
    result = world.main(*args, **env)
    assert result.code == 3
    assert "mdh_retries" in result.err and repr(value) in result.err
    expected_source = {"profile": "profile mdh of", "env": "MDH_RETRIES", "flag": "--retries"}
    assert expected_source[where] in result.err
    assert_one_clean_line(world, result.err)


def test_unknown_option_is_a_usage_error(world: World) -> None:
    result = world.run("process", "--no-such-option")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_version(world: World) -> None:
    result = world.run("--version")
    assert result.code == 0 and result.out.startswith("mdh-creds ")


@pytest.mark.parametrize(("typed", "meant"), [("proces", "process"), ("stauts", "status")])
def test_a_misspelt_command_names_the_command_meant(world: World, typed: str, meant: str) -> None:
    result = world.main(typed)
    assert result.code == 2
    assert f"unknown command '{typed}': did you mean {meant}?" in result.err
    assert result.out == ""


def test_clear_for_a_profile_without_mdh_settings_says_what_to_do(world: World) -> None:
    world.config.write_text("[default]\nregion = us-east-1\n", encoding="utf-8")
    result = world.main("clear", AWS_PROFILE="default")
    assert result.code == 3
    assert "profile default has no mdh settings" in result.err
    assert "mdh-creds clear --all" in result.err and "configure" not in result.err
