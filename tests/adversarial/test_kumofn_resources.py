"""kumo functions that hostile input could make run for ever or allocate
without bound: each stays within the CPU budget and the state's memory
limit and ends with one clear line, or (where kumod answers quickly) now
answers quickly too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kumopy import Policy, PolicyError

from ._harness import assert_clear_failure, run_kumopy, write_policy


def script(tmp_path: Path, body: str) -> Path:
    return write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function(arg)\n"
        f"  local value = {body}\n"
        "  print(value)\n"
        "end)\n",
    )


FAILURES = {
    # memory: results are measured before they are built
    "string.replace growing 10 MB a hundredfold": (
        "#kumo.string.replace(string.rep('a', 10 * 1024 * 1024), 'a', string.rep('b', 100))",
        "not enough memory",
    ),
    "string.split into 30 million pieces": (
        "#kumo.string.split(string.rep(',', 30 * 1024 * 1024), ',')",
        "not enough memory",
    ),
    "regex split of 30 MB into characters": (
        "#kumo.regex.compile(''):split(string.rep('x', 30 * 1024 * 1024))",
        "init.lua:3:",
    ),
    "YAML alias fan-out of 40 KB": (
        "kumo.serde.yaml_parse('a: &a [' .. string.rep('x, ', 6000) .. 'x]\\n' .. "
        "'b: [' .. string.rep('*a, ', 4000) .. '*a]\\n')",
        "not enough memory",
    ),
    "YAML alias chain past serde_yaml's repetition limit": (
        "kumo.serde.yaml_parse('a: &a [x, x, x, x, x, x, x, x]\\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\\n"
        "f: [*e, *e, *e, *e, *e, *e, *e, *e]')",
        "repetition limit exceeded",
    ),
    "json_load of a 2 GB file": ("kumo.json_load(arg)", "not enough memory"),
    "reading /dev/zero to the end": ("#kumo.fs.open('/dev/zero'):read()", "not enough memory"),
    "hex of 200 MB": ("#kumo.encode.hex_encode(string.rep('x', 200 * 1024 * 1024))", "init.lua:3:"),
    # time: backtracking is bounded, sleeping past the budget is stopped
    "fancy regex backtracking": (
        "kumo.regex.compile('(a|aa)+\\\\1$'):is_match(string.rep('a', 40) .. 'b')",
        "Error executing regex: Max limit for backtracking count exceeded",
    ),
    "sleep for 30 years": ("kumo.sleep(1e9)", "would sleep longer than the handler's CPU budget"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_resource_attack_is_one_clear_line(tmp_path: Path, case: str) -> None:
    body, expected = FAILURES[case]
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(2 * 1024**3)  # sparse: costs no disk
    policy = script(tmp_path, body)
    # (3 s: building the 200 MB strings alone takes over a second of CPU on
    # a loaded machine, and these cases are about memory, not time)
    out = run_kumopy("script", "--budget", "3", policy, "--", big)
    assert_clear_failure(out, "init.lua:3:", expected)


ANSWERS = {
    # what took minutes in kumopy (and microseconds in kumod) now answers
    "(a|aa)+$ over 100,000 characters": (
        "kumo.regex.compile('(a|aa)+$'):is_match(string.rep('a', 100000) .. 'b')",
        "false",
    ),
    "regex_set_map Unicode \\b over 200 KB": (
        "kumo.regex_set_map.new({['(?:\\\\b[a-z\\u{e9}]{1,20}\\\\b\\\\s*){3}x'] = 1})"
        "[string.rep('\\u{e9}\\u{e9} ', 66000) .. '\\u{e9}x']",
        "nil",
    ),
    # d, d/f and the three links themselves, which are not entered
    "glob over symbolic link loops": ("#kumo.glob(arg .. '/**/*')", "5"),
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_former_hang_now_answers_within_the_budget(tmp_path: Path, case: str) -> None:
    body, expected = ANSWERS[case]
    top = tmp_path / "tree"
    (top / "d").mkdir(parents=True)
    (top / "d" / "f").write_text("x")
    for name in ("l1", "l2", "l3"):
        os.symlink("..", top / "d" / name)
    policy = script(tmp_path, body)
    out = run_kumopy("script", "--budget", "1", policy, "--", top)
    assert out.returncode == 0, out.describe()
    assert out.stdout.strip() == expected


def test_policy_stays_usable_after_a_memory_refusal(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('grow', function(n)\n"
        "  local s = kumo.string.replace(string.rep('a', n), 'a', string.rep('b', 100))\n"
        "  return #s\n"
        "end)\n",
    )
    policy = Policy.load(path, capture_output=True, max_memory=64 * 1024 * 1024)
    with pytest.raises(PolicyError) as info:
        policy.dispatch("grow", 10 * 1024 * 1024)
    assert "not enough memory" in str(info.value)
    assert policy.call("grow", 3) == 300


def test_policy_stays_usable_after_backtracking_is_stopped(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "local re = kumo.regex.compile('(a|aa)+\\\\1$')\n"
        "kumo.on('match', function(s) local m = re:is_match(s) return m end)\n",
    )
    policy = Policy.load(path, capture_output=True)
    with pytest.raises(PolicyError) as info:
        policy.dispatch("match", "a" * 40 + "b")
    assert "Max limit for backtracking count exceeded" in str(info.value)
    assert policy.call("match", "aaaa") is True
