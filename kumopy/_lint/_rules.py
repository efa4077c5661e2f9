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

import functools
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._kumo.formats import FormatError, load_json, load_toml
from .._regex import RegexSetError, RegexSetMap, RegexSyntaxError
from .._regex._errors import RUST_NFA_SIZE_LIMIT, SizeLimitError
from .._regex._nfa_size import set_nfa_size
from .._regex._re2 import Translation
from .._regex._translate import parsed, translate
from .._regex.syntax import (
    LOOK_END,
    LOOK_START,
    HAlt,
    HCap,
    HCat,
    HClass,
    Hir,
    HLit,
    HLook,
    HRep,
    _fast_hir,
    _fast_scan,
    hir_min_len,
    to_cp,
)
from .._smtp import ConversionError, to_u16

__all__ = [
    "Finding",
    "MapObservation",
    "lint_policy_maps",
    "lint_rules",
    "load_rules",
    "probe_policy_maps",
]

#: the response `probe_policy_maps` offers to the rewrite handler
PROBE = "451 4.0.0 kumopy lint probe"


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


@functools.lru_cache(maxsize=4096)
def _class_chars(ranges: tuple[tuple[int, int], ...], limit: int = 128) -> frozenset[str]:
    out: set[str] = set()
    for lo, hi in ranges:
        for i in range(lo, min(hi, lo + limit) + 1):
            out.add(chr(to_cp(i)))
    return frozenset(out)


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
        items = h.items
        if any(_dead(x) for x in items):
            return True
        # a start anchor after text that cannot be empty (the last one is
        # preceded by the most), an end anchor before such text (the first)
        last = first = -1
        for k, x in enumerate(items):
            if isinstance(x, HLook):
                if x.kind == LOOK_START:
                    last = k
                elif x.kind == LOOK_END and first < 0:
                    first = k
        if last > 0 and any(hir_min_len(x) for x in items[:last]):
            return True
        if first >= 0 and any(hir_min_len(x) for x in items[first + 1:]):
            return True
    return False


def _fixed_prefix(h: Hir, n: int) -> list[frozenset[str] | None] | None:
    """For a pattern that starts with `\\A`: the possible characters at
    positions 0..n-1 of the subject (None: anything, or not known).
    None when the pattern is not anchored at the start."""
    items = list(h.items) if isinstance(h, HCat) else [h]
    while items and isinstance(items[0], HCap):
        sub = items[0].sub
        items = (list(sub.items) if isinstance(sub, HCat) else [sub]) + items[1:]
    if not items or not (isinstance(items[0], HLook) and items[0].kind == LOOK_START):
        return None
    out: list[frozenset[str] | None] = []
    for x in items[1:]:
        if len(out) >= n:
            break
        if isinstance(x, HLit):
            out.extend(frozenset(c) for c in x.text)
        elif isinstance(x, HClass):
            out.append(_class_chars(x.ranges, 4096) if sum(
                hi - lo for lo, hi in x.ranges) < 4096 else None)
        elif isinstance(x, HRep) and x.min == x.max and isinstance(x.sub, HClass):
            chars = _class_chars(x.sub.ranges, 4096)
            out.extend(chars for _ in range(x.min))
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
    # every offered line starts with its status code (kumod prints the u16
    # it parsed from three characters: 0..999 without leading zeros) and a
    # space; the automata decide the rest exactly
    if prefix and prefix[0] is not None and not (prefix[0] & _DIGITS):
        return [Finding("error", "never-matches", (pattern,),
                        "anchored at the start, but every line offered to "
                        "smtp_client_rewrite_delivery_status starts with its status code "
                        "(the pattern has no digit at position 0)")]
    if len(prefix) >= 3 and all(p is not None and len(p) == 1 for p in prefix[:3]):
        code = "".join(next(iter(p)) for p in prefix[:3] if p is not None)
        if code == "250":
            return [Finding("error", "never-matches", (pattern,),
                            "matches only 250 responses, which kumod never offers to "
                            "smtp_client_rewrite_delivery_status")]
    if len(prefix) >= 6:
        first, enh, dot = prefix[0], prefix[4], prefix[5]
        if (first is not None and enh is not None and dot == frozenset(".") and len(first) == 1
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
# the rule set
# ---------------------------------------------------------------------------

#: Overlapping pairs listed by default; the rest are counted in one finding.
MAX_OVERLAPS = 100


def _hir(pattern: str) -> Hir:
    """The pattern's HIR: by the fast path's remembered tokens when it has
    the common flat shape (the same HIR, tested in test_regex_set_map),
    else by the parser (which alone reports errors)."""
    seq = _fast_scan(pattern)
    if seq is not None:
        return _fast_hir(seq)
    return parsed(pattern)


def lint_rules(rules: Mapping[str, Any] | Iterable[tuple[str, Any]],
               corpus: Iterable[str] = (), *, synthesize: bool = True,
               seed: int = 0, rewrite: bool = True,
               max_overlaps: int | None = MAX_OVERLAPS) -> list[Finding]:
    """Every finding for a rule set (pattern -> value), patterns in the order
    kumopy uses (sorted).  Overlaps between patterns with different values
    are decided on automata (`synthesize`; without it only `corpus` lines,
    single-line responses such as `450 4.1.1 text`, are looked at), and
    shown with a corpus line when one matches both, else with a made-up
    response that reads like a real one.  At most `max_overlaps` overlap
    findings are listed (None: all); one more finding counts the rest.
    With `rewrite` False the map is not taken as SMTP-response -> code
    rules: subjects are any text, only syntax, patterns matching nothing
    and overlaps with different values are reported.  (`seed` is kept for
    callers of the former randomized search; nothing is random now.)"""
    del seed
    with _collector_paused():
        return _lint(rules, corpus, synthesize=synthesize, rewrite=rewrite,
                     max_overlaps=max_overlaps)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Lint allocates some hundred thousand small objects (automaton
    states and transitions) and frees them by reference counting; the
    cyclic garbage collector's passes over them cost a third of the time
    on 10,000 rules, and find nothing (lint makes no cycles).  It is
    switched back on afterwards, if it was on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _lint(rules: Mapping[str, Any] | Iterable[tuple[str, Any]], corpus: Iterable[str], *,
          synthesize: bool, rewrite: bool, max_overlaps: int | None) -> list[Finding]:
    items = dict(rules.items() if isinstance(rules, Mapping) else rules)
    findings: list[Finding] = []
    hirs: list[tuple[str, Hir]] = []
    good: dict[str, Any] = {}
    codes: dict[str, Any] = {}
    translations: list[Translation] = []
    for pattern in sorted(items):
        value = items[pattern]
        try:
            h = _hir(pattern)
            translation = translate(pattern)
        except RegexSyntaxError as e:
            lines = str(e).strip().splitlines()
            reason = lines[-1].removeprefix("error: ") if lines else str(e)
            findings.append(Finding("error", "rust-syntax", (pattern,),
                                    f"the Rust regex crate refuses it ({reason}); kumod "
                                    "fails to build the whole map"))
            continue
        except SizeLimitError as e:
            findings.append(Finding("error", "size-limit", (pattern,),
                                    f"the Rust regex crate refuses it alone ({e}); kumod "
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
        translations.append(translation)
    if not good:
        return findings
    if max(set_nfa_size(translations)) > RUST_NFA_SIZE_LIMIT:
        refused = RegexSetError(
            f"Compiled regex exceeds size limit of {RUST_NFA_SIZE_LIMIT} bytes.")
        findings.append(Finding("error", "size-limit", tuple(sorted(good))[:1],
                                f"{refused}; kumod refuses the whole set"))
    # the set, for matching corpus lines (compiled when first needed)
    built: list[RegexSetMap] = []

    def rmap() -> RegexSetMap:
        if not built:
            built.append(RegexSetMap(good, size_limit=None))
        return built[0]

    order = [p for p, _ in hirs]
    position = {p: i for i, p in enumerate(order)}
    if rewrite:  # only values kumod can use are compared
        keys: list[Any] = [codes[p] if isinstance(codes[p], int) else None for p in order]
    else:
        keys = [_Key(items[p]) for p in order]
    # corpus lines: the first one matching each pair is its example
    seen: dict[tuple[int, int], tuple[str, int]] = {}
    for number, line in enumerate(corpus, start=1):
        subject = line.rstrip("\r\n")
        if not subject.strip():
            continue
        hits = sorted(position[p] for p, _ in rmap().matches(subject))
        for x, i in enumerate(hits):
            for j in hits[x + 1:]:
                if keys[i] is not None and keys[j] is not None and keys[i] != keys[j]:
                    seen.setdefault((i, j), (subject, number))
    pairs: list[tuple[int, int]] = []
    examples: dict[tuple[int, int], tuple[str | None, str]] = {}
    total = 0
    if synthesize:
        from ._overlap import OverlapEngine

        engine = OverlapEngine([h for _, h in hirs], keys, rewrite=rewrite)
        flagged = {f.patterns[0] for f in findings if f.kind == "never-matches"}
        live: list[int] = []
        for i, p in enumerate(order):
            if p in flagged:
                continue
            nothing = engine.matches_nothing(i)
            if nothing:
                findings.append(Finding("error", "never-matches", (p,), _NOTHING_OFFERED
                                        if rewrite else "no text matches it"))
            else:
                live.append(i)
        decision = engine.decide(live, limit=max_overlaps, prefer=seen.keys())
        for i, reason in sorted(decision.undecided_patterns.items()):
            findings.append(Finding(
                "warning", "undecided", (order[i],),
                f"its automaton is too large to decide overlaps ({reason}); "
                "its overlaps with other patterns are not checked"))
        for i, j, reason in decision.undecided_pairs:
            findings.append(Finding(
                "warning", "undecided", (order[i], order[j]),
                f"whether both can match one response is not decided: {reason}"))
        pairs = decision.pairs
        total = decision.total

        # examples are checked on the whole set if the corpus made it, else
        # on a set of the patterns of the pairs to show (compiling the whole
        # set for a hundred examples costs more)
        to_check = {order[k] for i, j in pairs if (i, j) not in seen for k in (i, j)}
        checker = built[0] if built else RegexSetMap(
            {p: good[p] for p in sorted(to_check)}, size_limit=None) if to_check else None

        def check(i: int, j: int) -> Callable[[str], bool]:
            want = {order[i], order[j]}
            assert checker is not None  # (i, j) is shown
            matches = checker.matches
            return lambda text: want <= {p for p, _ in matches(text)}

        for i, j in pairs:
            if (i, j) in seen:
                subject, number = seen[(i, j)]
                examples[(i, j)] = (subject, f"corpus line {number}")
            else:
                examples[(i, j)] = (engine.example(i, j, check(i, j)), "")
    else:
        pairs = sorted(seen)
        total = len(pairs)
        if max_overlaps is not None:
            pairs = pairs[:max_overlaps]
        for pair in pairs:
            subject, number = seen[pair]
            examples[pair] = (subject, f"corpus line {number}")
    for i, j in pairs:
        a, b = order[i], order[j]
        text, source = examples[(i, j)]
        if text is None:
            shown = "can both match one response (no example was found within the limits)"
        else:
            shown = f"both match {text!r}" + (f" ({source})" if source else "")
        findings.append(Finding(
            "error", "overlap", (a, b),
            f"{shown} but map to {items[a]!r} and {items[b]!r}: kumod's choice changes "
            f"between restarts (kumopy takes {items[a]!r})", example=text))
    if total > len(pairs):
        rest = total - len(pairs)
        findings.append(Finding(
            "error", "overlap", (),
            f"{rest} more pair{'s' if rest != 1 else ''} of patterns with different values "
            f"overlap ({total} in all; not listed, raise the limit to list them)"))
    return findings


_NOTHING_OFFERED = ("no line kumod offers to smtp_client_rewrite_delivery_status matches it "
                    "(such a line is a status code, a space and text without line breaks, "
                    "and never has code 250)")


class _Key:
    """A value compared as Lua compares them (for maps that are not
    response -> code rules)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and _same(self.value, other.value)

    def __hash__(self) -> int:
        try:
            return hash(self.value)
        except TypeError:
            return 0


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


class MapObservation:
    """Which regex_set_maps a policy builds while some of its code runs, and
    which of them its rewrite handler looks the response `probe` up in
    (maps are often built lazily, on the first call).  `kumopy validate`
    watches its own probe call with one, so the handler runs once."""

    def __init__(self, probe: str) -> None:
        self.probe = probe
        #: (where it was built, the map), kept alive for the lint
        self.built: list[tuple[str, Any]] = []
        #: ids of the maps the response was looked up in
        self.used: set[int] = set()

    @contextmanager
    def watching(self) -> Iterator[None]:
        from .._kumo.regex_set_map import observe_builds, observe_lookups

        def on_build(m: Any, where: str) -> None:
            self.built.append((where, m))

        def on_lookup(m: Any, index: int | None, subject: bytes | str) -> None:
            text = subject.decode("utf-8", "replace") if isinstance(subject, bytes) else subject
            if text == self.probe:
                self.used.add(id(m))

        with observe_builds(on_build), observe_lookups(on_lookup):
            yield


def lint_policy_maps(policy: Any, observation: MapObservation) -> list[tuple[str, list[Finding]]]:
    """Lint every regex_set_map the policy has built (those built while
    `observation` watched included).  Maps the handler looked the probe
    response up in get every check; other maps only the checks that do not
    assume response -> code rules.  Returns (where the map was built,
    findings) pairs."""
    from .._kumo.regex_set_map import BUILT_SERVICE

    everything = [(where, ref()) for where, ref in policy.service(BUILT_SERVICE, list)]
    seen: set[int] = set()
    out: list[tuple[str, list[Finding]]] = []
    for where, m in [*((w, x) for w, x in everything if x is not None), *observation.built]:
        if id(m) in seen:
            continue
        seen.add(id(m))
        out.append((where, lint_rules(m.items(), rewrite=id(m) in observation.used)))
    return out


def probe_policy_maps(policy: Any) -> list[tuple[str, list[Finding]]]:
    """Lint every regex_set_map the policy builds while loading, validating
    and handling one probe call of smtp_client_rewrite_delivery_status
    (the response `PROBE`); see `lint_policy_maps`."""
    from .._errors import PolicyError

    observation = MapObservation(PROBE)
    out: list[tuple[str, list[Finding]]] = []
    with observation.watching():
        if policy.handlers("smtp_client_rewrite_delivery_status"):
            try:
                policy.rewrite_delivery_status(PROBE, "example.com", raise_errors=True)
            except PolicyError as e:
                # e.g. a rule kumod cannot compile: every call would fail so
                out.append(("the probe", [Finding(
                    "error", "handler-failed", (),
                    f"smtp_client_rewrite_delivery_status failed on the probe response "
                    f"{PROBE!r}: {e}")]))
    return out + lint_policy_maps(policy, observation)
