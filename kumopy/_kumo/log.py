"""`kumo.log_debug/info/warn/error` (kumod: kumo-server-common).

Messages go to Python's `logging`, logger `kumopy.lua`, as
`<file>:<line>: <args joined by spaces>`; the record also carries
`lua_file` and `lua_line` attributes.  As in kumod, string arguments are
written verbatim with bytes that are not UTF-8 shown as `\\xNN`, and other
values as Lua's tostring() renders them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

LOGGER = logging.getLogger("kumopy.lua")

_LEVELS = {
    "log_debug": logging.DEBUG,
    "log_info": logging.INFO,
    "log_warn": logging.WARNING,
    "log_error": logging.ERROR,
}


def register(kumo: Namespace) -> None:
    for name, level in _LEVELS.items():
        kumo.function(
            name,
            _make(level),
            notes="to Python logging (logger `kumopy.lua`) as `file:line: text`; captured "
            "by the test harness",
        )


def _render(state: LuaState, value: Any) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "surrogateescape")
        if any("\udc80" <= c <= "\udcff" for c in text):
            text = "".join(
                f"\\x{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in text
            )
        return text
    return state.tostring(value)


def _make(level: int) -> Any:
    def log(state: LuaState, *args: Any) -> None:
        process = state.process
        if not (process.capture_output or LOGGER.isEnabledFor(level)):
            return
        file, line = state.where()
        text = " ".join(_render(state, a) for a in args)
        LOGGER.log(level, "%s:%d: %s", file, line, text, extra={"lua_file": file, "lua_line": line})
        process.record_log(level, file, line, text)

    return log
