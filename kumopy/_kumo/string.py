"""`kumo.string.*` (kumod: crates/mod-string): Rust's `str` methods.

Arguments convert as mlua converts them to a Rust `String` (valid UTF-8;
numbers coerce), except `starts_with`/`ends_with`, which compare raw bytes.
Whitespace is Rust's: Unicode White_Space for `trim*` and
`split_whitespace`, and space, tab, LF, FF and CR for
`split_ascii_whitespace`.  `split("")` gives Rust's answer
(`{"", "a", "b", ""}` for "ab").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._message._fold import wrap as fold
from ._lib import (
    LUA_SLOT_BYTES,
    LUA_STRING_BYTES,
    LUA_TABLE_BYTES,
    bytes_arg,
    check_result,
    rust_string,
    usize_arg,
)

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]

#: Rust's char::is_whitespace (the Unicode White_Space property)
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
ASCII_WHITESPACE = " \t\n\x0c\r"


def _split(s: str, pat: str) -> list[str]:
    if pat == "":
        return ["", *s, ""]
    return s.split(pat)


def _splitn(s: str, limit: int, pat: str) -> list[str]:
    if limit == 0:
        return []
    if pat == "":
        pieces = _split(s, pat)
        return [*pieces[: limit - 1], "".join(pieces[limit - 1 :])]
    return s.split(pat, limit - 1)


def _rsplitn(s: str, limit: int, pat: str) -> list[str]:
    if limit == 0:
        return []
    if pat == "":
        pieces = _split(s, pat)[::-1]
        return [*pieces[: limit - 1], "".join(reversed(pieces[limit - 1 :]))]
    return s.rsplit(pat, limit - 1)[::-1]


def _words(s: str, spaces: str) -> list[str]:
    out: list[str] = []
    word: list[str] = []
    for c in s:
        if c in spaces:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(c)
    if word:
        out.append("".join(word))
    return out


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _replaced(state: LuaState, text: str, old: str, new: str, limit: int | None) -> Any:
    """str.replace, refused before it is built when the result would not
    fit the state's memory limit (a short text with many matches can grow
    a hundredfold)."""
    count = text.count(old) if limit is None else min(text.count(old), limit)
    growth = count * (_utf8_len(new) - _utf8_len(old))
    if growth > 0:
        check_result(state, _utf8_len(text) + growth + LUA_STRING_BYTES, "kumo.string.replace")
        state.check_deadline()
    out = text.replace(old, new) if limit is None else text.replace(old, new, limit)
    return state.to_lua(out)


def _check_split(state: LuaState, text: str, sep: str | None) -> None:
    """Refuse a split whose table of pieces would not fit the memory limit
    (before splitting: the pieces cost far more than the text)."""
    if sep is None:
        count = len(text) // 2 + 1
    elif sep == "":
        count = len(text) + 2
    else:
        count = text.count(sep) + 1
    size = LUA_TABLE_BYTES + count * (LUA_SLOT_BYTES + LUA_STRING_BYTES) + _utf8_len(text)
    check_result(state, size, "the pieces of the split string")


def _split_impl(reverse: bool) -> Any:
    def impl(state: LuaState, s: Any = None, p: Any = None) -> Any:
        text, sep = rust_string(s), rust_string(p)
        _check_split(state, text, sep)
        pieces = _split(text, sep)
        return state.to_lua(pieces[::-1] if reverse else pieces)

    return impl


def _splitn_impl(reverse: bool) -> Any:
    def impl(state: LuaState, s: Any = None, n: Any = None, p: Any = None) -> Any:
        text, limit, sep = rust_string(s), usize_arg(n), rust_string(p)
        _check_split(state, text, sep)
        return state.to_lua((_rsplitn if reverse else _splitn)(text, limit, sep))

    return impl


def _words_impl(spaces: str) -> Any:
    def impl(state: LuaState, s: Any = None) -> Any:
        text = rust_string(s)
        _check_split(state, text, None)
        return state.to_lua(_words(text, spaces))

    return impl


def register(kumo: Namespace) -> None:
    def fn(name: str, impl: Any, notes: str = "") -> None:
        kumo.function(f"string.{name}", impl, notes=notes)

    fn(
        "replace",
        lambda st, s=None, a=None, b=None: _replaced(
            st, rust_string(s), rust_string(a), rust_string(b), None
        ),
    )
    fn("replacen", _replacen)
    fn("split", _split_impl(False))
    fn("rsplit", _split_impl(True))
    fn("splitn", _splitn_impl(False))
    fn("rsplitn", _splitn_impl(True))
    fn("split_whitespace", _words_impl(WHITESPACE))
    fn("split_ascii_whitespace", _words_impl(ASCII_WHITESPACE))
    fn("trim", lambda st, s=None: st.to_lua(rust_string(s).strip(WHITESPACE)))
    fn("trim_start", lambda st, s=None: st.to_lua(rust_string(s).lstrip(WHITESPACE)))
    fn("trim_end", lambda st, s=None: st.to_lua(rust_string(s).rstrip(WHITESPACE)))
    fn("starts_with", lambda st, s=None, p=None: bytes_arg(s).startswith(bytes_arg(p)))
    fn("ends_with", lambda st, s=None, p=None: bytes_arg(s).endswith(bytes_arg(p)))
    fn("wrap", _wrap)


def wrap(value: bytes, soft: int = 75, hard: int = 900) -> bytes:
    """kumo_wrap::wrap_impl, then bstr's `trim_end` (as mod-string does)."""
    text = fold(value, soft, hard).decode("utf-8", "surrogateescape").rstrip(WHITESPACE)
    return text.encode("utf-8", "surrogateescape")


def _wrap(state: LuaState, text: Any = None, soft: Any = None, hard: Any = None) -> bytes:
    data = bytes_arg(text)
    s = 75 if soft is None else usize_arg(soft)
    h = 900 if hard is None else usize_arg(hard)
    return wrap(data, s, h)


def _replacen(state: LuaState, s: Any = None, a: Any = None, b: Any = None, n: Any = None) -> Any:
    text, old, new = rust_string(s), rust_string(a), rust_string(b)
    limit = usize_arg(n)
    return _replaced(state, text, old, new, min(limit, 2**62))
