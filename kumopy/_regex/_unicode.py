"""Unicode data for the Rust-syntax parser: property sets, simple case
folding, the Perl and ASCII classes, and the resolution of `\\p{..}`
names (the name tables are in `_unicode_names`)."""

from __future__ import annotations

import bisect
import functools
import threading

from kumopy._regex._charset import (
    _SURROGATE_LO,
    UNIVERSE,
    Ranges,
    cs_contains,
    cs_difference,
    cs_negate,
    cs_norm,
    cs_union,
    to_cp,
    to_index,
)
from kumopy._regex._errors import E_AGE_UNSUPPORTED, E_PROPERTY, E_PROPERTY_VALUE
from kumopy._regex._unicode_names import (
    _AGE_VALUES,
    _GC_VALUES,
    _GCB_VALUES,
    _PROPERTY_NAMES,
    _SB_VALUES,
    _SCRIPT_VALUES,
    _WB_VALUES,
)

# --------------------------------------------------------------------------
# Unicode data
# --------------------------------------------------------------------------

# Code points first assigned in Unicode 17.0 (from the Unicode Character
# Database, DerivedAge 17.0).  The Rust crate's tables are Unicode 16.0, so
# these are treated as unassigned.
_NEW_IN_UNICODE_17 = (
    "558 58b-58c 5c8-5c9 88f b53-b54 c5c cdc 1acf-1af0 208f 209d-209f 20c1-20c4 "
    "2b96 2e60-2e63 a7ce-a7cf a7d2 a7d4 a7dd a7e2 a7f1 ab6c-ab6d fbc3-fbd2 "
    "fd90-fd91 fdc8-fdce 107bb-107bf 10940-10959 10ec5-10ec7 10ec9-10eee "
    "10ef0-10efb 11b0a 11b60-11b67 11db0-11ddb 11de0-11de9 11df0-11df1 1246f "
    "12475-1247f 12550-12686 16ea0-16eb8 16ebb-16ed3 16ff2-16ff6 187f8-187ff "
    "18cd6-18cda 18d09-18d20 18d80-18df2 18e00-19191 191a0-191d2 1b123-1b128 "
    "1b168 1ccfa-1ccfc 1ceba-1ced0 1ced2-1ced4 1cedd-1cefd 1d127-1d128 "
    "1d1eb-1d1ff 1d250-1d281 1d6a6 1db00-1db1c 1df1f-1df24 1df2b-1df81 "
    "1df90-1df96 1dfcd-1dfff 1e6c0-1e6de 1e6e0-1e6f5 1e6fe-1e6ff 1f1ae "
    "1f6d8-1f6d9 1f777-1f77a 1f7da-1f7db 1f7f1-1f7ff 1f8d0-1f8d8 1fa54-1fa57 "
    "1fa8a-1fa8e 1fac8 1facc-1facd 1fadd 1faea-1faeb 1faef 1faf9-1fafa 1fbfa "
    "2b73a-2b73f 2b81e 2cea2-2cead 323b0-33479 3d000-3fc3f"
)


def _parse_hex_ranges(text: str) -> Ranges:
    out = []
    for item in text.split():
        lo, _, hi = item.partition("-")
        a = int(lo, 16)
        b = int(hi or lo, 16)
        out.append((to_index(a), to_index(b)))
    return cs_norm(out)


class _UnicodeData:
    """Unicode sets (thread-safe, each made once): the Perl classes and the
    simple case folding come precomputed from `_unicode_data` (computing
    them from the `regex` package costs about 0.25 s of CPU per process);
    other properties are computed from the `regex` package when first used.
    `compute`/`compute_fold_table` always compute (for `--generate` and the
    test that checks the shipped data)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._all: str | None = None
        self._sets: dict[str, Ranges] = {}
        self._fold: tuple[list[int], dict[int, tuple[int, ...]]] | None = None
        self.new17 = _parse_hex_ranges(_NEW_IN_UNICODE_17)

    def _all_chars(self) -> str:
        if self._all is None:
            self._all = "".join(map(chr, range(_SURROGATE_LO))) + "".join(
                map(chr, range(0xE000, 0x110000))
            )
        return self._all

    def query(self, regex_class: str) -> Ranges:
        """Code points matching a `regex`-module class expression (indexes),
        without the characters new in Unicode 17."""
        with self._lock:
            got = self._sets.get(regex_class)
            if got is None:
                from kumopy._regex._unicode_data import SETS

                name = _SHIPPED_NAMES.get(regex_class)
                got = _decode_ranges(SETS[name]) if name is not None else self.compute(
                    regex_class)
                self._sets[regex_class] = got
            return got

    def compute(self, regex_class: str) -> Ranges:
        """`query`, computed from the `regex` package."""
        import regex as _re  # the `regex` package: Unicode data source

        with self._lock:
            text = self._all_chars()
        ranges = [(m.start(), m.end() - 1) for m in _re.finditer("(?:" + regex_class + ")+", text)]
        return cs_difference(cs_norm(ranges), self.new17)

    def fold_table(self) -> tuple[list[int], dict[int, tuple[int, ...]]]:
        """Simple case folding orbits: index -> the other members of its orbit."""
        with self._lock:
            if self._fold is None:
                from kumopy._regex._unicode_data import FOLD_ORBITS

                table: dict[int, tuple[int, ...]] = {}
                for orbit in FOLD_ORBITS.split():
                    members = tuple(int(x, 16) for x in orbit.split(","))
                    for m in members:
                        table[m] = tuple(x for x in members if x != m)
                self._fold = (sorted(table), table)
            return self._fold

    def compute_fold_table(self) -> dict[int, tuple[int, ...]]:
        """`fold_table`, computed from the `regex` package."""
        import regex as _re

        try:
            from regex import _regex as _native
        except ImportError:  # pragma: no cover - regex always ships it
            _native = None
        candidates = self.compute(
            r"[\p{Cased}\p{Changes_When_Casemapped}\p{Changes_When_Casefolded}]"
        )
        flags = _re.IGNORECASE | _re.UNICODE
        # Dotted/dotless I are Turkic special cases, not simple folding.
        excluded = {0x130, 0x131}
        table: dict[int, tuple[int, ...]] = {}
        new17 = self.new17
        for lo, hi in candidates:
            for index in range(lo, hi + 1):
                cp = to_cp(index)
                if cp in excluded:
                    continue
                if _native is not None:
                    cases = _native.get_all_cases(flags, cp)
                else:  # pragma: no cover
                    cases = [cp]
                others = tuple(
                    sorted(
                        to_index(c)
                        for c in cases
                        if c != cp and c not in excluded and not cs_contains(new17, to_index(c))
                    )
                )
                if others:
                    table[index] = others
        return table


def _decode_ranges(text: str) -> Ranges:
    """Ranges of scalar indexes written as `lo-hi` or `lo` in hex."""
    out: list[tuple[int, int]] = []
    for item in text.split():
        lo, _, hi = item.partition("-")
        a = int(lo, 16)
        out.append((a, int(hi, 16) if hi else a))
    return tuple(out)


def _encode_ranges(ranges: Ranges) -> str:
    return " ".join(f"{lo:x}" if lo == hi else f"{lo:x}-{hi:x}" for lo, hi in ranges)


#: The class expressions shipped precomputed (the Perl classes), by name.
SHIPPED_SETS = {
    "digit": r"\p{General_Category=Decimal_Number}",
    "space": r"\p{White_Space}",
    "word": r"[\p{Alphabetic}\p{General_Category=Mark}\p{General_Category=Decimal_Number}"
    r"\p{General_Category=Connector_Punctuation}\p{Join_Control}]",
}
_SHIPPED_NAMES = {expr: name for name, expr in SHIPPED_SETS.items()}


def generate_data() -> str:
    """The text of `_unicode_data.py`, computed from the `regex` package:
    `python -c 'from kumopy._regex._unicode import generate_data as g;
    print(g(), end="")' > kumopy/_regex/_unicode_data.py`."""
    lines = [
        '"""Unicode tables shipped precomputed (made by `_unicode.generate_data`, do',
        "not edit; tests/test_regex_unicode_data.py checks them): the Perl classes",
        "of `_unicode.SHIPPED_SETS` by name and the simple case folding orbits, as",
        "scalar indexes in hex, computed from the `regex` package without the code",
        'points new in Unicode 17.0 (the Rust crate\'s tables are Unicode 16.0)."""',
        "",
        "SETS: dict[str, str] = {",
    ]
    for name, expr in SHIPPED_SETS.items():
        lines.append(f"    {name!r}: (")
        text = _encode_ranges(UNICODE.compute(expr))
        lines.extend(f"        {chunk!r}" for chunk in _chunks(text))
        lines.append("    ),")
    lines.append("}")
    table = UNICODE.compute_fold_table()
    orbits = sorted({tuple(sorted((k, *v))) for k, v in table.items()})
    text = " ".join(",".join(f"{x:x}" for x in orbit) for orbit in orbits)
    lines.append("FOLD_ORBITS = (")
    lines.extend(f"    {chunk!r}" for chunk in _chunks(text))
    lines.append(")")
    return "\n".join(lines) + "\n"


def _chunks(text: str, width: int = 84) -> list[str]:
    """`text` cut after spaces into pieces of about `width` characters."""
    out: list[str] = []
    while len(text) > width:
        cut = text.rindex(" ", 0, width) + 1
        out.append(text[:cut])
        text = text[cut:]
    out.append(text)
    return out


UNICODE = _UnicodeData()


def cs_case_fold(a: Ranges) -> Ranges:
    """Add the simple case folding equivalents of every member."""
    keys, table = UNICODE.fold_table()
    extra: list[tuple[int, int]] = []
    for lo, hi in a:
        i = bisect.bisect_left(keys, lo)
        while i < len(keys) and keys[i] <= hi:
            for other in table[keys[i]]:
                extra.append((other, other))
            i += 1
    if not extra:
        return a
    return cs_norm(a + tuple(extra))


def has_case_mapping(index: int) -> bool:
    _, table = UNICODE.fold_table()
    return index in table


def ascii_case_fold(a: Ranges) -> Ranges:
    """Case folding of a byte class: ASCII letters only."""
    extra: list[tuple[int, int]] = []
    for lo, hi in a:
        for up_lo, up_hi, delta in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
            s, e = max(lo, up_lo), min(hi, up_hi)
            if s <= e:
                extra.append((s + delta, e + delta))
    return cs_norm(a + tuple(extra)) if extra else a


def perl_digit() -> Ranges:
    return UNICODE.query(r"\p{General_Category=Decimal_Number}")


def perl_space() -> Ranges:
    return UNICODE.query(r"\p{White_Space}")


def perl_word() -> Ranges:
    return UNICODE.query(
        r"[\p{Alphabetic}\p{General_Category=Mark}\p{General_Category=Decimal_Number}"
        r"\p{General_Category=Connector_Punctuation}\p{Join_Control}]"
    )


ASCII_WORD: Ranges = cs_norm([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
ASCII_DIGIT: Ranges = ((0x30, 0x39),)
ASCII_SPACE: Ranges = cs_norm([(0x09, 0x0D), (0x20, 0x20)])

_ASCII_CLASSES: dict[str, Ranges] = {
    "alnum": cs_norm([(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)]),
    "alpha": cs_norm([(0x41, 0x5A), (0x61, 0x7A)]),
    "ascii": ((0, 0x7F),),
    "blank": cs_norm([(0x09, 0x09), (0x20, 0x20)]),
    "cntrl": cs_norm([(0, 0x1F), (0x7F, 0x7F)]),
    "digit": ASCII_DIGIT,
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": cs_norm([(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)]),
    "space": ASCII_SPACE,
    "upper": ((0x41, 0x5A),),
    "word": ASCII_WORD,
    "xdigit": cs_norm([(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]),
}

# Rust's `char::is_whitespace` (the White_Space property); used by the
# parser for `(?x)` mode and around repetition counts.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _alphabetic(c: str) -> bool:
    if c.isascii():
        return c.isalpha()
    return cs_contains(UNICODE.query(r"\p{Alphabetic}"), to_index(ord(c)))


def _alphanumeric(c: str) -> bool:
    if c.isascii():
        return c.isalnum()
    index = to_index(ord(c))
    return cs_contains(UNICODE.query(r"\p{Alphabetic}"), index) or cs_contains(
        UNICODE.query(r"\p{General_Category=Number}"), index
    )



def _norm_name(name: str) -> str:
    """Loose matching of property names and values: drop spaces, `_`, `-`
    and non-ASCII, lowercase, drop a leading `is` (`isc` stays `isc`)."""
    starts_is = len(name.encode("utf-8")) >= 2 and name[:2].lower() == "is"
    body = name[2:] if starts_is else name
    out = "".join(c.lower() for c in body if c not in " _-" and c.isascii())
    if starts_is and out == "c":
        return "isc"
    return out


def _alias_table(text: str) -> tuple[dict[str, str], set[str], set[str]]:
    aliases: dict[str, str] = {}
    starred: set[str] = set()
    banged: set[str] = set()
    for line in text.strip().splitlines():
        words = line.split()
        canon = words[0]
        if canon[0] == "*":
            canon = canon[1:]
            starred.add(canon)
        elif canon[0] == "!":
            canon = canon[1:]
            banged.add(canon)
        aliases[_norm_name(canon)] = canon
        for alias in words[1:]:
            aliases[alias] = canon
    return aliases, starred, banged


class _PropertyTables:
    def __init__(self) -> None:
        self.props, self.binary, _ = _alias_table(_PROPERTY_NAMES)
        self.values: dict[str, tuple[dict[str, str], set[str]]] = {}
        for prop, text in (
            ("General_Category", _GC_VALUES),
            ("Script", _SCRIPT_VALUES),
            ("Script_Extensions", _SCRIPT_VALUES),
            ("Age", _AGE_VALUES),
            ("Grapheme_Cluster_Break", _GCB_VALUES),
            ("Word_Break", _WB_VALUES),
            ("Sentence_Break", _SB_VALUES),
        ):
            table, _, missing = _alias_table(text)
            self.values[prop] = (table, missing)


@functools.lru_cache(maxsize=1)
def _tables() -> _PropertyTables:
    return _PropertyTables()


class _PropertyError(Exception):
    pass


_GC_SPECIAL = {"any": "Any", "assigned": "Assigned", "ascii": "ASCII"}
_BYVALUE_KEY = {
    "Script_Extensions": "scx",
    "Grapheme_Cluster_Break": "gcb",
    "Word_Break": "wb",
    "Sentence_Break": "sb",
}


def _gencat_set(canon: str) -> Ranges:
    if canon == "Surrogate":
        raise _PropertyError(E_PROPERTY_VALUE)
    if canon == "Any":
        return UNIVERSE
    if canon == "ASCII":
        return ((0, 0x7F),)
    if canon == "Assigned":
        return cs_negate(_gencat_set("Unassigned"))
    got = UNICODE.query(r"\p{General_Category=" + canon + "}")
    if canon in ("Unassigned", "Other"):
        got = cs_union(got, UNICODE.new17)
    return got


def unicode_property(kind: str, name: str, value: str) -> Ranges:
    """Resolve `\\pX` (kind "one"), `\\p{Name}` ("named") or `\\p{name=value}`
    ("value") like regex-syntax; raises `_PropertyError(message)`."""
    t = _tables()
    if kind == "value":
        pn = _norm_name(name)
        pv = _norm_name(value)
        canon = t.props.get(pn)
        if canon is None:
            raise _PropertyError(E_PROPERTY)
        if canon == "General_Category":
            gc = _GC_SPECIAL.get(pv) or t.values["General_Category"][0].get(pv)
            if gc is None:
                raise _PropertyError(E_PROPERTY_VALUE)
            return _gencat_set(gc)
        if canon not in t.values:
            raise _PropertyError(E_PROPERTY_VALUE)
        table, missing = t.values[canon]
        val = table.get(pv)
        if val is None or val in missing:
            raise _PropertyError(E_PROPERTY_VALUE)
        if canon == "Script":
            return UNICODE.query(r"\p{Script=" + val + "}")
        if canon == "Age":
            if val == "Unassigned":
                raise _PropertyError(E_PROPERTY_VALUE)
            raise _PropertyError(E_AGE_UNSUPPORTED)
        return UNICODE.query(r"\p{" + _BYVALUE_KEY[canon] + "=" + val + "}")
    norm = _norm_name(name)
    if norm not in ("cf", "sc", "lc"):
        canon = t.props.get(norm)
        if canon is not None:
            if canon not in t.binary:
                raise _PropertyError(E_PROPERTY)
            return UNICODE.query(r"\p{" + canon + "}")
    gc = _GC_SPECIAL.get(norm) or t.values["General_Category"][0].get(norm)
    if gc is not None:
        return _gencat_set(gc)
    table, missing = t.values["Script"]
    sc = table.get(norm)
    if sc is not None:
        if sc in missing:
            raise _PropertyError(E_PROPERTY_VALUE)
        return UNICODE.query(r"\p{Script=" + sc + "}")
    raise _PropertyError(E_PROPERTY)
