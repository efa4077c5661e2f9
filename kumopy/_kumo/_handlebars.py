"""The Handlebars dialect of `kumo.string.eval_template`: the part of
handlebars-rust (kumod's engine, with recursive lookup and its
`string_helpers`) that templates use.

Supported: `{{expr}}` (HTML-escaped when the template name ends in `.html`,
as kumod does), `{{{expr}}}` and `{{&expr}}` (never escaped), comments,
`~` whitespace control, the block helpers `if`, `unless`, `each`, `with`
(with `{{else}}` / `{{^}}`), sub-expressions, string/number/boolean/null
literals, paths (`a.b`, `this`, `./a`, `../a`, `@root`, `@index`, `@key`,
`@first`, `@last`, `[odd name]`), and the helpers `eq ne gt gte lt lte and
or not len lookup log` and `lowerCamelCase upperCamelCase snakeCase
kebabCase shoutySnakeCase shoutyKebabCase titleCase trainCase`.  A name
not found in the current context is looked up in the enclosing ones
(recursive lookup).  Anything else (partials, decorators, inline blocks,
raw blocks, custom helpers) is a template error naming the construct, so
that a template kumopy cannot render never renders wrong silently.

Errors read as handlebars-rust's: `Error rendering "NAME" line L, col C:
MESSAGE` and `Template error: MESSAGE` (for a template that does not parse).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HandlebarsError", "render"]


class HandlebarsError(Exception):
    pass


# -- parsing -------------------------------------------------------------------

_TAG = re.compile(r"\{\{(~?)(\{|&|#|/|\^|!--|!|>|else\b)?(.*?)(\}?)(~?)\}\}", re.S)


@dataclass
class _Expr:
    kind: str  # "path", "literal", "sub"
    value: Any = None
    params: list[_Expr] = field(default_factory=list)
    hash: dict[str, _Expr] = field(default_factory=dict)


@dataclass
class _Node:
    kind: str  # "text", "var", "block"
    line: int = 1
    col: int = 1
    text: str = ""
    expr: _Expr | None = None
    raw: bool = False
    body: list[_Node] = field(default_factory=list)
    inverse: list[_Node] = field(default_factory=list)


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<num>-?\d+(?:\.\d+)?)(?=[\s)]|$)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<hash>[A-Za-z_][\w-]*)=
    | (?P<path>(?:@?[\w$-]+|\.\.|\.|\[[^\]]*\])(?:[./](?:[\w$-]+|\.\.|\[[^\]]*\]))*)
    )""",
    re.X,
)


def _bad(text: str, where: str) -> HandlebarsError:
    return HandlebarsError(f"Template error: invalid expression {text.strip()!r} {where}")


def _parse_expr(text: str, where: str) -> _Expr:
    if text.count("(") > _MAX_DEPTH:
        raise HandlebarsError(f"Template error: sub-expressions nested too deeply {where}")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(text, where)
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    items, end = _parse_seq(tokens, 0, text, where)
    if end != len(tokens) or not items or isinstance(items[0], tuple):
        raise _bad(text, where)
    return _call(items, text, where)


def _call(items: list[Any], text: str, where: str) -> _Expr:
    head, *rest = items
    if isinstance(head, tuple):
        raise _bad(text, where)
    params = [p for p in rest if not isinstance(p, tuple)]
    hashes = {p[0]: p[1] for p in rest if isinstance(p, tuple)}
    if not params and not hashes:
        return head  # type: ignore[no-any-return]
    return _Expr("call", head, params, hashes)


def _atom(kind: str, value: str) -> _Expr:
    if kind == "str":
        body = value[1:-1]
        if value[0] == "'":
            body = body.replace("\\'", "'").replace('"', '\\"')
        return _Expr("literal", json.loads('"' + body + '"'))
    if kind == "num":
        return _Expr("literal", float(value) if "." in value else int(value))
    if value in ("true", "false"):
        return _Expr("literal", value == "true")
    if value in ("null", "undefined"):
        return _Expr("literal", None)
    return _Expr("path", value)


def _parse_one(tokens: list[tuple[str, str]], i: int, text: str, where: str) -> tuple[Any, int]:
    """One parameter (an atom or a parenthesised sub-expression) at i."""
    if i >= len(tokens):
        raise _bad(text, where)
    kind, value = tokens[i]
    if kind == "open":
        inner, j = _parse_seq(tokens, i + 1, text, where)
        if j >= len(tokens) or tokens[j][0] != "close" or not inner:
            raise HandlebarsError(f"Template error: unbalanced parentheses {where}")
        expr = _call(inner, text, where)
        if expr.kind != "call":
            expr = _Expr("call", expr)
        return expr, j + 1
    if kind in ("close", "hash"):
        raise _bad(text, where)
    return _atom(kind, value), i + 1


def _parse_seq(
    tokens: list[tuple[str, str]], i: int, text: str, where: str
) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(tokens) and tokens[i][0] != "close":
        kind, value = tokens[i]
        if kind == "hash":
            item, i = _parse_one(tokens, i + 1, text, where)
            items.append((value, item))
        else:
            item, i = _parse_one(tokens, i, text, where)
            items.append(item)
    return items, i


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    col = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    current = root
    pos = 0
    strip_next = False
    for m in _TAG.finditer(source):
        tilde_l, sigil, inner, brace, tilde_r = m.groups()
        text = source[pos : m.start()]
        if strip_next:
            text = text.lstrip()
        if tilde_l:
            text = text.rstrip()
        if text:
            current.append(_Node("text", text=text))
        pos = m.end()
        strip_next = bool(tilde_r)
        line, col = _position(source, m.start())
        where = f"at line {line}, col {col}"
        sigil = sigil or ""
        if sigil in ("!", "!--"):
            continue
        if sigil == ">":
            raise HandlebarsError(f"Template error: partials are not supported by kumopy {where}")
        if sigil == "{":
            if brace != "}":
                raise HandlebarsError(f"Template error: unclosed triple mustache {where}")
            current.append(_Node("var", line, col, expr=_parse_expr(inner, where), raw=True))
            continue
        if sigil == "&":
            current.append(_Node("var", line, col, expr=_parse_expr(inner, where), raw=True))
            continue
        if sigil in ("#", "^") and len(stack) >= _MAX_DEPTH:
            raise HandlebarsError(
                f"Template error: blocks nested more than {_MAX_DEPTH} deep {where}")
        if sigil == "#":
            if inner.startswith(("*", ">", "#")) or inner.startswith("inline"):
                raise HandlebarsError(
                    f"Template error: decorators and inline partials are not supported by "
                    f"kumopy {where}")
            node = _Node("block", line, col, expr=_parse_expr(inner, where))
            current.append(node)
            stack.append((node, current))
            current = node.body
            continue
        if sigil == "else" or (sigil == "^" and not inner.strip()):
            if not stack:
                raise HandlebarsError(f"Template error: else outside of a block {where}")
            node = stack[-1][0]
            if inner.strip():
                # {{else if cond}}: a nested block in the inverse section
                if len(stack) >= _MAX_DEPTH:
                    raise HandlebarsError(
                        f"Template error: blocks nested more than {_MAX_DEPTH} deep {where}")
                nested = _Node("block", line, col, expr=_parse_expr(inner, where))
                node.inverse.append(nested)
                node.kind = "block"
                stack[-1] = (node, stack[-1][1])
                stack.append((nested, _CHAINED))
                current = nested.body
            else:
                current = node.inverse
            continue
        if sigil == "^":
            node = _Node("block", line, col, expr=_Expr("call", _Expr("path", "unless"),
                                                          [_parse_expr(inner, where)]))
            current.append(node)
            stack.append((node, current))
            current = node.body
            continue
        if sigil == "/":
            name = inner.strip()
            while stack and stack[-1][1] is _CHAINED:
                stack.pop()
            if not stack:
                raise HandlebarsError(f"Template error: unexpected closing tag {name} {where}")
            node, parent = stack.pop()
            opened = _helper_name(node.expr)
            if opened != name:
                raise HandlebarsError(
                    f"Template error: mismatched closing tag: expected {opened}, found {name} "
                    f"{where}")
            current = parent
            continue
        current.append(_Node("var", line, col, expr=_parse_expr(inner, where), raw=False))
    text = source[pos:]
    if strip_next:
        text = text.lstrip()
    if text:
        current.append(_Node("text", text=text))
    if stack:
        node = stack[-1][0]
        raise HandlebarsError(
            f"Template error: unclosed block {_helper_name(node.expr)} at line {node.line}, "
            f"col {node.col}")
    return root


_CHAINED: list[_Node] = []
#: deepest block nesting kumopy renders (its renderer recurses per level)
_MAX_DEPTH = 100


def _helper_name(expr: _Expr | None) -> str:
    if expr is None:
        return ""
    if expr.kind == "call":
        return str(expr.value.value)
    return str(expr.value)


# -- values --------------------------------------------------------------------

_MISSING = object()


def _truthy(value: Any) -> bool:
    if value is None or value is _MISSING or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list):
        return len(value) > 0
    return True


def _render_value(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    return "[object]"


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
            "`": "&#x60;", "=": "&#x3D;"}


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def _words(text: str) -> list[str]:
    """heck's word boundaries: non-alphanumerics separate, and so do a
    lower-to-upper change and the last capital of a run before a lower."""
    words: list[str] = []
    for chunk in re.split(r"[^0-9A-Za-z\u00c0-\uffff]+", text):
        if chunk:
            words.extend(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z\u00c0-\uffff]+|\d+|[A-Z]", chunk))
    return words


def _cap(w: str) -> str:
    return w[:1].upper() + w[1:].lower()


_CASES: dict[str, Callable[[str], str]] = {
    "lowerCamelCase": lambda s: "".join(
        w.lower() if i == 0 else _cap(w) for i, w in enumerate(_words(s))),
    "upperCamelCase": lambda s: "".join(_cap(w) for w in _words(s)),
    "snakeCase": lambda s: "_".join(w.lower() for w in _words(s)),
    "kebabCase": lambda s: "-".join(w.lower() for w in _words(s)),
    "shoutySnakeCase": lambda s: "_".join(w.upper() for w in _words(s)),
    "shoutyKebabCase": lambda s: "-".join(w.upper() for w in _words(s)),
    "titleCase": lambda s: " ".join(_cap(w) for w in _words(s)),
    "trainCase": lambda s: "-".join(_cap(w) for w in _words(s)),
}


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def helper(a: Any = None, b: Any = None, *_: Any) -> Any:
        try:
            return op(a, b)
        except TypeError:
            return False
    return helper


def _len(value: Any = None, *_: Any) -> Any:
    if isinstance(value, str | list | dict):
        return len(value)
    raise HandlebarsError("len: the param should be an array, object or string")


def _lookup(obj: Any = None, key: Any = None, *_: Any) -> Any:
    if isinstance(obj, list) and isinstance(key, int) and 0 <= key < len(obj):
        return obj[key]
    if isinstance(obj, dict):
        return obj.get(key if isinstance(key, str) else _render_value(key))
    return None


_HELPERS: dict[str, Callable[..., Any]] = {
    "eq": _compare(lambda a, b: a == b),
    "ne": _compare(lambda a, b: a != b),
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
    "and": lambda *a: all(_truthy(x) for x in a),
    "or": lambda *a: any(_truthy(x) for x in a),
    "not": lambda a=None, *_: not _truthy(a),
    "len": _len,
    "lookup": _lookup,
    "log": lambda *a: None,
}
for _name, _fn in _CASES.items():
    _HELPERS[_name] = (lambda f: lambda s=None, *_: f(s if isinstance(s, str) else
                                                      _render_value(s)))(_fn)
_BLOCKS = ("if", "unless", "each", "with")


# -- rendering -----------------------------------------------------------------


@dataclass
class _Frame:
    value: Any
    data: dict[str, Any] = field(default_factory=dict)


class _Renderer:
    def __init__(self, name: str, escape: bool) -> None:
        self.name = name
        self.escape = escape

    def fail(self, node: _Node, message: str) -> HandlebarsError:
        return HandlebarsError(
            f'Error rendering "{self.name}" line {node.line}, col {node.col}: {message}')

    def resolve(self, path: str, stack: list[_Frame]) -> Any:
        if path.startswith("@"):
            head, _, rest = path[1:].partition(".")
            if head == "root":
                value = stack[0].value
                return self._walk(value, rest) if rest else value
            for frame in reversed(stack):
                if head in frame.data:
                    return frame.data[head]
            return _MISSING
        depth = len(stack) - 1
        explicit = False
        while path.startswith("../"):
            depth -= 1
            path = path[3:]
            explicit = True
        if path == "..":
            depth -= 1
            path = "this"
            explicit = True
        if depth < 0:
            return _MISSING
        if path.startswith("./"):
            path, explicit = path[2:], True
        if path in ("this", "."):
            return stack[depth].value
        if path.startswith("this."):
            path, explicit = path[5:], True
        value = self._walk(stack[depth].value, path)
        if value is _MISSING and not explicit:
            for frame in reversed(stack[:depth]):
                value = self._walk(frame.value, path)
                if value is not _MISSING:
                    break
        return value

    def _walk(self, value: Any, path: str) -> Any:
        for part in re.findall(r"\[[^\]]*\]|[^./]+", path):
            key = part[1:-1] if part.startswith("[") else part
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                return _MISSING
        return value

    def evaluate(self, expr: _Expr, stack: list[_Frame], node: _Node) -> Any:
        if expr.kind == "literal":
            return expr.value
        if expr.kind == "path":
            name = expr.value
            if name in _HELPERS and name not in ("log",):
                return _HELPERS[name]()
            return self.resolve(name, stack)
        name = expr.value.value if expr.value.kind == "path" else None
        if name not in _HELPERS:
            raise self.fail(node, f"Helper not found {_render_value(expr.value.value)}")
        args = [self.evaluate(p, stack, node) for p in expr.params]
        args = [None if a is _MISSING else a for a in args]
        try:
            return _HELPERS[name](*args)
        except HandlebarsError as e:
            raise self.fail(node, str(e)) from None

    def render(self, nodes: list[_Node], stack: list[_Frame], out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "var":
                assert node.expr is not None
                text = _render_value(self.evaluate(node.expr, stack, node))
                out.append(_escape(text) if self.escape and not node.raw else text)
            else:
                self.block(node, stack, out)

    def block(self, node: _Node, stack: list[_Frame], out: list[str]) -> None:
        expr = node.expr
        assert expr is not None
        if expr.kind == "call" and expr.value.kind == "path" and expr.value.value in _BLOCKS:
            name = expr.value.value
            if len(expr.params) != 1:
                raise self.fail(node, f"Param not found for helper \"{name}\"")
            arg = self.evaluate(expr.params[0], stack, node)
        elif expr.kind == "path" and expr.value in _BLOCKS:
            raise self.fail(node, f"Param not found for helper \"{expr.value}\"")
        elif expr.kind == "call":
            raise self.fail(node, f"Helper not found {_render_value(expr.value.value)}")
        else:
            # {{#name}}...{{/name}}: a section over the value
            name = "section"
            arg = self.evaluate(expr, stack, node)
        if name == "if" or name == "unless":
            truth = _truthy(arg) if name == "if" else not _truthy(arg)
            self.render(node.body if truth else node.inverse, stack, out)
        elif name == "with":
            if _truthy(arg):
                self.render(node.body, [*stack, _Frame(arg)], out)
            else:
                self.render(node.inverse, stack, out)
        elif name == "each" or (name == "section" and isinstance(arg, list)):
            items: list[tuple[Any, Any]]
            if isinstance(arg, list):
                items = list(enumerate(arg))
            elif isinstance(arg, dict):
                items = list(arg.items())
            else:
                items = []
            if not items:
                self.render(node.inverse, stack, out)
                return
            for i, (key, value) in enumerate(items):
                data = {"index": i, "first": i == 0, "last": i == len(items) - 1}
                if isinstance(arg, dict):
                    data["key"] = key
                self.render(node.body, [*stack, _Frame(value, data)], out)
        elif _truthy(arg):
            self.render(node.body, [*stack, _Frame(arg)] if isinstance(arg, dict) else stack, out)
        else:
            self.render(node.inverse, stack, out)


def render(name: str, source: str, context: Any) -> str:
    """Render `source` (named `name`) with `context`, as kumod's Handlebars
    dialect does; raises HandlebarsError with handlebars-rust's wording."""
    nodes = _parse(source)
    out: list[str] = []
    _Renderer(name, name.endswith(".html")).render(nodes, [_Frame(context)], out)
    return "".join(out)
