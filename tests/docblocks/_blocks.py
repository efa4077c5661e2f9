"""Finding the code blocks of a Markdown page and what each one claims.

A page is read as a sequence of fenced blocks. What a block is for depends on
its language and on an optional directive, an HTML comment on the line (or
lines) just before the fence:

    <!-- doc: file=init.lua -->
    <!-- doc: exit=1 requires=KUMOPY_SHARE_DIR -->

Languages and what happens to them:

* `sh`: run with bash (errexit on), in the page's working directory;
* `python`: executed in a namespace shared by the page's Python blocks; a
  block that defines pytest tests (`def test_...`) is run as a test file
  with pytest instead, and every test in it must pass;
* `lua`: compiled as Lua 5.4 (a syntax check), unless a `file=` directive
  writes it out for a later block to use;
* `toml`, `json`, `ini`: parsed, or written out with `file=`;
* `text` / `output`: the expected output of the nearest runnable block
  before it (stdout and stderr as one stream), compared line by line, when
  no heading and no other fenced block stands between the two; otherwise
  an illustration, not checked;
* no language: a synopsis or an illustration, never run.

Directive keys:

* `file=NAME`: write the block's text to NAME (relative to the page's
  working directory) instead of running it;
* `exit=N`: the `sh` block must end with status N (default 0);
* `requires=VAR`: skip the block unless the environment variable VAR is
  set (a later block that depends on it carries the directive too);
* `stdout`: on an output block, compare stdout alone;
* `skip=REASON`: never run (for a block that cannot run anywhere a test
  runs, such as a server that waits for Ctrl-C); the reason, the rest of
  the comment, is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "parse_blocks", "RUNNABLE", "OUTPUT", "DATA"]

RUNNABLE = frozenset({"sh", "python"})
OUTPUT = frozenset({"text", "output"})
DATA = frozenset({"lua", "toml", "json", "ini"})

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc:(?P<body>.*?)-->\s*$")
_KEYS = frozenset({"file", "exit", "requires", "stdout", "skip"})


@dataclass
class Block:
    page: Path
    #: 1-based line of the opening fence
    line: int
    lang: str
    text: str
    directives: dict[str, str] = field(default_factory=dict)
    #: for a text block: whether it directly follows a runnable block (no
    #: heading or other fence between), so that it shows that block's output
    follows_run: bool = False

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def kind(self) -> str:
        if "skip" in self.directives:
            return "skip"
        if "file" in self.directives:
            return "file"
        if self.lang in RUNNABLE:
            return "run"
        if self.lang in OUTPUT:
            return "output" if self.follows_run else "none"
        if self.lang in DATA:
            return "check"
        return "none"


class DirectiveError(ValueError):
    pass


def _parse_directive(body: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    body, sep, reason = body.partition("skip=")
    if sep:
        out["skip"] = reason.strip()
    for item in body.split():
        key, _, value = item.partition("=")
        if key not in _KEYS:
            raise DirectiveError(f"{where}: unknown doc directive {key!r}")
        out[key] = value
    if "skip" in out and not out["skip"]:
        raise DirectiveError(f"{where}: skip= needs a reason")
    return out


def parse_blocks(page: Path) -> list[Block]:
    """Every fenced block of `page`, in order, with its directives."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    pending: dict[str, str] = {}
    after_run = False  # a runnable block came last, with no heading since
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            after_run = False
        d = _DIRECTIVE.match(line)
        if d:
            pending.update(_parse_directive(d.group("body"), f"{page.name}:{i + 1}"))
            i += 1
            continue
        m = _FENCE.match(line)
        if not m:
            if line.strip():
                pending = {}
            i += 1
            continue
        fence = m.group("fence")
        lang = m.group("info").strip().split(" ")[0].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append(lines[i])
            i += 1
        else:
            raise DirectiveError(f"{page.name}:{start + 1}: unclosed code fence")
        block = Block(page, start + 1, lang, "\n".join(body) + "\n", pending)
        block.follows_run = after_run and lang in OUTPUT
        blocks.append(block)
        after_run = block.kind == "run"
        pending = {}
        i += 1
    return blocks
