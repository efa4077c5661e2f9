"""Lint a rule set: pattern -> SMTP code, as `kumo.regex_set_map.new` gets it.

Findings, each about one pattern or a pair:

* `rust-syntax` (error): the Rust regex crate refuses the pattern, so kumod
  fails to build the whole map (every lookup then errors); `size-limit`
  (error): the set exceeds the crate's NFA size limit.
* `never-matches` (error): the pattern can match no response line kumod
  offers: an empty class, a `^`/`\\A` after text that cannot be empty, a
  `$`/`\\z` before such text, a start anchor followed by something other
  than a three-digit code and a space (every offered line starts so), or a
  code of 250 (never offered).  Decided on the pattern's syntax tree, where
  cheaply decidable; nothing is claimed otherwise.
* `class-mismatch` (warning): an anchored pattern whose status code class
  differs from its enhanced code class (`^4.. 5\\.`): RFC 3463 wants them
  equal and servers almost always comply.
* `bad-value` (error): the value is not one mlua converts to u16 (kumod
  logs the conversion error and keeps the response), or converts to a
  number that is not an SMTP reply code (100..599); `odd-value` (warning):
  a 1xx, 2xx or 3xx code.
* `overlap` (error): two patterns with different codes match the same
  response: kumod's winner depends on a hash order that changes at every
  restart.  Shown with a response both match, from the corpus or
  synthesized from the patterns themselves (a search, not a proof: pairs
  for which no example is found are not reported).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._kumo.formats import FormatError, load_json, load_toml
from .._regex import RegexSetError, RegexSetMap, RegexSyntaxError
from .._regex.syntax import (
    LOOK_END,
    LOOK_START,
    HAlt,
    HCap,
    HCat,
    HClass,
    HEmpty,
    Hir,
    HLit,
    HLook,
    HRep,
    hir_min_len,
    parse_to_hir,
    to_cp,
    to_index,
)
from .._smtp import ConversionError, to_u16

__all__ = ["Finding", "lint_rules", "load_rules", "probe_policy_maps"]

_SAMPLES = 12
#: the response `probe_policy_maps` offers to the rewrite handler
PROBE = "451 4.0.0 kumopy lint probe"
_MAX_REP = 3


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    kind: str
    patterns: tuple[str, ...]
    message: str
    example: str | None = None

    def describe(self) -> str:
        """`kind: 'pattern'[ and 'pattern']: reason` (no severity)."""
        shown = " and ".join(repr(p) for p in self.patterns)
        return f"{self.kind}: {shown}: {self.message}" if shown else f"{self.kind}: {self.message}"

    def __str__(self) -> str:
        return f"{self.severity}: {self.describe()}"


def load_rules(path: str) -> dict[str, Any]:
    """The rules of a JSON (comments allowed, as kumo.json_load) or TOML
    file: a flat object of pattern -> code.  Raises ValueError."""
    loader = load_toml if Path(path).suffix.lower() == ".toml" else load_json
    try:
        data = loader(path)
    except FormatError as e:
        raise ValueError(str(e)) from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of pattern -> code, "
                         f"found {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------
# single patterns
# ---------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")


def _class_chars(ranges: Sequence[tuple[int, int]], limit: int = 128) -> set[str]:
    out: set[str] = set()
    for lo, hi in ranges:
        for i in range(lo, min(hi, lo + limit) + 1):
            out.add(chr(to_cp(i)))
    return out


def _dead(h: Hir) -> bool:
    """The pattern can match nothing at all (empty classes, misplaced text
    anchors)."""
    if isinstance(h, HClass):
        return not h.ranges
    if isinstance(h, HCap):
        return _dead(h.sub)
    if isinstance(h, HRep):
        return h.min > 0 and _dead(h.sub)
    if isinstance(h, HAlt):
        return all(_dead(x) for x in h.items)
    if isinstance(h, HCat):
        if any(_dead(x) for x in h.items):
            return True
        before = 0
        for x in h.items:
            if isinstance(x, HLook) and x.kind == LOOK_START and before > 0:
                return True
            before += hir_min_len(x) or 0
        after = 0
        for x in reversed(h.items):
            if isinstance(x, HLook) and x.kind == LOOK_END and after > 0:
                return True
            after += hir_min_len(x) or 0
    return False


def _fixed_prefix(h: Hir, n: int) -> list[set[str] | None] | None:
    """For a pattern that starts with `\\A`: the possible characters at
    positions 0..n-1 of the subject (None: anything, or not known).
    None when the pattern is not anchored at the start."""
    items = list(h.items) if isinstance(h, HCat) else [h]
    while items and isinstance(items[0], HCap):
        sub = items[0].sub
        items = (list(sub.items) if isinstance(sub, HCat) else [sub]) + items[1:]
    if not items or not (isinstance(items[0], HLook) and items[0].kind == LOOK_START):
        return None
    out: list[set[str] | None] = []
    for x in items[1:]:
        if len(out) >= n:
            break
        if isinstance(x, HLit):
            out.extend({c} for c in x.text)
        elif isinstance(x, HClass):
            out.append(_class_chars(x.ranges, 4096) if sum(
                hi - lo for lo, hi in x.ranges) < 4096 else None)
        elif isinstance(x, HRep) and x.min == x.max and isinstance(x.sub, HClass):
            chars = _class_chars(x.sub.ranges, 4096)
            out.extend(set(chars) for _ in range(x.min))
        else:
            break
    return out[:n]


def _pattern_findings(pattern: str, h: Hir) -> list[Finding]:
    found: list[Finding] = []
    if _dead(h):
        return [Finding("error", "never-matches", (pattern,),
                        "matches nothing at all (an empty class, or an anchor that "
                        "cannot hold where it is)")]
    prefix = _fixed_prefix(h, 7)
    if prefix is None:
        return found
    shape = [_DIGITS, _DIGITS, _DIGITS, {" "}]
    for pos, (want, have) in enumerate(zip(shape, prefix, strict=False)):
        if have is not None and not (have & want):
            return [Finding("error", "never-matches", (pattern,),
                            "anchored at the start, but every line offered to "
                            "smtp_client_rewrite_delivery_status starts with a 3-digit code "
                            f"and a space (the pattern has no "
                            f"{'digit' if pos < 3 else 'space'} at position {pos})")]
    if len(prefix) >= 3 and all(p is not None and len(p) == 1 for p in prefix[:3]):
        code = "".join(next(iter(p)) for p in prefix[:3] if p is not None)
        if code == "250":
            return [Finding("error", "never-matches", (pattern,),
                            "matches only 250 responses, which kumod never offers to "
                            "smtp_client_rewrite_delivery_status")]
    if len(prefix) >= 6:
        first, enh, dot = prefix[0], prefix[4], prefix[5]
        if (first is not None and enh is not None and dot == {"."} and len(first) == 1
                and len(enh) == 1 and first <= {"4", "5"} and enh <= {"2", "4", "5"}
                and first != enh):
            found.append(Finding(
                "warning", "class-mismatch", (pattern,),
                f"status class {next(iter(first))} with enhanced code class "
                f"{next(iter(enh))}: servers send matching classes, so this rarely matches"))
    return found


def _value_findings(pattern: str, value: Any) -> tuple[list[Finding], Any]:
    try:
        code = to_u16(value)
    except ConversionError as e:
        return [Finding("error", "bad-value", (pattern,),
                        f"value {value!r}: {e}; kumod logs the error and keeps the response")], \
            value
    if code is None:
        return [], None
    if not 100 <= code <= 599:
        return [Finding("error", "bad-value", (pattern,),
                        f"value {value!r} is not an SMTP reply code (100..599)")], code
    if code < 400:
        return [Finding("warning", "odd-value", (pattern,),
                        f"value {value!r}: a {code // 100}xx code turns a failure into "
                        "something else than a failure")], code
    return [], code


# ---------------------------------------------------------------------------
# examples
# ---------------------------------------------------------------------------


class _Sampler:
    """Random responses matching one pattern.  Characters of a class follow,
    when they can, the character at the same position of another
    pattern's example (so `^4\\d\\d` tends to meet `^450`); unbounded
    repetitions of a wide class (`.*`) take `fill`, or a piece of another
    pattern's example from `pool`."""

    def __init__(self, rng: random.Random, pool: Sequence[str], hints: Sequence[str]) -> None:
        self.rng = rng
        self.pool = pool
        self.hints = hints
        self.fill: str | None = None
        self.mode = ""  # "", "lower" or "upper": how to pick among a letter's cases

    def char(self, ranges: Sequence[tuple[int, int]], at: int) -> str:
        rng = self.rng
        if self.mode and len(ranges) <= 3 and all(hi - lo < 2 for lo, hi in ranges):
            # a case-folded letter (`(?i)a`, `[Aa]`): one case for the whole sample
            chars = sorted(chr(to_cp(i)) for lo, hi in ranges for i in range(lo, hi + 1))
            for c in chars:
                if (c.islower() if self.mode == "lower" else c.isupper()):
                    return c
        if self.hints and rng.random() < 0.7:
            for _ in range(3):
                hint = rng.choice(self.hints)
                if len(hint) > at:
                    c = hint[at]
                    i = to_index(ord(c))
                    if any(lo <= i <= hi for lo, hi in ranges):
                        return c
        ascii_ranges = [(lo, min(hi, 0x7E)) for lo, hi in ranges if lo <= 0x7E]
        printable = [(max(lo, 0x20), hi) for lo, hi in ascii_ranges if hi >= 0x20]
        pick = printable or ascii_ranges or list(ranges)
        lo, hi = rng.choice(pick)
        return chr(to_cp(rng.randint(lo, hi)))

    @staticmethod
    def wide(h: Hir) -> bool:
        return isinstance(h, HClass) and sum(hi - lo for lo, hi in h.ranges) > 1000

    def sample(self, h: Hir, fill: str | None = None) -> str:
        self.fill = fill
        self.mode = self.rng.choice(("", "lower", "lower", "upper"))
        out: list[str] = []
        self.gen(h, out, [0])
        return "".join(out)

    def gen(self, h: Hir, out: list[str], at: list[int]) -> None:
        rng = self.rng
        if isinstance(h, HLit):
            out.append(h.text)
            at[0] += len(h.text)
        elif isinstance(h, HClass):
            if h.ranges:
                out.append(self.char(h.ranges, at[0]))
                at[0] += 1
        elif isinstance(h, (HLook, HEmpty)):
            return
        elif isinstance(h, HCap):
            self.gen(h.sub, out, at)
        elif isinstance(h, HCat):
            for x in h.items:
                self.gen(x, out, at)
        elif isinstance(h, HAlt):
            self.gen(rng.choice(h.items), out, at)
        elif isinstance(h, HRep):
            if h.max is None and self.wide(h.sub):
                text = self.fill if self.fill is not None else (
                    rng.choice(self.pool) if self.pool and rng.random() < 0.6 else None)
                if text is not None:
                    if h.min and len(text) < h.min:
                        text += "x" * (h.min - len(text))
                    out.append(text)
                    at[0] += len(text)
                    return
            hi = h.max if h.max is not None else h.min + _MAX_REP
            for _ in range(rng.randint(h.min, min(hi, h.min + _MAX_REP))):
                self.gen(h.sub, out, at)


def _strip_code(sample: str) -> list[str]:
    """The sample, and what follows its leading `DDD ` / `DDD X.Y.Z `."""
    out = [sample]
    parts = sample.split(" ", 2)
    if len(parts) >= 2 and parts[0].isdigit():
        out.append(" ".join(parts[1:]))
        if len(parts) == 3 and parts[1].count(".") == 2:
            out.append(parts[2])
    return out


_BUDGET = 60_000  # synthesized responses per rule set (each is one set lookup)


def _examples(hirs: Sequence[tuple[str, Hir]], rng: random.Random) -> list[str]:
    """Responses derived from the patterns: each pattern's examples with
    pieces of the other patterns' examples in its wildcards, and the status
    prefixes of anchored patterns in front of unanchored ones."""
    base = _Sampler(rng, [], [])
    first = [base.sample(h) for _, h in hirs for _ in range(2)]
    pieces = {piece for s in first for piece in _strip_code(s)}
    pool = sorted(pieces | {p + " " for p in pieces if p} | {""})
    prefixes = sorted({s.split(" ", 1)[0] + " " for s in first if s[:3].isdigit()}
                      | {" ".join(s.split(" ", 2)[:2]) + " " for s in first
                         if s[:3].isdigit() and s.count(" ") >= 2})
    sampler = _Sampler(rng, pool, first)
    per_pattern = max(_SAMPLES, _BUDGET // max(1, len(hirs)) // 2)
    examples: list[str] = list(first)
    for _, h in hirs:
        fills: list[str | None] = (list(pool) if len(pool) <= per_pattern
                                   else rng.sample(pool, per_pattern))
        fills.extend([None] * _SAMPLES)
        for fill in fills:
            text = sampler.sample(h, fill)
            examples.append(text)
            if prefixes and not text[:3].isdigit():
                examples.append(rng.choice(prefixes) + text)
    return list(dict.fromkeys(examples))


# ---------------------------------------------------------------------------
# the rule set
# ---------------------------------------------------------------------------


def lint_rules(rules: Mapping[str, Any] | Iterable[tuple[str, Any]],
               corpus: Iterable[str] = (), *, synthesize: bool = True,
               seed: int = 0, rewrite: bool = True) -> list[Finding]:
    """Every finding for a rule set (pattern -> value), patterns in the order
    kumopy uses (sorted).  `corpus` lines are responses to look for
    overlaps in (single-line form, `450 4.1.1 text`); with `synthesize`,
    responses made from the patterns are tried too (`seed` fixes them).
    With `rewrite` False the map is not taken as SMTP-response -> code
    rules: only syntax, empty patterns and overlaps with different values
    are reported."""
    items = dict(rules.items() if isinstance(rules, Mapping) else rules)
    findings: list[Finding] = []
    hirs: list[tuple[str, Hir]] = []
    good: dict[str, Any] = {}
    codes: dict[str, Any] = {}
    for pattern in sorted(items):
        value = items[pattern]
        try:
            h = parse_to_hir(pattern)
        except RegexSyntaxError as e:
            lines = str(e).strip().splitlines()
            reason = lines[-1].removeprefix("error: ") if lines else str(e)
            findings.append(Finding("error", "rust-syntax", (pattern,),
                                    f"the Rust regex crate refuses it ({reason}); kumod "
                                    "fails to build the whole map"))
            continue
        if rewrite:
            findings.extend(_pattern_findings(pattern, h))
            value_findings, code = _value_findings(pattern, value)
            findings.extend(value_findings)
        else:
            if _dead(h):
                findings.append(Finding("error", "never-matches", (pattern,),
                                        "matches nothing at all (an empty class, or an "
                                        "anchor that cannot hold where it is)"))
            code = value
        hirs.append((pattern, h))
        good[pattern] = value
        codes[pattern] = code
    if not good:
        return findings
    try:
        rmap = RegexSetMap(good)
    except RegexSetError as e:
        findings.append(Finding("error", "size-limit", tuple(sorted(good))[:1],
                                f"{e}; kumod refuses the whole set"))
        rmap = RegexSetMap(good, size_limit=None)
    patterns = rmap.patterns
    # (a, b) -> (example, source): the first corpus line, else the shortest
    # synthesized response (short ones read best)
    witness: dict[tuple[str, str], tuple[str, str]] = {}

    def check(text: str, source: str) -> None:
        hits = rmap.matches(text)
        if len(hits) < 2:
            return
        for i, (a, _) in enumerate(hits):
            for b, _ in hits[i + 1:]:
                if codes[a] == codes[b] or (rewrite and not (
                        isinstance(codes[a], int) and isinstance(codes[b], int))):
                    continue
                known = witness.get((a, b))
                if known is None or (known[1] == "synthesized" and len(text) < len(known[0])):
                    witness[(a, b)] = (text, source)

    for number, line in enumerate(corpus, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            check(text, f"corpus line {number}")
    if synthesize and len(patterns) > 1:
        for text in _examples(hirs, random.Random(seed)):
            check(text, "synthesized")
    for (a, b), (text, source) in witness.items():
        findings.append(Finding(
            "error", "overlap", (a, b),
            f"both match {text!r} ({source}) but map to {items[a]!r} and "
            f"{items[b]!r}: kumod's choice changes between restarts "
            f"(kumopy takes {items[a]!r})", example=text))
    return findings


def probe_policy_maps(policy: Any) -> list[tuple[str, list[Finding]]]:
    """Lint every regex_set_map the policy builds while loading, validating
    and handling one probe call of smtp_client_rewrite_delivery_status
    (maps are often built lazily, on the first call).  Maps the handler
    looks the probe response up in get every check; other maps only the
    checks that do not assume response -> code rules.  Returns
    (where the map was built, findings) pairs."""
    from .._errors import PolicyError
    from .._kumo.regex_set_map import LuaRegexSetMap, observe_builds, observe_lookups

    built: list[tuple[str, LuaRegexSetMap]] = []
    used: set[int] = set()  # maps the rewrite handler looked a response up in

    def on_build(m: LuaRegexSetMap, where: str) -> None:
        built.append((where, m))

    def on_lookup(m: LuaRegexSetMap, index: int | None, subject: bytes | str) -> None:
        text = subject.decode("utf-8", "replace") if isinstance(subject, bytes) else subject
        if text == PROBE:
            used.add(id(m))

    out: list[tuple[str, list[Finding]]] = []
    with observe_builds(on_build), observe_lookups(on_lookup):
        if policy.handlers("smtp_client_rewrite_delivery_status"):
            try:
                policy.rewrite_delivery_status(PROBE, "example.com", raise_errors=True)
            except PolicyError as e:
                # e.g. a rule kumod cannot compile: every call would fail so
                out.append(("the probe", [Finding(
                    "error", "handler-failed", (),
                    f"smtp_client_rewrite_delivery_status failed on the probe response "
                    f"{PROBE!r}: {e}")]))
    from .._kumo.regex_set_map import BUILT_SERVICE

    everything = [(where, ref()) for where, ref in policy.service(BUILT_SERVICE, list)]
    seen: set[int] = set()
    for where, m in [*((w, x) for w, x in everything if x is not None), *built]:
        if id(m) in seen:
            continue
        seen.add(id(m))
        out.append((where, lint_rules(m.items(), rewrite=id(m) in used)))
    return out
