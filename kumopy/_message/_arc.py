"""ARC (RFC 8617) chain validation as kumod's crates/dkim arc.rs does it,
with signature checks done by dkimpy.

`arc_verify(data, lookup_txt)` returns kumod's AuthenticationResult:
`{method='arc', result='none'|'pass'|'fail', reason=<first issue>,
props={['header.oldest-pass']=...}}`.  The structural checks (parsable
headers, complete sets, no duplicates, no gaps, instances 1..50) and the
order of the signature checks (oldest set first; its ARC-Message-Signature,
then its ARC-Seal, then its cv= value) and their wording are kumod's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._headers import RawHeader, parse_headers

__all__ = ["ArcChain", "arc_verify"]

SEAL = "ARC-Seal"
AMS = "ARC-Message-Signature"
AAR = "ARC-Authentication-Results"
MAX_INSTANCE = 50

TxtLookup = Callable[[str], Sequence[str] | None]


class _ParseError(ValueError):
    pass


def _tags(value: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    text = value.decode("utf-8", "replace")
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, val = part.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise _ParseError(f"invalid tag list: {part.strip()!r}")
        if name in out:
            raise _ParseError(f"duplicate tag {name}")
        out[name] = re.sub(r"\s+", "", val) if name in ("b", "bh") else val.strip()
    return out


def _instance(tags: dict[str, str]) -> int:
    text = tags.get("i", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_INSTANCE:
        raise _ParseError("invalid ARC instance")
    return int(text)


def _parse_signature(value: bytes, required: tuple[str, ...]) -> tuple[int, dict[str, str]]:
    tags = _tags(value)
    for tag in required:
        if tag not in tags:
            raise _ParseError(f"signature missing required tag {tag}")
    return _instance(tags), tags


@dataclass
class _Set:
    instance: int
    seal: dict[str, str]
    seal_header: RawHeader
    sig: dict[str, str]
    sig_header: RawHeader
    aar_header: RawHeader


@dataclass
class ArcChain:
    sets: list[_Set] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    last_validated: int = 0

    @property
    def status(self) -> str:
        if self.issues:
            return "fail"
        if not self.sets:
            return "none"
        return "pass" if self.last_validated == len(self.sets) else "fail"

    def result(self) -> dict[str, Any]:
        status = self.status
        props = {}
        if self.sets:
            props["header.oldest-pass"] = str(self.last_validated if status == "fail" else 0)
        return {
            "method": "arc",
            "method_version": None,
            "result": status,
            "reason": self.issues[0] if self.issues else None,
            "props": props,
        }


def collect(headers: list[RawHeader]) -> ArcChain:
    """The ARC sets of a header block, with kumod's structural issues."""
    chain = ArcChain()
    found: dict[str, dict[int, list[tuple[dict[str, str], RawHeader]]]] = {
        SEAL: {}, AMS: {}, AAR: {}}
    for h in headers:
        for name, required in ((SEAL, ("i", "a", "b", "d", "s")),
                               (AMS, ("i", "a", "b", "bh", "d", "h", "s"))):
            if h.is_named(name):
                try:
                    inst, tags = _parse_signature(h.value, required)
                except _ParseError as e:
                    chain.issues.append(f"An {name} header could not be parsed: {e}")
                    continue
                found[name].setdefault(inst, []).append((tags, h))
        if h.is_named(AAR):
            first = h.value.decode("utf-8", "replace").split(";", 1)[0].strip()
            name_, eq, num = first.partition("=")
            if name_.strip() != "i" or not eq or not num.strip().isdigit():
                chain.issues.append(f"An {AAR} header could not be parsed: expected i=N")
                continue
            inst = int(num.strip())
            if inst == 0 or inst > MAX_INSTANCE:
                chain.issues.append(f"An {AAR} header has an invalid instance value")
                continue
            found[AAR].setdefault(inst, []).append(({}, h))
    sets: dict[int, _Set] = {}
    for inst in range(1, MAX_INSTANCE + 1):
        seal, sig, aar = (found[n].get(inst) for n in (SEAL, AMS, AAR))
        if seal and sig and aar:
            if len(seal) > 1 or len(sig) > 1 or len(aar) > 1:
                dups = ", ".join(n for n, v in ((SEAL, seal), (AMS, sig), (AAR, aar))
                                 if len(v) > 1)
                chain.issues.append(f"There are duplicate {dups} header(s) for instance {inst}")
                continue
            sets[inst] = _Set(inst, seal[0][0], seal[0][1], sig[0][0], sig[0][1], aar[0][1])
        elif seal or sig or aar:
            chain.issues.append(
                f"The ARC Set with instance {inst} is missing some of its constituent headers")
    for inst in range(2, MAX_INSTANCE + 1):
        if inst in sets and inst - 1 not in sets:
            chain.issues.append(f"The ARC Set with instance {inst - 1} is missing")
    chain.sets = [sets[i] for i in sorted(sets)]
    return chain


def _dnsfunc(lookup: TxtLookup) -> Callable[..., bytes | None]:
    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        qname = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        found = lookup(qname.rstrip("."))
        if not found:
            return None
        return found[0].encode("utf-8")

    return dnsfunc


def _validate(chain: ArcChain, data: bytes, lookup: TxtLookup) -> None:
    if not chain.sets:
        return
    import dkim  # (dkimpy: imported when first needed, for start-up)

    try:
        signer = dkim.ARC(data)
        _, arc_headers = signer.sorted_arc_headers()
    except Exception:  # dkimpy cannot even read the headers: nothing validates
        chain.issues.append(f"The {AMS} for instance {chain.sets[0].instance} failed to validate")
        return
    dnsfunc = _dnsfunc(lookup)
    for s in chain.sets:
        try:
            out = signer.verify_instance(arc_headers, s.instance, dnsfunc=dnsfunc)
        except Exception:
            out = {"ams-valid": False, "as-valid": False}
        if not out.get("ams-valid"):
            chain.issues.append(f"The {AMS} for instance {s.instance} failed to validate")
            return
        if not out.get("as-valid"):
            chain.issues.append(f"The {SEAL} for instance {s.instance} failed to validate")
            return
        cv = s.seal.get("cv")
        if cv is None:
            chain.issues.append(
                f"The {SEAL} for instance {s.instance} is missing its chain validation status")
            return
        cv = cv.lower()
        if cv == "pass" and s.instance == 1:
            chain.issues.append(
                f"The {SEAL} for instance 1 is marked as cv=pass but that is invalid")
            return
        if cv == "none" and s.instance > 1:
            chain.issues.append(
                f"The {SEAL} for instance {s.instance} is marked as cv=none but that is invalid")
            return
        if cv == "fail":
            chain.issues.append(
                f"The {SEAL} for instance {s.instance} is marked as failing its chain "
                "validation")
            return
        if cv not in ("pass", "none"):
            chain.issues.append(
                f"The {SEAL} for instance {s.instance} has an invalid chain validation status")
            return
        chain.last_validated = s.instance


def verify_chain(data: bytes, lookup: TxtLookup) -> ArcChain:
    headers, _ = parse_headers(data)
    chain = collect(headers)
    _validate(chain, data, lookup)
    return chain


def arc_verify(data: bytes, lookup: TxtLookup) -> dict[str, Any]:
    """kumod's msg:arc_verify() result for a message."""
    return verify_chain(data, lookup).result()


# -- sealing -----------------------------------------------------------------------


def _explicit_signature(headers: list[tuple[bytes, bytes]], fields: list[tuple[bytes, bytes]],
                        header_name: bytes, canon: bytes, signer: Any) -> bytes:
    """Sign `headers` (name, value) in the given order, then the new header
    itself without its b= value, as kumod's compute_headers_hash does."""

    import dkim
    from dkim.crypto import RSASSA_PKCS1_v1_5_sign, parse_pem_private_key

    policy = dkim.CanonicalizationPolicy.from_c_value(canon)
    algorithm = signer.key.algorithm.encode()
    value = b"; ".join(b"=".join(f) for f in fields)
    canonical = policy.canonicalize_headers([*headers, (header_name, b" " + value)])
    h = dkim.HASH_ALGORITHMS[algorithm]()
    for name, val in canonical[:-1]:
        h.update(name + b":" + val)
    name, val = canonical[-1]
    h.update(name + b":" + val.rstrip())
    if algorithm == b"ed25519-sha256":
        import nacl.encoding
        import nacl.signing

        key = nacl.signing.SigningKey(signer.key.material, encoder=nacl.encoding.Base64Encoder)
        sig = key.sign(h.digest()).signature
    else:
        sig = RSASSA_PKCS1_v1_5_sign(h, parse_pem_private_key(signer.key.material))
    import base64

    done = [(k, base64.b64encode(bytes(sig)) if k == b"b" else v) for k, v in fields]
    folded = dkim.fold(b"; ".join(b"=".join(f) for f in done), namelen=len(header_name))
    return bytes(header_name + b": " + folded + b"\r\n")


def arc_seal(data: bytes, signer: Any, serv_id: str, results: list[dict[str, Any]],
             lookup: TxtLookup, now: int) -> bytes:
    """The message with a new ARC set on top (AAR, AMS, ARC-Seal, as kumod
    writes them), or unchanged when the existing chain fails."""
    import base64

    import dkim

    from ._auth import encode_authentication_results

    chain = verify_chain(data, lookup)
    if chain.status == "fail":
        return data
    instance = len(chain.sets) + 1
    c = signer.config
    alg = signer.key.algorithm.encode()
    aar = (AAR + ": ").encode() + f"i={instance}; ".encode() + \
        encode_authentication_results(serv_id, results).encode("utf-8") + b"\r\n"
    headers, body = dkim.rfc822_parse(data)
    canon = b"/".join((c.header_canonicalization.lower().encode(),
                       c.body_canonicalization.lower().encode()))
    policy = dkim.CanonicalizationPolicy.from_c_value(canon)
    hasher = dkim.HASH_ALGORITHMS[alg]
    body_hash = base64.b64encode(hasher(policy.canonicalize_body(body)).digest())
    include = signer._header_list(headers)
    times = [(b"t", str(now).encode())]
    if c.expiration is not None:
        times.append((b"x", str(now + c.expiration).encode()))
    ams_fields = [(b"i", str(instance).encode()), (b"a", alg), (b"d", c.domain.encode()),
                  (b"s", c.selector.encode()), (b"c", canon), (b"bh", body_hash),
                  (b"h", b":".join(include)), *times, (b"b", b"")]
    signed = dkim.select_headers(headers, include)
    ams = _explicit_signature(signed, ams_fields, AMS.encode(), canon, signer)
    previous: list[tuple[bytes, bytes]] = []
    for s in chain.sets:
        for raw in (s.aar_header, s.sig_header, s.seal_header):
            previous.append((raw.name, raw.raw[len(raw.name) + 1:]))
    for line in (aar, ams):
        name, _, value = line.partition(b":")
        previous.append((name, value))
    seal_fields = [(b"i", str(instance).encode()),
                   (b"cv", b"none" if not chain.sets else b"pass"), (b"a", alg),
                   (b"d", c.domain.encode()), (b"s", c.selector.encode()), *times, (b"b", b"")]
    seal = _explicit_signature(previous, seal_fields, SEAL.encode(), b"relaxed/relaxed", signer)
    return aar + ams + seal + data
