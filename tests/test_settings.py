"""Settings: precedence flag > environment > .env file > profile > default, each with its source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import World
from mdh_creds.errors import ConfigError
from mdh_creds.settings.model import parse_settings
from mdh_creds.settings.profiles import parse_profile


def test_precedence_and_sources(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile p]\nmdh_retries = 1\nmdh_timeout = 3\nmdh_scope = from-profile\n")
    environ = {"AWS_CONFIG_FILE": str(config), "MDH_TIMEOUT": "4", "RETRIES": "5"}
    settings = parse_settings(environ, {"profile": "p", "retries": "6"})
    assert (settings.retries, settings.source("retries")) == (6, "flag --retries")
    assert (settings.timeout, settings.source("timeout")) == (4.0, "MDH_TIMEOUT")
    assert settings.scope == "from-profile"
    assert settings.source("scope") == f"mdh_scope in profile p of {config}"
    assert (settings.refresh_window, settings.source("refresh_window")) == (1200, "default")


def test_aliases_from_the_older_tools(tmp_path: Path) -> None:
    environ = {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "RKS_SERVICE_ACCOUNT": "MyDataHelps.1.app",
        "SECRET_NAME": "s",
        "URL": "https://example.org/token",
        "INTERVAL": "250",
    }
    settings = parse_settings(environ)
    assert settings.service_account == "MyDataHelps.1.app"
    assert settings.secret_id == "s"
    assert settings.token_url == "https://example.org/token"
    assert settings.retry_interval_ms == 250


def test_default_section_is_the_default_profile() -> None:
    text = "[default]\nmdh_scope = a\n[profile x]\nmdh_scope = b\n[x]\nmdh_scope = c\n"
    assert parse_profile(text, "default") == {"mdh_scope": "a"}
    assert parse_profile(text, "x") == {"mdh_scope": "b"}
    assert parse_profile(text, "y") is None


def test_unparsable_config_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be parsed"):
        parse_profile("no section header\n", "x", origin="cfg")


def test_env_file_is_read_only_when_asked(world: World, tmp_path: Path) -> None:
    work = tmp_path / "clone"
    work.mkdir()
    (work / ".env").write_text("MDH_TOKEN_URL=https://attacker.example/connect/token\n")
    status = json.loads(world.main("status", "--json").out)
    assert status["settings"]["token_url"]["value"] == world.emulator.token_url
    env_file = tmp_path / "explicit.env"
    env_file.write_text("MDH_SCOPE=from-dotenv\nMDH_RETRIES=1\n")
    status = json.loads(world.main("status", "--json", "--env-file", str(env_file)).out)
    assert status["settings"]["scope"]["value"] == "from-dotenv"
    assert status["settings"]["scope"]["source"] == f"MDH_SCOPE in {env_file}"
    status = json.loads(world.main("status", "--json", MDH_ENV_FILE=str(env_file)).out)
    assert status["settings"]["retries"]["value"] == "1"


def test_missing_env_file_is_a_configuration_error(world: World) -> None:
    result = world.main("process", "--env-file", "/nonexistent/.env")
    assert result.code == 3 and "/nonexistent/.env does not exist" in result.err


def test_status_masks_the_private_key(world: World) -> None:
    pem = world.account.key_pair.private_pem
    result = world.main("status", "--json", MDH_PRIVATE_KEY=pem)
    status = json.loads(result.out)
    assert status["settings"]["private_key"] == {"value": "****", "source": "MDH_PRIVATE_KEY"}
    body_line = pem.splitlines()[1]
    assert body_line not in result.out


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MDH_TIMEOUT", "nan", "mdh_timeout"),
        ("MDH_CACHE", "redis", "choose one of"),
        ("MDH_EXCHANGE_URL", "ftp://x/y", "https://"),
        ("MDH_PROJECT_ID", "../../admin", "must not contain"),
        ("MDH_DYNAMODB_TABLE", "a", "table name"),
        ("MDH_REFRESH_WINDOW", "999999", "mdh_refresh_window"),
    ],
)
def test_invalid_values_name_setting_and_source(
    world: World, name: str, value: str, fragment: str
) -> None:
    result = world.main("process", **{name: value})
    assert result.code == 3
    assert fragment in result.err and name in result.err
