"""Pieces shared by the data formats of `kumo.serde`: the error type, input
echo, file reading, float printing and the guard against recursive tables."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ..._text import is_utf8

_I64_MIN: Final = -(2**63)
_I64_MAX: Final = 2**63 - 1
_U64_MAX: Final = 2**64 - 1


class FormatError(ValueError):
    """A value or document kumod's serde functions would reject."""


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

# kumod embeds the whole input text in parse errors of json_parse and
# friends.  Very long texts are cut here (keeping the start) and marked with
# an ellipsis so error messages stay readable; the rest of the message is
# unchanged.
_MAX_ECHO: Final = 2000
_ELLIPSIS: Final = "…"


def _echo(text: str) -> str:
    if len(text) <= _MAX_ECHO:
        return text
    return text[:_MAX_ECHO] + _ELLIPSIS


def _to_bytes(text: str) -> bytes:
    """The bytes a (possibly non-UTF-8) Lua string was decoded from."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Lone surrogates outside U+DC80..U+DCFF cannot come from Lua; keep
        # them as their (invalid) three-byte encodings.
        return text.encode("utf-8", "surrogatepass")


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        if err.strerror and err.errno is not None:
            detail = f"{err.strerror} (os error {err.errno})"
        else:
            detail = str(err)
        raise FormatError(f"reading file {path}: {detail}") from None


def _lua_type_name(value: object) -> str:
    """What mlua calls a value it cannot serialize."""
    return "function" if callable(value) else "userdata"


def _as_utf8(value: str | bytes | bytearray) -> str | None:
    """The text of a Lua string, or None when it is not valid UTF-8."""
    if isinstance(value, str):
        return value if is_utf8(value) else None
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------------------
# Float formatting
# ---------------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-tripping digits of a finite, non-zero ``abs(value)``.

    Returns the digit string (no leading or trailing zeros) and the decimal
    exponent of its first digit, so ``1234.5`` gives ``("12345", 3)``.
    """
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    return digits, len(digits) - 1 + exponent


def _positional(digits: str, point: int) -> str:
    """Digits with the decimal point after digit number ``point + 1``."""
    if point < 0:
        return "0." + "0" * (-point - 1) + digits
    if point + 1 >= len(digits):
        return digits + "0" * (point + 1 - len(digits))
    return digits[: point + 1] + "." + digits[point + 1 :]


def _format_float(value: float, *, exponent_plus: bool) -> str:
    """Finite float as serde_json (zmij) or serde_yaml (ryu) print it.

    Shortest round-trip digits; positional notation when the first digit's
    exponent is in -5..=15 (integral values get ``.0``), scientific
    otherwise (``1e-7``, ``1.5e+16`` for zmij / ``1.5e16`` for ryu).
    """
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    digits, exponent = _shortest_digits(value)
    if -5 <= exponent <= 15:
        text = _positional(digits, exponent)
        return sign + (text if "." in text else text + ".0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp_sign = "-" if exponent < 0 else ("+" if exponent_plus else "")
    return f"{sign}{mantissa}e{exp_sign}{abs(exponent)}"


def _rust_display_float(value: float) -> str:
    """Rust's ``format!("{}", f64)`` for a finite non-zero float (never scientific)."""
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(value)
    return sign + _positional(digits, exponent)


@dataclass
class _Guard:
    """Refuse self-referencing structures the way mlua does."""

    active: set[int]
    key: int

    def __enter__(self) -> None:
        if self.key in self.active:
            raise FormatError("recursive table detected")
        self.active.add(self.key)

    def __exit__(self, *exc: object) -> None:
        self.active.discard(self.key)


class Meter:
    """The work a parser does for a Lua state, reported every so often.

    Parsers call `add(nbytes)` for every value they produce, with about the
    bytes of Lua memory it will take; every `step` bytes the meter calls
    `check(total)`, which raises to stop the parser (the state's CPU budget
    or memory limit).  Alias expansion in YAML can produce far more values
    than the document has bytes: this is what keeps it bounded.
    """

    __slots__ = ("total", "_next", "_step", "_check")

    def __init__(self, check: Callable[[int], None] | None = None, step: int = 1 << 18) -> None:
        self.total = 0
        self._step = step
        self._next = step
        self._check = check

    def add(self, nbytes: int) -> None:
        self.total += nbytes
        if self.total >= self._next and self._check is not None:
            self._next = self.total + self._step
            self._check(self.total)


#: a meter that never stops anything
UNMETERED = Meter()
