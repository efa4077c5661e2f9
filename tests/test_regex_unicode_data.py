"""The Unicode tables kumopy ships precomputed (`kumopy._regex._unicode_data`)
are what the `regex` package computes, and are what the parser uses."""

from __future__ import annotations

import regex

from kumopy._regex._unicode import (
    SHIPPED_SETS,
    UNICODE,
    _decode_ranges,
    _UnicodeData,
    cs_case_fold,
    generate_data,
    perl_digit,
    perl_word,
)
from kumopy._regex._unicode_data import FOLD_ORBITS, SETS
from kumopy._regex.syntax import HClass, parse_to_hir


def test_the_shipped_sets_and_case_folding_are_the_computed_ones() -> None:
    fresh = _UnicodeData()
    assert sorted(SETS) == sorted(SHIPPED_SETS)
    for name, expr in SHIPPED_SETS.items():
        assert _decode_ranges(SETS[name]) == fresh.compute(expr), expr
    _, table = UNICODE.fold_table()
    assert table == fresh.compute_fold_table()
    assert len(table) > 2800 and len(FOLD_ORBITS.split()) > 1400


def test_the_data_file_is_what_the_generator_writes() -> None:
    import kumopy._regex._unicode_data as data

    with open(data.__file__, encoding="utf-8") as f:
        assert f.read() == generate_data()


def test_the_parser_uses_the_shipped_tables() -> None:
    # \d is Unicode's decimal numbers; (?i)k folds to the Kelvin sign
    assert perl_digit()[:2] == ((0x30, 0x39), (0x660, 0x669))
    assert any(lo <= 0xE9 <= hi for lo, hi in perl_word())
    assert cs_case_fold(((0x6B, 0x6B),)) == ((0x4B, 0x4B), (0x6B, 0x6B), (0x212A, 0x212A))
    assert parse_to_hir("(?i)k") == HClass(((0x4B, 0x4B), (0x6B, 0x6B), (0x212A, 0x212A)))
    assert parse_to_hir(r"\d") == HClass(_decode_ranges(SETS["digit"]))
    assert regex.fullmatch(r"\d", "\u0669")  # the regex package agrees on one
