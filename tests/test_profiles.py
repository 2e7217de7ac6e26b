"""The AWS config reader agrees with ``configparser.RawConfigParser`` (what botocore uses) on every
combination of the line shapes that matter, without importing it on the cache-hit path."""

from __future__ import annotations

import configparser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdh_creds.errors import ConfigError
from mdh_creds.settings.profiles import parse_profile

LINES = [
    "[default]",
    "[profile x]",
    "[ profile x ]",
    "[profile x] tail",
    "[profile x]]",
    "[]",
    "a = 1",
    "B: 2",
    "k=v=w",
    "m :n",
    "  cont",
    "    deeper",
    "\tkey2 = v",
    "  key = val",
    "# c",
    "  # c",
    ";d",
    "",
    "z=",
    "=x",
    ":y",
    "x = y # z",
    "url = http://a:b/c",
    "noval",
]


def reference(text: str, profile: str) -> dict[str, str] | str | None:
    parser = configparser.RawConfigParser(strict=False, default_section="\x00none")
    try:
        parser.read_string(text)
    except configparser.Error:
        return "error"
    for section in [f"profile {profile}"] + (["default"] if profile == "default" else []):
        if parser.has_section(section):
            return {k.strip(): v.strip() for k, v in parser.items(section)}
    return None


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(LINES), max_size=12), st.sampled_from(["default", "x"]))
def test_reader_matches_configparser(lines: list[str], profile: str) -> None:
    text = "\n".join(lines)
    try:
        ours: dict[str, str] | str | None = parse_profile(text, profile)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        ours = "error"
    assert ours == reference(text, profile)
