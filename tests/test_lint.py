"""`kumopy lint` and the lint step of `kumopy validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy._lint import lint_rules, load_rules
from kumopy._regex import RegexSetMap
from kumopy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, cli

RUST_INCOMPATIBLE = [
    r"(?<=blocked )spamhaus",  # look-behind
    r"(?=4)\d\d\d",  # look-ahead
    r"(user) \1",  # backreference
    r"quota{,3}",  # Python's {,n}
    r"end\Z",  # Python's \Z
    r"(?P=name)",
]

PLANTED_OVERLAPS = [
    (r"^4\d\d 4\.1\.1 ", r"(?i)^450 .*user unknown"),
    (r"over ?quota", r"(?i)mailbox over quota"),
    (r"^452 ", r"[Ii]nsufficient storage"),
]

RULES: dict[str, Any] = {
    r"^4\d\d 4\.1\.1 ": 550,
    r"(?i)^450 .*user unknown": 551,
    r"over ?quota": 552,
    r"(?i)mailbox over quota": 554,
    r"^452 ": 552,
    r"[Ii]nsufficient storage": 550,
    **{p: 550 for p in RUST_INCOMPATIBLE},
}

CLEAN: dict[str, Any] = {
    r"^421 4\.7\.0 .*TSS04": 554,
    r"^450 4\.2\.1 .*(disabled|inactive)": 550,
    r"^452 4\.2\.2 .*over quota": 552,
    r"^451 4\.7\.1 .*greylisted": 451,
    # two patterns that overlap but agree: not a problem in kumod
    r"^554 5\.7\.1 .*spamhaus": 554,
    r"^554 5\.7\.1 .*zen\.spamhaus\.org": 554,
}


def _matches(pattern: str, text: str) -> bool:
    return RegexSetMap({pattern: True}).lookup(text) is not None


def _pairs(findings: list[Any]) -> set[frozenset[str]]:
    return {frozenset(f.patterns) for f in findings if f.kind == "overlap"}


def test_finds_every_planted_overlap_and_incompatible_pattern() -> None:
    findings = lint_rules(RULES)
    syntax = {f.patterns[0] for f in findings if f.kind == "rust-syntax"}
    assert syntax == set(RUST_INCOMPATIBLE)
    found = _pairs(findings)
    for pair in PLANTED_OVERLAPS:
        assert frozenset(pair) in found, pair
    # every reported overlap is real: the example matches both, codes differ
    for f in findings:
        if f.kind == "overlap":
            a, b = f.patterns
            assert f.example is not None
            assert _matches(a, f.example) and _matches(b, f.example)
            assert RULES[a] != RULES[b]
    assert all(f.severity == "error" for f in findings if f.kind in ("overlap", "rust-syntax"))


def test_clean_rules_have_no_findings() -> None:
    assert lint_rules(CLEAN) == []


def test_overlap_from_corpus_only() -> None:
    corpus = ["250 ok", "452 4.2.2 mailbox over quota", "452 nothing else"]
    findings = lint_rules(RULES, corpus, synthesize=False)
    pairs = _pairs(findings)
    assert pairs == {frozenset((r"over ?quota", r"(?i)mailbox over quota")),
                     frozenset((r"(?i)mailbox over quota", r"^452 "))}
    assert all("corpus line 2" in f.message for f in findings if f.kind == "overlap")


@pytest.mark.parametrize("pattern", [
    r"^4\.2\.2 full",  # a response line starts with its code
    r"^Mailbox full",
    r"full$ now",  # text after the end
    r"x^y",  # text before the start
    r"[^\s\S]",  # empty class
    r"^250 ",  # never offered
    # kumod replaces the line breaks of a response, so a multi-line `^`
    # holds only at the start of the line
    r"(?m)^4\.2\.2",
    r"^050 ",  # the code is printed as a number: no leading zero
    r"foo\r\nbar",
])
def test_never_matching_patterns(pattern: str) -> None:
    kinds = [f.kind for f in lint_rules({pattern: 550})]
    assert kinds == ["never-matches"]


@pytest.mark.parametrize("pattern", [r"^4\.?", r"(?m)^4\d\d 4\.2\.2", r"^\d{3} ", r"full$",
                                     r"^0 ", r"^99 "])
def test_patterns_that_can_match_are_not_flagged(pattern: str) -> None:
    assert [f.kind for f in lint_rules({pattern: 550})] == []


def test_class_mismatch_warning() -> None:
    (finding,) = lint_rules({r"^450 5\.1\.1 ": 550})
    assert (finding.severity, finding.kind) == ("warning", "class-mismatch")


@pytest.mark.parametrize(("value", "severity"), [
    ("lots", "error"), (70000, "error"), (99, "error"), (True, "error"), (250, "warning"),
])
def test_bad_values(value: Any, severity: str) -> None:
    (finding,) = lint_rules({"quota": value})
    assert finding.severity == severity
    assert finding.kind == ("odd-value" if severity == "warning" else "bad-value")


@pytest.mark.parametrize("value", [552, 552.0, "552", " 5.52e2 "])
def test_values_mlua_converts_are_fine(value: Any) -> None:
    assert lint_rules({"quota": value}) == []


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def _invoke(args: list[str]) -> Any:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_lint_reports_one_line_per_finding(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("// rules with comments, as kumo.json_load accepts\n" + json.dumps(RULES))
    r = _invoke(["lint", str(path)])
    assert r.exit_code == EXIT_FAILURE
    lines = r.stdout.splitlines()
    assert len(lines) == len(lint_rules(RULES))
    assert all(line.startswith(f"{path}: error: ") or line.startswith(f"{path}: warning: ")
               for line in lines)
    assert "Traceback" not in r.stderr and "errors" in r.stderr


def test_cli_lint_clean_toml(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("".join(f"{json.dumps(k)} = {v}\n" for k, v in CLEAN.items()))
    assert load_rules(str(path)) == CLEAN
    r = _invoke(["lint", str(path)])
    assert r.exit_code == EXIT_OK and r.stdout == ""


def test_cli_lint_json_and_corpus(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"over ?quota": 552, "(?i)mailbox over quota": 554}))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("421 try later\n452 4.2.2 Mailbox over quota\n")
    r = _invoke(["lint", str(rules), "--corpus", str(corpus), "--no-synthesize", "--json"])
    (row,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert row["kind"] == "overlap" and row["example"] == "452 4.2.2 Mailbox over quota"


def test_cli_lint_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": ')
    r = _invoke(["lint", str(broken)])
    assert r.exit_code == EXIT_FAILURE and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "broken.json" in r.stderr
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    r = _invoke(["lint", str(array)])
    assert r.exit_code == EXIT_FAILURE and "expected an object" in r.stderr
    r = _invoke(["lint", str(tmp_path / "missing.json")])
    assert r.exit_code == EXIT_USAGE


def test_validate_lints_maps_the_policy_builds(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"over ?quota": 552, "(?i)mailbox over quota": 554}))
    policy = tmp_path / "init.lua"
    policy.write_text(f"""
local kumo = require 'kumo'
local rules
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  -- built lazily, as most policies do
  rules = rules or kumo.regex_set_map.new(kumo.json_load({json.dumps(str(rules))}))
  return rules[response]
end)
""")
    r = _invoke(["validate", str(policy)])
    assert r.exit_code == EXIT_OK  # kumod --validate accepts it: warnings only
    warnings = [x for x in r.stderr.splitlines() if "overlap" in x]
    assert len(warnings) == 1 and warnings[0].startswith("kumopy: warning: regex_set_map built at")
    assert "init.lua" in warnings[0]
    r = _invoke(["validate", str(policy), "--fail-on-warning"])
    assert r.exit_code == EXIT_FAILURE
    rules.write_text(json.dumps({"^452 4\\.2\\.2 ": 552}))
    r = _invoke(["validate", str(policy)])
    assert r.exit_code == EXIT_OK and "regex_set_map" not in r.stderr


def test_validate_calls_the_rewrite_handler_once(tmp_path: Path) -> None:
    # the maps are linted from what the probe call built and looked up:
    # a handler with side effects is not called a second time for the lint
    policy = tmp_path / "init.lua"
    policy.write_text("""
local kumo = require 'kumo'
local rules
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  print('handler called with ' .. response)
  rules = rules or kumo.regex_set_map.new({ ['over ?quota'] = 552, ['(?i)mailbox over quota'] = 554 })
  return rules[response]
end)
""")
    r = _invoke(["validate", str(policy)])
    assert r.exit_code == EXIT_OK, r.stderr
    assert r.stderr.count("handler called with") == 1, r.stderr
    assert "handler called with 451 4.0.0 kumopy validate probe" in r.stderr
    [warning] = [x for x in r.stderr.splitlines() if "overlap" in x]
    assert warning.startswith("kumopy: warning: regex_set_map built at")
    # --no-probe: no call, so a lazily built map is not there to lint
    r = _invoke(["validate", str(policy), "--no-probe"])
    assert "handler called" not in r.stderr and "overlap" not in r.stderr


def test_validate_other_maps_get_only_general_checks(tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text("""
local kumo = require 'kumo'
-- not rewrite rules: tenant names by sender domain
local tenants = kumo.regex_set_map.new({ ['example'] = 'one', ['example\\\\.com$'] = 'two',
                                         ['plain'] = 'three' })
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return nil
end)
""")
    r = _invoke(["validate", str(policy)])
    found = [x for x in r.stderr.splitlines() if "regex_set_map built at" in x]
    # values that are not codes are fine here; overlaps are still reported:
    # every pair ('plain example.com' matches all three)
    assert len(found) == 3 and all("overlap" in x for x in found)
    assert any("'one' and 'two'" in x for x in found)
    assert any("'plain example.com'" in x for x in found)


def test_the_shipped_example_rules_are_clean() -> None:
    # the example teaches the practice lint checks: rules with different
    # codes are anchored so that no response can match two of them
    repo = Path(__file__).resolve().parent.parent
    example = repo / "policies" / "dsn-rewrite"
    corpus = (example / "responses.txt").read_text().splitlines()
    rules = load_rules(str(example / "dsn_rewrite.json"))
    assert lint_rules(rules, corpus=corpus) == []
    # and the same rules without their anchors do overlap
    loose = {p.replace("^4\\d\\d 4\\.2\\.2", "4\\.2\\.2").replace("(?i)^4\\d\\d [a-z]", "(?i)^4\\d\\d "): v
             for p, v in rules.items()}
    assert any(f.kind == "overlap" for f in lint_rules(loose))
