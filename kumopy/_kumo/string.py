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

from ._lib import bytes_arg, rust_string, usize_arg

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


def register(kumo: Namespace) -> None:
    def fn(name: str, impl: Any, notes: str = "") -> None:
        kumo.function(f"string.{name}", impl, notes=notes)

    fn(
        "replace",
        lambda st, s=None, a=None, b=None: st.to_lua(
            rust_string(s).replace(rust_string(a), rust_string(b))
        ),
    )
    fn("replacen", _replacen)
    fn("split", lambda st, s=None, p=None: st.to_lua(_split(rust_string(s), rust_string(p))))
    fn("rsplit", lambda st, s=None, p=None: st.to_lua(_split(rust_string(s), rust_string(p))[::-1]))
    fn(
        "splitn",
        lambda st, s=None, n=None, p=None: st.to_lua(
            _splitn(rust_string(s), usize_arg(n), rust_string(p))
        ),
    )
    fn(
        "rsplitn",
        lambda st, s=None, n=None, p=None: st.to_lua(
            _rsplitn(rust_string(s), usize_arg(n), rust_string(p))
        ),
    )
    fn("split_whitespace", lambda st, s=None: st.to_lua(_words(rust_string(s), WHITESPACE)))
    fn(
        "split_ascii_whitespace",
        lambda st, s=None: st.to_lua(_words(rust_string(s), ASCII_WHITESPACE)),
    )
    fn("trim", lambda st, s=None: st.to_lua(rust_string(s).strip(WHITESPACE)))
    fn("trim_start", lambda st, s=None: st.to_lua(rust_string(s).lstrip(WHITESPACE)))
    fn("trim_end", lambda st, s=None: st.to_lua(rust_string(s).rstrip(WHITESPACE)))
    fn("starts_with", lambda st, s=None, p=None: bytes_arg(s).startswith(bytes_arg(p)))
    fn("ends_with", lambda st, s=None, p=None: bytes_arg(s).endswith(bytes_arg(p)))
    fn("wrap", _wrap)


def wrap(value: bytes, soft: int = 75, hard: int = 900) -> bytes:
    """kumo_wrap::wrap_impl: header-style folding (CRLF + tab)."""
    out = bytearray()
    line = bytearray()

    def flush() -> None:
        if out:
            out.extend(b"\t")
        out.extend(line)
        out.extend(b"\r\n")
        line.clear()

    words = value.replace(b"\x0c", b" ").replace(b"\r", b" ").replace(b"\n", b" ")
    for word in words.replace(b"\t", b" ").split(b" "):
        if not word:
            continue
        if len(line) + len(word) < soft:
            if line:
                line.extend(b" ")
            line.extend(word)
            continue
        if line:
            flush()
        if len(word) <= hard:
            line.extend(word)
        else:
            for c in word:
                line.append(c)
                if len(line) >= hard:
                    flush()
    if line:
        if out:
            out.extend(b"\t")
        out.extend(line)
    text = bytes(out).decode("utf-8", "surrogateescape").rstrip(WHITESPACE)
    return text.encode("utf-8", "surrogateescape")


def _wrap(state: LuaState, text: Any = None, soft: Any = None, hard: Any = None) -> bytes:
    data = bytes_arg(text)
    s = 75 if soft is None else usize_arg(soft)
    h = 900 if hard is None else usize_arg(hard)
    return wrap(data, s, h)


def _replacen(state: LuaState, s: Any = None, a: Any = None, b: Any = None, n: Any = None) -> Any:
    text, old, new = rust_string(s), rust_string(a), rust_string(b)
    return state.to_lua(text.replace(old, new, usize_arg(n)))
