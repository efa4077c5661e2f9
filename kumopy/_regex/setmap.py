"""`RegexSetMap`: the pattern engine behind `kumo.regex_set_map.new`.

kumod compiles every key of the map with the Rust `regex` crate into one
`RegexSet` and answers `map[subject]` with the value of a matching pattern.
This class does the same in Python: patterns are validated and translated
by `kumopy._regex.syntax` (Rust syntax and semantics) and matched together
by one RE2 set (linear time in the subject, about a microsecond per lookup
whatever the number of patterns).

Choice among several matching patterns (the one winner rule, shared by
this class and `kumo.regex_set_map.new`, documented in docs/rewrite.md):
kumod takes the lowest index in its `RegexSet`, and that order is the
iteration order of the `HashMap<String, Value>` mlua builds from the Lua
table, which Rust seeds randomly for every map.  So kumod's winner is
unspecified, and the order of the rules in the table or JSON file means
nothing to it.  kumopy takes the first matching pattern in sorted order of
the pattern text (code point order), whatever order the rules were given
in, so its answer is reproducible and never suggests that rule order
matters.  `ambiguous()` tells whether a subject is one where kumod's answer
could differ from run to run.

A few patterns have no exact RE2 form for every subject (Unicode word
boundaries on non-ASCII text, rewrites that would be too large): RE2 then
matches a looser form and each candidate is confirmed by an exact check in
Python: the pattern's Thompson NFA (`syntax.Verifier`) run as a lazily
built DFA (`_LazyDfa`), linear in the subject with one dictionary lookup
per character once its states are known, so only those lookups are
slower (simulating the NFA thread by thread took minutes on a 200 KB
subject).

Subjects that are not valid UTF-8 (Python strings carrying lone surrogates,
as produced by decoding with `errors="surrogateescape"`, or `bytes`) are
matched as their lossy UTF-8 conversion: each maximal invalid sequence
becomes U+FFFD, like Rust's `String::from_utf8_lossy`.  kumod itself
refuses such a subject before matching (mlua cannot convert it to a Rust
`String`); `utf8_error()` gives the text of that error for callers that
want to reproduce it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import re2

from kumopy._regex.syntax import (
    RUST_NFA_SIZE_LIMIT,
    RegexSyntaxError,
    SizeLimitError,
    Translation,
    Verifier,
    parse_to_hir,
    set_nfa_size,
    translate,
)

if TYPE_CHECKING:
    from kumopy._regex._shared import Answers

__all__ = ["RegexSetError", "RegexSetMap", "Subject", "share_answers", "utf8_error"]

#: What can be looked up: text, or raw bytes (decoded as UTF-8, lossily).
Subject = str | bytes | bytearray | memoryview

#: answers shared with the other processes of a replay (see `share_answers`)
_answers: Answers | None = None


def share_answers(answers: Answers | None) -> None:
    """Have `first_index` read and write `answers` (None: stop): set by
    each process of a `kumopy replay --jobs N` forked from the one that
    made it."""
    global _answers
    _answers = answers


# RE2 memory budgets tried in turn; the smallest that compiles is kept (the
# DFA's state cache may grow up to what the program leaves of it).
_RE2_MAX_MEM = (64 << 20, 256 << 20, 1 << 30)


class RegexSetError(ValueError):
    """A rule set kumod would refuse to build.

    The message is what kumod reports: `compiling rules: ` followed by the
    regex crate's error (for a bad pattern: `regex parse error:`, the
    pattern, a caret line and `error: ...`).  `pattern` is the offending
    pattern (None for a size-limit error), `detail` the text after the
    prefix.
    """

    def __init__(self, detail: str, pattern: str | None = None) -> None:
        self.detail = detail
        self.pattern = pattern
        super().__init__("compiling rules: " + detail)


def _raw_bytes(subject: str) -> bytes:
    """The bytes a str stands for: lone surrogates U+DC80..U+DCFF are the
    bytes `surrogateescape` decoding put there; other lone surrogates are
    taken as their (invalid) three-byte encoding."""
    try:
        return subject.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        parts = []
        for ch in subject:
            o = ord(ch)
            if 0xDC80 <= o <= 0xDCFF:
                parts.append(bytes((o - 0xDC00,)))
            else:
                parts.append(ch.encode("utf-8", "surrogatepass"))
        return b"".join(parts)


def _lossy_utf8(subject: str) -> bytes:
    """UTF-8 of a str with lone surrogates, invalid sequences replaced by
    U+FFFD the way Rust's `from_utf8_lossy` does."""
    return _raw_bytes(subject).decode("utf-8", "replace").encode("utf-8")


def _subject_bytes(subject: Subject) -> bytes:
    if isinstance(subject, str):
        try:
            return subject.encode("utf-8")
        except UnicodeEncodeError:
            return _lossy_utf8(subject)
    if isinstance(subject, (bytes, bytearray, memoryview)):
        data = bytes(subject)
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("utf-8", "replace").encode("utf-8")
        return data
    raise TypeError(f"subject must be str or bytes, not {type(subject).__name__}")


def utf8_error(subject: Subject) -> str | None:
    """The error Rust reports when converting `subject` to a `String`
    (`invalid utf-8 sequence of 1 bytes from index 3`, ...), or None when it
    is valid UTF-8.  A str is taken as bytes decoded with surrogateescape.
    """
    if isinstance(subject, str):
        try:
            subject.encode("utf-8")
            return None
        except UnicodeEncodeError:
            data = _raw_bytes(subject)
    else:
        data = bytes(subject)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return f"incomplete utf-8 byte sequence from index {exc.start}"
        return f"invalid utf-8 sequence of {exc.end - exc.start} bytes from index {exc.start}"
    return None


def _compile_set(expressions: list[str]) -> Callable[[bytes], list[int]]:
    """An RE2 unanchored set of `expressions`; returns its match function
    (subject bytes -> indexes of all matching expressions)."""
    last_error = ""
    for max_mem in _RE2_MAX_MEM:
        options = re2.Options()
        options.max_mem = max_mem
        options.log_errors = False
        options.never_capture = True
        rset = re2.Set.SearchSet(options)
        for i, expr in enumerate(expressions):
            try:
                index = rset.Add(expr)
            except re2.error as exc:  # a translation bug, not a user error
                raise RegexSetError(f"kumopy could not hand pattern #{i} to RE2 ({exc})") from None
            assert index == i
        try:
            rset.Compile()
        except re2.error as exc:
            last_error = str(exc)
            continue
        inner = getattr(rset, "_set", None)
        match = getattr(inner, "Match", None)
        if match is None:  # pragma: no cover - other wrapper layouts

            def match(data: bytes, _m: Any = rset.Match) -> list[int]:
                return list(_m(data) or ())

        return match
    raise RegexSetError(
        f"Compiled regex exceeds size limit of {RUST_NFA_SIZE_LIMIT} bytes. (RE2: {last_error})"
    )


class RegexSetMap:
    """Map from Rust-syntax regular expressions to values.

    `lookup(subject)` searches every pattern (unanchored, like Rust's
    `RegexSet`) and returns the value of a matching one, or None.

    The rules are kept in sorted order of the pattern text (`patterns`,
    `values`, `items()` and `matches()` list them so), and when several
    patterns match, the value of the first of them in that order is
    returned, whatever order the rules were given in.  (kumod's own choice
    among several matches depends on a randomly seeded hash order; see
    `ambiguous`.)  The object is immutable; values are
    opaque and returned as given.  Construction fails with `RegexSetError`
    (`compiling rules: ...`) for any pattern the Rust crate would refuse,
    and for rule sets whose NFA would exceed the crate's default size limit
    (`size_limit`, in bytes of the estimated Rust NFA; None skips that
    check, for experiments only: kumod always applies it).
    """

    __slots__ = (
        "_patterns",
        "_values",
        "_match",
        "_simple",
        "_check_ascii",
        "_loose",
        "_loose_index",
        "_lmatch",
        "_translations",
        "_key",
    )

    _patterns: tuple[str, ...]
    _values: tuple[object, ...]
    _match: Callable[[bytes], list[int]] | None
    _simple: bool
    _check_ascii: frozenset[int]
    _loose: frozenset[int]
    _loose_index: tuple[int, ...]
    _lmatch: Callable[[bytes], list[int]] | None
    _translations: tuple[Translation, ...]
    _key: int

    def __init__(
        self,
        rules: Mapping[str, object] | Iterable[tuple[str, object]] | None = None,
        *,
        size_limit: int | None = RUST_NFA_SIZE_LIMIT,
    ) -> None:
        items: list[tuple[str, object]]
        if rules is None:
            items = []
        elif isinstance(rules, Mapping):
            items = list(rules.items())
        else:
            items = list(dict(rules).items())
        for key, _ in items:
            if not isinstance(key, str):
                raise TypeError(f"regex_set_map keys must be strings, not {type(key).__name__}")
            problem = utf8_error(key)
            if problem is not None:
                raise ValueError(f"regex_set_map key {key!r} is not valid UTF-8 ({problem})")
        # the one winner rule: sorted pattern text (keys are unique and valid
        # UTF-8, so code point order is also the order of their UTF-8 bytes)
        items.sort(key=_pattern_text)
        # Like the crate: every pattern is parsed (the first syntax error in
        # that order wins) before the size of the whole set is checked.
        translations: list[Translation] = []
        too_large = False
        for key, _ in items:
            try:
                translations.append(translate(key))
            except RegexSyntaxError as exc:
                raise RegexSetError(str(exc), key) from None
            except SizeLimitError:
                too_large = True
        if too_large:
            raise RegexSetError(str(SizeLimitError()))
        if translations and size_limit is not None:
            forward, reverse = set_nfa_size(translations)
            if max(forward, reverse) > size_limit:
                raise RegexSetError(f"Compiled regex exceeds size limit of {size_limit} bytes.")
        loose = [i for i, t in enumerate(translations) if not t.unicode_exact]
        init = object.__setattr__
        init(self, "_patterns", tuple(k for k, _ in items))
        # (what Answers knows this map's answers by: the answer to a subject
        # depends on the patterns alone)
        init(self, "_key", hash(self._patterns) & 0xFFFF_FFFF_FFFF_FFFF)
        init(self, "_values", tuple(v for _, v in items))
        init(self, "_translations", tuple(translations))
        init(self, "_simple", not loose)
        init(
            self,
            "_check_ascii",
            frozenset(i for i, t in enumerate(translations) if not t.ascii_exact),
        )
        init(self, "_loose", frozenset(loose))
        init(self, "_loose_index", tuple(loose))
        init(self, "_match", _compile_set([t.re2 for t in translations]) if items else None)
        init(
            self,
            "_lmatch",
            _compile_set([translations[i].loose or "" for i in loose]) if loose else None,
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RegexSetMap is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("RegexSetMap is immutable")

    # -- matching -----------------------------------------------------------
    def _confirmed(self, data: bytes, first_only: bool) -> list[int]:
        """Indexes of the matching patterns in sorted order (only the first
        one with `first_only`)."""
        match = self._match
        if match is None:
            return []
        hits = match(data)
        if self._simple:
            hits.sort()
            return hits[:1] if first_only else hits
        check: frozenset[int] | set[int]
        if data.isascii():
            check = self._check_ascii
        else:
            # The RE2 form of these patterns is exact only for ASCII text:
            # take candidates from their looser form and check them.
            loose = self._loose
            hits = [i for i in hits if i not in loose]
            index = self._loose_index
            check = {index[j] for j in self._lmatch(data)}  # type: ignore[misc]
            hits.extend(check)
        hits.sort()
        if not check:
            return hits[:1] if first_only else hits
        text = data.decode("utf-8")
        out = []
        for i in hits:
            if i in check and not _exact(self._translations[i], text):
                continue
            out.append(i)
            if first_only:
                break
        return out

    def lookup(self, subject: Subject) -> object | None:
        """The value of the first (in sorted pattern order) pattern matching
        anywhere in `subject`, or None."""
        index = self.first_index(subject)
        return None if index is None else self._values[index]

    def first_index(self, subject: Subject) -> int | None:
        """The index (in `patterns`) of the pattern `lookup` would take, or
        None: `lookup(s)` is `values[first_index(s)]`."""
        match = self._match
        if match is None:
            return None
        if subject.__class__ is str:
            try:
                data = subject.encode()
            except UnicodeEncodeError:
                data = _lossy_utf8(subject)
        elif subject.__class__ is bytes and subject.isascii():  # (immutable: no copy)
            data = subject
        else:
            data = _subject_bytes(subject)
        answers = _answers
        if answers is not None:
            known = answers.get(self._key, data)
            if known >= 0:
                return known - 1 if known else None
        if self._simple:
            hits = match(data)
            index = min(hits) if hits else None
        else:
            found = self._confirmed(data, True)
            index = found[0] if found else None
        if answers is not None:
            answers.put(self._key, data, 0 if index is None else index + 1)
        return index

    def get(self, subject: Subject, default: object | None = None) -> object | None:
        """Like `lookup`, returning `default` when nothing matches."""
        found = self._confirmed(_subject_bytes(subject), True)
        return self._values[found[0]] if found else default

    def matches(self, subject: Subject) -> list[tuple[str, object]]:
        """Every matching (pattern, value), in sorted pattern order."""
        found = self._confirmed(_subject_bytes(subject), False)
        return [(self._patterns[i], self._values[i]) for i in found]

    def ambiguous(self, subject: Subject) -> bool:
        """True when patterns with different values match `subject`: kumod
        may then return any of those values (its order is random)."""
        found = self._confirmed(_subject_bytes(subject), False)
        if len(found) < 2:
            return False
        values = self._values
        first = values[found[0]]
        return any(not _same(values[i], first) for i in found[1:])

    # -- introspection ----------------------------------------------------------
    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns, sorted."""
        return self._patterns

    @property
    def values(self) -> tuple[object, ...]:
        """The values, in the order of `patterns`."""
        return self._values

    def items(self) -> list[tuple[str, object]]:
        return list(zip(self._patterns, self._values, strict=True))

    def __len__(self) -> int:
        return len(self._patterns)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        shown = ", ".join(repr(p) for p in self._patterns[:3])
        more = ", ..." if len(self._patterns) > 3 else ""
        return f"<RegexSetMap {len(self._patterns)} patterns [{shown}{more}]>"


def _pattern_text(item: tuple[str, object]) -> str:
    return item[0]


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # opaque values may not compare
        return False


# -- exact check: the NFA of syntax.Verifier as a lazily built DFA -------------

_MATCH = frozenset({-1})
#: the most transitions one DFA keeps (its cache starts again beyond)
DFA_CACHE_LIMIT = 100_000


class _LazyDfa:
    """`Verifier.search` with the thread sets memoised: a DFA state is the
    set of NFA threads waiting for a character, and the step from one state
    over (previous character, character) is computed once, so a long
    subject costs one dictionary lookup per character."""

    def __init__(self, verifier: Verifier) -> None:
        self.v = verifier
        self.steps: dict[tuple[frozenset[int], str | None, str | None], frozenset[int]] = {}
        self.start = frozenset({verifier.start})

    def _step(self, threads: frozenset[int], prev: str | None, cur: str | None) -> frozenset[int]:
        key = (threads, prev, cur)
        got = self.steps.get(key)
        if got is not None:
            return got
        waiting = self.v.step(threads | self.start, prev, cur)
        got = _MATCH if waiting is None else frozenset(waiting)
        if len(self.steps) >= DFA_CACHE_LIMIT:
            self.steps.clear()
        self.steps[key] = got
        return got

    def search(self, text: str) -> bool:
        threads: frozenset[int] = frozenset()
        prev: str | None = None
        step = self._step
        context = self._context
        for cur in text:
            threads = step(threads, context(prev), cur)
            if threads is _MATCH:
                return True
            prev = cur
        return step(threads, context(prev), None) is _MATCH

    def _context(self, c: str | None) -> str | None:
        """What of the previous character the assertions can see: ASCII
        characters as themselves, others only as word or non-word (so that
        the cache does not grow with the alphabet)."""
        if c is None or c.isascii():
            return c
        return "\u00e9" if self.v._is_word(c, True) else "\u00a0"


_DFAS: dict[str, _LazyDfa] = {}


def _exact(translation: Translation, text: str) -> bool:
    """Whether `translation`'s pattern matches somewhere in `text` (exact)."""
    dfa = _DFAS.get(translation.pattern)
    if dfa is None:
        if len(_DFAS) >= 1024:
            _DFAS.clear()
        hir = translation.hir if translation.hir is not None else parse_to_hir(translation.pattern)
        dfa = _DFAS[translation.pattern] = _LazyDfa(Verifier(hir))
    return dfa.search(text)
