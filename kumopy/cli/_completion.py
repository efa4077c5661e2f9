"""Shell completion of event names (click's completion, docs/cli.md).

Event arguments complete to the events kumod fires and, for `call`, to the
names the policy registers with `kumo.on`.  The policy is only read for
that, never run: completion must be instant and harmless, so its
`kumo.on('name', ...)` calls are found with a regular expression.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from .._events import EVENTS

__all__ = ["complete_event"]

# kumo.on('name', ...) / kumo.on("name", ...), also through another name for
# the module (k.on) or a method-style call; the name must be a literal
_ON_CALL = re.compile(r"""\.on\s*\(\s*(['"])([A-Za-z0-9_.:-]+)\1""")
_MAX_READ = 4 * 1024 * 1024


def registered_in(path: str | None) -> set[str]:
    """The event names a policy file registers literally (empty when the
    file cannot be read)."""
    if not path:
        return set()
    try:
        with Path(path).open("rb") as f:
            text = f.read(_MAX_READ).decode("utf-8", "replace")
    except OSError:
        return set()
    return {m.group(2) for m in _ON_CALL.finditer(text)}


def complete_event(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    names = set(EVENTS) | registered_in(ctx.params.get("policy"))
    return [
        CompletionItem(name, help=EVENTS[name].summary if name in EVENTS else "")
        for name in sorted(names)
        if name.startswith(incomplete)
    ]
