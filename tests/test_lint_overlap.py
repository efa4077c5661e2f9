"""`kumopy lint` decides overlaps on automata: planted overlaps are all
found, clean sets have none, examples match both patterns and read like
responses, and pairs said to be disjoint are (checked against the regex
engine on many generated lines)."""

from __future__ import annotations

import random
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kumopy._lint import lint_rules
from kumopy._regex import RegexSetMap

WORDS = ("mailbox user account quota storage over full unknown disabled inactive suspended "
         "spam blocked policy rejected reputation rate limited greylisted later again "
         "address recipient domain relay denied message content virus sender dmarc "
         "authentication required temporary failure service unavailable exceeded size").split()

# value -> enhanced codes, disjoint between values (so rules anchored on
# them never overlap across values)
FAMILIES: dict[int, list[str]] = {
    550: ["5.1.1", "4.1.1", "5.1.2", "5.1.6", "4.2.1"],
    552: ["5.2.2", "4.2.2", "4.3.1", "5.3.4"],
    554: ["5.7.1", "5.7.0", "5.7.28", "4.7.28"],
    451: ["4.7.0", "4.4.1", "4.4.2", "4.3.0"],
}
CODE_STYLES: list[tuple[str, Any]] = [
    (r"{c}\d\d", lambda c: {f"{c}{a}{b}" for a in "0123456789" for b in "0123456789"}),
    (r"{c}5[0-2]", lambda c: {f"{c}5{b}" for b in "012"}),
    (r"{c}21", lambda c: {f"{c}21"}),
    (r"{c}50", lambda c: {f"{c}50"}),
]


def _matches(pattern: str, text: str) -> bool:
    return RegexSetMap({pattern: True}).lookup(text) is not None


def _overlaps(findings: list[Any]) -> set[frozenset[str]]:
    return {frozenset(f.patterns) for f in findings if f.kind == "overlap" and f.patterns}


def _anchored_rule(rng: random.Random, value: int, enh: str) -> tuple[str, set[str]]:
    cls = enh[0]
    style, codes = rng.choice(CODE_STYLES)
    phrase = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
    head = "^" + style.format(c=cls) + " " + re.escape(enh) + " "
    shape = rng.random()
    if shape < 0.5:
        pattern = head + ".*" + phrase
    elif shape < 0.75:
        pattern = "(?i)" + head + r".*\b" + phrase + r"\b"
    elif shape < 0.9:
        pattern = head
    else:
        pattern = head + ".*(" + "|".join(rng.sample(WORDS, 3)) + ")"
    return pattern, codes(cls)


def _anchored_set(n: int, seed: int) -> dict[str, tuple[int, set[str], str]]:
    """KumoMTA-style rules (`^5\\d\\d 5\\.1\\.1 .*text`): pattern -> (value,
    the status codes it accepts, its enhanced code)."""
    rng = random.Random(seed)
    out: dict[str, tuple[int, set[str], str]] = {}
    while len(out) < n:
        value = rng.choice(sorted(FAMILIES))
        enh = rng.choice(FAMILIES[value])
        pattern, codes = _anchored_rule(rng, value, enh)
        out.setdefault(pattern, (value, codes, enh))
    return out


def test_realistic_clean_set_has_no_findings() -> None:
    rules = {p: v for p, (v, _, _) in _anchored_set(300, seed=5).items()}
    assert lint_rules(rules) == []


def test_planted_overlaps_in_code_anchored_rules_are_all_found() -> None:
    rng = random.Random(11)
    rules = _anchored_set(200, seed=3)
    # plant: rules with another value on enhanced codes of existing rules
    for _ in range(8):
        victim = rng.choice(sorted(rules))
        value, _, enh = rules[victim]
        other = rng.choice([v for v in FAMILIES if v != value])
        pattern, codes = _anchored_rule(rng, other, enh)
        rules.setdefault(pattern, (other, codes, enh))
    # ground truth from how the rules were made: same enhanced code, a
    # status code both accept, different values (all have open tails)
    truth = {frozenset((a, b)) for a in rules for b in rules
             if a < b and rules[a][0] != rules[b][0] and rules[a][2] == rules[b][2]
             and rules[a][1] & rules[b][1]}
    assert len(truth) >= 8
    findings = lint_rules({p: v for p, (v, _, _) in rules.items()}, max_overlaps=None)
    assert _overlaps(findings) == truth
    for f in findings:
        assert f.kind == "overlap" and f.severity == "error"
        a, b = f.patterns
        assert f.example is not None and _matches(a, f.example) and _matches(b, f.example)
        assert re.match(r"^[45]\d\d [45]\.\d+\.\d+ ", f.example), f.example


def test_planted_overlaps_in_unanchored_substring_rules_are_all_found() -> None:
    # 200 unanchored substring rules: one code for most, others planted;
    # every two unanchored rules can meet in one response, so every pair
    # with different codes overlaps, and only those
    rng = random.Random(7)
    phrases: set[str] = set()
    while len(phrases) < 200:
        phrases.add(" ".join(rng.sample(WORDS, rng.randint(1, 3))))
    rules: dict[str, int] = {}
    for n, phrase in enumerate(sorted(phrases)):
        pattern = ("(?i)" + phrase) if n % 3 else (r"\b" + phrase + r"\b")
        rules[pattern] = 550 if n % 25 else rng.choice([552, 554, 451])
    planted = [p for p, v in rules.items() if v != 550]
    assert len(planted) == 8
    truth = {frozenset((a, b)) for a in rules for b in rules if a < b and rules[a] != rules[b]}
    findings = lint_rules(rules, max_overlaps=None)
    assert _overlaps(findings) == truth
    for f in findings[:: max(1, len(findings) // 60)]:
        a, b = f.patterns
        assert f.example is not None and _matches(a, f.example) and _matches(b, f.example)
    # by default the list is capped, and what is not listed is counted
    capped = lint_rules(rules)
    listed = [f for f in capped if f.patterns]
    (rest,) = [f for f in capped if not f.patterns]
    assert len(listed) == 100
    assert f"{len(truth) - 100} more pairs" in rest.message and str(len(truth)) in rest.message


def test_the_issue_examples_are_found_with_realistic_examples() -> None:
    (one,) = lint_rules({"over": 552, "quota": 550})
    assert one.kind == "overlap" and one.example == "550 5.1.1 over quota"
    found = lint_rules({"(?i)mailbox full": 552, "(?i)user unknown": 550, "spamhaus": 554})
    assert len(found) == 3
    for f in found:
        assert f.example is not None
        assert re.fullmatch(r"[45]\d\d [45]\.\d\.\d [a-z ]+", f.example), f.example
        words = f.example.split(" ")[2:]
        for pattern in f.patterns:  # each match is whole words
            bare = pattern.removeprefix("(?i)")
            assert any(" ".join(words[k:k + len(bare.split())]) == bare
                       for k in range(len(words))), (pattern, f.example)


def test_same_value_overlaps_are_fine_and_disjoint_codes_do_not_overlap() -> None:
    assert lint_rules({"over": 552, "(?i)over quota": 552}) == []
    assert lint_rules({"^452 .*over": 552, "^550 .*over": 550}) == []
    # a pattern anchored at both ends meets a free one only inside its lines
    assert lint_rules({"^550 5\\.1\\.1 done$": 550, "quota": 552}) == []
    (f,) = lint_rules({"^550 5\\.1\\.1 quota$": 550, "quota": 552})
    assert f.example == "550 5.1.1 quota"


def test_word_boundaries_and_unicode_classes_are_decided() -> None:
    # `\bfull\b` never matches inside "fullness"; both at once cannot be
    assert lint_rules({r"^550 \bfull\b$": 550, r"^550 fullness$": 552}) == []
    # Unicode \w: é is a word character for Rust, not for (?-u)\w
    assert lint_rules({r"^550 caf\w$": 550, r"^550 café$": 552}) != []
    assert lint_rules({r"^550 caf(?-u:\w)$": 550, r"^550 café$": 552}) == []
    # \B between a word character and a non-word one never holds
    assert [(f.kind, f.patterns) for f in lint_rules({r"^550 a\B ": 550, r"^550 a ": 552})] \
        == [("never-matches", (r"^550 a\B ",))]


def test_undecided_instead_of_silence() -> None:
    # a pattern whose automaton is too large: said so, not ignored
    found = lint_rules({r"^550 (a{1,100}){1,100}x": 550, "x": 552})
    assert [f.kind for f in found] == ["undecided"]
    assert found[0].severity == "warning" and "too large" in found[0].message


def test_non_rewrite_maps_consider_any_text() -> None:
    rules = {"example": "one", r"example\.com$": "two", "^x$": "three"}
    found = lint_rules(rules, rewrite=False)
    assert _overlaps(found) == {frozenset(("example", r"example\.com$"))}
    (f,) = found
    assert f.example == "example.com"


# ---------------------------------------------------------------------------
# property: "overlap" comes with a true example; "no overlap" holds on every
# generated line
# ---------------------------------------------------------------------------

ATOMS = ["a", "b", "ab", "x", " ", "4", "5", r"\d", "[ab]", "[^a ]", ".", r"\.", "é", r"\w",
         r"\s", r"\b", r"\B", "^", "$", "(?i)A", "(?i:B)", r"\z", r"\A"]
QUANT = ["", "", "", "*", "+", "?", "{2}", "{1,2}"]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        atom = draw(st.sampled_from(ATOMS))
        q = draw(st.sampled_from(QUANT)) if atom not in ("^", "$", r"\b", r"\B", r"\z",
                                                          r"\A") else ""
        if q and (len(atom) > 1 and not atom.startswith(("[", "\\", "(?"))):
            atom = f"(?:{atom})"
        parts.append(atom + q)
    if draw(st.booleans()):
        parts.insert(0, draw(st.sampled_from(["^5\\d\\d ", "^4\\d\\d ", "^550 ", "^5"])))
    if draw(st.integers(0, 4)) == 0:
        return "(?:" + "".join(parts) + ")|" + draw(st.sampled_from(ATOMS[:8]))
    return "".join(parts)


def _lines(rng: random.Random, a: str, b: str) -> list[str]:
    alphabet = ["a", "b", "x", " ", "4", "5", "0", ".", "é", "A", "B", "_", "!"]
    out = []
    for _ in range(400):
        code = rng.choice(["550 ", "450 ", "5 ", "551 ", "0 ", "4 ", "999 "])
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        out.append(code + body)
    return out


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=patterns(), b=patterns(), seed=st.integers(0, 1000))
def test_overlap_verdicts_hold(a: str, b: str, seed: int) -> None:
    if a == b:
        return
    try:
        both = RegexSetMap({a: 1, b: 2})
    except Exception:
        return  # not valid Rust syntax
    found = lint_rules({a: 550, b: 552})
    kinds = {f.kind for f in found}
    if "undecided" in kinds:
        return
    overlaps = [f for f in found if f.kind == "overlap"]
    offered = re.compile(r"(0|[1-9]\d{0,2}) [^\r\n]*")
    if overlaps:
        (f,) = overlaps
        assert f.example is not None
        assert offered.fullmatch(f.example) and not f.example.startswith("250 ")
        assert {p for p, _ in both.matches(f.example)} == {a, b}, f.example
        return
    rng = random.Random(seed)
    for line in _lines(rng, a, b):
        assert len(both.matches(line)) < 2, (a, b, line)
