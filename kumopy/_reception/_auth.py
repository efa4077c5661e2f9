"""AUTH PLAIN as kumod's `process_auth` runs it (a mixin of `Session`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._kumo._schema import lua_type_of
from .._runtime.userdata import Userdata
from ._replies import Reply, _Abort

if TYPE_CHECKING:
    from .._kumo.smtp import RejectError
    from .._message import ConnectionMeta
    from ._replies import _Outcome
    from ._session import _Transaction


def _strict_b64decode(text: str) -> bytes | None:
    """data-encoding's BASE64: padded, canonical (no stray bits), nothing
    else; None when refused."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


class _AuthMixin:
    """AUTH state and replies; the host class provides the plumbing."""

    authentication_id: str | None
    authorization_id: str | None
    auth_info: dict[str, Any]
    meta: ConnectionMeta
    tls: bool
    _state: _Transaction | None
    #: the AUTH line waiting for its continuation (after `334 `)
    auth_pending: str | None

    if TYPE_CHECKING:

        def _write(self, code: int, text: str, command: str | None = None,
                   disconnect: str = "If421") -> Reply: ...
        def _fire(self, event: str, *args: Any) -> _Outcome: ...
        def _reject(self, rej: RejectError, command: str | None) -> Reply: ...
        def command(self, line: str) -> Reply: ...
        def _command(self, line: str, run: Any) -> Reply: ...

    def auth_plain(self, authc: str, password: str, authz: str = "") -> Reply:
        """AUTH PLAIN with an initial response: `smtp_server_auth_plain(authz,
        authc, password, conn_meta)` (authz is authc when empty); true or
        an AuthInfo gives 235, false 535."""
        token = base64.b64encode(f"{authz}\0{authc}\0{password}".encode()).decode()
        return self.auth("PLAIN", token)

    def auth(self, mechanism: str, initial_response: str | None) -> Reply:
        """`AUTH <mechanism> [initial-response]`.  Without an initial
        response kumod answers `334 ` and waits: send it with
        `auth_response()`."""
        return self.command(f"AUTH {mechanism}" + (f" {initial_response}"
                                                   if initial_response else ""))

    def auth_response(self, response: str) -> Reply:
        """The line that follows a `334 ` during AUTH."""
        line = self.auth_pending
        if line is None:
            raise RuntimeError("auth_response() without a pending AUTH (call auth() first)")
        self.auth_pending = None
        return self._command(response, lambda: self._auth_plain(line, response))

    def _process_auth(self, line: str, mechanism: str, initial_response: str | None) -> Reply:
        if self.authentication_id is not None:
            return self._write(503, "5.5.1 AUTH me once, can't get authed again!", line)
        if self._state is not None:
            return self._write(503, "5.5.1 AUTH not permitted inside a transaction", line)
        if mechanism != "PLAIN":
            return self._write(504, f"5.5.4 AUTH {mechanism} not supported", line)
        if not self.tls:
            return self._write(524, f"5.7.11 AUTH {mechanism} requires an encrypted channel",
                               line)
        if initial_response is None:
            self.auth_pending = line
            return self._write(334, " ")
        return self._auth_plain(line, initial_response)

    def _auth_plain(self, line: str, response: str) -> Reply:
        if response == "*":
            return self._write(501, "5.5.0 AUTH cancelled by client", line)
        payload = _strict_b64decode(response)
        if payload is None:
            return self._write(501, "5.5.2 Invalid base64 response", response)
        fields = payload.split(b"\0")
        if len(fields) != 3:
            return self._write(501, "5.5.2 Invalid decoded PLAIN response", response)
        try:
            authz, authc, password = (f.decode("utf-8") for f in fields)
        except UnicodeDecodeError:
            return self._write(501, "5.5.2 Invalid UTF8 in decoded PLAIN response", response)
        authz = authz or authc
        out = self._fire("smtp_server_auth_plain", authz, authc, password, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, response)
        value = out.value if out.handled else False
        if isinstance(value, Userdata):
            value = value.to_data()
        if value is True:
            self.authorization_id, self.authentication_id = authz, authc
            self.meta.set_meta("authz_id", authz)
            self.meta.set_meta("authn_id", authc)
            self.auth_info["identities"].extend([
                {"identity": authz, "context": "SmtpAuthPlainAuthorization"},
                {"identity": authc, "context": "SmtpAuthPlainAuthentication"},
            ])
            self.meta.set_auth_info(self.auth_info)
            return self._write(235, "2.7.0 AUTH OK!")
        if value is False:
            return self._write(535, "5.7.8 AUTH invalid", response)
        if isinstance(value, Mapping):
            self._merge_auth_info(value)
            return self._write(235, "2.7.0 AUTH OK!")
        raise _Abort(
            f"data did not match any variant of untagged enum AuthKindResult "
            f"(got {lua_type_of(value)})"
        )

    def _merge_auth_info(self, info: Mapping[str, Any]) -> None:
        identities = list(info.get("identities") or [])
        if not identities:
            raise _Abort(
                "smtp_server_auth_plain returned an AuthInfo with an empty identities list, "
                "which is not supported"
            )
        seen_authc = seen_authz = False
        for ident in identities:
            context = ident.get("context") if isinstance(ident, Mapping) else None
            name = str(ident.get("identity")) if isinstance(ident, Mapping) else ""
            if context == "SmtpAuthPlainAuthentication":
                seen_authc = True
                self.authentication_id = name
            elif context == "SmtpAuthPlainAuthorization":
                seen_authz = True
                self.authorization_id = name
        if not seen_authc:
            first = identities[0]
            self.authentication_id = str(first.get("identity")) if isinstance(first, Mapping) \
                else None
        if not seen_authz:
            self.authorization_id = self.authentication_id
        self.meta.set_meta("authz_id", self.authorization_id)
        self.meta.set_meta("authn_id", self.authentication_id)
        self.auth_info["identities"].extend(identities)
        self.auth_info["groups"].extend(list(info.get("groups") or []))
        self.meta.set_auth_info(self.auth_info)
