"""The data formats behind kumo.serde: JSON (exact), TOML and YAML."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kumopy._kumo.formats import (
    TOML_DATETIME_KEY,
    FormatError,
    _strip_comments,
    encode_json,
    encode_toml,
    encode_yaml,
    load_json,
    load_toml,
    load_yaml,
    parse_json,
    parse_toml,
    parse_yaml,
    strip_json_comments,
)


def json_error(text: str) -> str:
    with pytest.raises(FormatError) as info:
        parse_json(text)
    message = str(info.value)
    prefix = f"parsing {text} as json: "
    assert message.startswith(prefix)
    return message[len(prefix) :]


# ---------------------------------------------------------------------------
# Comment stripping (json_comments 0.2.2)
# ---------------------------------------------------------------------------


def reference_strip(data: bytes) -> bytes | None:
    """Straightforward byte-at-a-time model of json_comments; None: invalid data."""
    out, _ = reference_strip_with_failure(data)
    return out


def reference_strip_with_failure(data: bytes) -> tuple[bytes | None, int | None]:
    """The model's output and the index of the byte it fails on (len: at the end)."""
    out = bytearray()
    state = "top"
    for index, byte in enumerate(data):
        char, blank = chr(byte), False
        if state == "top":
            if char == '"':
                state = "string"
            elif char in "/#":
                state, blank = ("slash" if char == "/" else "line"), True
        elif state == "string":
            state = {'"': "top", "\\": "escape"}.get(char, "string")
        elif state == "escape":
            state = "string"
        elif state == "slash":
            if char not in "*/":
                return None, index
            state, blank = ("block" if char == "*" else "line"), True
        elif state in ("block", "star"):
            state = "top" if state == "star" and char == "/" else "star" if char == "*" else "block"
            blank = True
        elif char == "\n":
            state = "top"
        else:
            blank = True
        out.append(0x20 if blank else byte)
    if state in ("top", "line"):
        return bytes(out), None
    return None, len(data)


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ('{"a": 1} // note', '{"a": 1}        '),
        ('{"a": 1} # note\n', '{"a": 1}       \n'),
        ('{/* c */"a": 1}', '{       "a": 1}'),
        ("/** C **/ 1", "          1"),
        ("/* a*b */1", "         1"),
        ("/* x\ny */1", "         1"),  # newlines inside block comments go too
        ('"// not a comment"', '"// not a comment"'),
        ('"a \\" // still string" // gone', '"a \\" // still string"        '),
        ('"\\\\" # gone', '"\\\\"       '),
        ("1 // é", "1      "),  # é is two bytes, hence two spaces
        ("//", "  "),
        ("#", " "),
        ("", ""),
    ],
)
def test_strip_json_comments(text: str, stripped: str) -> None:
    assert strip_json_comments(text) == stripped


@pytest.mark.parametrize(
    "text",
    ["1 / 2", "/", "1 /", "/* open", "/* open *", '"open', '"open\\', '"a" / '],
)
def test_strip_json_comments_invalid_data(text: str) -> None:
    with pytest.raises(FormatError, match=r"^invalid data$"):
        strip_json_comments(text)


JSONISH = st.text(alphabet='"/*#\\\nab é{}', max_size=40)


@given(JSONISH)
def test_strip_matches_byte_model(text: str) -> None:
    expected = reference_strip(text.encode("utf-8"))
    if expected is None:
        with pytest.raises(FormatError):
            strip_json_comments(text)
    else:
        assert strip_json_comments(text).encode("utf-8", "surrogateescape") == expected


@given(JSONISH)
def test_strip_failure_position_matches_byte_model(text: str) -> None:
    raw = text.encode("utf-8")
    _, expected = reference_strip_with_failure(raw)
    _, failure = _strip_comments(raw)
    assert (failure.index if failure else None) == expected


@given(JSONISH)
def test_strip_keeps_byte_length(text: str) -> None:
    try:
        stripped = strip_json_comments(text)
    except FormatError:
        return
    raw, out = text.encode(), stripped.encode("utf-8", "surrogateescape")
    assert len(raw) == len(out)
    # only comment bytes change, and only into spaces
    assert all(a == b or b == 0x20 for a, b in zip(raw, out, strict=True))


@given(st.lists(st.text(), max_size=5))
def test_comments_never_touch_strings(strings: list[str]) -> None:
    lines = [
        f"/* {i} */ {encode_json(s)}{',' if i < len(strings) - 1 else ''} // {s!r}"
        for i, s in enumerate(strings)
    ]
    doc = "# list\n[\n" + "\n".join(lines) + "\n] # end"
    assert parse_json(doc) == strings


# ---------------------------------------------------------------------------
# JSON parsing (serde_json from_reader)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("null", None),
        ("true", True),
        ("false", False),
        ("0", 0),
        ("-12", -12),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1E+2", 100.0),
        ("2.5e-3", 0.0025),
        ('"hi"', "hi"),
        ('"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t'),
        ('"\\u00e9\\u20AC"', "é€"),
        ('"\\ud83d\\ude00"', "😀"),
        ('"é"', "é"),
        ("[]", []),
        ("{}", {}),
        ("[1, [2, {}], null]", [1, [2, {}], None]),
        (' \t\r\n{"a" : [ 1 , 2 ] }\n', {"a": [1, 2]}),
        ('{"a": 1, "a": 2}', {"a": 2}),
        ("18446744073709551615", 18446744073709551615),
        ("18446744073709551616", 1.8446744073709552e19),
        ("-9223372036854775808", -9223372036854775808),
        ("-9223372036854775809", -9.223372036854776e18),
        ("1e-400", 0.0),
        ("1e-99999999999", 0.0),
        ("0e99999999999", 0.0),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("// lead\n[1, /* mid */ 2] # tail", [1, 2]),
    ],
)
def test_parse_json_values(text: str, value: object) -> None:
    result = parse_json(text)
    assert result == value
    assert type(result) is type(value)


def test_integer_and_float_types() -> None:
    values = parse_json("[1, 1.0, -1, 1e0]")
    assert isinstance(values, list)
    assert values == [1, 1.0, -1, 1.0]
    assert [type(v) for v in values] == [int, float, int, float]


def test_negative_zero_is_a_float() -> None:
    value = parse_json("-0")
    assert isinstance(value, float)
    assert math.copysign(1.0, value) == -1.0


def test_float_conversion_matches_serde_json_not_correct_rounding() -> None:
    # serde_json (without float_roundtrip) divides by an inexact 1e28.
    assert parse_json("51439729815e-28") == 5.1439729815000006e-18
    assert float("51439729815e-28") == 5.1439729815e-18


def test_object_keys_come_back_sorted() -> None:
    value = parse_json('{"b": 1, "a": 2, "c": {"z": 0, "y": 1}}')
    assert isinstance(value, dict)
    assert list(value) == ["a", "b", "c"]
    assert list(value["c"]) == ["y", "z"]


def test_recursion_limit() -> None:
    assert parse_json("[" * 127 + "]" * 127) is not None
    assert json_error("[" * 128 + "]" * 128) == "recursion limit exceeded at line 1 column 128"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "EOF while parsing a value at line 1 column 0"),
        ("   ", "EOF while parsing a value at line 1 column 3"),
        ("x", "expected value at line 1 column 1"),
        ("[1,]", "trailing comma at line 1 column 4"),
        ('{"a": 1,}', "trailing comma at line 1 column 9"),
        ("[1 2]", "expected `,` or `]` at line 1 column 4"),
        ('{"a": 1 "b": 2}', "expected `,` or `}` at line 1 column 9"),
        ('{"a" 1}', "expected `:` at line 1 column 6"),
        ("{1: 2}", "key must be a string at line 1 column 2"),
        ('{"a": 1, 2: 3}', "key must be a string at line 1 column 10"),
        ("{'a': 1}", "key must be a string at line 1 column 2"),
        ("[1", "EOF while parsing a list at line 1 column 2"),
        ('{"a": 1', "EOF while parsing an object at line 1 column 7"),
        ('{"a"', "EOF while parsing an object at line 1 column 4"),
        ("[1,", "EOF while parsing a value at line 1 column 3"),
        ("tru", "EOF while parsing a value at line 1 column 3"),
        ("trux", "expected ident at line 1 column 4"),
        ("NaN", "expected value at line 1 column 1"),
        ("Infinity", "expected value at line 1 column 1"),
        ("-Infinity", "invalid number at line 1 column 2"),
        ("-", "EOF while parsing a value at line 1 column 1"),
        ("01", "invalid number at line 1 column 2"),
        ("+1", "expected value at line 1 column 1"),
        (".5", "expected value at line 1 column 1"),
        ("1.", "EOF while parsing a value at line 1 column 2"),
        ("1.e5", "invalid number at line 1 column 3"),
        ("1e", "EOF while parsing a value at line 1 column 2"),
        ("1e+", "EOF while parsing a value at line 1 column 3"),
        ("1ex", "invalid number at line 1 column 3"),
        ("1e400", "number out of range at line 1 column 5"),
        ("[1e400]", "number out of range at line 1 column 7"),
        ("1e99999999999", "number out of range at line 1 column 12"),
        ("1 2", "trailing characters at line 1 column 3"),
        ('{"a": 1}x', "trailing characters at line 1 column 9"),
        (
            '"a\tb"',
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
        ),
        ('"\\q"', "invalid escape at line 1 column 3"),
        ('"\\u12G4"', "invalid escape at line 1 column 7"),
        ('"\\udc00"', "lone leading surrogate in hex escape at line 1 column 7"),
        ('"\\ud800"', "unexpected end of hex escape at line 1 column 8"),
        ('"\\ud800\\n"', "unexpected end of hex escape at line 1 column 9"),
        ('"\\ud800\\u0041"', "lone leading surrogate in hex escape at line 1 column 13"),
        ("\ufeff{}", "expected value at line 1 column 1"),
    ],
)
def test_parse_json_errors(text: str, message: str) -> None:
    assert json_error(text) == message


def test_positions_count_lines_and_bytes() -> None:
    assert json_error('{\n  "a": 1,\n  "b": ]\n}') == "expected value at line 3 column 8"
    assert json_error('"é" x') == "trailing characters at line 1 column 6"  # columns are bytes
    assert json_error("[1,\r\n x]") == "expected value at line 2 column 2"
    assert json_error("[\n") == "EOF while parsing a list at line 2 column 0"


def test_positions_after_comments() -> None:
    # line comments keep their newline ...
    assert json_error("// one\n// two\nx") == "expected value at line 3 column 1"
    # ... but kumod blanks the newlines of block comments, so lines shift
    assert json_error("/* one\ntwo */ x") == "expected value at line 1 column 15"


def test_invalid_utf8_inside_strings() -> None:
    text = b'["ok", "\xff"]'.decode("utf-8", "surrogateescape")
    # reported once the closing quote has been read
    assert json_error(text) == "invalid unicode code point at line 1 column 10"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # At the top level the stripper's I/O error carries no position ...
        ('"open', "invalid data"),
        ("1 / 2", "invalid data"),
        ('{"a": 1} /* open', "invalid data"),
        ("[1] /", "invalid data"),
        # ... inside arrays and objects serde_json adds one after reading on.
        ('[1, "open', "invalid data at line 1 column 9"),
        ("[1, /x]", "invalid data at line 1 column 5"),
        ("[1, /x/]", "invalid data at line 1 column 7"),  # "/]" read as a line comment
        ('{"a": 1 / 2}', "invalid data at line 1 column 9"),
        ('[{"a": /x}]', "invalid data at line 1 column 8"),
    ],
)
def test_comment_stripper_failures(text: str, message: str) -> None:
    assert json_error(text) == message


def test_parse_json_source_and_truncation() -> None:
    with pytest.raises(FormatError) as info:
        parse_json("[", source="/etc/rules.json")
    assert (
        str(info.value)
        == "parsing /etc/rules.json as json: EOF while parsing a list at line 1 column 1"
    )

    long_text = "[" + "1," * 2000 + "]"
    with pytest.raises(FormatError) as info:
        parse_json(long_text)
    message = str(info.value)
    assert message.startswith("parsing [1,1,")
    assert "… as json: trailing comma at line 1 column 4002" in message
    assert len(message) < 2100


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('// rules\n{"4.2.2": "mailbox full"} # done\n')
    assert load_json(str(path)) == {"4.2.2": "mailbox full"}

    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(FormatError) as info:
        load_json(str(path))
    assert (
        str(info.value) == f"parsing {path} as json: invalid unicode code point at line 1 column 9"
    )


def test_load_json_read_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(FormatError) as info:
        load_json(str(missing))
    assert str(info.value) == f"reading file {missing}: No such file or directory (os error 2)"
    with pytest.raises(FormatError) as info:
        load_json(str(tmp_path))
    assert str(info.value) == f"reading file {tmp_path}: Is a directory (os error 21)"


# ---------------------------------------------------------------------------
# JSON encoding (mlua + serde_json)
# ---------------------------------------------------------------------------


def test_encode_json_compact() -> None:
    assert encode_json({"a": 1, "b": [1, 2]}) == '{"a":1,"b":[1,2]}'
    assert encode_json({"b": 1, "a": 2}) == '{"b":1,"a":2}'  # caller's order
    assert encode_json({}) == "{}"
    assert encode_json([]) == "[]"
    assert encode_json(None) == "null"
    assert encode_json([True, False, None]) == "[true,false,null]"
    assert encode_json("x") == '"x"'


def test_encode_json_pretty() -> None:
    value = {"b": [1, {"y": [], "x": {}}], "a": "z"}
    assert encode_json(value, pretty=True) == (
        '{\n  "a": "z",\n  "b": [\n    1,\n    {\n      "x": {},\n      "y": []\n    }\n  ]\n}'
    )
    assert encode_json([], pretty=True) == "[]"
    assert encode_json({}, pretty=True) == "{}"
    assert encode_json(5, pretty=True) == "5"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (43210.0, "43210.0"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (-5942736479622170.0, "-5942736479622170.0"),
        (5.444310685350916e14, "544431068535091.6"),
        (1e-5, "0.00001"),
        (1.5e-5, "0.000015"),
        (1e-6, "1e-6"),
        (2.9802322387695312e-08, "2.9802322387695312e-8"),
        (6.62607015e-34, "6.62607015e-34"),
        (3.439070283483335e35, "3.439070283483335e+35"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (math.nan, "null"),
        (math.inf, "null"),
        (-math.inf, "null"),
        (7, "7"),
        (-(2**63), "-9223372036854775808"),
    ],
)
def test_encode_json_numbers(value: float, text: str) -> None:
    assert encode_json(value) == text


def test_encode_json_string_escapes() -> None:
    assert encode_json('"\\/\b\f\n\r\t\x00\x1f\x7fé€😀') == (
        '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7fé€😀"'
    )


def test_encode_json_non_utf8_strings_become_byte_arrays() -> None:
    raw = b"a\xff".decode("utf-8", "surrogateescape")
    assert encode_json(raw) == "[97,255]"
    assert encode_json({"k": raw}, pretty=True) == '{\n  "k": [\n    97,\n    255\n  ]\n}'
    assert encode_json(b"ok") == '"ok"'
    assert encode_json(b"\xfe") == "[254]"


def test_encode_json_keys() -> None:
    assert encode_json({1: "a", "2": "b"}) == '{"1":"a","2":"b"}'
    assert encode_json({True: 1}) == '{"true":1}'
    assert encode_json({1.5: 1, 2.0: 2}) == '{"1.5":1,"2":2}'
    assert encode_json({1e20: 0}) == '{"1e+20":0}'
    # duplicates after conversion: compact keeps both, pretty keeps the last
    assert encode_json({1: "int", "1": "str"}) == '{"1":"int","1":"str"}'
    assert encode_json({1: "int", "1": "str"}, pretty=True) == '{\n  "1": "str"\n}'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({math.nan: 1}, "float key must be finite (got NaN or +/-inf)"),
        ({math.inf: 1}, "float key must be finite (got NaN or +/-inf)"),
        ({b"\xff".decode("utf-8", "surrogateescape"): 1}, "key must be a string"),
        ({None: 1}, "key must be a string"),
        (print, "cannot serialize <function>"),
        ([object()], "cannot serialize <userdata>"),
    ],
)
def test_encode_json_errors(value: object, message: str) -> None:
    for pretty in (False, True):
        with pytest.raises(FormatError) as info:
            encode_json(value, pretty=pretty)
        assert str(info.value) == message


def test_encode_json_refuses_cycles() -> None:
    table: dict[str, object] = {}
    table["self"] = table
    with pytest.raises(FormatError, match="^recursive table detected$"):
        encode_json(table)
    shared = [1]
    assert encode_json([shared, shared]) == "[[1],[1]]"


JSON_FLOATS = st.integers(min_value=-(10**14), max_value=10**14).map(lambda n: n / 1000)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | JSON_FLOATS | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES, st.booleans())
def test_json_round_trip(value: object, pretty: bool) -> None:
    text = encode_json(value, pretty=pretty)
    assert parse_json(text) == value


@given(JSON_VALUES)
def test_pretty_and_compact_agree(value: object) -> None:
    assert parse_json(encode_json(value, pretty=True)) == parse_json(encode_json(value))


# ---------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------


def test_parse_toml() -> None:
    doc = """
title = "x"
ports = [25, 587]
ratio = 0.5
on = true

[owner]
name = "Tom"

[[source]]
ip = "10.0.0.1"
[[source]]
ip = "10.0.0.2"
"""
    assert parse_toml(doc) == {
        "title": "x",
        "ports": [25, 587],
        "ratio": 0.5,
        "on": True,
        "owner": {"name": "Tom"},
        "source": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
    }


def test_parse_toml_special_floats() -> None:
    value = parse_toml("a = inf\nb = -inf\nc = nan")
    assert isinstance(value, dict)
    assert value["a"] == math.inf and value["b"] == -math.inf and math.isnan(value["c"])


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("1979-05-27T07:32:00Z", "1979-05-27T07:32:00Z"),
        ("1979-05-27T00:32:00.5-07:00", "1979-05-27T00:32:00.5-07:00"),
        ("1979-05-27 07:32:00+05:30", "1979-05-27T07:32:00+05:30"),
        ("1979-05-27T07:32:00", "1979-05-27T07:32:00"),
        ("1979-05-27", "1979-05-27"),
        ("07:32:00", "07:32:00"),
        ("00:32:00.999999", "00:32:00.999999"),
    ],
)
def test_parse_toml_datetimes_as_mlua_sees_them(literal: str, text: str) -> None:
    assert parse_toml(f"when = {literal}") == {"when": {TOML_DATETIME_KEY: text}}


def test_parse_toml_error_layout() -> None:
    with pytest.raises(FormatError) as info:
        parse_toml("a = 1\nb = ")
    assert str(info.value) == (
        "parsing a = 1\nb =  as toml: TOML parse error at line 2, column 5\n"
        "  |\n2 | b = \n  |     ^\nstring values must be quoted, expected literal string\n"
    )
    with pytest.raises(FormatError) as info:
        parse_toml("[a\n", source="x.toml")
    assert str(info.value).startswith(
        "parsing x.toml as toml: TOML parse error at line 1, column 3\n"
    )


def test_parse_toml_integer_overflow() -> None:
    with pytest.raises(FormatError) as info:
        parse_toml("[t]\nbig = 9223372036854775808")
    assert str(info.value).endswith("as toml: integer number overflowed\nin `t.big`\n")


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('k = "v"\n')
    assert load_toml(str(path)) == {"k": "v"}
    path.write_bytes(b'k = "\xff"\n')
    with pytest.raises(FormatError) as info:
        load_toml(str(path))
    assert str(info.value) == f"reading file {path}: stream did not contain valid UTF-8"
    with pytest.raises(FormatError, match="^reading file .*: No such file or directory"):
        load_toml(str(tmp_path / "nope.toml"))


def test_encode_toml_document() -> None:
    value = {
        "name": "x",
        "owner": {"name": "Tom", "db": {"port": 5432}},
        "ports": [25, 587],
        "hosts": [{"h": "a"}, {"h": "b"}],
        "empty": {},
        "only_tables": {"inner": {"k": 1}},
        "gone": None,
        "ratio": 0.5,
    }
    assert encode_toml(value) == (
        'name = "x"\nports = [25, 587]\nratio = 0.5\n'
        '\n[owner]\nname = "Tom"\n'
        "\n[owner.db]\nport = 5432\n"
        '\n[[hosts]]\nh = "a"\n'
        '\n[[hosts]]\nh = "b"\n'
        "\n[empty]\n"
        "\n[only_tables.inner]\nk = 1\n"
    )


def test_encode_toml_pretty_arrays() -> None:
    assert encode_toml({"a": [1, 2], "b": [3], "c": []}, pretty=True) == (
        "a = [\n    1,\n    2,\n]\nb = [3]\nc = []\n"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (1e20, "100000000000000000000.0"),
        (1e-7, "0.0000001"),
        (-0.0, "-0.0"),
        (math.nan, "nan"),
        (-math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (True, "true"),
        (-3, "-3"),
        ("plain", '"plain"'),
        ('say "hi"', "'say \"hi\"'"),
        ("it's", '"it\'s"'),
        ("back\\slash", "'back\\slash'"),
        ("tab\there", '"tab\\there"'),
        ("bell\x07", '"bell\\u0007"'),
        ("two\nlines", '"""\ntwo\nlines"""'),
        ("a\"b'c", '"""a"b\'c"""'),
        ({"x": 1, "y": None, "z": [1]}, "{ x = 1, z = [1] }"),
        ({}, "{}"),
        ([[1, 2], {"a": 1}], "[[1, 2], { a = 1 }]"),
        (b"\xff\x01".decode("utf-8", "surrogateescape"), "[255, 1]"),
    ],
)
def test_encode_toml_values(value: object, text: str) -> None:
    assert encode_toml({"v": [value, 0]}) == f"v = [{text}, 0]\n"


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("bare-key_1", "bare-key_1"),
        ("with space", '"with space"'),
        ("", '""'),
        ('q"uote', "'q\"uote'"),
        ("both'\"", '"both\'\\""'),
        (7, "7"),
        (True, "true"),
    ],
)
def test_encode_toml_keys(key: object, text: str) -> None:
    assert encode_toml({key: 1}) == f"{text} = 1\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1, "unsupported i64 type"),
        (1.5, "unsupported f64 type"),
        ("x", "unsupported str type"),
        (True, "unsupported bool type"),
        ([1], "unsupported array type"),
        (None, "unsupported unit type"),
        ({"a": [1, None]}, "unsupported unit type"),
        ({1.5: 1}, "map key was not a string"),
        ({"f": print}, "cannot serialize <function>"),
        (print, "cannot serialize <function>"),
        (b"\xff".decode("utf-8", "surrogateescape"), "unsupported bytes type"),
    ],
)
def test_encode_toml_errors(value: object, message: str) -> None:
    with pytest.raises(FormatError) as info:
        encode_toml(value)
    assert str(info.value) == message


TOML_KEYS = st.text(min_size=1, max_size=6)
TOML_SCALARS = st.booleans() | st.integers(-(2**63), 2**63 - 1) | JSON_FLOATS | st.text(max_size=12)
TOML_TABLES = st.recursive(
    st.dictionaries(TOML_KEYS, TOML_SCALARS | st.lists(TOML_SCALARS, max_size=3), max_size=4),
    lambda inner: st.dictionaries(
        TOML_KEYS, inner | st.lists(inner, min_size=1, max_size=2), max_size=3
    ),
    max_leaves=12,
)


@given(TOML_TABLES, st.booleans())
def test_toml_round_trip(value: dict[str, object], pretty: bool) -> None:
    assert parse_toml(encode_toml(value, pretty=pretty)) == value


# ---------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("", None),
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("true", True),
        ("False", False),
        ("yes", "yes"),
        ("on", "on"),
        ("12", 12),
        ("+12", 12),
        ("-12", -12),
        ("-0", 0),
        ("0x1F", 31),
        ("-0x10", -16),
        ("0o17", 15),
        ("0b101", 5),
        ("0755", "0755"),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("18446744073709551615", 18446744073709551615),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        (".inf", None),
        ("-.inf", None),
        (".nan", None),
        ("inf", "inf"),
        ("nan", "nan"),
        ("1e400", "1e400"),
        ("2001-12-14", "2001-12-14"),
        ("'12'", "12"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!int '42'", 42),
        ("!!float '1'", 1.0),
        ("!!bool 'true'", True),
    ],
)
def test_parse_yaml_scalars(scalar: str, value: object) -> None:
    result = parse_yaml(f"v: {scalar}")
    assert result == {"v": value}
    assert isinstance(result, dict)
    assert type(result["v"]) is type(value)


def test_parse_yaml_structure() -> None:
    doc = """
b: [1, 2]
a:
  - x: 1
  - y
1: one
true: t
~: n
base: &base {k: v}
copy: *base
<<: *base
"""
    value = parse_yaml(doc)
    assert value == {
        "1": "one",
        "<<": {"k": "v"},
        "a": [{"x": 1}, "y"],
        "b": [1, 2],
        "base": {"k": "v"},
        "copy": {"k": "v"},
        "true": "t",
        "~": "n",
    }
    assert isinstance(value, dict)
    assert list(value) == sorted(value)


def test_parse_yaml_anchors_and_aliases() -> None:
    # anchors may be redefined; an alias sees the latest definition
    assert parse_yaml("a: &x 1\nb: &x 2\nc: *x") == {"a": 1, "b": 2, "c": 2}
    with pytest.raises(FormatError, match=r"recursion limit exceeded at line 1 column 4$"):
        parse_yaml("a: &r [*r]")
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*{chr(96 + level)}"] * 10)
        laughs.append(f"{chr(97 + level)}: &{chr(97 + level)} [{refs}]")
    with pytest.raises(FormatError, match=r"as yaml: repetition limit exceeded$"):
        parse_yaml("\n".join(laughs))


def test_parse_yaml_empty_document() -> None:
    assert parse_yaml("") is None
    assert parse_yaml("# only a comment\n") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !foo x", "a: invalid type: enum, expected any valid JSON value at line 1 column 4"),
        ("x: !!int abc", 'x: invalid value: string "abc", expected an integer at line 1 column 4'),
        (
            "- a\n- !!bool maybe",
            '.[1]: invalid value: string "maybe", expected a boolean at line 2 column 3',
        ),
        ("a:\n  b: !!null x", 'a.b: invalid value: string "x", expected null at line 2 column 6'),
        ("v: 99999999999999999999999", "v: JSON number out of range at line 1 column 4"),
        ("{[1]: 2}", "invalid type: sequence, expected a string key at line 1 column 2"),
        ("a\n---\nb", "deserializing from YAML containing more than one document is not supported"),
        ("a: *nope", "unknown anchor at line 1 column 4"),
        ("a: b: c", "mapping values are not allowed in this context at line 1 column 5"),
        (
            "[1, 2",
            "did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence",
        ),
        (
            "a:\n  - b\n c: d",
            "did not find expected key at line 3 column 2, while parsing a block mapping",
        ),
        ("x: \x01", "control characters are not allowed at position 3"),
        ("! x", "invalid type: enum, expected any valid JSON value"),
        ("a\n---\n[", "deserializing from YAML containing more than one document is not supported"),
        ("*x", "unknown anchor"),
        (
            "a: &k [1]\n*k : 2",
            "invalid type: sequence, expected a string key at line 1 column 4",
        ),
    ],
)
def test_parse_yaml_errors(text: str, message: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_yaml(text)
    assert str(info.value) == f"parsing {text} as yaml: {message}"


def test_parse_yaml_recursion_limit() -> None:
    assert parse_yaml("[" * 128 + "]" * 128) is not None
    with pytest.raises(FormatError, match=r"recursion limit exceeded at line 1 column 129$"):
        parse_yaml("[" * 129 + "]" * 129)


def test_parse_yaml_invalid_utf8() -> None:
    text = b"a: \xff".decode("utf-8", "surrogateescape")
    with pytest.raises(FormatError) as info:
        parse_yaml(text, source="f.yaml")
    assert str(info.value) == "parsing f.yaml as yaml: invalid leading UTF-8 octet at position 3"


def test_load_yaml(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("k: [1, two]\n")
    assert load_yaml(str(path)) == {"k": [1, "two"]}
    with pytest.raises(FormatError, match=re.escape(f"reading file {tmp_path / 'x'}: ")):
        load_yaml(str(tmp_path / "x"))


def test_encode_yaml() -> None:
    value = {"b": [1, "x", {"c": None}], "a": {"n": 1.0}, "e": {}, "l": []}
    assert encode_yaml(value) == "b:\n- 1\n- x\n- c: null\na:\n  n: 1.0\ne: {}\nl: []\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5, "5\n"),
        ("x", "x\n"),
        (None, "null\n"),
        (True, "true\n"),
        (1e16, "1e16\n"),
        (1.5e-7, "1.5e-7\n"),
        (math.nan, ".nan\n"),
        (-math.inf, "-.inf\n"),
        ("true", "'true'\n"),
        ("12", "'12'\n"),
        ("007", "'007'\n"),
        ("", "''\n"),
        ("~", "'~'\n"),
        ("yes", "yes\n"),
        ("a: b", "'a: b'\n"),
        ("two\nlines", "|-\n  two\n  lines\n"),
        ("é", "é\n"),
        ([], "[]\n"),
        ({}, "{}\n"),
    ],
)
def test_encode_yaml_scalars(value: object, text: str) -> None:
    assert encode_yaml(value) == text


def test_encode_yaml_errors() -> None:
    with pytest.raises(FormatError) as info:
        encode_yaml({"k": b"\xff".decode("utf-8", "surrogateescape")})
    assert str(info.value) == (
        "serialization and deserialization of bytes in YAML is not implemented"
    )
    with pytest.raises(FormatError, match="cannot serialize <function>"):
        encode_yaml([print])


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | JSON_FLOATS | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(YAML_VALUES)
def test_yaml_round_trip(value: object) -> None:
    assert parse_yaml(encode_yaml(value)) == value
