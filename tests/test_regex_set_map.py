"""kumopy._regex: the pattern engine behind `kumo.regex_set_map.new`.

Expected texts of errors and the matching results below were checked
against the Rust regex crate (regex 1.13.1, the version kumod builds with).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumopy._regex import RegexSetError, RegexSetMap, translate, utf8_error

KELVIN = "\u212a"  # KELVIN SIGN, in the simple case folding orbit of k
LONG_S = "\u017f"  # LATIN SMALL LETTER LONG S, in the orbit of s


def hit(pattern: str, subject: str | bytes) -> bool:
    return RegexSetMap({pattern: True}).lookup(subject) is True


def error_of(*patterns: str) -> str:
    with pytest.raises(RegexSetError) as info:
        RegexSetMap({p: i for i, p in enumerate(patterns)})
    return str(info.value)


# --------------------------------------------------------------------------
# Lookup basics
# --------------------------------------------------------------------------

BOUNCES = {
    r"^5\d\d 5\.1\.1 .+(?:[Uu]ser unknown|No such user)": "InvalidRecipient",
    r"4\.2\.2 .*(?i)over quota": "QuotaIssues",
    r"\b(?:spam|blocked)\b": "SpamBlock",
    r"^421 ": "Transient",
}


def test_lookup_returns_value_of_matching_pattern() -> None:
    m = RegexSetMap(BOUNCES)
    assert m.lookup("550 5.1.1 <bob@example.com>: User unknown") == "InvalidRecipient"
    assert m.lookup("452 4.2.2 The mailbox is OVER QUOTA") == "QuotaIssues"
    assert m.lookup("554 5.7.1 Message blocked") == "SpamBlock"
    assert m.lookup("554 5.7.1 Message unblocked") is None
    assert m.lookup("250 OK") is None


def test_search_is_unanchored_unless_anchored() -> None:
    assert hit("mailbox full", "552 5.2.2 sorry, mailbox full today")
    assert not hit("^mailbox full", "552 mailbox full")
    assert hit("^552", "552 mailbox full")
    assert hit("full$", "552 mailbox full")
    assert not hit("full$", "552 mailbox full\n")  # `$` is end of text only
    assert hit("(?m)full$", "552 mailbox full\n")
    assert not hit(r"\Afull", "552\nfull")
    assert hit("(?m)^full", "552\nfull")
    assert not hit(r"(?m)\Afull", "552\nfull")
    assert not hit(r"(?m)552\z", "552\nfull")


def test_dot_does_not_match_newline_by_default() -> None:
    assert not hit("a.b", "a\nb")
    assert hit("(?s)a.b", "a\nb")
    assert hit("a.b", "a\rb")
    assert not hit("(?R)a.b", "a\rb")  # CRLF mode: `.` excludes \r too


def test_empty_map() -> None:
    for m in (RegexSetMap(), RegexSetMap({}), RegexSetMap(None)):
        assert len(m) == 0
        assert m.lookup("anything") is None
        assert m.matches("anything") == []
        assert not m.ambiguous("anything")
        assert m.patterns == ()


def test_values_are_opaque() -> None:
    marker = object()
    table = {"a": 1}
    m = RegexSetMap({"^a": marker, "^b": table, "^c": [1, 2], "^d": 1.5, "^e": None})
    assert m.lookup("a") is marker
    assert m.lookup("b") is table
    assert m.lookup("c") == [1, 2]
    assert m.lookup("d") == 1.5
    # a None value is indistinguishable from no match with lookup(); get()
    # takes a default to tell them apart
    assert m.lookup("e") is None
    assert m.get("e", "missing") is None
    assert m.get("z", "missing") == "missing"


def test_bytes_subjects_and_pairs() -> None:
    m = RegexSetMap([("^x", 1), (r"\d+", 2)])
    assert m.patterns == (r"\d+", "^x")
    assert m.values == (2, 1)
    assert m.lookup(b"x") == 1
    assert m.lookup(bytearray(b"abc 42")) == 2
    with pytest.raises(TypeError):
        m.lookup(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RegexSetMap({1: "x"})  # type: ignore[arg-type]


def test_immutable_and_repr() -> None:
    m = RegexSetMap({"a": 1, "b": 2, "c": 3, "d": 4})
    with pytest.raises(AttributeError):
        m._values = ()
    assert repr(m) == "<RegexSetMap 4 patterns ['a', 'b', 'c', ...]>"
    assert m.items() == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


# --------------------------------------------------------------------------
# Deterministic choice
# --------------------------------------------------------------------------


def test_first_matching_pattern_in_sorted_order_wins_whatever_the_rule_order() -> None:
    # kumod's order is a randomly seeded HashMap's, so the order of the rules
    # in the source table means nothing there; kumopy's one rule: sorted
    # pattern text, whatever order the rules were given in
    rules = {r"5\.1\.1": "bad-mailbox", r"^550 ": "generic", "unknown": "unknown"}
    subject = "550 5.1.1 user unknown"
    forward = RegexSetMap(rules)
    backward = RegexSetMap(dict(reversed(list(rules.items()))))
    pairs = RegexSetMap(list(rules.items())[::-1])
    assert forward.lookup(subject) == backward.lookup(subject) == pairs.lookup(subject)
    assert forward.lookup(subject) == "bad-mailbox"  # '5' (0x35) < '^' (0x5E) < 'u'
    assert forward.patterns == backward.patterns == (r"5\.1\.1", r"^550 ", "unknown")
    assert forward.values == ("bad-mailbox", "generic", "unknown")


def test_sorted_order_is_code_point_order() -> None:
    m = RegexSetMap({"quota": 550, "over": 552, "Over": 553, "\u00e9t\u00e9": 554, "eq": 555})
    assert m.patterns == ("Over", "eq", "over", "quota", "\u00e9t\u00e9")
    assert m.lookup("over quota") == 552
    assert m.lookup("Over quota") == 553


def test_matches_lists_every_match_in_sorted_order() -> None:
    m = RegexSetMap({"^550": "a", "unknown": "b", "nothing": "c", r"\d": "d"})
    assert m.matches("550 user unknown") == [(r"\d", "d"), ("^550", "a"), ("unknown", "b")]
    assert m.matches("ok") == []


def test_ambiguous_when_matching_patterns_disagree() -> None:
    m = RegexSetMap({"^550": "bounce", "unknown": "bounce", "quota": "full"})
    assert not m.ambiguous("550 user unknown")  # two matches, same value
    assert m.ambiguous("550 over quota")
    assert not m.ambiguous("quota")  # a single match
    assert not m.ambiguous("250 ok")


# --------------------------------------------------------------------------
# Rust-only syntax, with Rust semantics
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        (r"(?P<code>\d{3}) (?<status>\d\.\d\.\d)", "550 5.1.1", "550 5.1"),
        (r"full\z", "mailbox full", "mailbox full\n"),
        (r"\Afull", "full", " full"),
        (r"^[a-z&&[^aeiou]]+$", "xyz", "xyzu"),  # intersection, nested class
        (r"^[0-9--4]+$", "1235", "1245"),  # difference
        (r"^[a-g~~b-h]+$", "ah", "ab"),  # symmetric difference
        (r"^[\p{Greek}&&\pL]+$", "αβγ", "αβ1"),
        (r"^\pL+$", "Grüße", "Grüße!"),
        (r"^\p{Greek}+$", "Ωμέγα", "Omega"),
        (r"^\P{Greek}+$", "Omega", "Ωmega"),
        (r"^\p{Lu}", "Émile", "émile"),
        (r"^\p{sc=Cyrillic}+$", "почта", "pochta"),
        (r"^[[:alpha:]]+$", "abc", "ab1"),
        (r"^[[:^digit:]]+$", "abc", "ab1"),
        ("(?i)mailbox", "MAILBOX", "mail box"),
        ("(?i:mail)BOX", "mailBOX", "mailbox"),
        ("(?i)mail(?-i)BOX", "MAILBOX", "MAILbox"),
        ("(?x) mail box  # comment", "mailbox", "mail box"),
        (r"(?x)mail\ box", "mail box", "mailbox"),
        ("(?U)a+", "a", "b"),
        (r"\bcat\b", "a cat here", "concatenate"),
        (r"\b{start}cat", "cat", "scat"),
        (r"cat\b{end}", "cat!", "cats"),
        (r"\<cat\>", "the cat", "cats"),
        (r"\b{start-half}cat", "-cat", "scat"),
        (r"cat\b{end-half}", "cat", "catx"),
        ("a++", "aaa", "b"),  # nested repetition: (a+)+, not possessive
        ("^a*+$", "", "b"),
        ("^a?+b$", "aab", "ac"),  # (a?)+b
        ("^x{1500}$", "x" * 1500, "x" * 1499),  # above RE2's own repeat limit
        (r"^\x41\u00e9\x{1F600}$", "Aé\U0001f600", "Ae\U0001f600"),
        ("^a{ 2 , 3 }$", "aa", "a"),  # spaces allowed around counts
        (r"(?mR)^x$", "\r\nx\r\n", "\r\nxx\r\n"),
    ],
)
def test_rust_syntax_and_semantics(pattern: str, yes: str, no: str) -> None:
    m = RegexSetMap({pattern: 1})
    assert m.lookup(yes) == 1, (pattern, yes)
    assert m.lookup(no) is None, (pattern, no)


def test_unicode_perl_classes() -> None:
    assert hit(r"^\d+$", "٣٤٥")  # Arabic-Indic digits are \d in Rust
    assert hit(r"^\w+$", "naïve_café")
    assert hit(r"^\w$", "\u0301")  # combining marks are word characters
    assert hit(r"^\s$", "\u00a0")
    assert hit(r"^\s$", "\x0b")
    assert hit(r"^\s$", "\u2003")
    assert not hit(r"\D", "٣")
    assert hit(r"\W", "€")
    assert hit(r"^(?-u:\w)+$", "abc")
    assert not hit(r"^(?-u:\w)+$", "é")
    assert hit(r"^(?-u:\s)$", "\x0b")


def test_unicode_word_boundaries() -> None:
    # é is a word character: no boundary between it and "foo"
    assert not hit(r"\bfoo", "éfoo")
    assert hit(r"\bfoo", "€foo")
    assert hit(r"foo\b", "foo é")
    assert not hit(r"foo\b", "fooé")
    assert hit(r"foo\B", "fooé")
    assert hit(r"\b{start}über\b{end}", "the über thing")
    assert not hit(r"\b{start}ber", "über")
    # ASCII word boundary on request
    assert hit(r"(?-u:\b)foo", "éfoo")
    assert hit(r"\bfoo", "foo")  # ASCII subject (fast path)


def test_ascii_not_word_boundary_never_splits_a_character() -> None:
    assert hit(r"(?-u:\B)", "ab")
    assert not hit(r"(?-u:\B)", "aéb")  # RE2 alone would match between é's bytes
    assert hit(r"(?-u:\B)", "é")


def test_rewrites_too_large_for_re2_are_checked_exactly() -> None:
    pattern = r"(?:\b{start}\w+\b{end}[ ,]*){2,5}"
    t = translate(pattern)
    assert not t.ascii_exact and not t.unicode_exact
    m = RegexSetMap({"^nothing": 0, pattern: 1})
    assert m.lookup("foo bar") == 1
    assert m.lookup("a,b") == 1
    assert m.lookup("é ü") == 1
    assert m.lookup("foo") is None
    assert m.lookup("ab") is None


def test_case_insensitive_uses_unicode_simple_folding() -> None:
    assert hit("(?i)k", KELVIN)
    assert hit("(?i)s", LONG_S)
    assert hit("(?i)ß", "ẞ")
    assert hit("(?i)ǅ", "ǆ")
    assert hit("(?i)σ", "ς")
    assert not hit("(?i)i", "İ")  # Turkic dotted I is not simple folding
    assert not hit("(?i)ss", "ß")  # no full (multi-character) folding
    assert not hit("k", KELVIN)
    assert not hit("[Kk]", KELVIN)
    assert not hit("x|[Kk]", KELVIN)  # an RE2 rewrite would accept this one
    assert not hit("(?i-u)k", KELVIN)  # (?-u): ASCII folding only
    # Rust folds both sides of a class operation before applying it
    assert not hit("(?i)[a--A]", "a")
    assert not hit("(?i)[a--A]", "A")


def test_translation_is_cached_and_exposed() -> None:
    t = translate(r"^5\d\d .*mailbox")
    assert t is translate(r"^5\d\d .*mailbox")
    assert t.anchored_start and not t.anchored_end
    assert t.ascii_exact and t.unicode_exact


# --------------------------------------------------------------------------
# Rejected constructs (and their error texts)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "caret", "message"),
    [
        ("(?=a)", "^^^", "look-around, including look-ahead and look-behind, is not supported"),
        ("(?!a)", "^^^", "look-around, including look-ahead and look-behind, is not supported"),
        ("(?<=a)b", "^^^^", "look-around, including look-ahead and look-behind, is not supported"),
        ("(?<!x)y", "^^^^", "look-around, including look-ahead and look-behind, is not supported"),
        (r"(a)\1", "   ^^", "backreferences are not supported"),
        (r"(?<n>a)\k<n>", "       ^^", "unrecognized escape sequence"),
        ("(?>a)", "  ^", "unrecognized flag"),
        ("(?(1)a|b)", "  ^", "unrecognized flag"),
        (r"a\Z", " ^^", "unrecognized escape sequence"),
        (r"\e", "^^", "unrecognized escape sequence"),
        ("a(b", " ^", "unclosed group"),
        ("a)", " ^", "unopened group"),
        ("[a", "^", "unclosed character class"),
        ("x{2,1}", " ^^^^^", "invalid repetition count range, the start must be <= the end"),
        ("a{,3}", "  ^", "repetition quantifier expects a valid decimal"),
        ("*a", "^", "repetition operator missing expression"),
        ("(?i-i)a", "  ^ ^", "duplicate flag"),
        ("(?P<n>a)(?P<n>b)", "    ^       ^", "duplicate capture group name"),
        (r"\p{Klingon}", "^^^^^^^^^^^", "Unicode property not found"),
        (r"(?-u:\xFF)", "     ^^^^", "pattern can match invalid UTF-8"),
        (
            r"\b{foo}",
            "   ^^^",
            "unrecognized special word boundary assertion, valid choices "
            "are: start, end, start-half or end-half",
        ),
    ],
)
def test_rejected_like_rust(pattern: str, caret: str, message: str) -> None:
    text = error_of(pattern)
    assert text == (
        f"compiling rules: regex parse error:\n    {pattern}\n    {caret}\nerror: {message}"
    )


def test_error_names_the_first_bad_pattern_in_sorted_order() -> None:
    with pytest.raises(RegexSetError) as info:
        RegexSetMap({"ok": 1, "bad(": 2, "(?=worse)": 3})
    assert info.value.pattern == "(?=worse)"  # '(' sorts before 'b'
    assert "(?=worse)" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_multi_line_pattern_error() -> None:
    divider = "~" * 79
    assert error_of("foo\n(bar") == (
        f"compiling rules: regex parse error:\n{divider}\n1: foo\n2: (bar\n   ^\n"
        f"{divider}\nerror: unclosed group"
    )


def test_nest_limit() -> None:
    assert hit("(" * 249 + "a" + ")" * 249, "a")
    assert "exceed the maximum number of nested parentheses/brackets (250)" in error_of(
        "(" * 250 + "ab" + ")" * 250
    )


def test_size_limit() -> None:
    limit = "compiling rules: Compiled regex exceeds size limit of 10485760 bytes."
    assert error_of(r"\w{300}") == limit
    assert hit(r"^\w{100}$", "a" * 100)
    # Rust's \d is Unicode (and so big): kumod refuses 480 rules like these
    rule = r"^5\d\d [45]\.\d\.\d+ .+mailbox full #{}"
    assert len(RegexSetMap({rule.format(i): i for i in range(400)})) == 400
    many = [rule.format(i) for i in range(480)]
    assert error_of(*many) == limit
    assert "unclosed group" in error_of(*many, "(")  # syntax errors come first
    assert len(RegexSetMap(dict.fromkeys(many, 1), size_limit=None)) == 480
    ascii_digits = r"^5[0-9][0-9] [45]\.[0-9]\.[0-9]+ .+mailbox full #{}"
    assert len(RegexSetMap({ascii_digits.format(i): i for i in range(2000)})) == 2000


# --------------------------------------------------------------------------
# Subjects that are not valid UTF-8
# --------------------------------------------------------------------------


def test_invalid_utf8_is_matched_lossily() -> None:
    raw = b"550 bad \xff\xfe bytes \xe2\x82"
    subject = raw.decode("utf-8", "surrogateescape")
    m = RegexSetMap({r"\x{FFFD}\x{FFFD} bytes \x{FFFD}$": "lossy", "^550": "code"})
    assert m.lookup(subject) == "lossy"
    assert m.lookup(raw) == "lossy"
    assert m.matches(subject) == [
        (r"\x{FFFD}\x{FFFD} bytes \x{FFFD}$", "lossy"),
        ("^550", "code"),
    ]
    assert hit("bad .. bytes", subject)
    assert hit(r"\bbytes\b", subject)
    assert RegexSetMap({"x": 1}).lookup("\ud800x") == 1  # any lone surrogate is replaced
    # kumod cannot even receive a key that is not UTF-8
    with pytest.raises(ValueError, match="not valid UTF-8"):
        RegexSetMap({"\udcff": 1})


def test_utf8_error_reports_what_kumod_rejects() -> None:
    assert utf8_error("plain ascii") is None
    assert utf8_error("héllo") is None
    assert utf8_error(b"ab\xffcd") == "invalid utf-8 sequence of 1 bytes from index 2"
    assert utf8_error(b"ab\xe2\x82") == "incomplete utf-8 byte sequence from index 2"
    bad = b"ab\xe2\x82(".decode("utf-8", "surrogateescape")
    assert utf8_error(bad) == "invalid utf-8 sequence of 2 bytes from index 2"


# --------------------------------------------------------------------------
# Linear time on hostile input
# --------------------------------------------------------------------------


def test_linear_time_on_pathological_patterns() -> None:
    m = RegexSetMap(
        {
            r"^(a+)+$": "nested",
            r"(a|aa)*c": "alternation",
            r"(.*a){20}x": "dot-star",
            r"(?:\w+\s?)*!": "words",
            r"\b(a+)+\b$": "boundaries",
        }
    )
    attack = "a" * 60_000 + "b"
    assert m.matches(attack) == []
    # '\\b' sorts before '^', so the boundaries rule wins where both match
    assert m.lookup("a" * 60_000) == "boundaries"
    assert m.matches("a" * 60_000) == [(r"\b(a+)+\b$", "boundaries"), (r"^(a+)+$", "nested")]
    assert m.lookup("a" * 60_000 + "c") == "alternation"
    # a non-ASCII subject takes the exact path of the word-boundary pattern
    assert m.matches("é" + "a" * 30_000) == []
    assert m.matches("é " + "a" * 30_000) == [(r"\b(a+)+\b$", "boundaries")]


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_RUST_META = set("\\.+*?()|[]{}^$#&-~")


def rust_escape(text: str) -> str:
    return "".join("\\" + c if c in _RUST_META else c for c in text)


_text = st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x2FFF), max_size=20)


@settings(max_examples=150, deadline=None)
@given(literal=_text, before=_text, after=_text)
def test_escaped_literal_matches_its_own_text(literal: str, before: str, after: str) -> None:
    m = RegexSetMap({rust_escape(literal): "hit"})
    assert m.lookup(before + literal + after) == "hit"
    assert m.lookup(literal) == "hit"


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcxyzé ", min_size=1, max_size=6), min_size=1, max_size=6),
    subject=st.text(alphabet="abcxyzé ", max_size=30),
)
def test_first_match_is_first_of_matches(words: list[str], subject: str) -> None:
    rules = {rust_escape(w): i for i, w in enumerate(dict.fromkeys(words))}
    m = RegexSetMap(rules)
    expected = [(p, v) for p, v in sorted(rules.items()) if p.replace("\\", "") in subject]
    assert m.matches(subject) == expected
    assert m.lookup(subject) == (expected[0][1] if expected else None)


# --------------------------------------------------------------------------
# The fast path (flat patterns translated token by token) must agree with
# the general route on everything it accepts, and accept nothing the
# general route refuses.
# --------------------------------------------------------------------------

# Tokens of the kind the fast path takes ...
_FLAT_ATOMS = [
    *["mailbox", "User unknown", "550", " ", "quota", "#12", "a", "b", "x", "K", "s"],
    *["]", "}", "&", "-", "~", ",", "<", ">", "@", "'", '"', "\n", "\t", "\x7f"],
    *["é", "ß", "Σ", "ς", "ǅ", KELVIN, LONG_S, "€", "\U0001f600"],
    *[r"\.", r"\d", r"\s", r"\w", r"\D", r"\S", r"\W", r"\b", r"\A", r"\z", r"\\"],
    *[r"\[", r"\]", r"\(", r"\?", r"\ ", r"\/", r"\_", r"\#", r"\&", r"\-", r"\~", r"\n"],
    *[".", ".", "^", "$", "(?i)", "(?i)", "(?-i)"],
    *["[45]", "[a-z]", "[^a-z]", "[A-Za-z0-9_]", "[^\n]", r"[\]]", "[a-]", "[-a]", "[.]"],
    *["[k]", "[Kk]", "[s]", "[é]", r"[\d]", r"[\p{Greek}]", "[^-]", r"[\w&&\d]", "[ -~]"],
    *["(a|b)", "(?:x|yz)", "(user unknown|User unknown)", "([Dd]isabled|[Ii]nactive)"],
    *["(a(b|c))", r"(\d+|x)", "(é|ß)", "(k)", "(K|s)", r"(\.|[.-])", "(.*)"],
]
_REPEATS = [
    *["?", "*", "+", "?", "*", "+", "??", "*?", "+?", "{2}", "{2,}", "{2,5}", "{0}", "{1}"],
    *["{0,0}", "{0,1}", "{3}?", "{50}", "{1000}", "{2000}"],
]
# ... and others, valid or not.
_OTHER_TOKENS = [
    *[r"\B", r"\<", r"\>", r"\b{start}", r"\b{end}", r"\b{x}", r"\b{", r"\x41"],
    *[r"\x{e9}", r"\u00e9", r"\pL", r"\p{Greek}", r"\e", r"\1", r"\k", r"\t", r"\Z", "\\"],
    *["[]a]", "[^]a]", "[a&&b]", "[a-z&&[^aeiou]]", r"[\D]", "[z-a]", r"[^\x00-\x{10FFFF}]"],
    *["[[:alpha:]]", "[", "[a", "[a--b]", "[a~~b]", r"[^\s\S]"],
    *["{5,2}", "{,3}", "{ 2 }", "{1001}", "{", "{99999999999}", r"\w{300}", r"\d{400}"],
    *["(?s)", "(?x)", "(?m)", "(?U)", "(?u)", "(?-u)", "(?i:", "(", ")", "(?:", "|", "(?P<n>"],
    *["(?", "(?i", *_REPEATS],
    *[r"(\ba|b)", r"(a|[^\s\S])", "(?P<n>a)", "(a(?i)b)", "(a", "(a|b))", "((a)", "([a)"],
    *[r"(\z|x)", "(x{2000})", "(a|^b)", "()", "(a|)"],
]
_TOKENS = _FLAT_ATOMS + _REPEATS + _OTHER_TOKENS


def _random_patterns(count: int, seed: int, others: float) -> list[str]:
    """Random sequences of atoms, a third of them repeated, with tokens
    from `_OTHER_TOKENS` in between with probability `others`."""
    import random

    rng = random.Random(seed)
    out = [""]
    while len(out) < count:
        tokens = []
        for _ in range(rng.randint(1, 10)):
            if rng.random() < others:
                tokens.append(rng.choice(_OTHER_TOKENS))
            tokens.append(rng.choice(_FLAT_ATOMS))
            if rng.random() < 0.3:
                tokens.append(rng.choice(_REPEATS))
        out.append("".join(tokens))
    return out


def _bounce_patterns(count: int, seed: int) -> list[str]:
    """Patterns in the style of bounce rules (as the benchmark makes them)."""
    import random

    rng = random.Random(seed)
    responses = [
        "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
        "552 5.2.2 The email account that you tried to reach is over quota",
        "421 4.7.0 [TS01] Try again later, closing connection (#4.7.0)",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "451 4.3.2 Please try again later {limit} ~ 30% & more",
        "550 5.7.26 Unauthenticated email from exämple.org is not accepted",
        "553 5.3.0 Sorry, no mailbox here by that name. http://x.y/z?a=b|c",
    ]
    out = []
    for _ in range(count):
        words = rng.choice(responses).split()
        k = rng.randint(1, 5)
        start = rng.randint(1, max(1, len(words) - k))
        fragment = rust_escape(" ".join(words[start : start + k]))
        code = words[0]
        tag = rng.randrange(10**6)
        style = rng.randrange(6)
        if style == 0:
            out.append(rf"^{code} .*{fragment} #{tag}")
        elif style == 1:
            out.append(rf"^{code[0]}\d\d [45]\.\d\.\d+ .+{fragment} #{tag}")
        elif style == 2:
            out.append(rf"(?i)\b{fragment} #{tag}\b")
        elif style == 3:
            out.append(rf"^{code[0]}[0-9]{{2}} {fragment}.*?\d{{1,3}}$")
        elif style == 4:
            out.append(rf"\A{code}\s+{fragment}(?-i)x*\z")
        else:
            out.append(rf"^(?:{code}|{tag}) {fragment}")  # general route
    return out


def _check_fast_path(patterns: list[str]) -> int:
    """Compare both routes on every pattern; the number taking the fast one."""
    from kumopy._regex import syntax

    fast_count = 0
    for pattern in patterns:
        fast = syntax._translate_fast(pattern)
        if fast is None:
            continue
        fast_count += 1
        try:
            full = syntax._translate_full(pattern)
        except (syntax.RegexSyntaxError, syntax.SizeLimitError) as exc:
            pytest.fail(f"fast path accepted {pattern!r}, refused with {exc}")
        assert fast == full, pattern
        seq = syntax._fast_scan(pattern)
        assert seq is not None
        assert syntax._fast_hir(seq) == syntax.parse_to_hir(pattern), pattern
    return fast_count


def test_fast_path_agrees_with_general_route_on_random_patterns() -> None:
    flat = _random_patterns(2500, seed=20240611, others=0.0)
    assert _check_fast_path(flat) >= len(flat) * 4 // 5
    mixed = _random_patterns(2500, seed=11, others=0.15)
    fast = _check_fast_path(mixed)
    assert 500 < fast < len(mixed) - 500, fast  # both routes are exercised


def test_fast_path_agrees_with_general_route_on_bounce_patterns() -> None:
    patterns = _bounce_patterns(1500, seed=7)
    fast = _check_fast_path(patterns)
    assert fast >= len(patterns) * 4 // 5, fast  # all but the alternations


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=8))
def test_fast_path_agrees_with_general_route_property(tokens: list[str]) -> None:
    _check_fast_path(["".join(tokens)])


def test_rebuilding_a_large_set_translates_nothing() -> None:
    from kumopy._regex import syntax

    rules = {rf"^5\d\d .*mailbox {i}$": i for i in range(10_000)}
    RegexSetMap(rules, size_limit=None)
    before = syntax.translate.cache_info().misses
    m = RegexSetMap(rules, size_limit=None)
    assert syntax.translate.cache_info().misses == before
    assert m.lookup("550 the mailbox 9999") == 9999
