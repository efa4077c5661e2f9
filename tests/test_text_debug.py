"""How kumopy writes Rust's Debug text in error messages (kumopy/_text.py):
one implementation for serde's messages, durations, sqlite and message
metadata errors."""

from __future__ import annotations

from kumopy._duration import rust_debug_str
from kumopy._text import json_debug, lua_number_text, rust_debug


def test_rust_debug_of_a_str() -> None:
    assert rust_debug('a"b\\c') == '"a\\"b\\\\c"'
    assert rust_debug("\0\t\x7f\u200b") == '"\\0\\t\\u{7f}\\u{200b}"'
    assert rust_debug("é ü") == '"é ü"'
    assert rust_debug_str is rust_debug


def test_json_debug_of_a_serde_json_value() -> None:
    value = {"k\n": [None, True, 1, 1.5, "x\u0001"]}
    assert json_debug(value) == (
        'Object {"k\\n": Array [Null, Bool(true), Number(1), Number(1.5), String("x\\u{1}")]}'
    )


def test_lua_number_text() -> None:
    assert [lua_number_text(v) for v in (3, 2.0, 0.1, 1e100)] == ["3", "2.0", "0.1", "1e+100"]
