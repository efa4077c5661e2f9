"""`translate`: a Rust-syntax pattern to what RegexSetMap needs (general
route and fast path)."""

from __future__ import annotations

import functools

from kumopy._regex._errors import RUST_NFA_SIZE_LIMIT, SizeLimitError
from kumopy._regex._fast import _translate_fast
from kumopy._regex._hir import (
    LOOK_END,
    LOOK_START,
    NATIVE_LOOKS,
    UNICODE_WORD_LOOKS,
    Hir,
    hir_look_prefix,
    hir_look_suffix,
)
from kumopy._regex._looks import (
    TooComplex,
    _collect_looks,
    drop_looks,
    eliminate_looks,
)
from kumopy._regex._nfa_size import nfa_size
from kumopy._regex._re2 import Translation, _emit_on_boundaries
from kumopy._regex._to_hir import parse_to_hir

#: How many translations `translate` keeps: well above the size of rule sets
#: kumod accepts (a few thousand typical rules reach its NFA size limit), so
#: that rebuilding a set (every memoize period) translates nothing.  (An
#: LRU cache smaller than a set being rebuilt would miss on every pattern.)
TRANSLATE_CACHE_SIZE = 16384


@functools.lru_cache(maxsize=TRANSLATE_CACHE_SIZE)
def translate(pattern: str) -> Translation:
    """Translate a Rust-syntax pattern; raises RegexSyntaxError, or
    SizeLimitError when the pattern alone is too large for the Rust crate.

    Results are cached: rule sets are typically rebuilt from the same
    patterns again and again (every memoize period of a policy).
    """
    fast = _translate_fast(pattern)
    if fast is not None:
        return fast
    return _translate_full(pattern)


@functools.lru_cache(maxsize=256)
def parsed(pattern: str) -> Hir:
    """`parse_to_hir`, remembered for the patterns the fast path does not
    take: kumopy lint asks for a pattern's HIR, then right away for its
    translation (a few entries suffice; translations have their own cache)."""
    return parse_to_hir(pattern)


def _translate_full(pattern: str) -> Translation:
    """`translate` by the general route: parse, translate, eliminate
    assertions, emit."""
    hir = parsed(pattern)
    fwd, rev = nfa_size(hir)
    if max(fwd, rev) > RUST_NFA_SIZE_LIMIT:
        raise SizeLimitError()
    kinds = _collect_looks(hir)
    ascii_exact = True
    try:
        re2 = _emit_on_boundaries(eliminate_looks(hir, ascii_subject=True))
    except TooComplex:
        ascii_exact = False
        re2 = _emit_on_boundaries(drop_looks(hir, kinds - NATIVE_LOOKS))
    unicode_exact = ascii_exact and not (kinds & UNICODE_WORD_LOOKS)
    loose = None
    if not unicode_exact:
        if ascii_exact:
            loose = _emit_on_boundaries(drop_looks(hir, kinds - NATIVE_LOOKS))
        else:
            loose = re2
    return Translation(
        pattern=pattern,
        re2=re2,
        ascii_exact=ascii_exact,
        unicode_exact=unicode_exact,
        loose=loose,
        hir=None if unicode_exact else hir,
        nfa_forward=fwd,
        nfa_reverse=rev,
        anchored_start=LOOK_START in hir_look_prefix(hir),
        anchored_end=LOOK_END in hir_look_suffix(hir),
    )
