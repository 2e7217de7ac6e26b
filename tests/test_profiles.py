"""The AWS config reader agrees with botocore itself (``botocore.configloader.raw_config_parse``
then ``build_profile_map``) on random files: sections with odd spacing and shell quoting,
duplicates, ``[DEFAULT]``, nested values, odd whitespace and control characters, any line ending.
Each file is read by both from disk: the same profiles with the same values, or both refuse."""

from __future__ import annotations

import locale
from pathlib import Path
from typing import Any

import pytest
from botocore.configloader import build_profile_map, raw_config_parse
from botocore.exceptions import ConfigParseError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mdh_creds.errors import ConfigError
from mdh_creds.settings.profiles import load_profile, profile_sections, read_config

pytestmark = pytest.mark.skipif(
    locale.getpreferredencoding(False).lower().replace("-", "") != "utf8",
    reason="botocore reads the config file in the locale's encoding; ours is UTF-8",
)

ODD = ["\x0c", "\x0b", "\u2028", "\u2029", "\x85", "\x1c", "\x00", "\ufeff", "\u00a0", "\t", "\r"]
# Line ends come from the join below; any other character may be anywhere.
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=6
)
NAMES = (
    st.sampled_from(
        ["mdh", '"mdh"', "'mdh'", 'm"d"h', "default", "a b", '"a b"', "x\\ y", '"open', "tail\\"]
    )
    | ANY_TEXT
)
SPACES = st.sampled_from([" ", "  ", "\t", " \t ", "\x0c", "\u00a0", ""])
HEADERS = st.one_of(
    st.builds(lambda s, n: f"profile{s}{n}", SPACES, NAMES),
    st.sampled_from(["default", "DEFAULT", "profile", "profiles mdh", "sso-session x", "mdh"]),
    ANY_TEXT.filter(bool),
).flatmap(
    lambda name: st.builds(
        lambda left, right, tail: f"{left}[{name}]{right}{tail}",
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["", " "]),
        st.sampled_from(["", " # c", "]"]),
    )
)
KEYS = st.sampled_from(
    ["mdh_scope", "MDH_Scope", "region", "s3", "k", "k\x0c", "\u2028k", "a", "b", "c", "d", ""]
) | st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n=:[#;"),
    min_size=1,
    max_size=6,
)
VALUES = st.sampled_from(["a", "x = y", "", "#v", "v ; w", "a=b"]) | ANY_TEXT
KEY_LINES = st.builds(
    lambda indent, key, sep, value, odd: f"{indent}{key}{sep}{value}{odd}",
    st.sampled_from(["", "", " ", "\t"]),
    KEYS,
    st.sampled_from([" = ", "=", ":", " : ", " = ", "=", " = ", "=", " = ", " "]),
    VALUES,
    st.sampled_from(["", "", *ODD]),
)
CONTINUATIONS = st.sampled_from(["", "   ", "# comment", "; c", "    k2 = v2", "\tnested = 1"]) | (
    st.builds(lambda a, odd, b: f"      {a}{odd}{b}", VALUES, st.sampled_from(ODD), VALUES)
)


def flat(groups: list[list[str]]) -> list[str]:
    return [line for group in groups for line in group]


ENTRIES = st.builds(lambda key, more: [key, *more], KEY_LINES, st.lists(CONTINUATIONS, max_size=2))
# A line botocore refuses, now and then (sampled_from draws uniformly: one in ten).
JUNK = st.sampled_from([[]] * 5 + [["noval"], ["  continued"], ["= x"], ["\x0c"], ["[]"]])
BODIES = st.builds(
    lambda entries, junk, at: [*flat(entries[:at]), *junk, *flat(entries[at:])],
    st.lists(ENTRIES, max_size=4),
    JUNK,
    st.integers(0, 4),
)
SECTIONS = st.builds(lambda header, body: [header, *body], HEADERS, BODIES)
FILES = st.builds(
    lambda before, sections, newline: newline.join([*before, *flat(sections)]),
    st.sampled_from([[]] * 6 + [[""], ["# top"], ["  "], ["stray"]]),
    st.lists(SECTIONS, max_size=4),
    st.sampled_from(["\n", "\r\n", "\r"]),
)


def botocore_profiles(path: Path) -> dict[str, Any] | str:
    try:
        return dict(build_profile_map(raw_config_parse(str(path)))["profiles"])
    except ConfigParseError:
        return "refused"


def our_profiles(path: Path) -> dict[str, Any] | str:
    try:
        config = read_config(path.read_text(encoding="utf-8"), str(path))
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return "refused"
    return {name: config[section] for name, section in profile_sections(config).items()}


def check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_bytes(text.encode("utf-8"))
    theirs, ours = botocore_profiles(path), our_profiles(path)
    assert ours == theirs, repr(text)
    if isinstance(theirs, str):
        with pytest.raises(ConfigError):
            load_profile(str(path), "mdh")
        return
    for name, values in theirs.items():
        flat = {key: value for key, value in values.items() if isinstance(value, str)}
        assert load_profile(str(path), name) == flat
    assert load_profile(str(path), "no such profile") is None


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=FILES)
@example(text="[profile  mdh]\nmdh_scope = a")
@example(text='[profile "mdh"]\nmdh_scope = a')
@example(text="[profile default]\nregion = a\n[default]\nregion = b")
@example(text="[default]\nregion = b\n[profile default]\nregion = a")
@example(text="[profile mdh]\nmdh_scope = a\x0cb\nregion = x\u2028y")
@example(text="[profile mdh]\nmdh_scope = a\n[profile mdh]\nregion = b")
@example(text="[profile mdh]\nmdh_scope = a\n[profile  mdh]\nregion = b")
@example(text="[DEFAULT]\nmdh_cache = none\n[profile mdh]\nregion = b")
@example(text="[profile mdh]\ns3 =\n  a = 1\n  b\n")
@example(text="[profile mdh]\ns3 =\n  a = 1\x0cb = 2\n")
def test_reader_matches_botocore(tmp_path: Path, text: str) -> None:
    check(tmp_path, text)  # one file, rewritten for each example


def test_the_cases_the_issue_names(tmp_path: Path) -> None:
    """Spelled out: what botocore does, and so what we do."""
    config = tmp_path / "config"
    config.write_text('[profile  mdh]\nmdh_scope = a\n[profile "other"]\nmdh_scope = b\n')
    assert load_profile(str(config), "mdh") == {"mdh_scope": "a"}
    assert load_profile(str(config), "other") == {"mdh_scope": "b"}
    config.write_text("[profile default]\nregion = a\n[default]\nregion = b\n")
    assert load_profile(str(config), "default") == {"region": "b"}  # the later section wins
    config.write_text("[profile mdh]\nmdh_scope = a\x0cb\nregion = x\u2028y\n")
    assert load_profile(str(config), "mdh") == {"mdh_scope": "a\x0cb", "region": "x\u2028y"}
    config.write_text("[profile mdh]\nmdh_scope = a\n\n[profile mdh]\nregion = b\n")
    with pytest.raises(ConfigError, match=r"line 4 repeats the section \['profile mdh'\]"):
        load_profile(str(config), "mdh")
