"""The conformance runner (kumopy.testing._conformance).

The first tests build a small fake checkout of their own and check the
runner's discovery, wrapping and report; they run everywhere.  The last
one runs KumoMTA's real Lua tests and is skipped unless KUMOMTA_SRC names a
KumoMTA checkout.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from kumopy.testing import _conformance as conf


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A tiny tree laid out like a KumoMTA checkout."""
    root = tmp_path / "kumomta"
    _write(root, "assets/policy-extras/helper.lua", """
        local mod = {}
        function mod.double(x) return x * 2 end
        return mod
        """)
    _write(root, "assets/policy-extras/selftest.lua", """
        local mod = {}
        function mod:test()
          assert(require('policy-extras.helper').double(2) == 4)
        end
        return mod
        """)
    _write(root, "assets/policy-extras/notest.lua", "return {}\n")
    # a plain script: wrapped, and reads a file relative to the checkout root
    _write(root, "crates/alpha/test.lua", """
        local helper = require 'policy-extras.helper'
        local f = assert(io.open('crates/alpha/data.txt'))
        assert(f:read('a') == 'data\\n')
        f:close()
        assert(helper.double(21) == 42)
        """)
    _write(root, "crates/alpha/data.txt", "data\n")
    # self-contained: registers main itself and needs `assets` on the path
    # without setting it (a debug kumod's package.path has it)
    _write(root, "crates/beta/sub/test_main.lua", """
        local kumo = require 'kumo'
        local helper = require 'policy-extras.helper'
        kumo.on('main', function() assert(helper.double(1) == 3, 'one doubled is not three') end)
        """)
    # registers another event without main: refused without running
    _write(root, "crates/gamma/test-on.lua", """
        local kumo = require 'kumo'
        kumo.on('smtp_server_ehlo', function() end)
        """)
    # the global `kumo` does not exist under --strict
    _write(root, "crates/delta/test_global.lua", "kumo.json_encode({})\n")
    _write(root, "crates/delta/other.lua", "error('not a test file')\n")
    return root


def test_discover_follows_run_lua_tests(checkout: Path) -> None:
    tests = conf.discover(checkout)
    assert [(t.name, t.kind) for t in tests] == [
        ("crates/alpha/test.lua", "crate"),
        ("crates/beta/sub/test_main.lua", "crate"),
        ("crates/delta/test_global.lua", "crate"),
        ("crates/gamma/test-on.lua", "crate"),
        ("assets/policy-extras/selftest.lua", "module"),
    ]
    assert [t.group for t in tests] == ["alpha", "beta", "delta", "gamma", "policy-extras"]


def test_run_reports_each_test_and_a_closing_line(checkout: Path) -> None:
    seen: list[str] = []
    results = conf.run_tests(checkout, jobs=2, on_result=lambda r: seen.append(r.test.name))
    by_name = {r.test.name: r for r in results}
    assert seen == [r.test.name for r in results]
    assert by_name["crates/alpha/test.lua"].ok, by_name["crates/alpha/test.lua"].output
    assert by_name["assets/policy-extras/selftest.lua"].ok
    beta = by_name["crates/beta/sub/test_main.lua"]
    assert not beta.ok
    assert "crates/beta/sub/test_main.lua:3: one doubled is not three" in beta.error
    gamma = by_name["crates/gamma/test-on.lua"]
    assert not gamma.ok and "attempts to use kumo.on" in gamma.error
    delta = by_name["crates/delta/test_global.lua"]
    assert not delta.ok and "test_global.lua:1:" in delta.error

    report = conf.format_report(results)
    assert report[-1] == "2 passed, 3 failed"
    row = next(line for line in report if line.startswith("crates/beta/sub/test_main.lua"))
    assert "FAIL" in row and "one doubled is not three" in row
    assert any(line.startswith("per crate: alpha 1/1, beta 0/1") for line in report)


def test_select_and_exit_status(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert conf.main(["--src", str(checkout), "-k", "alpha", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("1 passed, 0 failed")
    assert conf.main(["--src", str(checkout), "-k", "beta"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("0 passed, 1 failed")


def test_known_failures_are_named_and_do_not_fail_the_run(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(conf.KNOWN_FAILURES, "crates/beta/sub/test_main.lua", "a reason")
    assert conf.main(["--src", str(checkout), "-k", "beta"]) == 0
    out = capsys.readouterr().out
    assert "[expected: a reason]" in out
    assert conf.main(["--src", str(checkout), "-k", "beta", "--strict"]) == 1


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        conf.main(["--src", str(tmp_path)])
    assert info.value.code == 2
    assert "is not a KumoMTA checkout" in capsys.readouterr().err


# -- KumoMTA's own tests ------------------------------------------------------

SRC = os.environ.get("KUMOMTA_SRC")

#: tests that need functions other tasks implement (not failures of this
#: runner); they are reported as expected failures until those land
PENDING = {
    "crates/kumod/test_apply_supplemental_header.lua": "kumo.apply_supplemental_trace_header",
    "crates/kumod/test_http_build_errors.lua": "kumo.api.inject.build_v1",
    "crates/kumod/test_http_display_name_wrapping.lua": "kumo.api.inject.build_v1",
    "crates/message/test_binary_header_values.lua": "message:parse_mime",
    "crates/message/test_dkim_cache.lua": "kumo.prometheus_metrics",
    "crates/message/test_header_wrap.lua": "message:parse_mime",
    "crates/message/test_legacy_jp_encodings.lua": "message:parse_mime",
    "crates/mod-mimepart/test.lua": "kumo.mimepart",
    "crates/mod-mimepart/test_attachments.lua": "kumo.mimepart",
    "crates/mod-mimepart/test_builder.lua": "kumo.mimepart",
    "crates/mod-mimepart/test_headermap.lua": "kumo.mimepart",
    "crates/mod-mimepart/test_new_multipart.lua": "kumo.mimepart",
}


def _kumomta_tests() -> list[conf.ConformanceTest]:
    if not SRC or not (Path(SRC) / "crates").is_dir():
        return []
    return conf.discover(SRC)


@pytest.mark.skipif(not SRC, reason="KUMOMTA_SRC is not set")
@pytest.mark.parametrize("test", _kumomta_tests(), ids=lambda t: t.name)
def test_kumomta_lua_test(test: conf.ConformanceTest, tmp_path: Path) -> None:
    assert SRC is not None
    result = conf.run_one(
        test, Path(SRC).resolve(), tmp_path, command=conf.kumopy_command(), timeout=300
    )
    if not result.ok:
        reason = conf.expected_failure(test.name) or PENDING.get(test.name)
        if reason:
            pytest.xfail(reason)
    assert result.ok, result.output
