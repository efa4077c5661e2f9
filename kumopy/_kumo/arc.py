"""`msg:arc_verify([resolver])` (kumod: crates/message, crates/dkim
arc.rs): the ARC chain of a message checked against kumopy's fake
resolver (see kumopy/_message/_arc.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._message import Message
from ._args import string_arg

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["lua_arc_seal", "lua_arc_verify"]


def _txt_lookup(state: LuaState, resolver: Any) -> Any:
    import dns.rdatatype

    from .dns import _resolver, _txt, fully_qualify

    name = None if resolver is None else string_arg(resolver)
    if name is not None:
        _resolver(state, name)  # an unknown name is an error at once, as in kumod

    def lookup(qname: str) -> list[str] | None:
        # resolved on first use: a message without ARC headers needs no DNS
        r = _resolver(state, name)
        return _txt(r.get(fully_qualify(qname), int(dns.rdatatype.TXT)))

    return lookup


def lua_arc_verify(state: LuaState, msg: Message, resolver: Any = None, *_: Any) -> Any:
    from .._message._arc import arc_verify

    return state.to_lua(arc_verify(msg.data, _txt_lookup(state, resolver)))


def lua_arc_seal(state: LuaState, msg: Message, signer: Any = None, serv_id: Any = None,
                 results: Any = None, resolver: Any = None, *_: Any) -> None:
    import time

    from .._errors import KumoError
    from .._message._arc import arc_seal
    from .._message._auth import AuthResultError, check_results
    from ._args import lua_type_name
    from ._lib import bytes_arg
    from .dkim import Signer

    if not isinstance(signer, Signer):
        raise KumoError(f"error converting Lua {lua_type_name(signer)} to Signer")
    sid = bytes_arg(serv_id).decode("utf-8", "surrogateescape")
    try:
        checked = check_results(state.to_python(results, serialize=True))
    except AuthResultError as e:
        raise KumoError(str(e)) from None
    lookup = _txt_lookup(state, resolver)
    msg.set_data(arc_seal(msg.data, signer, sid, checked, lookup, int(time.time())))
