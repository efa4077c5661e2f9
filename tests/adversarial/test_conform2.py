"""Hostile input for the functions of the conform2 work (templates,
io.popen, SPF, ACLs, resolv.conf, the conformance runner): every case ends
with one clear error line."""

from __future__ import annotations

from pathlib import Path

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

HEAD = "local kumo = require 'kumo'\n"


def _script(tmp_path: Path, body: str, *extra: str) -> tuple[Path, str]:
    policy = write_policy(tmp_path, HEAD + "kumo.on('main', function()\n" + body + "\nend)\n")
    return policy, "init.lua:3:"


def test_popen_that_never_ends_stops_at_the_budget(tmp_path: Path) -> None:
    policy, where = _script(tmp_path, "  local ok = pcall(function()\n"
                                      "    return io.popen('sleep 60'):read('a') end)")
    out = run_kumopy("script", "--strict", "--budget", str(BUDGET), policy)
    assert_clear_failure(out, "CPU budget")
    assert out.elapsed < 30


def test_runaway_jinja_template_stops_at_the_budget(tmp_path: Path) -> None:
    src = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
    policy, where = _script(tmp_path, f"  kumo.string.eval_template('t.txt', '{src}', {{}})")
    out = run_kumopy("script", "--strict", "--budget", str(BUDGET), policy)
    assert_clear_failure(out, "init.lua:3:", "CPU budget")


def test_deeply_nested_handlebars_is_a_template_error(tmp_path: Path) -> None:
    src = "{{#if a}}" * 5000 + "{{/if}}" * 5000
    policy, where = _script(tmp_path, f"  kumo.string.eval_template('t', '{src}', {{}}, 'Handlebars')")
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:3:", "nested more than 100 deep")


def test_spf_include_loop_is_a_permerror_not_a_hang(tmp_path: Path) -> None:
    zone = ('$ORIGIN loop.example.\\n@ 300 IN TXT "v=spf1 include:loop.example -all"\\n'
            '@ 300 IN TXT "v=spf1 a a a a a a a a a a a a -all"\\n')
    policy, _ = _script(
        tmp_path,
        f"  kumo.dns.configure_test_resolver {{ zones = {{ '{zone}' }} }}\n"
        "  local m = kumo.make_message('a@loop.example', 'b@x.example', 'Subject: x\\r\\n\\r\\nx')\n"
        "  m:set_meta('received_from', '10.0.0.1:25')\n"
        "  local r = kumo.spf.check_msg(m)\n"
        "  error('spf said ' .. r.disposition .. ': ' .. r.result.reason)",
    )
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:7:", "spf said permerror", "DNS lookup limits exceeded")


def test_deeply_nested_acl_criteria_are_refused(tmp_path: Path) -> None:
    term = "{ Not = " * 100 + "{ Identity = 'Any' }" + " }" * 100
    policy, _ = _script(
        tmp_path,
        f"  kumo.aaa.make_access_control_list {{ {{ criteria = {term}, privilege = 'GET',"
        " access = 'Allow' } }",
    )
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:3:", "nested too deeply")


def test_binary_resolv_conf_is_a_clear_error(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_bytes(b"nameserver \xff\xfe\x00garbage\n")
    policy, _ = _script(tmp_path, f"  kumo.dns.load_resolv_conf '{conf}'")
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:3:", "parsing resolv.conf: line 1")


def test_aes_with_a_wrong_key_size_names_the_line(tmp_path: Path) -> None:
    policy, _ = _script(
        tmp_path,
        "  kumo.crypto.aes_decrypt_block('Cbc', string.rep('x', 40), { key = { key_data = 'k' } })",
    )
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:3:", "Key length must be 16 or 32 bytes")


def test_an_abandoned_popen_does_not_hold_kumopy_up(tmp_path: Path) -> None:
    policy, _ = _script(tmp_path, "  local f = io.popen('sleep 100')\n  error('boom')")
    out = run_kumopy("script", "--strict", policy)
    assert_clear_failure(out, "init.lua:4:", "boom")
    assert out.elapsed < 30
