"""Hostile MIME input and injection requests through `kumopy script`:
each ends with one clear error line naming the policy line, never a
traceback or a crash (docs/security.md, limits table)."""

from __future__ import annotations

from pathlib import Path

from ._harness import assert_clear_failure, run_kumopy, write_policy

HEAD = "local kumo = require 'kumo'\nkumo.on('main', function()\n"


def _run(tmp_path: Path, body: str) -> str:
    policy = write_policy(tmp_path, HEAD + body + "\nend)\n")
    return assert_clear_failure(run_kumopy("script", "--strict", policy), "init.lua")


def test_deeply_nested_multipart(tmp_path: Path) -> None:
    line = _run(
        tmp_path,
        "local s = ''\n"
        "for d = 1, 500 do s = s .. 'Content-Type: multipart/mixed; boundary=q' .. d"
        " .. 'z\\r\\n\\r\\n--q' .. d .. 'z\\r\\n' end\n"
        "kumo.mimepart.parse(s)",
    )
    assert "init.lua:5: Mime Tree has too many child parts" in line


def test_deeply_nested_comments_in_an_address(tmp_path: Path) -> None:
    line = _run(
        tmp_path,
        "local p = kumo.mimepart.parse('From: ' .. string.rep('(', 100000) .. '\\r\\n\\r\\n')\n"
        "local v = p.headers:from()\nreturn v",
    )
    assert "init.lua:4: while parsing header 'From': invalid header" in line


def test_binary_garbage_header_block(tmp_path: Path) -> None:
    line = _run(tmp_path, "kumo.mimepart.parse('\\xff\\xfe: x\\r\\n\\r\\n')")
    assert "init.lua:3: invalid header: header name must be comprised of printable" in line


def test_broken_base64_body(tmp_path: Path) -> None:
    line = _run(
        tmp_path,
        "local p = kumo.mimepart.parse('Content-Transfer-Encoding: base64\\r\\n\\r\\n'"
        " .. string.rep('@', 100000))\nreturn p.body",
    )
    assert "init.lua:4: parsing body: base64 decode: invalid symbol" in line


def test_uncaught_template_error_names_the_line(tmp_path: Path) -> None:
    line = _run(
        tmp_path,
        "kumo.api.inject.build_v1 { envelope_sender = 'a@b.example', recipients = {},"
        " content = { text_body = '{{ a b }}' } }",
    )
    assert "failed parsing field 'content.text_body' as template: syntax error" in line
