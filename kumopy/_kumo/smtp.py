"""`kumo.reject` and `kumo.disconnect` (kumod: crates/kumod/src/mod_kumo.rs).

Both functions never return: they raise a Lua error whose value is a
`RejectError`, the object kumod's SMTP server (and the other callers listed
in docs/messages.md) look for in the error chain to turn the failure into
an SMTP reply instead of `421 ... technical difficulties`.

In kumopy the error value is a userdata whose `tostring` is `"<code>
<message>"`, so `pcall(kumo.reject, 550, "no")` returns false and that
userdata, and re-raising it with `error(e)` keeps it a rejection (as
re-raising mlua's error value does in kumod).  kumod's `tostring` of the
error also appends a Lua traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import KumoError, PolicyError
from .._runtime import _ERR, decode
from .._runtime.userdata import Userdata
from .._smtp import ConversionError, to_u16
from ._args import lua_number_text, string_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["DISCONNECT_MODES", "RejectError", "reject_of", "register"]

#: kumod's RejectDisconnect variants
DISCONNECT_MODES = ("If421", "FollowWith421", "ForceDisconnect")


@dataclass(frozen=True)
class RejectError:
    """What `kumo.reject` / `kumo.disconnect` raised: the reply code, its
    text and when the connection is dropped (`If421`, `FollowWith421`,
    `ForceDisconnect`)."""

    code: int
    message: str
    disconnect: str = "If421"

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class RejectValue(Userdata):
    """The Lua error value carrying a `RejectError`."""

    lua_type_name = "RejectError"
    __slots__ = ("reject",)

    def __init__(self, reject: RejectError) -> None:
        self.reject = reject

    def lua_index(self, state: LuaState, key: Any) -> Any:
        return None

    def __str__(self) -> str:
        return str(self.reject)


def reject_of(error: BaseException) -> RejectError | None:
    """The `RejectError` a handler failure carries, or None for an ordinary
    error (kumod's `RejectError::from_anyhow`)."""
    value = getattr(error, "value", None) if isinstance(error, PolicyError) else None
    if isinstance(value, RejectValue):
        return value.reject
    return None


def register(kumo: Namespace) -> None:
    kumo.function(
        "reject",
        reject,
        notes="raises an error value whose tostring is `<code> <message>` (kumod appends a "
        "traceback); honoured by the SMTP reception events of `kumopy serve`/`inject`",
    )
    kumo.function(
        "disconnect",
        disconnect,
        notes="as kumo.reject; the mode decides whether `kumopy serve` closes the connection",
    )


def _code(value: Any) -> int:
    try:
        code = to_u16(value)
    except ConversionError as e:
        raise KumoError(str(e)) from None
    if code is None:
        raise KumoError("error converting Lua nil to u16 (expected number or string "
                        "coercible to number)")
    return code


def _mode(value: Any) -> str:
    if value is None:
        return "ForceDisconnect"
    if isinstance(value, bytes):
        text = decode(value)
        if text in DISCONNECT_MODES:
            return text
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        shown = f'String("{escaped}")'
    elif isinstance(value, bool):
        shown = f"Boolean({str(value).lower()})"
    elif isinstance(value, int):
        shown = f"Integer({value})"
    elif isinstance(value, float):
        shown = f"Number({lua_number_text(value)})"
    else:
        shown = type(value).__name__
    raise KumoError(
        "expected one of 'If421', 'FollowWith421' or 'ForceDisconnect', but got " + shown
    )


def _raise(reject: RejectError) -> Any:
    return _ERR, RejectValue(reject)


def reject(state: LuaState, code: Any = None, message: Any = None, *_: Any) -> Any:
    return _raise(RejectError(_code(code), string_arg(message), "If421"))


def disconnect(
    state: LuaState, code: Any = None, message: Any = None, mode: Any = None, *_: Any
) -> Any:
    return _raise(RejectError(_code(code), string_arg(message), _mode(mode)))
