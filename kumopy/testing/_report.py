"""Readable failure text: values, event calls, Lua errors with source lines."""

from __future__ import annotations

import difflib
import os
import pprint
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import PolicyError

__all__ = [
    "call_text",
    "describe_error",
    "diff_text",
    "error_location",
    "expand_source",
    "is_container",
    "remember_source",
    "lua_traceback",
    "show",
    "show_path",
    "source_excerpt",
]

_FRAME = re.compile(r"^\s*(?P<file>[^\s:\[][^:]*):(?P<line>\d+):")
# "stack traceback:" header, frames of kumopy's own runtime chunk, and the
# C frames of its call trampoline mean nothing to a policy author
_NOISE = re.compile(
    r"^\s*(stack traceback:|\[kumopy\]:|\[C\]: in \?$|\[C\]: in .*'(raw_)?xpcall'$)"
)
_PATHS = re.compile(r"(?<![\w.])(/[^\s:<>'\"]+\.lua)")


# Lua shortens long chunk names in error positions and tracebacks to
# "...<last 56 characters>"; the harness remembers the full names of the
# files it ran, so that reports can name (and show) the real file.
_KNOWN_SOURCES: set[str] = set()
_ELLIPSIS = re.compile(r"\.\.\.([^\s:<>'\"]+\.lua)")


def remember_source(path: str) -> None:
    """Note the full name of a Lua file the harness loaded."""
    _KNOWN_SOURCES.add(path)


def expand_source(name: str) -> str:
    """The full path of a chunk name Lua shortened to `...tail` (when
    exactly one remembered file ends with that tail)."""
    if not name.startswith("..."):
        return name
    tail = name[3:]
    matches = [p for p in _KNOWN_SOURCES if p.endswith(tail)]
    return matches[0] if len(matches) == 1 else name


def _expand_all(text: str) -> str:
    return _ELLIPSIS.sub(lambda m: expand_source(m.group(0)), text)


def show(value: Any, width: int = 88) -> str:
    """A Python value as the report shows it (nil for None)."""
    if value is None:
        return "nil"
    return pprint.pformat(value, width=width, sort_dicts=True)


def show_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the current directory when it is below it."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith("..") else rel


def call_text(event: str, args: Sequence[Any]) -> str:
    """event('a', 2, nil): how the handler was called."""
    shown = ", ".join("nil" if a is None else repr(a) for a in args)
    return f"{event}({shown})"


def lua_traceback(traceback: str) -> list[str]:
    """The policy's frames of a Lua traceback, one per line, without the
    frames of kumopy's runtime."""
    frames = []
    for raw in traceback.splitlines():
        if not raw.strip() or _NOISE.match(raw):
            continue
        frame = _expand_all(raw.strip())
        frames.append(_PATHS.sub(lambda m: show_path(m.group(1)), frame))
    return frames


def error_location(error: PolicyError) -> tuple[str, int] | None:
    """Where a Lua error was raised: the message's position, else the
    innermost policy frame of the traceback (`assert` and `error(x, 0)`
    give messages without a position)."""
    if error.file is not None and error.line is not None:
        return expand_source(error.file), error.line
    for raw in error.traceback.splitlines():
        m = _FRAME.match(raw)
        if m is not None and m.group("file") != "[kumopy]":
            return expand_source(m.group("file")), int(m.group("line"))
    return None


def source_excerpt(file: str, line: int, context: int = 2) -> list[str]:
    """The lines around `line` of a Lua file, the line itself marked `>`."""
    try:
        text = Path(file).read_text(errors="replace").splitlines()
    except OSError:
        return []
    if not 1 <= line <= len(text):
        return []
    first, last = max(1, line - context), min(len(text), line + context)
    width = len(str(last))
    return [
        f"{'>' if n == line else ' '} {n:>{width}} | {text[n - 1]}".rstrip()
        for n in range(first, last + 1)
    ]


def describe_error(error: PolicyError, *, indent: str = "  ") -> list[str]:
    """A Lua error as report lines: message with file:line, the source
    around that line, and the Lua traceback."""
    message = _expand_all(error.message.strip()) or "(empty error message)"
    where = error_location(error)
    first, *rest = message.splitlines()
    if where is not None and first.startswith(f"{where[0]}:"):
        first = first[len(where[0]) + 1 :].split(":", 1)[-1].lstrip()
    if where is not None:
        first = f"{show_path(where[0])}:{where[1]}: {first}"
    first = _PATHS.sub(lambda m: show_path(m.group(1)), first)
    if error.event is not None and f"'{error.event}'" not in first:
        first += f" (in event '{error.event}')"
    lines = [first, *rest]
    if where is not None:
        excerpt = source_excerpt(where[0], where[1])
        if excerpt:
            lines.extend(indent + x for x in excerpt)
    frames = lua_traceback(error.traceback)
    if frames:
        lines.append("Lua traceback:")
        lines.extend(indent + f for f in frames)
    return lines


def is_container(value: Any) -> bool:
    return isinstance(value, dict | list | tuple)


def diff_text(expected: Any, actual: Any) -> list[str]:
    """A line diff of two values (`-` expected, `+` actual), with `?` hints
    pointing at the differing characters of one-line strings."""
    if isinstance(expected, str) and isinstance(actual, str):
        exp, act = expected.splitlines() or [""], actual.splitlines() or [""]
    elif is_container(expected) and is_container(actual):
        # one item per line, so that the diff points at the items that differ
        exp = pprint.pformat(expected, width=1, sort_dicts=True).splitlines()
        act = pprint.pformat(actual, width=1, sort_dicts=True).splitlines()
    else:
        exp = show(expected, width=60).splitlines()
        act = show(actual, width=60).splitlines()
    if exp == act:
        return []
    out = []
    for line in difflib.ndiff(exp, act):
        if line.startswith("- "):
            out.append("- " + line[2:])
        elif line.startswith("+ "):
            out.append("+ " + line[2:])
        elif line.startswith("? "):
            out.append("? " + line[2:].rstrip())
        else:
            out.append("  " + line[2:])
    return out
