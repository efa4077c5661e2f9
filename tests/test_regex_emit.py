"""The one HIR -> RE2 emitter (kumopy/_regex/_re2.py) in its two modes:
the language only (regex_set_map) and exact match positions (kumo.regex)."""

from __future__ import annotations

import pytest
import re2

from kumopy._regex._re2 import NotExpressible, emit, emit_exact
from kumopy._regex.syntax import parse_to_hir


def test_exact_mode_keeps_groups_and_laziness() -> None:
    text, ascii_only = emit_exact(parse_to_hir(r"(?P<user>\w+?)@(x|y)"))
    assert not ascii_only
    program = re2.compile(text)
    assert program.groups == 2 and program.groupindex == {"user": 1}
    match = program.search("abc@y")
    assert match is not None and match.span(1) == (0, 3) and match.span(2) == (4, 5)
    lazy = re2.compile(emit_exact(parse_to_hir("a+?"))[0]).search("aaa")
    assert lazy is not None and lazy.span() == (0, 1)


def test_exact_mode_refuses_what_re2_cannot_say() -> None:
    for pattern in (r"\b{start}a", "a{1001}", r"(?Rm)a$"):
        with pytest.raises(NotExpressible):
            emit_exact(parse_to_hir(pattern))
    assert emit_exact(parse_to_hir(r"\bé"))[1]  # Unicode \b: exact on ASCII only


def test_language_mode_drops_groups_and_splits_long_counts() -> None:
    assert emit(parse_to_hir("(a)+?")) == "a+"
    text = emit(parse_to_hir("b{2500}"))
    assert text == "b{1000}b{1000}b{500}"
    assert re2.compile(text).fullmatch("b" * 2500) is not None
