"""kumo.regex: fancy-regex semantics (the mod-regex crate's methods)."""

from __future__ import annotations

from typing import Any

import pytest

from kumopy import PolicyError
from kumopy._kumo.regex import escape


def lua(load: Any, body: str) -> tuple[Any, ...]:
    p = load("local kumo = require 'kumo'\n" + body)
    return tuple(p.state.to_python(v) for v in p.state.chunk_values)


def test_captures_table_has_index_zero_and_names(load: Any) -> None:
    caps = lua(
        load,
        r"""
        local re = kumo.regex.compile('(?P<user>[^@]+)@(?<domain>[^.]+)(\\.org)?(?=\\.com)')
        local c = re:captures('mail joe@example.com')
        return c[0], c[1], c[2], c[3], c.user, c.domain
        """,
    )
    assert caps == ("mail joe@example", "mail joe", "example", None, "mail joe", "example")
    assert lua(load, "return kumo.regex.compile('z'):captures('abc')") == (None,)


def test_lookaround_and_backreferences(load: Any) -> None:
    got = lua(
        load,
        r"""
        return kumo.regex.compile('(\\w)\\1'):find('abccd'),
          kumo.regex.compile('(?<ch>\\w)\\k<ch>'):is_match('xyyz'),
          kumo.regex.compile('(?<!no-)reply'):find_all('no-reply reply'),
          kumo.regex.compile('(?>a+)b'):is_match('aaab')
        """,
    )
    assert got == ("cc", True, ["reply"], True)


def test_rust_iteration_and_split(load: Any) -> None:
    got = lua(
        load,
        r"""
        return kumo.regex.compile('x*'):find_all('axb'),
          kumo.regex.compile('[ \t]+'):split('a b \t  c\td    e'),
          kumo.regex.compile(','):split(',a,'),
          kumo.regex.compile(''):split('ab')
        """,
    )
    assert got == (["", "x", ""], ["a", "b", "c", "d", "e"], ["", "a", ""], ["", "a", "b", ""])


def test_replacement_syntax(load: Any) -> None:
    got = lua(
        load,
        r"""
        local re = kumo.regex.compile('(?<k>\\w+)=(\\d+)')
        return re:replace('a=1 b=2', '$2:${k}'),
          re:replace_all('a=1 b=2', '[$0] $$'),
          re:replacen('a=1 b=2 c=3', 2, '$2a|${2}a'),
          re:replace_all('a=1', '$nope<$')
        """,
    )
    assert got == ("1:a b=2", "[a=1] $ [b=2] $", "|1a |2a c=3", "<$")


def test_dollar_is_end_of_text_unless_multiline(load: Any) -> None:
    got = lua(
        load,
        r"""
        return kumo.regex.compile('abc$'):is_match('abc\n'),
          kumo.regex.compile('(?m)abc$'):is_match('abc\nx'),
          kumo.regex.compile('[$]'):is_match('$'),
          kumo.regex.compile('\\x{263A}'):is_match('\u{263A}')
        """,
    )
    assert got == (False, True, True, True)


def test_escape() -> None:
    assert escape("a.b*c?d(e)[f]{g}^h$i|j\\k#l&m-n~o") == (
        r"a\.b\*c\?d\(e\)\[f\]\{g\}\^h\$i\|j\\k\#l\&m\-n\~o"
    )


def test_look_behind_must_not_repeat(load: Any) -> None:
    assert lua(load, "return kumo.regex.compile('(?<=a|bc)x'):find_all('ax bcx cx')") == (
        ["x", "x"],
    )
    with pytest.raises(PolicyError, match="Look-behind assertion without constant size"):
        lua(load, "return kumo.regex.compile('(?<=a+)b')")
    with pytest.raises(PolicyError, match="Look-behind assertion without constant size"):
        lua(load, "return kumo.regex.compile('(?<![a-z]{2,3})b')")


def test_errors(load: Any) -> None:
    with pytest.raises(PolicyError, match="Parsing error at position"):
        lua(load, "return kumo.regex.compile('(')")
    with pytest.raises(PolicyError, match=r"error converting Lua string to String \(invalid utf-8"):
        lua(load, r"return kumo.regex.compile('a'):is_match('\xff')")
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        lua(load, "return kumo.regex.compile('a'):find()")
    with pytest.raises(PolicyError, match="call it as obj:find"):
        lua(load, "local re = kumo.regex.compile('a') return re.find('a')")
