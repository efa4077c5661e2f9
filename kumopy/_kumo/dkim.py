"""`kumo.dkim.rsa_sha256_signer`, `kumo.dkim.ed25519_signer` and
`kumo.dkim.set_signing_threads` (kumod: crates/message dkim.rs,
crates/dkim).

Both constructors take kumod's SignerConfig table (domain, selector,
headers and key required; header_canonicalization/body_canonicalization
"Relaxed" (default) or "Simple"; expiration seconds; over_sign; ttl) and,
as in kumod, the key decides the algorithm: an RSA key signs rsa-sha256,
an Ed25519 PKCS#8 key ed25519-sha256, whichever constructor was called.
Keys are read through the Policy path map and cached per process for
`ttl` (default 300 s) on the policy clock, like kumod's key cache.

Signing uses dkimpy (and PyNaCl for Ed25519); the DKIM-Signature has
kumod's tags in kumod's order: v, a, d, s, c, bh, h, t, x, b.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dkim
import nacl.signing
from dkim.crypto import UnparsableKeyError, parse_pem_private_key, parse_private_key

from .._duration import DurationError, parse_duration
from .._errors import KumoError
from .._runtime.userdata import Userdata
from ._args import lua_type_name

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Signer", "SignerConfig", "load_private_key", "register"]

_NOTES = (
    "dkimpy signs; the key type picks the algorithm as in kumod; keys read through the "
    "path map; vault and event key sources are not supported"
)


def register(kumo: Namespace) -> None:
    kumo.function("dkim.rsa_sha256_signer", _signer_ctor, notes=_NOTES)
    kumo.function("dkim.ed25519_signer", _signer_ctor, notes=_NOTES)
    kumo.function(
        "dkim.set_signing_threads",
        _set_signing_threads,
        notes="recorded only: kumopy signs inline",
    )


_FIELDS: dict[str, str] = {
    "domain": "str",
    "selector": "str",
    "headers": "list",
    "atps": "opt_str",
    "atpsh": "opt_hash",
    "agent_user_identifier": "opt_str",
    "expiration": "opt_u64",
    "body_length": "bool",
    "reporting": "bool",
    "header_canonicalization": "canon",
    "body_canonicalization": "canon",
    "key": "key",
    "over_sign": "bool",
    "ttl": "duration",
}


@dataclass(frozen=True)
class SignerConfig:
    domain: str
    selector: str
    headers: tuple[str, ...]
    key: Any
    header_canonicalization: str = "Relaxed"
    body_canonicalization: str = "Relaxed"
    expiration: int | None = None
    over_sign: bool = False
    ttl: float = 300.0
    #: set fields kumod accepts but refuses to sign with
    refused: tuple[str, ...] = ()


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return "unit value"


def _serde_error(message: str, params: Any) -> KumoError:
    try:
        shown = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        shown = repr(params)
    return KumoError(f"deserialize error: {message}, while processing {shown}")


def parse_config(params: Any) -> SignerConfig:
    """Check a SignerConfig table as serde does (unknown keys ignored, as
    kumod's struct does not deny them)."""
    if not isinstance(params, dict):
        raise _serde_error(
            f"invalid type: {_describe(params)}, expected struct SignerConfig", params
        )
    for required in ("domain", "selector", "headers", "key"):
        if required not in params:
            raise _serde_error(f"missing field `{required}`", params)
    out: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        if name not in params:
            continue
        v = params[name]
        if kind == "str" or (kind == "opt_str" and v is not None):
            if not isinstance(v, str):
                raise _serde_error(f"invalid type: {_describe(v)}, expected a string", params)
        elif kind == "list":
            if v == {}:
                v = []
            if not isinstance(v, list) or not all(isinstance(h, str) for h in v):
                shown = (
                    _describe(v)
                    if not isinstance(v, list)
                    else _describe(next(h for h in v if not isinstance(h, str)))
                )
                raise _serde_error(
                    f"invalid type: {shown}, expected "
                    + ("a string" if isinstance(v, list) else "a sequence"),
                    params,
                )
        elif kind == "bool":
            if not isinstance(v, bool):
                raise _serde_error(f"invalid type: {_describe(v)}, expected a boolean", params)
        elif kind == "opt_u64" and v is not None:
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise _serde_error(f"invalid type: {_describe(v)}, expected u64", params)
        elif kind == "canon":
            if v not in ("Relaxed", "Simple"):
                raise _serde_error(
                    f"unknown variant `{v}`, expected `Relaxed` or `Simple`"
                    if isinstance(v, str)
                    else f"invalid type: {_describe(v)}, expected enum Canon",
                    params,
                )
        elif kind == "opt_hash" and v is not None:
            if v not in ("Sha1", "Sha256"):
                raise _serde_error(f"unknown variant `{v}`, expected `Sha1` or `Sha256`", params)
        elif kind == "duration":
            try:
                v = parse_duration(v)
            except DurationError as e:
                raise _serde_error(str(e), params) from None
        elif kind == "key":
            v = _key_source(v, params)
        out[name] = v
    return SignerConfig(
        domain=out["domain"],
        selector=out["selector"],
        headers=tuple(out["headers"]),
        key=out["key"],
        header_canonicalization=out.get("header_canonicalization", "Relaxed"),
        body_canonicalization=out.get("body_canonicalization", "Relaxed"),
        expiration=out.get("expiration"),
        over_sign=out.get("over_sign", False),
        ttl=out.get("ttl", 300.0),
        refused=tuple(
            name
            for name in ("atps", "atpsh", "agent_user_identifier", "body_length", "reporting")
            if out.get(name) not in (None, False)
        ),
    )


def _key_source(v: Any, params: Any) -> Any:
    """KeySource (untagged): a file path, {key_data=...}, vault or event."""
    if isinstance(v, str):
        return ("file", v)
    if isinstance(v, dict):
        if "key_data" in v:
            data = v["key_data"]
            if isinstance(data, str):
                return ("data", data.encode("utf-8", "surrogateescape"))
        elif "vault_mount" in v and "vault_path" in v:
            raise KumoError("kumopy: vault key sources are not supported (use a file or key_data)")
        elif "event_name" in v and "event_args" in v:
            raise KumoError("kumopy: event key sources are not supported (use a file or key_data)")
    raise _serde_error("data did not match any variant of untagged enum KeySource", params)


def _key_debug(key: tuple[str, Any]) -> str:
    kind, value = key
    if kind == "file":
        return f"File({json.dumps(value)})"
    return f"Data {{ key_data: [{len(value)} bytes] }}"


# -- keys ---------------------------------------------------------------------

_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


@dataclass(frozen=True)
class PrivateKey:
    algorithm: str  # "rsa-sha256" or "ed25519-sha256"
    #: what dkimpy takes: PEM text for RSA, base64 seed for Ed25519
    material: bytes


def _pem_body(data: bytes, label: str) -> bytes | None:
    m = re.search(
        rb"-----BEGIN " + label.encode() + rb"-----(.*?)-----END " + label.encode() + rb"-----",
        data,
        re.S,
    )
    if m is None:
        return None
    try:
        return base64.b64decode(b"".join(m.group(1).split()), validate=True)
    except binascii.Error:
        return None


def load_private_key(data: bytes) -> PrivateKey:
    """Parse RSA (PKCS#1/PKCS#8, PEM or DER) or Ed25519 (PKCS#8, PEM or
    DER) key data the way kumod's DkimPrivateKey::key tries them."""
    errors = []
    rsa_der = _pem_body(data, "RSA PRIVATE KEY") or _pem_body(data, "PRIVATE KEY")
    for candidate in (rsa_der, data):
        if candidate is None:
            continue
        try:
            parse_private_key(candidate)
        except (UnparsableKeyError, IndexError, ValueError, TypeError):
            continue
        pem = (
            b"-----BEGIN PRIVATE KEY-----\n"
            + base64.encodebytes(candidate)
            + b"-----END PRIVATE KEY-----\n"
        )
        parse_pem_private_key(pem)
        return PrivateKey("rsa-sha256", pem)
    errors.append("not an RSA private key in PEM or DER form")
    der = _pem_body(data, "PRIVATE KEY") or data
    if len(der) == 48 and der.startswith(_ED25519_PKCS8_PREFIX):
        return PrivateKey("ed25519-sha256", base64.b64encode(der[16:]))
    errors.append("not an Ed25519 PKCS#8 private key in PEM or DER form")
    raise ValueError("failed to load private key: " + ". ".join(errors))


@dataclass
class _KeyCache:
    entries: dict[Any, tuple[float, PrivateKey]]


def _load_key(state: LuaState, config: SignerConfig) -> PrivateKey:
    process = state.process
    cache = process.service("dkim.keys", lambda: _KeyCache({}))
    now = process.clock.now()
    hit = cache.entries.get(config.key)
    if hit is not None and hit[0] > now:
        return hit[1]
    kind, value = config.key
    if kind == "file":
        real = process.map_path(value)
        try:
            with open(real, "rb") as f:
                data = f.read()
        except OSError as e:
            reason = e.strerror or str(e)
            raise KumoError(
                f"{_key_debug(config.key)}: KeySource failed to load data from file "
                f"`{value}`: {reason} (os error {e.errno})"
            ) from None
    else:
        data = value
    try:
        key = load_private_key(data)
    except ValueError as e:
        raise KumoError(f"{_key_debug(config.key)}: {e}") from None
    cache.entries[config.key] = (now + config.ttl, key)
    return key


# -- signing ------------------------------------------------------------------


class Signer(Userdata):
    """A configured DKIM signer (what kumo.dkim.*_signer returns)."""

    lua_type_name = "Signer"

    def __init__(self, config: SignerConfig, key: PrivateKey, clock: Any = None) -> None:
        if not any(h.lower() == "from" for h in config.headers):
            raise KumoError(
                "configure signed headers: failed to build object: missing From in signed headers"
            )
        self.config = config
        self.key = key
        self._clock = clock

    @property
    def algorithm(self) -> str:
        return self.key.algorithm

    def _header_list(self, headers: list[tuple[bytes, bytes]]) -> list[bytes]:
        names = [h.lower().encode("utf-8") for h in self.config.headers]
        if not self.config.over_sign:
            return names
        out: list[bytes] = []
        for name in names:
            count = sum(1 for n, _ in headers if n.lower() == name)
            out.extend([name] * (count + 1))
        return out

    def sign(self, message: bytes) -> bytes:
        """The `DKIM-Signature: ...\\r\\n` header for message."""
        from .._message._headers import parse_headers

        _, body_offset = parse_headers(message)
        if re.search(rb"\r(?!\n)|(?<!\r)\n", message[:body_offset]):
            raise KumoError(
                "failed to parse message to pass to dkim signer: Canonical CRLF line "
                "endings are required for correct signing and verification"
            )
        d = dkim.DKIM(message, signature_algorithm=self.key.algorithm.encode(), linesep=b"\r\n")
        if self.key.algorithm == "ed25519-sha256":
            pk: Any = nacl.signing.SigningKey(
                self.key.material, encoder=nacl.encoding.Base64Encoder
            )
        else:
            pk = parse_pem_private_key(self.key.material)
        c = self.config
        canon = (
            c.header_canonicalization.lower().encode(),
            c.body_canonicalization.lower().encode(),
        )
        policy = dkim.CanonicalizationPolicy.from_c_value(b"/".join(canon))
        d.hasher = dkim.HASH_ALGORITHMS[self.key.algorithm.encode()]
        body_hash = base64.b64encode(d.hasher(policy.canonicalize_body(d.body)).digest())
        include = self._header_list(d.headers)
        now = int(time.time())
        fields = [
            (b"v", b"1"),
            (b"a", self.key.algorithm.encode()),
            (b"d", c.domain.encode()),
            (b"s", c.selector.encode()),
            (b"c", b"/".join(canon)),
            (b"bh", body_hash),
            (b"h", b":".join(include)),
            (b"t", str(now).encode()),
        ]
        if c.expiration is not None:
            fields.append((b"x", str(now + c.expiration).encode()))
        fields.append((b"b", b"0" * 60))
        value = d.gen_header(fields, tuple(include), policy, b"DKIM-Signature", pk)
        return b"DKIM-Signature: " + bytes(value)


def _signer_ctor(state: LuaState, params: Any = None) -> Signer:
    data = state.to_python(params, serialize=True)
    config = parse_config(data)
    # kumod: load the key, then configure_kumo_dkim's checks in its order
    key = _load_key(state, config)
    if config.refused:
        raise KumoError(f"{config.refused[0]} is not currently supported for RSA keys")
    return Signer(config, key)


def _set_signing_threads(state: LuaState, n: Any = None) -> None:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise KumoError(f"error converting Lua {lua_type_name(n)} to usize")
    pool: dict[str, int | None] = state.process.service("dkim.pool", lambda: {"threads": None})
    if pool["threads"] is not None:
        raise KumoError("dkimsign pool is already configured")
    pool["threads"] = n
