"""kumo.json_* / kumo.serde.* as a policy sees them (data mapping to Lua)."""

from __future__ import annotations

import pytest

from kumopy import PolicyError


@pytest.fixture
def p(load, write, tmp_path):
    write(
        "data.json",
        """
        // rules with comments, as kumod accepts
        {
          "int": 1, "float": 1.0, "null": null, /* gone */ "list": [1, null, 3],
          "empty": [], "obj": {"1": "string key"}, # hash comment
          "text": "a // not a comment"
        }
        """,
    )
    write("data.toml", 'name = "x"\nlist = [1, 2]\n[table]\nk = true\n')
    write("data.yaml", "name: x\nlist: [1, 2]\nnothing: null\n")
    write("bad.json", '{\n  "a": 1,\n  "b": [1, 2,]\n}\n')
    return load(
        f"""
        local dir = '{tmp_path}/'
        kumo.on('json', function()
          local d = kumo.json_load(dir .. 'data.json')
          return math.type(d.int), math.type(d.float), d.null == nil, #d.list, d.list[2],
                 d.list[3], getmetatable(d.list), getmetatable(d.empty), d.obj['1'], d.obj[1],
                 d.text
        end)
        kumo.on('same_function', function()
          return rawequal(kumo.json_load, kumo.serde.json_load) or
                 (kumo.json_load(dir .. 'data.json').int == kumo.serde.json_load(dir .. 'data.json').int)
        end)
        kumo.on('protected', function()
          local d = kumo.json_parse('[1, 2]')
          return pcall(setmetatable, d, {{}})
        end)
        kumo.on('encode', function(v) return kumo.json_encode(v) end)
        kumo.on('encode_lua', function()
          return kumo.json_encode({{}}), kumo.json_encode(kumo.json_parse('[]')),
                 kumo.json_encode({{1, 2, 3}}), kumo.json_encode({{a = 1.0}}),
                 kumo.serde.json_encode_pretty({{b = 1, a = {{x = true}}}})
        end)
        kumo.on('encode_function', function() return kumo.json_encode({{f = print}}) end)
        kumo.on('toml', function()
          local d = kumo.toml_load(dir .. 'data.toml')
          local e = kumo.serde.toml_parse('a = 1')
          return d.name, #d.list, d.table.k, getmetatable(d.list), e.a
        end)
        kumo.on('yaml', function()
          local d = kumo.serde.yaml_load(dir .. 'data.yaml')
          return d.name, d.list[2], d.nothing
        end)
        kumo.on('bad', function()
          local d = kumo.json_load(dir .. 'bad.json')
          return d
        end)
        kumo.on('parse_error', function()
          local ok, err = pcall(kumo.json_parse, '{{"a": }}')
          return err
        end)
        """
    )


def test_json_load_maps_values_like_kumod(p):
    assert p.dispatch("json").values == (
        "integer", "float", True, 3, None, 3, False, False, "string key", None,
        "a // not a comment",
    )


def test_json_and_serde_json_are_the_same_function(p):
    assert p.call("same_function") is True


def test_json_arrays_have_a_protected_metatable(p):
    ok, err = p.dispatch("protected").values
    assert ok is False and "cannot change a protected metatable" in err


def test_json_encode_from_python_values(p):
    assert p.call("encode", {"a": [1, 2]}) == '{"a":[1,2]}'


def test_json_encode_rules(p):
    assert p.dispatch("encode_lua").values == (
        "{}",
        "{}",
        "[1,2,3]",
        '{"a":1.0}',
        '{\n  "a": {\n    "x": true\n  },\n  "b": 1\n}',
    )


def test_json_encode_refuses_functions(p):
    with pytest.raises(PolicyError, match="cannot serialize"):
        p.call("encode_function")


def test_toml_and_yaml(p):
    assert p.dispatch("toml").values == ("x", 2, True, False, 1)
    assert p.dispatch("yaml").values == ("x", 2, None)


def test_json_syntax_error_names_file_line_and_column(p, tmp_path):
    with pytest.raises(PolicyError) as info:
        p.call("bad")
    msg = str(info.value)
    assert f"parsing {tmp_path}/bad.json as json: " in msg
    assert "line 3 column" in msg
    source = (tmp_path / "init.lua").read_text().splitlines()
    assert "kumo.json_load(dir .. 'bad.json')" in source[info.value.line - 1]


def test_json_parse_error_embeds_the_text(p):
    err = p.call("parse_error")
    assert err.startswith("[") or "parsing" in err
    assert 'parsing {"a": } as json: ' in err
