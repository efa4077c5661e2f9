"""regex-syntax's HIR properties (kumopy/_regex/_hir.py): length bounds in
bytes and the assertions every match begins or ends with."""

from __future__ import annotations

import pytest

from kumopy._regex._hir import hir_look_prefix, hir_look_suffix, hir_max_len, hir_min_len
from kumopy._regex.syntax import parse_to_hir


@pytest.mark.parametrize(
    ("pattern", "least", "most"),
    [
        ("abc", 3, 3),
        ("é", 2, 2),
        ("[a-é]", 1, 2),
        ("(?:ab){2,5}", 4, 10),
        ("a+", 1, None),
        ("x|yy|", 0, 2),
        (r"\b", 0, 0),
        ("a(b|cd)e?", 2, 4),
        ("a[^\x00-\U0010ffff]", None, None),
    ],
)
def test_length_bounds(pattern: str, least: int | None, most: int | None) -> None:
    hir = parse_to_hir(pattern)
    assert (hir_min_len(hir), hir_max_len(hir)) == (least, most)


def test_look_sets() -> None:
    hir = parse_to_hir(r"^\ba$")
    assert hir_look_prefix(hir) == {"start", "word_unicode"}
    assert hir_look_suffix(hir) == {"end"}
    either = parse_to_hir(r"^a|^b\z")
    assert hir_look_prefix(either) == {"start"} and hir_look_suffix(either) == frozenset()
    assert hir_look_prefix(parse_to_hir("(?:^a)*")) == frozenset()
