"""`kumopy stubs DIR`: lua-language-server definitions of KumoMTA's Lua API,
so an editor completes and type-checks a policy (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

import click

from .._stubs import GENERATED, render
from ._common import CliError, common_options, echo

__all__ = ["stubs"]


@click.command(
    "stubs",
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Write editor definitions of the kumo API.",
)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, writable=True))
@common_options
def stubs(directory: str) -> None:
    """Write lua-language-server (`---@meta`) definitions of KumoMTA's Lua
    API into DIR: kumo.lua (every `kumo` function with its parameters, and
    every event's handler signature through `kumo.on`), and sqlite.lua,
    redis.lua, tsa.lua and proxy.lua (the other modules kumod lets a policy
    require).  Point the editor's Lua language server at DIR
    (`workspace.library`).

    DIR is created if needed; only files an earlier `kumopy stubs` wrote
    are replaced.  stdout lists the files written.

    Exit status: 0 written, 1 DIR cannot be written or holds a file of the
    same name that kumopy did not write.
    """
    target = Path(directory)
    files = render()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = target / name
            if path.exists() and not _ours(path):
                raise CliError(
                    f"{path} exists and was not written by kumopy stubs; remove it or "
                    "choose another directory"
                )
        for name, text in files.items():
            (target / name).write_text(text, encoding="utf-8")
            echo(str(target / name))
    except OSError as e:
        raise CliError(f"cannot write {e.filename or directory}: {e.strerror or e}") from None


def _ours(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            head = [f.readline(), f.readline()]
    except OSError:
        return False
    return head[1].startswith(GENERATED)
