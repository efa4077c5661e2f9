"""The Lua state looks like a kumod state to the policy."""

from __future__ import annotations

import re

import pytest

from kumopy import Policy, PolicyError


def test_lua_version_is_5_4(load):
    p = load("kumo.on('v', function() return _VERSION, math.type(1), math.type(1.0), 7 // 2 end)")
    assert p.dispatch("v").values == ("Lua 5.4", "integer", "float", 3)


def test_require_kumo_gives_the_module_table(load):
    p = load(
        """
        local k = require 'kumo'
        k.on('t', function() return rawequal(k, package.loaded.kumo), type(k.on) end)
        """
    )
    assert p.dispatch("t").values == (True, "function")


def test_kumo_functions_are_real_lua_functions(load):
    p = load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function()
          return type(kumo.on), type(kumo.memoize), type(kumo.serde.json_load),
                 type(kumo.json_load), type(kumo.log_info), type(kumo.dns.lookup_mx)
        end)
        """
    )
    assert set(p.dispatch("t").values) == {"function"}


def test_global_kumo_defined_by_default(load):
    p = load("kumo.on('t', function() return type(kumo) end)")
    assert p.call("t") == "table"


def test_strict_mode_has_no_global_kumo(load):
    with pytest.raises(PolicyError, match=r"init\.lua:1: attempt to index a nil value \(global 'kumo'\)"):
        load("kumo.on('t', function() end)", kumod_strict=True)


def test_strict_mode_still_allows_require(load):
    p = load("local kumo = require 'kumo'\nkumo.on('t', function() return kumo_global end)",
             kumod_strict=True)
    assert p.handlers("t")


def test_no_debug_library_and_no_c_modules(load):
    p = load(
        """
        kumo.on('t', function()
          return type(debug), package.loaded.debug, package.cpath, package.loadlib,
                 type(python), #package.searchers
        end)
        """
    )
    assert p.dispatch("t").values == ("nil", None, "", None, "nil", 2)


def test_package_path_share_first_then_policy_dir(load, tmp_path):
    share = tmp_path / "share"
    p = load("kumo.on('t', function() return package.path end)", share_dir=share)
    path = p.call("t")
    parts = path.split(";")
    assert parts[:4] == [
        f"{share}/?.lua",
        f"{share}/?/init.lua",
        f"{tmp_path}/?.lua",
        f"{tmp_path}/?/init.lua",
    ]


def test_default_share_dir_is_opt_kumomta_share(load):
    p = load("kumo.on('t', function() return package.path end)")
    assert p.call("t").startswith("/opt/kumomta/share/?.lua;/opt/kumomta/share/?/init.lua;")


def test_require_finds_modules_in_share_before_policy_dir(load, write, tmp_path):
    write("share/helper.lua", "return {where = 'share'}")
    write("helper.lua", "return {where = 'policy'}")
    write("share/policy-extras/thing.lua", "return {name = 'extras'}")
    p = load(
        """
        local h = require 'helper'
        local t = require 'policy-extras.thing'
        kumo.on('t', function() return h.where, t.name end)
        """,
        share_dir=tmp_path / "share",
    )
    assert p.dispatch("t").values == ("share", "extras")


def test_missing_module_lists_where_it_looked(load):
    with pytest.raises(PolicyError, match="module 'nope' not found") as info:
        load("require 'nope'")
    assert "no file '/opt/kumomta/share/nope.lua'" in info.value.message


def test_errors_name_file_and_line(load):
    p = load(
        """
        kumo.on('t', function()
          local t = nil
          return t.x
        end)
        """
    )
    with pytest.raises(PolicyError) as info:
        p.call("t")
    err = info.value
    assert err.file.endswith("init.lua") and err.line == 3
    assert err.event == "t"
    assert "attempt to index a nil value (local 't')" in str(err)
    assert "in event 't'" in str(err)
    assert "init.lua:3" in err.traceback


def test_syntax_error_in_policy(load):
    with pytest.raises(PolicyError, match=r"init\.lua:2: .*near") as info:
        load("local x = 1\nlocal = 2\n")
    assert info.value.line == 2


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="reading policy file"):
        Policy.load(tmp_path / "missing.lua")


def test_non_string_error_values_are_described(load):
    p = load("kumo.on('t', function() error({code = 421}) end)")
    with pytest.raises(PolicyError, match="table"):
        p.call("t")


def test_non_utf8_strings_cross_the_boundary_intact(load):
    p = load(
        """
        kumo.on('t', function(s)
          kumo.log_info('got', s)
          return s .. '\\xff', #s
        end)
        """
    )
    raw = "550 caf\udce9 bounce"  # a Latin-1 byte, as Python sees it
    result = p.dispatch("t", raw)
    assert result.values == (raw + "\udcff", len(raw))
    # kumo.log_* shows invalid bytes as \\xNN like kumod
    assert p.output[-1].message == "got 550 caf\\xE9 bounce"


def test_non_utf8_return_value_does_not_crash(load):
    p = load("kumo.on('t', function() return '\\xe9t\\xe9' end)")
    assert p.call("t").encode("utf-8", "surrogateescape") == b"\xe9t\xe9"


def test_print_is_captured_with_location(load):
    p = load("print('hello', 1, nil, true)")
    (entry,) = p.output
    assert entry.kind == "print" and entry.message == "hello\t1\tnil\ttrue"
    assert entry.file.endswith("init.lua") and entry.line == 1


def test_print_goes_to_stdout_without_capture(load, capsys):
    load("print('to stdout')", capture_output=False)
    assert capsys.readouterr().out == "to stdout\n"


def test_unsupported_function_raises_naming_it(load):
    p = load(
        """
        kumo.on('t', function()
          local mx = kumo.api.admin.bounce.list()
          return mx
        end)
        """
    )
    with pytest.raises(PolicyError, match=r"init\.lua:2: kumopy: kumo\.api\.admin\.bounce\.list is not supported"):
        p.call("t")


def test_unsupported_function_catchable_with_pcall(load):
    p = load(
        """
        kumo.on('t', function()
          local ok, err = pcall(kumo.api.admin.bounce.list, {})
          return ok, err
        end)
        """
    )
    ok, err = p.dispatch("t").values
    assert ok is False and "kumo.api.admin.bounce.list is not supported" in err


def test_two_policies_are_isolated(load):
    a = load("counter = 0\nkumo.on('t', function() counter = counter + 1 return counter end)")
    b = load("counter = 0\nkumo.on('t', function() counter = counter + 1 return counter end)",
             name="other.lua")
    assert (a.call("t"), a.call("t"), b.call("t")) == (1, 2, 1)


def test_userdata_errors_are_lua_strings_at_the_policy_line(load):
    # A failing userdata operation reports like a failing kumo function: a
    # message with the policy's file and line, never a Python exception
    # object.  (kumod hands pcall an mlua error object whose tostring is the
    # message; kumopy uses strings for both, see docs/getting-started.md.)
    p = load(
        """
        kumo.on('t', function()
          local m = kumo.regex_set_map.new{}
          local ok, err = pcall(function() m.x = 1 end)
          local ok2, err2 = pcall(function() for _ in pairs(kumo.make_egress_source{name='a'}) do end end)
          return {type(err), err, type(err2), err2}
        end)
        """
    )
    kind, err, kind2, err2 = p.call("t")
    assert (kind, kind2) == ("string", "string")
    assert re.search(r"init\.lua:3: attempt to assign to a RegexSetMap", err)
    assert re.search(r"init\.lua:4: ", err2)


def test_share_dir_also_answers_absolute_opt_kumomta_share_paths(tmp_path):
    share = tmp_path / "share"
    (share / "policy-extras").mkdir(parents=True)
    (share / "policy-extras" / "data.json").write_text('{"from": "share"}')
    other = tmp_path / "other.json"
    other.write_text('{"from": "map"}')
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('t', function()\n"
        "  return kumo.serde.json_load('/opt/kumomta/share/policy-extras/data.json')['from']\n"
        "end)\n"
    )
    assert Policy.load(policy, share_dir=share).call("t") == "share"
    # an explicit --map of the same path wins over the share directory
    mapped = Policy.load(
        policy,
        share_dir=share,
        path_map={"/opt/kumomta/share/policy-extras/data.json": other},
    )
    assert mapped.call("t") == "map"
    # without a share directory the path is left alone (and does not exist)
    with pytest.raises(PolicyError, match="/opt/kumomta/share/policy-extras/data.json"):
        Policy.load(policy).call("t")
