"""`kumopy lint` on patterns and sets the Rust crate refuses for their size:
a finding naming the pattern, never a crash; the other rules are still
checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kumopy._lint import lint_rules
from kumopy._regex import RegexSetError, RegexSetMap
from kumopy.cli import EXIT_FAILURE, cli

TOO_LARGE = "x{1000}{1000}"  # about 1,000,000 NFA states: over the 10 MiB limit


def test_a_pattern_too_large_alone_is_named() -> None:
    try:
        RegexSetMap({TOO_LARGE: 550})
    except RegexSetError as e:
        assert "exceeds size limit" in str(e)
    else:  # pragma: no cover - the premise of the test
        raise AssertionError("the pattern should be too large for the crate")
    found = lint_rules({TOO_LARGE: 550, "quota": 552, "(?i)over": 551})
    kinds = [(f.kind, f.patterns) for f in found]
    assert ("size-limit", (TOO_LARGE,)) in kinds
    (size,) = [f for f in found if f.kind == "size-limit"]
    assert size.severity == "error" and "kumod fails to build the whole map" in size.message
    # the other rules are still decided, with examples checked on the rest
    (overlap,) = [f for f in found if f.kind == "overlap"]
    assert set(overlap.patterns) == {"quota", "(?i)over"} and overlap.example is not None


def test_a_set_too_large_together_is_one_finding() -> None:
    # each pattern is fine (about 2.5 MB of NFA), five of them are not
    rules = {f"^55{i} " + r"\w{50}": 550 for i in range(5)}
    try:
        RegexSetMap(rules)
    except RegexSetError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the set should be too large for the crate")
    for p in list(rules)[:2]:
        RegexSetMap({p: 1})
    found = lint_rules(rules)
    sizes = [f for f in found if f.kind == "size-limit"]
    assert len(sizes) == 1 and "kumod refuses the whole set" in sizes[0].message


def _invoke(args: list[str]) -> Any:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, args)


def test_cli_names_the_pattern_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({TOO_LARGE: 550, "quota": 552}))
    r = _invoke(["lint", str(path)])
    assert r.exit_code == EXIT_FAILURE and "Traceback" not in r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{path}: error: size-limit: {TOO_LARGE!r}: ")
