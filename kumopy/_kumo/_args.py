"""How Lua arguments reach the Python implementations of `kumo` functions
and userdata methods: mlua's rules, applied once for every function.

mlua converts a callback's arguments from the Lua stack in order
(`FromLuaMulti` for a tuple): a parameter with no argument gets nil, an
argument beyond the last parameter is dropped (so `kumo.string.trim(
s:gsub(...))` works although gsub returns two values), and the first
argument that does not convert fails the call with

    bad argument #N: error converting Lua nil to String (expected string or number)

(`bad argument #N to `Type.method`: ...` for a userdata method, whose
`self` is argument #1).  `ArgSpec` reproduces this for a Python
implementation: `fit` drops surplus arguments and supplies missing ones,
and a converter that fails raises `ArgConversionError`, which `ArgSpec`
turns into the `bad argument` error when the failing value is one of the
call's arguments (an error about a field inside a table argument keeps its
own text, as it does in kumod).
"""

from __future__ import annotations

import dis
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from .._errors import KumoError
from .._runtime import decode, lua_type
from .._runtime.userdata import Userdata
from .._smtp import lua_str2number
from .._text import lua_number_text

__all__ = [
    "ArgConversionError",
    "ArgSpec",
    "adapt_function",
    "bool_arg",
    "function_arg",
    "lua_number_text",
    "lua_tonumber",
    "lua_type_name",
    "opt_bool_arg",
    "string_arg",
]

#: mlua's detail for a value that is neither a string nor a number
EXPECTED_STRING = "expected string or number"
#: mlua's detail for a value that does not coerce to a number
EXPECTED_NUMBER = "expected number or string coercible to number"
OUT_OF_RANGE = "out of range"


def lua_type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, Userdata):
        return "userdata"
    return lua_type(value) or "userdata"


def lua_tonumber(text: bytes | str) -> int | float | None:
    """Lua 5.4's string -> number coercion (`luaO_str2num`): an integer, a
    float or None, for any length of digits (kumopy/_smtp/_lua_number.py has
    the one implementation)."""
    return lua_str2number(text)


class ArgConversionError(KumoError):
    """mlua's `FromLuaConversionError` for `value`:
    `error converting Lua <type> to <to> (<detail>)`.

    Raised by the argument converters; the function wrapper (`ArgSpec`)
    adds `bad argument #N: ` when `value` is one of the call's arguments.
    """

    def __init__(
        self, value: Any, to: str, detail: str | None = None, *, kind: str | None = None
    ) -> None:
        self.value = value
        text = f"error converting Lua {kind or lua_type_name(value)} to {to}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


def string_arg(value: Any, what: str = "String") -> str:
    """A Lua string (numbers coerce, as mlua does)."""
    if isinstance(value, bytes):
        return decode(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value)
    raise ArgConversionError(value, what, EXPECTED_STRING)


def bool_arg(value: Any) -> bool:
    """A Rust `bool` argument: mlua never fails to convert one (nil and
    false are false, any other value is true).  A boolean field of a
    serde-deserialized table is different: it refuses anything but a
    boolean (see `_schema.Bool`)."""
    return value is not None and value is not False


def opt_bool_arg(value: Any, default: bool) -> bool:
    """An `Option<bool>` argument, `unwrap_or(default)`: nil is the
    default, any other value converts as `bool_arg` does."""
    return default if value is None else value is not False


def function_arg(value: Any) -> Any:
    if lua_type(value) != "function":
        raise ArgConversionError(value, "function")
    return value


# -- argument lists ------------------------------------------------------------

_MISSING = object()


@dataclass(frozen=True)
class ArgSpec:
    """The Lua-visible parameters of one implementation: their names, how
    many there are (None: any number) and how many it needs passed."""

    names: tuple[str, ...]
    most: int | None
    required: int
    code: CodeType | None

    @classmethod
    def of(cls, fn: Callable[..., Any], skip: int) -> ArgSpec | None:
        """The spec of `fn`, whose first `skip` parameters are not Lua
        arguments (the state; the state and the object for a method)."""
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        params = list(sig.parameters.values())[skip:]
        positional = [
            p
            for p in params
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        code = getattr(inspect.unwrap(fn), "__code__", None)
        return cls(
            names=tuple(p.name for p in positional),
            most=None if varargs else len(positional),
            required=sum(p.default is inspect.Parameter.empty for p in positional),
            code=code,
        )

    def fit(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """mlua's arity rule: surplus arguments dropped, missing ones nil."""
        n = len(args)
        if self.most is not None and n > self.most:
            return args[: self.most]
        if n < self.required:
            return args + (None,) * (self.required - n)
        return args

    def bad_argument(
        self,
        err: ArgConversionError,
        args: tuple[Any, ...],
        *,
        first: int = 1,
        to: str | None = None,
    ) -> KumoError:
        """`err` as mlua's BadArgument error when its value is one of `args`
        (argument numbers start at `first`); otherwise `err` itself."""
        index = self._locate(err, args)
        if index is None:
            return err
        where = f"bad argument #{index + first}" + (f" to `{to}`" if to else "")
        return KumoError(f"{where}: {err}")

    def _locate(self, err: ArgConversionError, args: tuple[Any, ...]) -> int | None:
        value = err.value
        candidates = [i for i, a in enumerate(args) if a is value]
        if value is None:
            # a parameter the call did not pass is nil too
            extra = len(self.names) if self.most is not None else len(args) + 1
            candidates.extend(range(len(args), max(extra, len(args))))
        if not candidates:
            return None
        if len(candidates) == 1 and not _shared(value):
            return candidates[0]  # this very object was passed: it is that argument
        # nil, booleans, small numbers and short strings are shared objects:
        # ask the implementation's code which parameter it was converting
        # when the converter failed.
        loaded = self._loaded_parameter(err)
        if loaded is _MISSING:
            return candidates[0]
        if loaded is None or loaded not in candidates:
            return None  # the converter was given something else (a field of a table)
        return loaded

    def _loaded_parameter(self, err: BaseException) -> object:
        """The index of the parameter the implementation loaded last before
        calling the converter that raised `err` (None: it was not a
        parameter); _MISSING when that cannot be told (the implementation
        handed the value to a helper of its own, which converted it)."""
        if self.code is None:
            return _MISSING
        frames = []
        tb = err.__traceback__
        while tb is not None:
            frames.append(tb)
            tb = tb.tb_next
        for k, entry in enumerate(frames[:-1]):
            if entry.tb_frame.f_code is self.code:
                callee = frames[k + 1].tb_frame.f_globals.get("__name__")
                if callee not in _CONVERTER_MODULES:
                    return _MISSING
                name = _last_local_loaded(self.code, entry.tb_lasti)
                if name is None:
                    return _MISSING
                return self.names.index(name) if name in self.names else None
        return _MISSING


def _shared(value: Any) -> bool:
    """Whether equal values may be one and the same Python object."""
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, bytes) and len(value) <= 1


#: modules whose functions are argument converters (`rust_string`, ...)
_CONVERTER_MODULES = frozenset({__name__, __name__.rsplit(".", 1)[0] + "._lib"})


@functools.lru_cache(maxsize=4096)
def _instructions(code: CodeType) -> tuple[tuple[int, str, Any], ...]:
    return tuple((i.offset, i.opname, i.argval) for i in dis.get_instructions(code))


def _last_local_loaded(code: CodeType, lasti: int) -> str | None:
    name = None
    for offset, opname, argval in _instructions(code):
        if offset >= lasti:
            break
        if opname.startswith("LOAD_FAST"):
            name = argval[-1] if isinstance(argval, tuple) else argval
    return name


def adapt_function(impl: Callable[..., Any]) -> Callable[..., Any]:
    """`impl(state, *lua_args)` behind mlua's argument rules (see module)."""
    spec = ArgSpec.of(impl, skip=1)
    if spec is None:
        return impl
    most, required = spec.most, spec.required

    def call(state: Any, *args: Any) -> Any:
        n = len(args)
        if (most is not None and n > most) or n < required:
            args = spec.fit(args)
        try:
            return impl(state, *args)
        except ArgConversionError as e:
            raise spec.bad_argument(e, args) from None

    call.__name__ = getattr(impl, "__name__", "kumo_function")
    call.__qualname__ = getattr(impl, "__qualname__", call.__name__)
    call.__doc__ = impl.__doc__
    call.__wrapped__ = impl  # type: ignore[attr-defined]
    return call
