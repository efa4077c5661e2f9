"""Messages, connection metadata, addresses and DKIM signers as kumod
exposes them to policies.  The Lua methods are in kumopy/_kumo/message.py
and kumopy/_kumo/dkim.py.

The names below are imported when first asked for: a light module of this
package (`_serde`, which the kumo argument schemas use) does not bring the
message model and the `email` package with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazyattr import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes(__name__, _FROM, globals())
