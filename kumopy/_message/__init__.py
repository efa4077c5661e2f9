"""Messages, connection metadata, addresses and DKIM signers as kumod
exposes them to policies.  The Lua methods are in kumopy/_kumo/message.py
and kumopy/_kumo/dkim.py.

The names below are imported when first asked for: a light module of this
package (`_serde`, which the kumo argument schemas use) does not bring the
message model and the `email` package with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._address import AddressError, EnvelopeAddress, HeaderAddress, HeaderAddressList
    from ._message import ConnectionMeta, Message, MessageError, normalize_crlf

__all__ = [
    "AddressError",
    "ConnectionMeta",
    "EnvelopeAddress",
    "HeaderAddress",
    "HeaderAddressList",
    "Message",
    "MessageError",
    "normalize_crlf",
]

_FROM = {
    "AddressError": "_address",
    "EnvelopeAddress": "_address",
    "HeaderAddress": "_address",
    "HeaderAddressList": "_address",
    "ConnectionMeta": "_message",
    "Message": "_message",
    "MessageError": "_message",
    "normalize_crlf": "_message",
}


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
