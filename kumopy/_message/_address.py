"""Envelope and header addresses as kumod models them.

`EnvelopeAddress` is kumod's SMTP envelope address (crates/rfc5321): the
null sender, `Postmaster`, or a path `local@domain`; `.user`, `.domain` and
`.email` (the string form, source route dropped).  `HeaderAddressList` is
what `msg:from_header()`/`msg:to_header()` return (crates/message
address.rs): single-address accessors that fail on lists and groups, and
`.list` flattening groups.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from email.headerregistry import Address as _PyAddress
from email.policy import default as _default_policy
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime.userdata import Userdata

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["AddressError", "EnvelopeAddress", "HeaderAddress", "HeaderAddressList"]


class AddressError(KumoError, ValueError):
    """An address kumod would not parse."""


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\U0010ffff]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_QUOTED = r'"(?:[^"\\\r\n]|\\[\x20-\x7e])*"'
_LOCAL = rf"(?:{_DOT_ATOM}|{_QUOTED})"
_LABEL = r"[A-Za-z0-9\x80-\U0010ffff](?:[A-Za-z0-9\-\x80-\U0010ffff]*[A-Za-z0-9\x80-\U0010ffff])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[^\[\]\\\s]+\])"
_ROUTE = rf"@{_DOMAIN}(?:,@{_DOMAIN})*:"


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(path, mailbox), compiled on first use: compiling these classes of
    the whole non-ASCII range takes ~0.1 s, which every kumopy command paid
    at import time (log replay's start-up among them)."""
    return (
        re.compile(rf"<(?:{_ROUTE})?(?P<local>{_LOCAL})@(?P<domain>{_DOMAIN})>"),
        re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>{_DOMAIN})"),
    )


@dataclass(frozen=True)
class EnvelopeAddress(Userdata):
    """An SMTP envelope address: `user@domain`, `Postmaster` or the null
    sender (empty string).  `str()` is the form kumod prints."""

    user: str
    domain: str
    kind: str = "path"  # "path", "null" or "postmaster"

    lua_type_name = "EnvelopeAddress"

    @classmethod
    def parse(cls, text: str) -> EnvelopeAddress:
        """Parse like kumod's EnvelopeAddress::parse: `""`/`"<>"` is the
        null sender, `Postmaster`/`<Postmaster>` (any case) the postmaster,
        else `<[@route:]local@domain>` or `local@domain`."""
        if not isinstance(text, str):
            raise TypeError(f"an address must be a str, got {type(text).__name__}")
        if text in ("", "<>"):
            return cls("", "", "null")
        if text.lower() in ("postmaster", "<postmaster>"):
            return cls("postmaster", "", "postmaster")
        path, mailbox = _patterns()
        m = path.fullmatch(text) or mailbox.fullmatch(text)
        if m is None:
            raise AddressError(f"invalid envelope address {text!r}")
        local = m.group("local")
        return cls(local, m.group("domain"))

    @property
    def email(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.kind == "null":
            return ""
        if self.kind == "postmaster":
            return "Postmaster"
        return f"{self.user}@{self.domain}"

    def __repr__(self) -> str:
        return f"EnvelopeAddress({str(self)!r})"

    # Lua view: .user, .domain, .email, tostring
    def lua_index(self, state: LuaState, key: Any) -> Any:
        if key == b"user":
            return state.to_lua(self.user)
        if key == b"domain":
            return state.to_lua(self.domain)
        if key == b"email":
            return state.to_lua(str(self))
        return None

    def to_data(self) -> Any:
        return str(self)


@dataclass(frozen=True)
class HeaderAddress(Userdata):
    """One mailbox of an address header: display name, user, domain."""

    name: str | None
    user: str | None
    domain: str | None

    lua_type_name = "HeaderAddress"

    @property
    def email(self) -> str | None:
        if self.user is None or self.domain is None:
            return None
        return str(_PyAddress(addr_spec=f"{_quote_local(self.user)}@{self.domain}"))

    def to_data(self) -> Any:
        return {"name": self.name, "address": self.email}

    def lua_index(self, state: LuaState, key: Any) -> Any:
        if key in (b"user", b"domain"):
            value = self.user if key == b"user" else self.domain
            if value is None:
                raise KumoError("no address")
            return state.to_lua(value)
        if key == b"email":
            return state.to_lua(self.email)
        if key == b"name":
            return state.to_lua(self.name)
        return None

    def __str__(self) -> str:
        return json.dumps(self.to_data(), separators=(",", ":"), ensure_ascii=False)


def _quote_local(local: str) -> str:
    if re.fullmatch(_DOT_ATOM, local):
        return local
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class HeaderGroup:
    name: str | None
    addresses: tuple[HeaderAddress, ...]


class HeaderAddressList(Userdata):
    """The parsed value of an address header (From, To, ...)."""

    lua_type_name = "HeaderAddressList"

    def __init__(self, entries: list[HeaderAddress | HeaderGroup]) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, value: str) -> HeaderAddressList:
        header: Any = _default_policy.header_factory("To", value)
        entries: list[HeaderAddress | HeaderGroup] = []
        for group in header.groups:
            addrs = tuple(
                HeaderAddress(a.display_name or None, a.username, a.domain) for a in group.addresses
            )
            if group.display_name is None:
                entries.extend(addrs)
            else:
                entries.append(HeaderGroup(group.display_name or None, addrs))
        bad = [a for e in entries for a in _addresses(e) if not a.user or not a.domain]
        if bad or (not entries and value.strip()):
            raise AddressError(f"invalid address list: {value.strip()!r}")
        return cls(entries)

    def single(self) -> HeaderAddress:
        if not self.entries:
            raise AddressError("no addresses")
        if len(self.entries) > 1:
            raise AddressError("is not a simple single address")
        entry = self.entries[0]
        if isinstance(entry, HeaderGroup):
            raise AddressError("is not a simple address")
        return entry

    @property
    def user(self) -> str | None:
        return self.single().user

    @property
    def domain(self) -> str | None:
        return self.single().domain

    @property
    def name(self) -> str | None:
        return self.single().name

    @property
    def email(self) -> str | None:
        return self.single().email

    @property
    def list(self) -> list[HeaderAddress]:
        return [a for e in self.entries for a in _addresses(e)]

    def to_data(self) -> Any:
        out: list[Any] = []
        for e in self.entries:
            if isinstance(e, HeaderGroup):
                out.append(
                    {"Group": {"name": e.name, "addresses": [a.to_data() for a in e.addresses]}}
                )
            else:
                out.append({"Address": e.to_data()})
        return out

    def __str__(self) -> str:
        return json.dumps(self.to_data(), separators=(",", ":"), ensure_ascii=False)

    def lua_index(self, state: LuaState, key: Any) -> Any:
        try:
            if key == b"list":
                return state.table_from(self.list)
            if key in (b"user", b"domain", b"name", b"email"):
                return state.to_lua(getattr(self, key.decode()))
        except AddressError as e:
            raise KumoError(str(e)) from None
        return None


def _addresses(entry: HeaderAddress | HeaderGroup) -> tuple[HeaderAddress, ...]:
    return entry.addresses if isinstance(entry, HeaderGroup) else (entry,)
