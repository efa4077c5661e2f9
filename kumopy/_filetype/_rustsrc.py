"""Reads the constant items of a Rust source file: the subset of Rust the
`file_type` crate's generated modules are written in.

The crate keeps its format database as Rust source: one module per format
(`pub(crate) const WIKIDATA_2193155: FileType = FileType { ... };`) and
three `phf::Map` statics (`static MAP: phf::Map<&str, ...> = ::phf::Map {
key: ..., disps: &[...], entries: &[(key, &[...]), ...] };`) whose slice
elements carry `#[cfg(feature = "...")]` attributes.  `const_items` returns
every `const` / `static` item of a file as a Python value:

* a struct literal `Path { a: x, b: y }` -> `Struct("Path", {"a": x, "b": y})`
* a call or tuple variant `Path(x, y)` -> `Call("Path", [x, y])`
* a bare path `Path::Name` -> `PathRef("Path::Name")`
* `&[x, y]` -> a list (references are transparent), `(x, y)` -> a tuple
* integer and string literals -> int and str

A slice element (or item) whose `#[cfg(...)]` is false for the enabled
features is left out, as rustc leaves it out.  Anything outside this subset
raises `RustSyntaxError` with the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call", "PathRef", "RustSyntaxError", "Struct", "const_items"]


class RustSyntaxError(ValueError):
    """The source is not in the subset of Rust this reader understands."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.detail = message


@dataclass(frozen=True)
class Struct:
    path: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    path: str
    args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PathRef:
    path: str


_TOKEN = re.compile(
    r"""
      (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>r(?P<hashes>\#*)"(?:.|\n)*?"(?P=hashes))
    | (?P<life>'[A-Za-z_][A-Za-z0-9_]*(?!'))
    | (?P<char>'(?:[^'\\]|\\.[^']*)')
    | (?P<num>(?:0x[0-9A-Fa-f_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)(?:[iu](?:8|16|32|64|128|size))?)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>::|->|=>|[&\[\](){},:;=\#!<>*.|+\-?@/%^~$])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPE = re.compile(r"""\\(?:x([0-9A-Fa-f]{2})|u\{([0-9A-Fa-f_]{1,8})\}|\n\s*|(.))""", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def _unescape(body: str, path: str, line: int) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return chr(int(m.group(1), 16))
        if m.group(2) is not None:
            return chr(int(m.group(2).replace("_", ""), 16))
        simple = m.group(3)
        if simple is None:
            return ""  # a backslash before a newline continues the string
        if simple not in _SIMPLE_ESCAPES:
            raise RustSyntaxError(path, line, f"unknown escape \\{simple} in a string")
        return _SIMPLE_ESCAPES[simple]

    return _ESCAPE.sub(repl, body)


def _tokens(text: str, path: str) -> Iterator[_Tok]:
    pos = 0
    line = 1
    end = len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RustSyntaxError(path, line, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        chunk = m.group(0)
        if kind == "hashes":  # the raw string's inner group
            kind = "raw"
        if kind != "ws":
            yield _Tok(kind, chunk, line)
        line += chunk.count("\n")
        pos = m.end()


class _Parser:
    def __init__(self, text: str, path: str, features: frozenset[str]) -> None:
        self.path = path
        self.features = features
        self.toks = list(_tokens(text, path))
        self.i = 0

    # -- token access -------------------------------------------------------

    def error(self, message: str, tok: _Tok | None = None) -> RustSyntaxError:
        if tok is None:
            tok = self.toks[self.i] if self.i < len(self.toks) else None
        line = tok.line if tok is not None else (self.toks[-1].line if self.toks else 1)
        return RustSyntaxError(self.path, line, message)

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of file")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text == text and tok.kind in ("punct", "ident")

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.text != text:
            raise self.error(f"expected {text!r}, found {tok.text!r}", tok)
        return tok

    # -- attributes ---------------------------------------------------------

    def attributes(self) -> bool:
        """Read `#[...]` attributes; False when a `cfg` among them is false."""
        enabled = True
        while self.at("#"):
            self.next()
            self.expect("[")
            start = self.i
            depth = 1
            while depth:
                tok = self.next()
                if tok.text == "[":
                    depth += 1
                elif tok.text == "]":
                    depth -= 1
            body = self.toks[start : self.i - 1]
            if body and body[0].text == "cfg":
                sub = _Parser.__new__(_Parser)
                sub.path, sub.features, sub.toks, sub.i = self.path, self.features, body, 1
                sub.expect("(")
                value = sub.cfg_predicate()
                sub.expect(")")
                if sub.peek() is not None:
                    raise sub.error("unexpected text after a cfg predicate")
                enabled = enabled and value
        return enabled

    def cfg_predicate(self) -> bool:
        name = self.next()
        if name.kind != "ident":
            raise self.error(f"expected a cfg predicate, found {name.text!r}", name)
        if name.text in ("any", "all", "not"):
            self.expect("(")
            values = []
            while not self.at(")"):
                values.append(self.cfg_predicate())
                if not self.at(")"):
                    self.expect(",")
            self.expect(")")
            if name.text == "any":
                return any(values)
            if name.text == "all":
                return all(values)
            if len(values) != 1:
                raise self.error("not(...) takes one predicate", name)
            return not values[0]
        if self.at("="):
            self.next()
            value = self.next()
            if value.kind != "str":
                raise self.error("expected a string in a cfg predicate", value)
            text = _unescape(value.text[1:-1], self.path, value.line)
            return name.text == "feature" and text in self.features
        return False  # cfg(test) and the like: false for a library build

    # -- items --------------------------------------------------------------

    def items(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        while self.peek() is not None:
            enabled = self.attributes()
            if self.peek() is None:
                break
            if self.at("pub"):
                self.next()
                if self.at("("):
                    self.skip_group()
            tok = self.peek()
            if tok is not None and tok.text in ("const", "static") and tok.kind == "ident":
                self.next()
                name = self.next()
                if name.kind != "ident":
                    raise self.error(f"expected a constant's name, found {name.text!r}", name)
                self.expect(":")
                self.skip_type()
                self.expect("=")
                value = self.expr()
                self.expect(";")
                if enabled:
                    found[name.text] = value
            else:
                self.skip_item()
        return found

    def skip_group(self) -> None:
        opening = self.next()
        pairs = {"(": ")", "[": "]", "{": "}"}
        close = pairs[opening.text]
        depth = 1
        while depth:
            tok = self.next()
            if tok.text == opening.text:
                depth += 1
            elif tok.text == close:
                depth -= 1

    def skip_type(self) -> None:
        while not self.at("="):
            if self.at("(") or self.at("[") or self.at("{"):
                self.skip_group()
            else:
                self.next()

    def skip_item(self) -> None:
        """Skip a `use`, `mod`, `fn`, `impl`, ... item: to its `;` or its
        balanced `{...}` block."""
        while True:
            tok = self.peek()
            if tok is None:
                return
            if tok.text == ";":
                self.next()
                return
            if tok.text == "{":
                self.skip_group()
                return
            if tok.text in ("(", "["):
                self.skip_group()
            else:
                self.next()

    # -- expressions --------------------------------------------------------

    def path_expr(self) -> str:
        parts = []
        if self.at("::"):
            self.next()
        while True:
            tok = self.next()
            if tok.kind != "ident":
                raise self.error(f"expected a name, found {tok.text!r}", tok)
            parts.append(tok.text)
            if not self.at("::"):
                return "::".join(parts)
            self.next()

    def expr(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of file in an expression")
        if tok.text == "&" and tok.kind == "punct":
            self.next()
            if self.peek() is not None and self.peek().kind == "life":  # type: ignore[union-attr]
                self.next()
            return self.expr()
        if tok.text == "-" and tok.kind == "punct":
            self.next()
            value = self.expr()
            if not isinstance(value, int):
                raise self.error("'-' before something other than an integer", tok)
            return -value
        if tok.text == "[" and tok.kind == "punct":
            self.next()
            return self.elements("]")
        if tok.text == "(" and tok.kind == "punct":
            self.next()
            return tuple(self.elements(")"))
        if tok.kind == "num":
            self.next()
            return _integer(tok.text)
        if tok.kind in ("str", "raw"):
            self.next()
            return _string(tok, self.path)
        if tok.kind == "ident" or tok.text == "::":
            if tok.text in ("true", "false"):
                self.next()
                return tok.text == "true"
            name = self.path_expr()
            if self.at("{"):
                self.next()
                return Struct(name, self.fields())
            if self.at("("):
                self.next()
                return Call(name, self.elements(")"))
            return PathRef(name)
        raise self.error(f"unexpected {tok.text!r} in an expression", tok)

    def elements(self, close: str) -> list[Any]:
        values = []
        while not self.at(close):
            enabled = self.attributes()
            value = self.expr()
            if enabled:
                values.append(value)
            if not self.at(close):
                self.expect(",")
        self.next()
        return values

    def fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        while not self.at("}"):
            enabled = self.attributes()
            name = self.next()
            if name.kind != "ident":
                raise self.error(f"expected a field name, found {name.text!r}", name)
            self.expect(":")
            value = self.expr()
            if enabled:
                if name.text in values:
                    raise self.error(f"field {name.text} given twice", name)
                values[name.text] = value
            if not self.at("}"):
                self.expect(",")
        self.next()
        return values


def _integer(text: str) -> int:
    body = re.sub(r"[iu](?:8|16|32|64|128|size)$", "", text).replace("_", "")
    if body.startswith(("0x", "0o", "0b")):
        return int(body, 0)
    return int(body, 10)


def _string(tok: _Tok, path: str) -> str:
    if tok.kind == "raw":
        hashes = len(tok.text[1:]) - len(tok.text[1:].lstrip("#"))
        return tok.text[2 + hashes : len(tok.text) - 1 - hashes]
    return _unescape(tok.text[1:-1], path, tok.line)


def const_items(text: str, path: str, features: Iterable[str]) -> dict[str, Any]:
    """Every `const` and `static` item of the Rust source `text` (read from
    `path`, named in errors), by name, with `features` enabled."""
    return _Parser(text, path, frozenset(features)).items()
