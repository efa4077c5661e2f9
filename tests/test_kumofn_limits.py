"""Hostile input to kumo functions and data parsers: each ends with a clear
error (never a kumopy internal error), within the state's limits, and the
fast paths give the same answers as the slow ones they replace."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumopy import Policy, PolicyError
from kumopy._kumo import regex as kregex
from kumopy._kumo._lib import lua_size
from kumopy._kumo.formats import FormatError, Meter, parse_json, parse_toml, parse_yaml
from kumopy._regex.setmap import RegexSetMap, _LazyDfa
from kumopy._regex.syntax import Verifier, parse_to_hir

Load = Callable[..., Policy]


def run(load: Load, body: str, **options: Any) -> Any:
    policy = load(
        f"local kumo = require 'kumo'\nkumo.on('main', function() {body} end)\n", **options
    )
    return policy.run_script().values


def failure(load: Load, body: str, **options: Any) -> str:
    with pytest.raises(PolicyError) as info:
        run(load, body, **options)
    text = str(info.value)
    assert "internal error" not in text
    return text


# -- kumo.regex: RE2 for plain patterns, bounded backtracking for fancy ones ----------

PATTERNS = [
    r"a+",
    r"(a|aa)+$",
    r"(?<word>\w+)=(\d+)",
    r"(?i)straße",
    r"^\s*$",
    r"\bfoo\b",
    r"(?m)^x$",
    r"a*?",
    r"",
    r"(a)|(b)",
    r"é+|\d{2,3}",
    r"x{0}",
]
TEXTS = ["", "a", "aaab", "foo=12 bar=345", "Straße STRASSE", "  \n", "é foo é", "x\nx", "ab", "éé12"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_linear_engine_agrees_with_the_backtracking_one(pattern: str) -> None:
    rx = kregex.Regex(pattern)
    assert rx.linear is not None, "a plain pattern must take the linear engine"
    for text in TEXTS:
        linear_pat, subject = rx._engine(text)
        slow = kregex._Bounded(rx.compiled)
        if isinstance(subject, str):
            continue  # Unicode \b on a non-ASCII text: the linear engine is not used
        fast = [
            (m.group(0).decode(), [None if g is None else g.decode() for g in m.groups()])
            for m in kregex.find_iter(linear_pat, subject)
        ]
        slow_found = [(m.group(0), list(m.groups())) for m in kregex.find_iter(slow, text)]
        assert fast == slow_found, (pattern, text)
        assert kregex._replace(linear_pat, subject, "<$0>", 0, names=rx.compiled.groupindex) == (
            kregex._replace(slow, text, "<$0>", 0, names=rx.compiled.groupindex)
        )


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=a)b", r"a(?!b)", r"(?>a+)b", r"a++b", r"\x{61}{1001}"])
def test_fancy_patterns_keep_the_backtracking_engine(pattern: str) -> None:
    assert kregex.Regex(pattern).linear is None


def test_posix_classes_are_ascii_as_in_rust(load: Load) -> None:
    got = run(load, "return kumo.regex.compile('[[:alpha:]]+'):find_all('Straße')")
    assert got == (["Stra", "e"],)


def test_exponential_pattern_is_linear(load: Load) -> None:
    assert run(load, "return kumo.regex.compile('(a|aa)+$'):is_match(string.rep('a', 5000) .. 'b')") == (False,)


def test_backtracking_is_bounded_with_kumods_error(load: Load) -> None:
    text = failure(load, "return kumo.regex.compile('(a|aa)+\\\\1$'):is_match(string.rep('a', 40) .. 'b')")
    assert "Error executing regex: Max limit for backtracking count exceeded" in text


def test_regex_results_count_against_the_memory_limit(load: Load) -> None:
    text = failure(
        load,
        "return #kumo.regex.compile(''):split(string.rep('x', 2000000))",
        max_memory=32 * 1024 * 1024,
    )
    assert "not enough memory" in text


# -- regex_set_map: the Unicode \b check as a lazy DFA ---------------------------------


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="aé _x\n.", max_size=30))
def test_lazy_dfa_agrees_with_the_nfa(text: str) -> None:
    for pattern in (r"\b\w+\b", r"(?:\b[a-zé]{1,3}\b\s*){2}x", r"\B_", r"^\bé", r"(?m)\bx$"):
        verifier = Verifier(parse_to_hir(pattern))
        assert _LazyDfa(verifier).search(text) == verifier.search(text), (pattern, text)


def test_set_map_unicode_word_boundary_on_a_long_subject() -> None:
    rules = RegexSetMap({r"(?:\b[a-zé]{1,20}\b\s*){3}x": 1, r"\bzz\b": 2})
    assert rules.lookup("éé " * 66000 + "éx") is None
    assert rules.lookup("éé " * 66000 + "zz") == 2


# -- TOML through the toml crate -------------------------------------------------------


def test_toml_1_1_syntax_is_accepted() -> None:
    assert parse_toml('a = {\n  b = 1,\n}\nc = "\\e\\x41"\nt = 07:32') == {
        "a": {"b": 1},
        "c": "\x1bA",
        "t": {"$__toml_private_datetime": "07:32:00"},
    }


@pytest.mark.parametrize(
    "doc",
    ["a = " + "[" * 50000, "a." * 50000 + "a = 1", "a = " + "{b=" * 50000, "x = " + "9" * 5000],
)
def test_hostile_toml_is_a_clear_error(doc: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_toml(doc)
    assert str(info.value).startswith("parsing ")
    assert " as toml: " in str(info.value)


# -- YAML alias fan-out ------------------------------------------------------------------


def _fan_out(leaves: int, aliases: int) -> str:
    return "a: &a [" + "x, " * leaves + "x]\n" + "b: [" + "*a, " * aliases + "*a]\n"


def test_yaml_fan_out_is_metered_with_aliases_counted() -> None:
    meter = Meter()
    value = parse_yaml(_fan_out(600, 400), meter=meter)
    assert isinstance(value, dict) and len(value["b"]) == 401 and len(value["b"][0]) == 601
    # every repeated value is charged: far more than the document's size
    assert meter.total > 401 * 601 * 64


def test_yaml_meter_stops_the_parser() -> None:
    class Stop(Exception):
        pass

    def check(total: int) -> None:
        if total > 10_000_000:
            raise Stop

    with pytest.raises(Stop):
        parse_yaml(_fan_out(6000, 4000), meter=Meter(check))


def test_yaml_repetition_limit_still_counts_aliases_of_converted_nodes() -> None:
    doc = "a: &a [x]\n" + "".join(f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 0 else f'l{i-1}'}"] * 10) + "]\n" for i in range(6))
    with pytest.raises(FormatError, match="repetition limit exceeded"):
        parse_yaml(doc)


def test_yaml_fan_out_through_a_policy_hits_the_memory_limit(load: Load) -> None:
    doc = _fan_out(6000, 4000).replace("\n", "\\n")
    text = failure(load, f"return kumo.serde.yaml_parse('{doc}')", max_memory=128 * 1024 * 1024)
    assert "not enough memory" in text


# -- JSON and the other formats: fuzzed for internal errors --------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}":,0123456789.eE+-truefalsn \\\n#/*ab', max_size=60))
def test_fuzzed_json_parses_or_fails_clearly(text: str) -> None:
    try:
        parse_json(text)
    except FormatError as e:
        assert str(e).startswith("parsing ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}"\'=.,0123456789:-+eE_xtruefalsninf \n#ab', max_size=60))
def test_fuzzed_toml_parses_or_fails_clearly(text: str) -> None:
    try:
        parse_toml(text)
    except FormatError as e:
        assert str(e).startswith("parsing ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]{}&*!:-,? \n'\"|>#0123456789.xab~", max_size=60))
def test_fuzzed_yaml_parses_or_fails_clearly(text: str) -> None:
    try:
        parse_yaml(text)
    except FormatError as e:
        assert str(e).startswith("parsing ")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["json_parse", "toml_parse", "serde.yaml_parse", "json_encode", "toml_encode", "serde.yaml_encode", "json_encode_pretty"]),
    st.sampled_from(["'[[[[[['", "string.rep('[', 5000)", "string.rep('9', 5000)", "'1e999'", "'-0'", "{1, {2, {}}}", "{a = 0/0, b = math.huge}", "deep", "'a: *x'", "{[1.5] = 1}"]),
)
def test_fuzzed_serde_calls_never_fail_internally(tmp_path_factory: Any, name: str, arg: str) -> None:
    directory = tmp_path_factory.mktemp("serde")
    path = directory / "init.lua"
    path.write_text(
        "local kumo = require 'kumo'\n"
        "local deep = {} local c = deep for i = 1, 300 do c[1] = {} c = c[1] end\n"
        f"kumo.on('main', function() return pcall(kumo.{name}, {arg}) end)\n"
    )
    policy = Policy.load(path, capture_output=True)
    values = policy.run_script().values
    if values[0] is False:
        assert "internal error" not in str(values[1])


# -- glob ------------------------------------------------------------------------------------


def test_glob_does_not_follow_symlink_loops(load: Load, tmp_path: Path) -> None:
    top = tmp_path / "tree"
    (top / "d" / "e").mkdir(parents=True)
    (top / "d" / "e" / "f.key").write_text("x")
    for name in ("up1", "up2"):
        os.symlink("..", top / "d" / name)
    got = run(load, f"return kumo.glob('{top}/**/*.key')")
    assert got == ([f"{top}/d/e/f.key"],)


def test_glob_looks_at_a_bounded_number_of_entries(
    load: Load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kumopy._kumo import fs

    monkeypatch.setattr(fs, "GLOB_MAX_ENTRIES", 50)
    for i in range(60):
        (tmp_path / f"f{i}").write_text("")
    text = failure(load, f"return kumo.glob('{tmp_path}/**/*')")
    assert "more than 50 directory entries" in text


# -- strings, durations, memory ----------------------------------------------------------------


def test_string_replace_is_refused_before_it_is_built(load: Load) -> None:
    text = failure(
        load,
        "return kumo.string.replace(string.rep('a', 10 * 1024 * 1024), 'a', string.rep('b', 100))",
    )
    assert "not enough memory" in text


def test_string_split_counts_its_pieces(load: Load) -> None:
    text = failure(
        load,
        "return #kumo.string.split(string.rep('a,', 3000000), ',')",
        max_memory=64 * 1024 * 1024,
    )
    assert "not enough memory" in text


def test_a_policy_stays_usable_after_a_memory_refusal(load: Load) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function(n) return #kumo.string.replace(string.rep('a', n), 'a', 'bbbb') end)\n",
        max_memory=64 * 1024 * 1024,
    )
    with pytest.raises(PolicyError):
        policy.dispatch("main", 20 * 1024 * 1024)
    assert policy.dispatch("main", 10).values == (40,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e308", "value is either too big or NaN"),
        ("0/0", "value is either too big or NaN"),
        ("-1.5", "value is negative"),
        ("1e17", "Source duration value is out of range"),
        ("1 << 62", "seconds out of range"),
    ],
)
def test_parse_duration_refuses_what_rust_refuses(load: Load, value: str, message: str) -> None:
    assert message in failure(load, f"return kumo.time.parse_duration({value})")


def test_sleep_longer_than_the_budget_is_stopped(load: Load) -> None:
    from kumopy._clock import SystemClock

    text = failure(load, "kumo.sleep(1e9)", clock=SystemClock(), budget_seconds=1.0)
    assert "would sleep longer than the handler's CPU budget" in text


def test_lua_size_never_underestimates_a_string_table() -> None:
    pieces = ["x" * 10] * 1000
    assert lua_size(pieces) >= 1000 * (16 + 24 + 10)
