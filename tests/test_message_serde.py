"""serde's texts for the request structs `_message/` reads (the HTTP
injection request, trace headers): the same `Unexpected` wording as
kumopy/_kumo/_schema.py, which uses this one."""

from __future__ import annotations

import pytest

from kumopy._kumo._schema import NULL
from kumopy._kumo._schema import unexpected as schema_unexpected
from kumopy._message._inject import InjectError, InjectRequest
from kumopy._message._serde import SerdeError, fields, one_of, unexpected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "unit value"),
        (True, "boolean `true`"),
        (7, "integer `7`"),
        (2.0, "floating point `2.0`"),
        (float("inf"), "floating point `inf`"),
        (float("nan"), "floating point `NaN`"),
        ('say "hi"\n', 'string "say \\"hi\\"\\n"'),
        ([1], "sequence"),
        ({"a": 1}, "map"),
    ],
)
def test_unexpected_is_serdes_text(value: object, text: str) -> None:
    assert unexpected(value) == text == schema_unexpected(value)


def test_schema_adds_the_option_value() -> None:
    assert schema_unexpected(NULL) == "Option value"


def test_inject_request_errors_are_serde_errors() -> None:
    assert InjectError is SerdeError
    with pytest.raises(SerdeError, match='invalid type: string "a\\\\"b", expected a sequence'):
        InjectRequest.parse({"envelope_sender": "s@x", "recipients": 'a"b', "content": "c"})
    with pytest.raises(SerdeError, match="missing field `content`"):
        InjectRequest.parse({"envelope_sender": "s@x", "recipients": []})


def test_one_of_is_serdes_text() -> None:
    assert one_of(()) == "there are no fields"
    assert one_of(("a",)) == "`a`"
    assert one_of(("a", "b")) == "`a` or `b`"
    assert one_of(("a", "b", "c")) == "one of `a`, `b`, `c`"
    with pytest.raises(SerdeError, match="^unknown field `x`, expected `only`$"):
        fields({"x": 1}, "S", ("only",), ())
