"""Rust `regex` syntax for kumopy: parse, validate and translate to RE2.

KumoMTA compiles the keys of `kumo.regex_set_map.new` with the Rust `regex`
crate (regex 1.13, regex-syntax 0.8).  This module accepts exactly that
syntax and gives it the same meaning, but matches with RE2 (google-re2), so
that lookups stay linear-time and fast.  The work is done in four steps:

1. **parse** the pattern with the grammar of regex-syntax: every construct
   Rust accepts is accepted (including nested classes, class set operations,
   `(?<name>..)`, `\\b{start}`, `\\<`, nested repetitions such as `a++`, which
   in Rust means `(a+)+` and is not a possessive quantifier), and every
   construct Rust rejects is rejected with the text regex-syntax reports
   (pattern, caret line, `error: ...`);
2. **translate** the syntax tree to a small intermediate form with Rust's
   semantics: flags are resolved, case-insensitive matching becomes explicit
   simple-case-folding classes, `\\d \\s \\w .` and `\\p{..}` become explicit
   Unicode code point sets, `^`/`$` become text or line anchors;
3. **eliminate** the zero-width assertions RE2 lacks (`\\b{start}`,
   `\\b{end}` and their halves, CRLF-mode line anchors) by rewriting the
   expression so that the neighbouring characters are consumed instead of
   looked at.  This is exact for the question a set map asks (does the
   pattern match anywhere in the subject?), not for match positions.
   Unicode `\\b`/`\\B` equal RE2's ASCII ones on ASCII text; for other text
   (and when a rewrite would be too large) the RE2 expression is only a
   superset and `Translation.exact` (a linear-time NFA simulation in Python)
   confirms its candidates;
4. **emit** RE2 syntax: explicit classes, `(?:..)` groups, `\\A`, `\\z`,
   `(?m:^)`, `(?m:$)`, `\\b` (ASCII) and repetitions within RE2's counting
   limits, avoiding RE2 rewrites that would change the meaning.

Unicode data (property sets, simple case folding) comes from the `regex`
package, restricted to the Unicode version of the Rust tables (16.0): code
points first assigned in Unicode 17.0 are treated as unassigned.  The Age
property (`\\p{age=3.0}`) is refused: there is no data for it here.

The module also estimates the size of the Thompson NFA the Rust crate would
build (`nfa_size`, `set_nfa_size`), so that rule sets too large for kumod's
default limit (10 MiB) are refused here as well.

Patterns of the most common shape (a flat sequence of literals, `.`, simple
escapes and classes, anchors, `\\b` and repetitions of single items) take a
fast path that combines remembered translations of their tokens instead of
running the steps above on the whole pattern; it gives the same result.
"""

from __future__ import annotations

# The implementation is split by concern, one module each: _errors (spans,
# messages), _charset (code point sets), _unicode and _unicode_names
# (Unicode data), _ast, _parse_cursor, _parse_escape, _parse_class and
# _parser (syntax), _hir and _to_hir (the intermediate form), _looks
# (assertion elimination), _re2, _fast and _translate (RE2 translation),
# _verify (exact check), _nfa_size (the crate's size limit).  This module
# re-exports every name it always had (`X as X`: explicitly, for type
# checkers), one import per module.
# ruff: noqa: I001
from kumopy._regex._ast import (
    AAlt as AAlt,
    AAssert as AAssert,
    AClass as AClass,
    AConcat as AConcat,
    ADot as ADot,
    AEmpty as AEmpty,
    AFlags as AFlags,
    AGroup as AGroup,
    ALit as ALit,
    ALits as ALits,
    APerl as APerl,
    ARep as ARep,
    Ast as Ast,
    AUnicode as AUnicode,
    CAscii as CAscii,
    CEmpty as CEmpty,
    COp as COp,
    CRange as CRange,
    CUnion as CUnion,
)
from kumopy._regex._charset import (
    _GAP as _GAP,
    _SURROGATE_LO as _SURROGATE_LO,
    BYTE_UNIVERSE as BYTE_UNIVERSE,
    EMPTY as EMPTY,
    MAX_INDEX as MAX_INDEX,
    UNIVERSE as UNIVERSE,
    Ranges as Ranges,
    cs_contains as cs_contains,
    cs_difference as cs_difference,
    cs_intersect as cs_intersect,
    cs_is_subset as cs_is_subset,
    cs_negate as cs_negate,
    cs_norm as cs_norm,
    cs_single as cs_single,
    cs_symmetric_difference as cs_symmetric_difference,
    cs_union as cs_union,
    to_cp as to_cp,
    to_index as to_index,
)

from kumopy._regex._errors import (
    E_AGE_UNSUPPORTED as E_AGE_UNSUPPORTED,
    E_BACKREF as E_BACKREF,
    E_CAPTURE_LIMIT as E_CAPTURE_LIMIT,
    E_CLASS_ESCAPE as E_CLASS_ESCAPE,
    E_CLASS_RANGE as E_CLASS_RANGE,
    E_CLASS_RANGE_LITERAL as E_CLASS_RANGE_LITERAL,
    E_CLASS_UNCLOSED as E_CLASS_UNCLOSED,
    E_DECIMAL_EMPTY as E_DECIMAL_EMPTY,
    E_DECIMAL_INVALID as E_DECIMAL_INVALID,
    E_ESCAPE as E_ESCAPE,
    E_ESCAPE_EOF as E_ESCAPE_EOF,
    E_FLAG as E_FLAG,
    E_FLAG_DANGLING as E_FLAG_DANGLING,
    E_FLAG_DUPLICATE as E_FLAG_DUPLICATE,
    E_FLAG_EOF as E_FLAG_EOF,
    E_FLAG_NEGATION as E_FLAG_NEGATION,
    E_GROUP_UNCLOSED as E_GROUP_UNCLOSED,
    E_GROUP_UNOPENED as E_GROUP_UNOPENED,
    E_HEX_DIGIT as E_HEX_DIGIT,
    E_HEX_EMPTY as E_HEX_EMPTY,
    E_HEX_INVALID as E_HEX_INVALID,
    E_INVALID_UTF8 as E_INVALID_UTF8,
    E_LOOKAROUND as E_LOOKAROUND,
    E_NAME_DUPLICATE as E_NAME_DUPLICATE,
    E_NAME_EMPTY as E_NAME_EMPTY,
    E_NAME_EOF as E_NAME_EOF,
    E_NAME_INVALID as E_NAME_INVALID,
    E_NEST as E_NEST,
    E_PROPERTY as E_PROPERTY,
    E_PROPERTY_VALUE as E_PROPERTY_VALUE,
    E_REP_DECIMAL as E_REP_DECIMAL,
    E_REP_INVALID as E_REP_INVALID,
    E_REP_MISSING as E_REP_MISSING,
    E_REP_UNCLOSED as E_REP_UNCLOSED,
    E_UNICODE_CLASS as E_UNICODE_CLASS,
    E_UNICODE_NOT_ALLOWED as E_UNICODE_NOT_ALLOWED,
    E_WB_EOF as E_WB_EOF,
    E_WB_UNCLOSED as E_WB_UNCLOSED,
    E_WB_UNKNOWN as E_WB_UNKNOWN,
    NEST_LIMIT as NEST_LIMIT,
    RUST_NFA_SIZE_LIMIT as RUST_NFA_SIZE_LIMIT,
    Pos as Pos,
    RegexSyntaxError as RegexSyntaxError,
    SizeLimitError as SizeLimitError,
    Span as Span,
    _lines as _lines,
    format_error as format_error,
)
from kumopy._regex._fast import (
    _ATOMS as _ATOMS,
    _ATOMS_MAX as _ATOMS_MAX,
    _CLASS_TOKEN as _CLASS_TOKEN,
    _COUNTED_OP as _COUNTED_OP,
    _EMPTY_ATOM as _EMPTY_ATOM,
    _ESCAPES as _ESCAPES,
    _FAST_LOOKS as _FAST_LOOKS,
    _FAST_REPEAT as _FAST_REPEAT,
    _FAST_SPECIAL as _FAST_SPECIAL,
    _LIT_RUN as _LIT_RUN,
    _Atom as _Atom,
    _atom as _atom,
    _EscapeTable as _EscapeTable,
    _fast_hir as _fast_hir,
    _fast_scan as _fast_scan,
    _make_atom as _make_atom,
    _translate_fast as _translate_fast,
)
from kumopy._regex._hir import (
    H_EMPTY as H_EMPTY,
    H_FAIL as H_FAIL,
    LOOK_END as LOOK_END,
    LOOK_END_CRLF as LOOK_END_CRLF,
    LOOK_END_LF as LOOK_END_LF,
    LOOK_START as LOOK_START,
    LOOK_START_CRLF as LOOK_START_CRLF,
    LOOK_START_LF as LOOK_START_LF,
    NATIVE_LOOKS as NATIVE_LOOKS,
    UNICODE_WORD_LOOKS as UNICODE_WORD_LOOKS,
    HAlt as HAlt,
    HCap as HCap,
    HCat as HCat,
    HClass as HClass,
    HEmpty as HEmpty,
    Hir as Hir,
    HLit as HLit,
    HLook as HLook,
    HRep as HRep,
    _lift_common_prefix as _lift_common_prefix,
    _utf8_len as _utf8_len,
    hir_look_prefix as hir_look_prefix,
    hir_look_suffix as hir_look_suffix,
    hir_max_len as hir_max_len,
    hir_min_len as hir_min_len,
    rust_alternation as rust_alternation,
    rust_class as rust_class,
    rust_concat as rust_concat,
    rust_repetition as rust_repetition,
)
from kumopy._regex._looks import (
    _ASCII_EQUIVALENT as _ASCII_EQUIVALENT,
    ELIMINATION_BUDGET as ELIMINATION_BUDGET,
    State as State,
    TooComplex as TooComplex,
    _cat_or_none as _cat_or_none,
    _collect_looks as _collect_looks,
    _is_fail as _is_fail,
    _LookEliminator as _LookEliminator,
    _map_looks as _map_looks,
    _maybe_alt as _maybe_alt,
    _opt_sub as _opt_sub,
    _restrict as _restrict,
    _star as _star,
    drop_looks as drop_looks,
    eliminate_looks as eliminate_looks,
    eps as eps,
    s_alt as s_alt,
    s_cat as s_cat,
    s_rep as s_rep,
    word_look_holds as word_look_holds,
)
from kumopy._regex._nfa_size import (
    _ALTERNATE_BYTES as _ALTERNATE_BYTES,
    _STATE_BYTES as _STATE_BYTES,
    _TRANSITION_BYTES as _TRANSITION_BYTES,
    Cost as Cost,
    _class_sequences as _class_sequences,
    _literal_trie_cost as _literal_trie_cost,
    _NfaCost as _NfaCost,
    _unicode_class_cost as _unicode_class_cost,
    _utf8_sequences as _utf8_sequences,
    nfa_size as nfa_size,
    set_nfa_size as set_nfa_size,
)
from kumopy._regex._parse_escape import (
    _HEX as _HEX,
    _META as _META,
    _SPECIAL_ESCAPES as _SPECIAL_ESCAPES,
    _is_escapeable as _is_escapeable,
)
from kumopy._regex._parse_class import (
    _ClassState as _ClassState,
)
from kumopy._regex._parser import (
    _FLAG_CHARS as _FLAG_CHARS,
    _REPEAT_OPS as _REPEAT_OPS,
    _TOP_SPECIAL as _TOP_SPECIAL,
    Parser as Parser,
    _check_nesting as _check_nesting,
    _decimal_or_raise as _decimal_or_raise,
    _flag_state as _flag_state,
    _GroupState as _GroupState,
)
from kumopy._regex._re2 import (
    _LOOK_SYNTAX as _LOOK_SYNTAX,
    _RE2_MAX_REPEAT as _RE2_MAX_REPEAT,
    Translation as Translation,
    _class_items as _class_items,
    _cp_ranges as _cp_ranges,
    _emit as _emit,
    _emit_on_boundaries as _emit_on_boundaries,
    _emit_rep as _emit_rep,
    _esc as _esc,
    emit as emit,
    emit_class as emit_class,
)
from kumopy._regex._to_hir import (
    _FLAG_INDEX as _FLAG_INDEX,
    _NO_FLAGS as _NO_FLAGS,
    Flags as Flags,
    Translator as Translator,
    _merge_flags as _merge_flags,
    parse_to_hir as parse_to_hir,
)
from kumopy._regex._translate import (
    TRANSLATE_CACHE_SIZE as TRANSLATE_CACHE_SIZE,
    _translate_full as _translate_full,
    translate as translate,
)
from kumopy._regex._unicode import (
    _ASCII_CLASSES as _ASCII_CLASSES,
    _BYVALUE_KEY as _BYVALUE_KEY,
    _GC_SPECIAL as _GC_SPECIAL,
    _NEW_IN_UNICODE_17 as _NEW_IN_UNICODE_17,
    _WHITESPACE as _WHITESPACE,
    ASCII_DIGIT as ASCII_DIGIT,
    ASCII_SPACE as ASCII_SPACE,
    ASCII_WORD as ASCII_WORD,
    UNICODE as UNICODE,
    _alias_table as _alias_table,
    _alphabetic as _alphabetic,
    _alphanumeric as _alphanumeric,
    _gencat_set as _gencat_set,
    _norm_name as _norm_name,
    _parse_hex_ranges as _parse_hex_ranges,
    _PropertyError as _PropertyError,
    _PropertyTables as _PropertyTables,
    _tables as _tables,
    _UnicodeData as _UnicodeData,
    ascii_case_fold as ascii_case_fold,
    cs_case_fold as cs_case_fold,
    has_case_mapping as has_case_mapping,
    perl_digit as perl_digit,
    perl_space as perl_space,
    perl_word as perl_word,
    unicode_property as unicode_property,
)
from kumopy._regex._unicode_names import (
    _AGE_VALUES as _AGE_VALUES,
    _GC_VALUES as _GC_VALUES,
    _GCB_VALUES as _GCB_VALUES,
    _PROPERTY_NAMES as _PROPERTY_NAMES,
    _SB_VALUES as _SB_VALUES,
    _SCRIPT_VALUES as _SCRIPT_VALUES,
    _WB_VALUES as _WB_VALUES,
)
from kumopy._regex._verify import (
    Verifier as Verifier,
    _verifier as _verifier,
)

__all__ = [
    "RUST_NFA_SIZE_LIMIT",
    "RegexSyntaxError",
    "SizeLimitError",
    "Translation",
    "set_nfa_size",
    "translate",
]
