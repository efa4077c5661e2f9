"""The documented smtp_client_rewrite_delivery_status pattern, end to end."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import POLICIES

from kumopy import FakeClock, Policy, PolicyError
from kumopy._smtp import Response

DOCUMENTED_STYLE = """
-- no require 'kumo': the documentation snippet uses the global
local get_map = kumo.memoize(function()
  print('loading rules')
  return kumo.regex_set_map.new(kumo.json_load('/tmp/dsn_rewrite.json'))
end, {name = 'dsn_rewrite', ttl = '5 minutes', capacity = 1})

kumo.on('smtp_client_rewrite_delivery_status', function(response, domain, tenant, campaign, routing_domain)
  local map = get_map()
  return map[response]
end)
"""


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "dsn_rewrite.json"
    path.write_text(json.dumps({"4\\.2\\.2 .*[Qq]uota": 552, "mailbox full": 500}))
    return path


@pytest.fixture
def policy(load, rules):
    return load(DOCUMENTED_STYLE, path_map={"/tmp/dsn_rewrite.json": rules})


def loads(policy):
    return sum(1 for e in policy.output if e.message == "loading rules")


def test_documented_pattern_loads_and_registers(policy):
    assert policy.events() == ["smtp_client_rewrite_delivery_status"]
    assert policy.global_kumo_uses  # it relies on the global kumo


def test_rewrite_changes_code_and_annotates(policy):
    out = policy.rewrite_delivery_status("452 4.2.2 The account is over quota")
    assert out.code == 552 and out.rewritten_from == 452
    assert str(out.enhanced_code) == "4.2.2"  # kumod keeps the enhanced code
    assert out.to_single_line() == (
        "552 4.2.2 The account is over quota (kumomta: status was rewritten from 452 -> 552)"
    )


def test_unmatched_response_is_unchanged(policy):
    original = Response.parse("421 4.7.0 Try again later")
    out = policy.rewrite_delivery_status(original)
    assert out == original and out.rewritten_from is None


def test_250_is_never_offered(load):
    p = load("kumo.on('smtp_client_rewrite_delivery_status', function() error('called') end)")
    assert p.rewrite_delivery_status("250 2.0.0 OK").code == 250


def test_rules_load_once_within_ttl_and_reload_after(policy, rules, clock):
    policy.rewrite_delivery_status("452 4.2.2 over quota")
    policy.rewrite_delivery_status("452 4.2.2 over quota")
    assert loads(policy) == 1
    rules.write_text(json.dumps({"4\\.2\\.2 ": 551}))
    clock.advance("4 minutes")
    assert policy.rewrite_delivery_status("452 4.2.2 over quota").code == 552
    clock.advance("2 minutes")
    assert policy.rewrite_delivery_status("452 4.2.2 over quota").code == 551
    assert loads(policy) == 2


def test_broken_rule_file_keeps_responses_and_logs(load, rules, clock, caplog):
    rules.write_text('{"(unclosed": 500}')
    p = load(DOCUMENTED_STYLE, path_map={"/tmp/dsn_rewrite.json": rules})
    with caplog.at_level(logging.ERROR):
        out = p.rewrite_delivery_status("452 4.2.2 over quota")
    assert out.code == 452 and out.rewritten_from is None
    messages = [r.getMessage() for r in caplog.records if r.name == "kumopy"]
    assert len(messages) == 1
    assert messages[0].startswith("smtp_client_rewrite_delivery_status event failed: ")
    # one line that still names the pattern and the reason
    assert "compiling rules: regex parse error: (unclosed; error: unclosed group" in messages[0]
    assert messages[0].endswith(". Preserving original DSN")
    # the error is cached for 60 s like kumod: fixing the file is not seen yet
    rules.write_text('{"quota": 500}')
    clock.advance(30)
    assert p.rewrite_delivery_status("452 4.2.2 over quota").code == 452
    clock.advance(31)
    assert p.rewrite_delivery_status("452 4.2.2 over quota").code == 500


def test_missing_rule_file_is_an_error_in_strict_mode(load, tmp_path):
    p = load(DOCUMENTED_STYLE, path_map={"/tmp/dsn_rewrite.json": tmp_path / "none.json"})
    with pytest.raises(PolicyError, match="reading file /tmp/dsn_rewrite.json"):
        p.rewrite_delivery_status("452 4.2.2 over quota", raise_errors=True)


ARGS_POLICY = """
kumo.on('smtp_client_rewrite_delivery_status', function(response, domain, tenant, campaign, routing_domain)
  seen = {response, domain, tenant == nil and 'nil' or tenant,
          campaign == nil and 'nil' or campaign, routing_domain}
  kumo.log_info(table.concat(seen, '|'))
end)
"""


@pytest.mark.parametrize(
    "queue, expected",
    [
        ("example.com", "example.com|nil|nil|example.com"),
        ("tenant@example.com", "example.com|tenant|nil|example.com"),
        ("camp:tenant@example.com", "example.com|tenant|camp|example.com"),
        ("camp:@example.com", "example.com||camp|example.com"),
        ("example.com!mx.routing.net", "example.com|nil|nil|mx.routing.net"),
        ("c:t@example.com!r.net:2025", "example.com|t|c|r.net:2025"),
    ],
)
def test_handler_arguments_follow_the_queue_name(load, queue, expected):
    p = load(ARGS_POLICY)
    p.rewrite_delivery_status("550-5.1.1 first\r\n550 5.1.1 second", queue=queue)
    assert p.output[-1].message == "550 5.1.1 first second|" + expected


@pytest.mark.parametrize(
    "returned, code, changed",
    [
        ("nil", 452, False),
        ("", 452, False),  # no value
        ("452", 452, False),  # same code: no annotation
        ("500", 500, True),
        ("'500'", 500, True),  # numeric string
        ("500.7", 500, True),  # float truncated
        ("250", 250, True),  # any u16, even a success code
    ],
)
def test_handler_result_conversion(load, returned, code, changed):
    p = load(f"kumo.on('smtp_client_rewrite_delivery_status', function() return {returned} end)")
    out = p.rewrite_delivery_status("452 4.2.2 full")
    assert out.code == code
    assert out.content.endswith(f"(kumomta: status was rewritten from 452 -> {code})") == changed


@pytest.mark.parametrize(
    "returned, message",
    [
        ("true", "error converting Lua boolean to u16"),
        ("{}", "error converting Lua table to u16"),
        ("-1", "error converting Lua integer to u16"),
        ("70000", "error converting Lua integer to u16"),
        ("'soon'", "error converting Lua string to u16"),
    ],
)
def test_unconvertible_result_keeps_original_and_logs(load, returned, message, caplog):
    p = load(f"kumo.on('smtp_client_rewrite_delivery_status', function() return {returned} end)")
    with caplog.at_level(logging.ERROR, logger="kumopy"):
        assert p.rewrite_delivery_status("452 4.2.2 full").code == 452
    assert message in caplog.text and "Preserving original DSN" in caplog.text
    with pytest.raises(PolicyError, match=message):
        p.rewrite_delivery_status("452 4.2.2 full", raise_errors=True)


def test_handler_error_keeps_original(load, caplog):
    p = load("kumo.on('smtp_client_rewrite_delivery_status', function() error('boom') end)")
    with caplog.at_level(logging.ERROR, logger="kumopy"):
        assert p.rewrite_delivery_status("452 4.2.2 full").code == 452
    assert "boom" in caplog.text


def test_regex_set_map_semantics_from_lua(load):
    p = load(
        r"""
        local m = kumo.regex_set_map.new({
          ['^550'] = 'anchored',
          ['quota'] = {kind = 'table value'},
          ['(?i)MAILBOX'] = true,
          ['\\d{3}z'] = 42,
        })
        local empty = kumo.regex_set_map.new()
        kumo.on('t', function(s)
          local v = m[s]
          if type(v) == 'userdata' then v = v.kind end
          return v, type(m), empty[s]
        end)
        """
    )
    assert p.dispatch("t", "550 no").values == ("anchored", "userdata", None)
    assert p.dispatch("t", "over quota").values == ("table value", "userdata", None)
    assert p.dispatch("t", "mailbox").values == (True, "userdata", None)
    assert p.dispatch("t", "x 421z y").values == (42, "userdata", None)
    assert p.dispatch("t", "nothing").values == (None, "userdata", None)


def test_overlapping_patterns_pick_the_first_in_sorted_order(load):
    p = load(
        """
        local m = kumo.regex_set_map.new({['quota'] = 'second', ['over'] = 'first'})
        kumo.on('t', function(s) return m[s] end)
        kumo.on('map', function() return m end)
        """
    )
    assert p.call("t", "over quota") == "first"  # 'over' < 'quota'
    rsm = p.call("map")
    assert rsm.matches("over quota") == [("over", "first"), ("quota", "second")]
    assert rsm.ambiguous("over quota")


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_lua_and_python_maps_choose_the_same_winner(load, order):
    from kumopy import RegexSetMap

    rules = [("unknown", 550), (r"^450 ", 451), (r"4\.1\.1", 551), ("user", 552)]
    if order == "backward":
        rules.reverse()
    table = ", ".join(f"[{p!r}] = {v}" for p, v in rules)
    p = load(f"local m = kumo.regex_set_map.new({{{table}}})\n"
             "kumo.on('t', function(s) return m[s] end)")
    python = RegexSetMap(rules)
    for subject in ("450 4.1.1 user unknown", "450 user unknown", "550 unknown", "ok"):
        assert p.call("t", subject) == python.lookup(subject), subject
    assert python.lookup("450 4.1.1 user unknown") == 551  # '4' < '^' < 'u'


@pytest.mark.parametrize(
    "pattern, error",
    [
        ("(unclosed", "unclosed group"),
        ("(?=look)ahead", "look-around"),
        ("(a)\\1", "backreferences are not supported"),
    ],
)
def test_bad_pattern_is_rejected_naming_it(load, pattern, error):
    p = load(
        "kumo.on('t', function(p)\n  local m = kumo.regex_set_map.new({[p] = 1})\nend)"
    )
    with pytest.raises(PolicyError) as info:
        p.call("t", pattern)
    assert "compiling rules: " in str(info.value) and info.value.line == 2
    assert pattern in info.value.message and error in info.value.message


def test_regex_set_map_is_memoizable(load):
    p = load(
        """
        local f = kumo.memoize(function() return kumo.regex_set_map.new({a = 1}) end,
                               {name = 'rsm', ttl = 60, capacity = 1})
        kumo.on('t', function() return f()['xax'], f()['b'] end)
        """
    )
    assert p.dispatch("t").values == (1, None)


def test_non_utf8_subject_is_an_error_like_kumod(load):
    p = load("local m = kumo.regex_set_map.new({a = 1})\nkumo.on('t', function(s) return m[s] end)")
    with pytest.raises(PolicyError, match=r"utf-8 (byte )?sequence"):
        p.call("t", "caf\udce9")


def test_example_policy_end_to_end():
    policy = Policy.load(
        POLICIES / "dsn-rewrite" / "init.lua",
        path_map={
            "/opt/kumomta/etc/policy/dsn_rewrite.json": POLICIES / "dsn-rewrite" / "dsn_rewrite.json"
        },
        clock=FakeClock(),
    )
    lines = (POLICIES / "dsn-rewrite" / "responses.txt").read_text().splitlines()
    results = [policy.rewrite_delivery_status(line) for line in lines if line.strip()]
    rewritten = [r for r in results if r.rewritten_from is not None]
    assert len(results) == 12 and len(rewritten) == 6
    assert {r.code for r in rewritten} == {550, 552}
    assert all(r.rewritten_from // 100 == 4 for r in rewritten)


def test_8bit_response_is_not_offered_like_kumod(load, caplog):
    # kumod reads reply lines as UTF-8; an 8-bit line is a protocol error,
    # never seen by the rewrite handler
    p = load("kumo.on('smtp_client_rewrite_delivery_status', function() return 500 end)")
    with caplog.at_level(logging.WARNING, logger="kumopy"):
        out = p.rewrite_delivery_status("452 4.2.2 Bo\udceete pleine")
    assert out.code == 452 and "not valid UTF-8" in caplog.text
    assert p.rewrite_delivery_status("452 4.2.2 Boîte pleine").code == 500
