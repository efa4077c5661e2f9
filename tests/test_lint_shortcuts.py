"""The shortcuts kumopy lint takes before searching agree with the search:
a free pattern, and a pattern whose exact head reaches an open state along
a line that can be offered, both match some offered line (the search says
so too, on every pattern tried)."""

from __future__ import annotations

import random

from kumopy._lint._overlap import SEARCH_BUDGET, OverlapEngine
from kumopy._lint._rules import _hir
from kumopy._lint._search import nonempty
from kumopy._regex import RegexSyntaxError

ATOMS = ["a", "b", "ab", "x", " ", "4", "5", r"\d", "[ab]", "[^a ]", ".", r"\.", "é", r"\w",
         r"\s", r"\b", r"\B", "^", "$", "(?i)A", r"\z", r"\A", "(?m)^", "(?m)$", r"\b{start}",
         r"(?-u:\b)", "[0-9]", "(?i)user", "é+", r"\n", "250 "]
QUANT = ["", "", "", "*", "+", "?", "{2}", "{1,2}"]
HEADS = ["^5\\d\\d ", "^4\\d\\d ", "^550 ", "^5", "^45[0-2] 4\\.1\\.1 ", "(?i)^4\\d\\d ", "^250 ",
         "^0 ", "^5\\d\\d 5\\.1\\.1 .*", "^4\\d\\d\\b"]


def _pattern(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        atom = rng.choice(ATOMS)
        q = "" if atom.startswith(("^", "$", "\\b", "\\B", "\\z", "\\A", "(?m)")) \
            else rng.choice(QUANT)
        if q and len(atom) > 1 and not atom.startswith(("[", "\\", "(?")):
            atom = f"(?:{atom})"
        parts.append(atom + q)
    if rng.random() < 0.6:
        parts.insert(0, rng.choice(HEADS))
    return "".join(parts)


def test_shortcuts_agree_with_the_search() -> None:
    rng = random.Random(2026)
    patterns: set[str] = set()
    while len(patterns) < 1500:
        patterns.add(_pattern(rng))
    hirs = []
    for p in sorted(patterns):
        try:
            hirs.append(_hir(p))
        except RegexSyntaxError:
            pass
    free = proved = searched = 0
    for rewrite in (True, False):
        engine = OverlapEngine(hirs, [1] * len(hirs), rewrite=rewrite)
        for i, auto in enumerate(engine.autos):
            if auto is None:
                continue
            truth = nonempty(auto, engine.lines, budget=SEARCH_BUDGET)
            if truth is None:
                continue
            if auto.open[auto.start]:
                free += 1
                assert truth, hirs[i]
                assert engine.matches_nothing(i) is False
                continue
            head = engine.head(i)
            if head.exact and head.kind is not None and engine._offered(head.sets):
                proved += 1
                assert truth, hirs[i]
            else:
                searched += 1
            assert engine.matches_nothing(i) is (not truth)
    # all three routes are exercised
    assert free > 300 and proved > 300 and searched > 300, (free, proved, searched)
