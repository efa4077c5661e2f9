"""Messages, connection metadata, addresses and DKIM signers as kumod
exposes them to policies.  The Lua methods are in kumopy/_kumo/message.py
and kumopy/_kumo/dkim.py."""

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
