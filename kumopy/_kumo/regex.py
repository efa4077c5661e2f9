"""`kumo.regex.compile` and `kumo.regex.escape` (kumod: crates/mod-regex,
on the fancy-regex crate).

fancy-regex is Rust regex syntax plus look-around, backreferences and
atomic groups, matched by backtracking.  kumopy translates the pattern to
the `regex` package (VERSION1: scoped inline flags, nested classes and
`--`/`&&` set operations, POSIX classes, Unicode properties, simple case
folding) and keeps Rust's meaning where the two differ:

* `$` without the `m` flag matches only at the very end (Python's `$`
  also matches before a final newline); `\\z` is the end of the text;
* `\\x{...}`, `\\u{...}`, `\\U{...}` code points; `\\k<name>` backreferences;
* iteration (`find_all`, `split`, `replace_all`) skips an empty match
  right after the previous match, as Rust does;
* replacement strings use Rust's `$1`, `$name`, `${name}`, `$$` syntax
  (`$1a` names the group `1a`; an unknown group expands to nothing).

A look-behind whose body repeats (`(?<=a+)`, `{2,3}`) is refused as
fancy-regex refuses it (Python's `regex` would accept it); alternatives of
different fixed sizes are allowed, as fancy-regex allows them.

Patterns without fancy features (no backreference, look-around, atomic
group or possessive repetition) match in linear time with RE2, as
fancy-regex hands them to the regex crate (kumopy/_kumo/_linear_regex.py);
the others backtrack in the `regex` package, bounded by BACKTRACK_SECONDS
per call, after which the call fails with fancy-regex's
`Error executing regex: Max limit for backtracking count exceeded`.

Haystacks must be valid UTF-8 (mlua converts them to a Rust `String`).
Compile errors read `Parsing error at position N: ...` with the `regex`
package's wording.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from ._lib import (
    LUA_SLOT_BYTES,
    LUA_STRING_BYTES,
    LibObject,
    check_result,
    rust_string,
    to_lua_checked,
    usize_arg,
)
from ._linear_regex import linear_pattern

if TYPE_CHECKING:
    import regex as _re

    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Regex", "compile_fancy", "escape", "expand", "register"]

_META = set("\\.+*?()|[]{}^$#&-~")


def escape(text: str) -> str:
    """Rust regex::escape."""
    return "".join("\\" + c if c in _META else c for c in text)


_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z-]*)[:)]")


def _translate(pattern: str) -> str:
    multi_line = any("m" in g.split("-")[0] for g in _FLAG_GROUP.findall(pattern))
    out: list[str] = []
    i = 0
    depth = 0  # character class nesting
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "xuU" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end != -1:
                    try:
                        cp = int(pattern[i + 3 : end], 16)
                    except ValueError:
                        raise KumoError(
                            f"Parsing error at position {i}: Invalid hex escape"
                        ) from None
                    out.append(f"\\U{cp:08x}")
                    i = end + 1
                    continue
            if nxt == "z" and depth == 0:
                out.append("\\Z")
                i += 2
                continue
            if nxt == "k" and i + 2 < n and pattern[i + 2] == "<":
                end = pattern.find(">", i + 3)
                if end != -1:
                    out.append(f"\\g<{pattern[i + 3 : end]}>")
                    i = end + 1
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            depth += 1
            out.append(c)
            i += 1
            # a ']' (or '^]') right after the opening bracket is literal
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "]" and depth > 0:
            depth -= 1
        elif c == "$" and depth == 0 and not multi_line:
            out.append("(?:\\Z)")
            i += 1
            continue
        out.append(c)
        i += 1
    return "(?-f)" + "".join(out)


def _const_len(body: str) -> int | None:
    """The length of a (sub)pattern in characters, or None when a
    repetition makes it vary (fancy-regex refuses such a look-behind;
    alternatives of different fixed sizes are fine)."""
    branches: list[int | None] = []
    total: int | None = 0
    last: int | None = None  # length of the previous atom (for {n})
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        atom: int | None
        if c == "|":
            branches.append(total)
            total, last = 0, None
            i += 1
            continue
        if c == "\\":
            nxt = body[i + 1 : i + 2]
            if nxt.isdigit() or nxt in ("k", "g"):
                return None  # backreference
            atom = 0 if nxt in ("b", "B", "A", "z", "Z", "G") else 1
            if nxt in "xuU" and body[i + 2 : i + 3] == "{":
                i = body.index("}", i) + 1
            elif nxt in "pP" and body[i + 2 : i + 3] == "{":
                i = body.index("}", i) + 1
            else:
                i += 2
        elif c == "[":
            depth, j = 0, i
            while j < n:
                if body[j] == "\\":
                    j += 2
                    continue
                if body[j] == "[":
                    depth += 1
                elif body[j] == "]" and j > i + 1 and not (j == i + 2 and body[i + 1] == "^"):
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            atom, i = 1, j + 1
        elif c == "(":
            depth, j = 1, i + 1
            while j < n and depth:
                if body[j] == "\\":
                    j += 2
                    continue
                depth += body[j] == "("
                depth -= body[j] == ")"
                j += 1
            inner = body[i + 1 : j - 1]
            if inner.startswith(("?=", "?!", "?<=", "?<!")):
                atom = 0
            else:
                m = re.match(r"\?(?:P?<[^>=!]+>|[a-zA-Z-]*:|>)", inner)
                if inner.startswith("?") and m is None:
                    atom = 0  # a flag group such as (?i)
                else:
                    atom = _const_len(inner[m.end() :] if m else inner)
            i = j
        elif c in "*+?":
            return None
        elif c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", body[i:])
            if m is None:
                atom, i = 1, i + 1
            else:
                if m.group(2) is not None and m.group(3) != m.group(1):
                    return None
                if last is None or total is None:
                    return None
                total += last * (int(m.group(1)) - 1)
                i += m.end()
                continue
        elif c in "^$":
            atom, i = 0, i + 1
        else:
            atom, i = 1, i + 1
        if atom is None or total is None:
            return None
        total += atom
        last = atom
    branches.append(total)
    # fancy-regex accepts alternatives of different (fixed) sizes
    return None if any(b is None for b in branches) else max(b for b in branches if b is not None)


_LOOKBEHIND = re.compile(r"\(\?<[=!]")


def _check_lookbehinds(pattern: str) -> None:
    for m in _LOOKBEHIND.finditer(pattern):
        if m.start() and pattern[m.start() - 1] == "\\":
            continue
        depth, j = 1, m.end()
        while j < len(pattern) and depth:
            if pattern[j] == "\\":
                j += 2
                continue
            depth += pattern[j] == "("
            depth -= pattern[j] == ")"
            j += 1
        if _const_len(pattern[m.end() : j - 1]) is None:
            raise KumoError("Error compiling regex: Look-behind assertion without constant size")


def compile_fancy(pattern: str) -> _re.Pattern[str]:
    import regex as _re  # (imported by the first kumo.regex.compile: start-up)

    _check_lookbehinds(pattern)
    try:
        return _re.compile(_translate(pattern), _re.V1)
    except _re.error as e:
        pos = max(0, (e.pos or 0) - len("(?-f)")) if e.pos is not None else 0
        raise KumoError(f"Parsing error at position {pos}: {e.msg}") from None


_NAME = re.compile(r"[_0-9A-Za-z]+")


def expand(m: Any, template: str) -> str:
    """Rust's replacement syntax: $1, $name, ${name}, $$."""
    import regex as _re  # (a match exists: the module is loaded)

    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j == -1:
            out.append(template[i:])
            break
        out.append(template[i:j])
        if j + 1 < n and template[j + 1] == "$":
            out.append("$")
            i = j + 2
            continue
        name: str | None = None
        if j + 1 < n and template[j + 1] == "{":
            end = template.find("}", j + 2)
            if end != -1:
                name = template[j + 2 : end]
                i = end + 1
        else:
            nm = _NAME.match(template, j + 1)
            if nm:
                name = nm.group(0)
                i = nm.end()
        if name is None:
            out.append("$")
            i = j + 1
            continue
        key: int | str = int(name) if name.isdigit() else name
        try:
            value = m.group(key)
        except (IndexError, _re.error):
            value = None
        out.append(value or "")
    return "".join(out)


#: how long one call of a `kumo.regex` method may backtrack: the `regex`
#: package's timeout, which it overshoots (0.25 ends after about 1 s here)
BACKTRACK_SECONDS = 0.25
#: kumod's error when fancy-regex gives up (its backtrack_limit, 1,000,000)
BACKTRACK_LIMIT_ERROR = "Error executing regex: Max limit for backtracking count exceeded"
#: how many matches an iteration collects between budget checks
_CHECK_EVERY = 4096


class _Bounded:
    """The backtracking engine for one method call: every search shares
    BACKTRACK_SECONDS, and running out is fancy-regex's backtrack-limit
    error."""

    def __init__(self, pat: _re.Pattern[str]) -> None:
        self.pat = pat
        self.until = _time.monotonic() + BACKTRACK_SECONDS

    def search(self, text: str, pos: int = 0) -> _re.Match[str] | None:
        left = self.until - _time.monotonic()
        try:
            return self.pat.search(text, pos, timeout=max(left, 0.001))
        except TimeoutError:
            raise KumoError(BACKTRACK_LIMIT_ERROR) from None


def find_iter(pat: Any, text: Any, state: LuaState | None = None) -> list[Any]:
    """Matches in Rust's order: an empty match right after the previous
    match is skipped.  `pat` is an RE2 program (text: bytes) or a bounded
    backtracking one (text: str)."""
    found: list[Any] = []
    pos = 0
    last_end = -1
    n = len(text)
    while pos <= n:
        m = pat.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        if start == end and end == last_end:
            pos = _next_char(text, end)
            continue
        found.append(m)
        last_end = end
        pos = end if end > start else _next_char(text, end)
        if state is not None and len(found) % _CHECK_EVERY == 0:
            state.check_deadline()
            check_result(state, len(found) * (LUA_SLOT_BYTES + LUA_STRING_BYTES), "regex matches")
    return found


def _next_char(text: Any, pos: int) -> int:
    """The position after the character at `pos` (byte subjects: never
    inside a UTF-8 sequence)."""
    pos += 1
    if isinstance(text, bytes):
        n = len(text)
        while pos < n and (text[pos] & 0xC0) == 0x80:
            pos += 1
    return pos


def _piece(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _replace(
    pat: Any,
    text: Any,
    rep: str,
    limit: int,
    state: LuaState | None = None,
    names: Mapping[str, int] | None = None,
) -> Any:
    out: list[str] = []
    last = 0
    size = 0
    for count, m in enumerate(find_iter(pat, text, state)):
        if limit and count >= limit:
            break
        out.append(_piece(text[last : m.start()]))
        piece = expand(_TextMatch(m, names if names is not None else {}), rep)
        out.append(piece)
        size += len(piece)
        last = m.end()
        if state is not None and size > 1 << 20:
            check_result(state, size + len(text), "the replaced text")
            size = 0
    out.append(_piece(text[last:]))
    return "".join(out)


class _TextMatch:
    """A match whose groups read as str and are found by the names the
    pattern gave them (RE2 matches give bytes)."""

    def __init__(self, m: Any, names: Mapping[str, int]) -> None:
        self.m = m
        self.names = names

    def group(self, key: int | str) -> str | None:
        if isinstance(key, str):
            if key not in self.names:
                raise IndexError(key)
            key = self.names[key]
        value = self.m.group(key)
        return None if value is None else _piece(value)


class Regex(LibObject):
    """A compiled fancy-regex, as Lua sees it.

    Patterns without fancy features match with RE2 (linear time) on the
    UTF-8 bytes of the haystack; the others with the `regex` package,
    bounded by BACKTRACK_SECONDS per call."""

    lua_type_name = "RegexWrap"

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = compile_fancy(pattern)
        self.linear = linear_pattern(pattern, self.compiled.groups)

    def _engine(self, text: str) -> tuple[Any, Any]:
        """(matcher, subject) for one call: RE2 on bytes, or the bounded
        backtracking engine on str."""
        linear = self.linear
        if linear is not None and (not linear.ascii_only or text.isascii()):
            return linear.program, text.encode("utf-8", "surrogateescape")
        return _Bounded(self.compiled), text

    def captures(self, state: LuaState, haystack: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        m = pat.search(text)
        if m is None:
            return None
        names = {idx: name for name, idx in self.compiled.groupindex.items()}
        with state.building():  # (the table is built item by item)
            table = state.rt.table()
            for idx in range(self.compiled.groups + 1):
                value = m.group(idx)
                if value is None:
                    continue
                table[idx] = state.to_lua(value)
                if idx in names:
                    table[state.to_lua(names[idx])] = state.to_lua(value)
        return table

    def is_match(self, state: LuaState, haystack: Any = None) -> bool:
        pat, text = self._engine(rust_string(haystack))
        return pat.search(text) is not None

    def find(self, state: LuaState, haystack: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        m = pat.search(text)
        return None if m is None else state.to_lua(m.group(0))

    def find_all(self, state: LuaState, haystack: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        found = [m.group(0) for m in find_iter(pat, text, state)]
        return to_lua_checked(state, found, "regex matches")

    def replace(self, state: LuaState, haystack: Any = None, rep: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        return state.to_lua(
            _replace(pat, text, rust_string(rep), 1, state, self.compiled.groupindex)
        )

    def replace_all(self, state: LuaState, haystack: Any = None, rep: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        return state.to_lua(
            _replace(pat, text, rust_string(rep), 0, state, self.compiled.groupindex)
        )

    def replacen(
        self, state: LuaState, haystack: Any = None, limit: Any = None, rep: Any = None
    ) -> Any:
        haystack_text = rust_string(haystack)
        n = usize_arg(limit)
        r = rust_string(rep)
        pat, text = self._engine(haystack_text)
        return state.to_lua(_replace(pat, text, r, n, state, self.compiled.groupindex))

    def split(self, state: LuaState, haystack: Any = None) -> Any:
        pat, text = self._engine(rust_string(haystack))
        pieces = []
        last = 0
        for m in find_iter(pat, text, state):
            pieces.append(text[last : m.start()])
            last = m.end()
        pieces.append(text[last:])
        return to_lua_checked(state, pieces, "the pieces of the split string")

    methods: ClassVar[dict[str, Any]] = {
        "captures": captures,
        "is_match": is_match,
        "find": find,
        "find_all": find_all,
        "replace": replace,
        "replace_all": replace_all,
        "replacen": replacen,
        "split": split,
    }


def register(kumo: Namespace) -> None:
    kumo.function(
        "regex.compile",
        _compile,
        notes="patterns without fancy features match with RE2 in linear time, as fancy-regex "
        "hands them to the regex crate; fancy ones (look-around, backreferences) use the `regex` "
        "package, bounded in time (kumod's backtrack-limit error); compile errors use the regex "
        "package's wording",
    )
    kumo.function("regex.escape", _escape)


def _compile(state: LuaState, pattern: Any = None) -> Regex:
    return Regex(rust_string(pattern))


def _escape(state: LuaState, text: Any = None) -> Any:
    return state.to_lua(escape(rust_string(text)))
