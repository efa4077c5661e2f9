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

from .._duration import NANOS_PER_SEC
from .._errors import KumoError
from .._runtime.userdata import Userdata
from . import _schema as s
from ._args import ArgConversionError
from ._schema import REQUIRED, Field

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


_CANON = s.Enum("Canon", ["Relaxed", "Simple"])

#: kumod's SignerConfig (unknown keys ignored: the struct does not deny them)
SIGNER_CONFIG = s.Struct(
    "SignerConfig",
    [
        Field("domain", s.Str(), REQUIRED),
        Field("selector", s.Str(), REQUIRED),
        Field("headers", s.Seq(s.Str()), REQUIRED),
        Field("atps", s.Opt(s.Str())),
        Field("atpsh", s.Opt(s.Enum("HashAlgo", ["Sha1", "Sha256"]))),
        Field("agent_user_identifier", s.Opt(s.Str())),
        Field("expiration", s.Opt(s.Int("u64"))),
        Field("body_length", s.Bool(), False),
        Field("reporting", s.Bool(), False),
        Field("header_canonicalization", _CANON, "Relaxed"),
        Field("body_canonicalization", _CANON, "Relaxed"),
        Field("key", s.KEY_SOURCE, REQUIRED),
        Field("over_sign", s.Bool(), False),
        Field("ttl", s.Duration(), 300 * NANOS_PER_SEC),
    ],
    deny_unknown_fields=False,
)

#: fields kumod accepts but refuses to sign with, in the order it checks them
_REFUSED = ("atps", "atpsh", "agent_user_identifier", "body_length", "reporting")


def parse_config(state: LuaState, params: Any) -> SignerConfig:
    """Deserialise a SignerConfig table as kumod does."""
    out = s.deserialize(state, SIGNER_CONFIG, params)
    return SignerConfig(
        domain=out["domain"],
        selector=out["selector"],
        headers=tuple(out["headers"]),
        key=_key_source(out["key"]),
        header_canonicalization=out["header_canonicalization"],
        body_canonicalization=out["body_canonicalization"],
        expiration=out["expiration"],
        over_sign=out["over_sign"],
        ttl=s.duration_seconds(out["ttl"]),
        refused=tuple(name for name in _REFUSED if out[name] not in (None, False)),
    )


def _key_source(choice: tuple[s.Type, Any]) -> tuple[str, Any]:
    """The KeySource variant that matched: a file path or {key_data=...};
    vault and event sources are not supported."""
    variant, value = choice
    if isinstance(variant, s.Str):
        return ("file", value)
    if "key_data" in value:
        return ("data", value["key_data"].encode("utf-8", "surrogateescape"))
    if "vault_mount" in value:
        raise KumoError("kumopy: vault key sources are not supported (use a file or key_data)")
    raise KumoError("kumopy: event key sources are not supported (use a file or key_data)")


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
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key, parse_private_key

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


class _Caches:
    """kumod's dkim_key_cache and dkim_signer_cache (lruttl, 1024 each)."""

    def __init__(self, process: Any) -> None:
        from .metrics import LruTtlCache, registry

        self.keys: LruTtlCache[PrivateKey] = LruTtlCache(process, "dkim_key_cache", 1024)
        self.signers: LruTtlCache[Signer] = LruTtlCache(process, "dkim_signer_cache", 1024)
        self.metrics = registry(process)
        for name, help in _COUNTERS.items():
            self.metrics.counter(name, help)
        for name, help in _HISTOGRAMS.items():
            self.metrics.histogram(name, help)


_COUNTERS = {
    "dkim_signer_cache_hit": "how many dkim signer requests hit the cache",
    "dkim_signer_cache_miss": "how many dkim signer requests missed the cache",
    "dkim_signer_cache_lookup_count": "how many dkim signer cache lookups happened",
    "dkim_signer_key_cache_hit": "how many dkim key requests hit the key cache",
    "dkim_signer_key_cache_miss": "how many dkim key requests missed the key cache",
    "dkim_signer_key_cache_lookup_count": "how many dkim key cache lookups happened",
}
_HISTOGRAMS = {
    "dkim_signer_key_fetch": "how long it takes to obtain a dkim key",
    "dkim_signer_creation": "how many seconds it takes to create a signer on a cache miss",
}


def caches(process: Any) -> _Caches:
    return process.service("dkim.caches", lambda: _Caches(process))  # type: ignore[no-any-return]


def _read_key(state: LuaState, config: SignerConfig) -> PrivateKey:
    process = state.process
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
        return load_private_key(data)
    except ValueError as e:
        raise KumoError(f"{_key_debug(config.key)}: {e}") from None


def _load_key(state: LuaState, config: SignerConfig) -> PrivateKey:
    from .metrics import Timer

    c = caches(state.process)
    c.metrics.inc("dkim_signer_key_cache_lookup_count")

    def fetch() -> PrivateKey:
        with Timer(c.metrics, "dkim_signer_key_fetch", _HISTOGRAMS["dkim_signer_key_fetch"]):
            return _read_key(state, config)

    key, fresh = c.keys.get_or_try_insert(config.key, lambda _: config.ttl, fetch)
    c.metrics.inc("dkim_signer_key_cache_miss" if fresh else "dkim_signer_key_cache_hit")
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
        # (dkimpy and PyNaCl are imported when a message is first signed)
        import dkim
        import nacl.encoding
        import nacl.signing
        from dkim.crypto import parse_pem_private_key

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
    from .metrics import Timer

    config = parse_config(state, params)
    c = caches(state.process)
    c.metrics.inc("dkim_signer_cache_lookup_count")

    def create() -> Signer:
        with Timer(c.metrics, "dkim_signer_creation", _HISTOGRAMS["dkim_signer_creation"]):
            # kumod: load the key, then configure_kumo_dkim's checks in its order
            key = _load_key(state, config)
            if config.refused:
                raise KumoError(f"{config.refused[0]} is not currently supported for RSA keys")
            return Signer(config, key)

    signer, fresh = c.signers.get_or_try_insert(config, lambda _: config.ttl, create)
    c.metrics.inc("dkim_signer_cache_miss" if fresh else "dkim_signer_cache_hit")
    return signer


def _set_signing_threads(state: LuaState, n: Any = None) -> None:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ArgConversionError(n, "usize")
    pool: dict[str, int | None] = state.process.service("dkim.pool", lambda: {"threads": None})
    if pool["threads"] is not None:
        raise KumoError("dkimsign pool is already configured")
    pool["threads"] = n
