"""Lookup cost of `kumo.regex_set_map` (kumopy._regex.RegexSetMap).

Prints, for rule sets of 2, 100, 1,000 and 10,000 SMTP-response patterns,
the median microseconds per lookup of a subject that matches and of one
that matches nothing, for:

* `RegexSetMap.lookup` (what policies get);
* a bare `re2.Set` holding the same (translated) expressions: the floor;
* a naive loop over the patterns compiled one by one with the `regex`
  package (iterations capped, so the slow cells are estimates from fewer
  calls);

and the time to build the map (cold: patterns never seen; warm: the
translation cache already holds them).  It also tells whether kumod would
accept each set: the Rust crate refuses sets whose NFA exceeds 10 MiB,
which typical bounce patterns reach at a few thousand rules (the 10,000
row is built with that check disabled).

Patterns are derived from the real responses and rules under
../shared/data when that directory exists, else generated.  To add a
column, append to COLUMNS a (title, factory) pair: the factory takes the
RegexSetMap and returns a callable `subject -> value`, e.g. a lookup made
from Lua.

Run: `python bench/bench_regex_set_map.py` (about 30 s).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2
import regex

from kumopy._regex import RegexSetMap, translate
from kumopy._regex import syntax as _syntax
from kumopy._regex.syntax import RUST_NFA_SIZE_LIMIT, set_nfa_size

SIZES = (2, 100, 1_000, 10_000)
REPEATS = 5
CELL_SECONDS = 0.4  # time budget of one measurement (a median of REPEATS)
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

Lookup = Callable[[str], Any]

# --------------------------------------------------------------------------
# Patterns and subjects
# --------------------------------------------------------------------------

_FALLBACK_RESPONSES = [
    "550 5.1.1 <{user}@example.com>: Recipient address rejected: User unknown",
    "552 5.2.2 The email account that you tried to reach is over quota",
    "421 4.7.0 Try again later, closing connection",
    "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
    "451 4.3.2 Please try again later",
    "550 5.7.26 Unauthenticated email from example.org is not accepted",
    "553 5.3.0 Sorry, no mailbox here by that name",
    "450 4.2.1 The user you are trying to contact is receiving mail too quickly",
]


def _responses() -> list[str]:
    path = DATA / "smtp-field-manual-responses.jsonl"
    out: list[str] = []
    if path.exists():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            text = rec["response"]
            if not text[:3].isdigit():
                text = f"{rec['reply']} {text}"
            out.append(text)
    if not out:
        rng = random.Random(7)
        for _ in range(200):
            tmpl = rng.choice(_FALLBACK_RESPONSES)
            out.append(tmpl.format(user=f"u{rng.randrange(10**6)}", ip="192.0.2.1"))
    return out


def _real_rules() -> list[str]:
    rules: list[str] = []
    for name in ("kumomta-community-bounces.toml", "kumomta-iana-bounces.toml"):
        path = DATA / name
        if path.exists():
            data = tomllib.loads(path.read_text())
            for patterns in data.get("rules", {}).values():
                rules.extend(patterns)
    return rules


def make_patterns(n: int, responses: list[str], real: list[str]) -> list[str]:
    """n distinct patterns in the style of bounce classification rules."""
    rng = random.Random(n)
    out: dict[str, None] = dict.fromkeys(real[:n])
    while len(out) < n:
        words = rng.choice(responses).split()
        code = words[0] if words[0].isdigit() else r"5\d\d"
        k = rng.randint(2, 5)
        start = rng.randint(1, max(1, len(words) - k))
        fragment = " ".join(words[start : start + k])
        if not fragment:
            continue
        escaped = regex.escape(fragment, special_only=True, literal_spaces=True)
        tag = rng.randrange(10**6)
        style = rng.random()
        if style < 0.5:
            pattern = rf"^{code} .*{escaped} #{tag}"
        elif style < 0.8:
            pattern = rf"^{code[0]}\d\d [45]\.\d\.\d+ .+{escaped} #{tag}"
        else:
            pattern = rf"(?i)\b{escaped} #{tag}\b"
        out[pattern] = None
    return list(out)[:n]


# --------------------------------------------------------------------------
# Lookup implementations (columns)
# --------------------------------------------------------------------------


def setmap_lookup(m: RegexSetMap) -> Lookup:
    return m.lookup


def bare_re2_set(m: RegexSetMap) -> Lookup:
    options = re2.Options()
    options.max_mem = 1 << 30
    options.log_errors = False
    rset = re2.Set.SearchSet(options)
    for pattern in m.patterns:
        rset.Add(translate(pattern).re2)
    rset.Compile()
    match: Lookup = rset.Match
    return match


def naive_regex_loop(m: RegexSetMap) -> Lookup:
    compiled = [(regex.compile(p), v) for p, v in m.items()]

    def lookup(subject: str) -> Any:
        for rx, value in compiled:
            if rx.search(subject):
                return value
        return None

    return lookup


class LuaLookup:
    """`map[subject]` evaluated by Lua code in a kumopy Lua state, timed by
    a Lua loop (so Python->Lua dispatch is not counted: this is what a
    policy's handler pays per lookup)."""

    _policy: Any = None

    def __init__(self, m: RegexSetMap) -> None:
        from kumopy._kumo.regex_set_map import LuaRegexSetMap

        state = self._state()
        self._loop = state.rt.eval(
            "function(m, s, n) local clock = os.clock local t0 = clock() "
            "for i = 1, n do local _ = m[s] end return clock() - t0 end"
        )
        self._map = LuaRegexSetMap(dict(m.items()), size_limit=None)
        self._index = state.rt.eval("function(m, s) return m[s] end")

    @classmethod
    def _state(cls) -> Any:
        if cls._policy is None:
            import tempfile
            from pathlib import Path

            from kumopy import Policy

            tmp = Path(tempfile.mkdtemp())
            (tmp / "init.lua").write_text("-- benchmark host\n")
            cls._policy = Policy.load(tmp / "init.lua", budget_seconds=None)
        return cls._policy.state

    def __call__(self, subject: str) -> Any:
        return self._index(self._map, subject.encode())

    def batch(self, subject: str, n: int) -> float:
        seconds: float = self._loop(self._map, subject.encode(), n)
        return seconds


def lua_lookup(m: RegexSetMap) -> Lookup:
    return LuaLookup(m)


def lua_call_overhead(m: RegexSetMap) -> Lookup:
    """The same Lua loop on an empty map: the Lua -> Python crossing alone."""
    return LuaLookup(RegexSetMap({}))


COLUMNS: list[tuple[str, Callable[[RegexSetMap], Lookup]]] = [
    ("Lua map[s]", lua_lookup),
    ("Lua crossing", lua_call_overhead),
    ("RegexSetMap.lookup", setmap_lookup),
    ("bare re2.Set", bare_re2_set),
    ("naive regex loop", naive_regex_loop),
]


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------


def median_us(fn: Lookup, subject: str) -> tuple[float, int]:
    """Median µs per call, and the number of calls per sample used."""
    for _ in range(3):  # warm up caches (RE2 builds its DFA lazily)
        fn(subject)
    t0 = time.perf_counter()
    fn(subject)
    one = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, min(20_000, int(CELL_SECONDS / REPEATS / one)))
    samples = []
    batch = getattr(fn, "batch", None)
    for _ in range(REPEATS):
        if batch is not None:
            samples.append(batch(subject, calls) / calls * 1e6)
            continue
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(subject)
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(samples), calls


def main() -> int:
    responses = _responses()
    real = _real_rules()
    source = "shared/data" if real else "synthetic"
    miss = "250 2.0.0 Ok: queued as 4BQ2hx3Kx8z9 (no rule matches this one)"
    print(f"patterns from {source}; {len(responses)} responses; python {sys.version.split()[0]}")
    header = ["patterns", "kumod?", "build cold ms", "build warm ms"]
    for title, _ in COLUMNS:
        header += [f"{title} hit µs", f"{title} miss µs"]
    rows = [header]
    notes = []
    for n in SIZES:
        patterns = make_patterns(n, responses, real)
        rules = {p: i for i, p in enumerate(patterns)}
        _syntax.translate.cache_clear()
        t0 = time.perf_counter()
        m = RegexSetMap(rules, size_limit=None)
        cold = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        m = RegexSetMap(rules, size_limit=None)
        warm = (time.perf_counter() - t0) * 1e3
        fwd, rev = set_nfa_size([translate(p) for p in patterns])
        size = max(fwd, rev)
        verdict = "ok" if size <= RUST_NFA_SIZE_LIMIT else f"no ({size / 2**20:.1f} MiB)"
        # a subject matching the last pattern that matches anything
        hit = next(
            (r for r in reversed(responses) if m.lookup(r) is not None),
            responses[0],
        )
        row = [f"{n:,}", verdict, f"{cold:.0f}", f"{warm:.0f}"]
        for title, factory in COLUMNS:
            fn = factory(m)
            for subject in (hit, miss):
                us, calls = median_us(fn, subject)
                row.append(f"{us:.1f}" + ("*" if calls < 50 else ""))
                if calls < 50:
                    notes.append(f"{title} at {n:,}: {calls} calls per sample")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    for note in notes:
        print("*", note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
