"""msg:dkim_verify and msg:add_authentication_results (kumod: crates/message
message.rs, crates/dkim lib.rs, crates/mailparsing AuthenticationResults).

Verification uses dkimpy with public keys from kumopy's fake DNS
resolver; results have kumod's shape ({method, method_version, result,
reason, props}) and kumod's outcomes: `pass`, `permerror` (bad signature,
body hash, syntax, missing key record contents) or `temperror` (the key
record cannot be fetched).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._headers import parse_headers

__all__ = ["AuthResultError", "dkim_verify", "encode_authentication_results"]

#: resolves a TXT name; None when it has no records
TxtLookup = Callable[[str], Sequence[str] | None]

_REQUIRED = ("v", "a", "b", "bh", "d", "h", "s")
_MAX_SIGNATURES = 11  # kumod stops once more than 10 results were collected


class AuthResultError(ValueError):
    pass


def _tags(value: bytes) -> dict[str, str] | None:
    text = value.decode("utf-8", "replace")
    out: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, val = part.partition("=")
        if not eq:
            return None
        out[name.strip()] = (
            re.sub(r"\s+", "", val)
            if name.strip() in ("b", "bh")
            else (re.sub(r"\s*\r?\n\s*", " ", val).strip())
        )
    return out


def _props(tags: Mapping[str, str]) -> dict[str, str]:
    props: dict[str, str] = {}
    if "d" in tags:
        props["header.d"] = tags["d"]
        props["header.i"] = "@" + tags["d"]
    for key in ("a", "s", "c", "t", "x"):
        if key in tags:
            props[f"header.{key}"] = tags[key]
    return props


def _short_b(b: str, others: list[str]) -> str:
    n = 8
    while n < len(b):
        if any(o != b and o[:n] == b[:n] for o in others):
            n += 2
            continue
        return b[:n]
    return b


def _result(result: str, reason: str | None, props: dict[str, str]) -> dict[str, Any]:
    return {
        "method": "dkim",
        "method_version": None,
        "result": result,
        "reason": reason,
        "props": dict(sorted(props.items())),
    }


def _reason_of(error: Exception) -> str:
    text = str(error)
    low = text.lower()
    if "body hash mismatch" in low:
        return "body hash did not verify"
    if "expired" in low:
        return "signature expired"
    if "missing public key" in low or "unparsable public key" in low:
        return "no key for signature"
    return text


def dkim_verify(data: bytes, lookup_txt: TxtLookup) -> list[dict[str, Any]]:
    """kumod's Message::dkim_verify: one result per DKIM-Signature."""
    import dkim  # (dkimpy: imported when first needed, for start-up)

    if re.search(rb"\r(?!\n)|(?<!\r)\n", data):
        return [_result("permerror", "message has non-canonical line endings", {})]
    headers, _ = parse_headers(data)
    sigs = [h for h in headers if h.is_named("DKIM-Signature")]
    results: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict[str, str]]] = []
    for idx, h in enumerate(sigs):
        if len(results) > 10:
            break
        tags = _tags(h.value)
        problem = None
        if tags is None:
            problem = "signature syntax error: malformed tag list"
        else:
            missing = [t for t in _REQUIRED if t not in tags]
            if missing:
                problem = f"signature missing required tag ({missing[0]})"
            elif tags["v"] != "1":
                problem = "incompatible version"
        if problem is not None:
            results.append(_result("permerror", problem, _props(tags or {})))
        else:
            assert tags is not None
            parsed.append((idx, tags))
    all_b = [t["b"] for _, t in parsed]
    for idx, tags in parsed:
        props = _props(tags)
        props["header.b"] = _short_b(tags["b"], all_b)
        name = f"{tags['s']}._domainkey.{tags['d']}"
        records = lookup_txt(name)
        if not records:
            results.append(
                _result("temperror", f"key unavailable: failed to resolve {name}", props)
            )
            continue
        record = records[0].encode()
        try:
            ok = dkim.DKIM(data).verify(idx=idx, dnsfunc=lambda _n, timeout=5, r=record: r)
        except dkim.DKIMException as e:
            results.append(_result("permerror", _reason_of(e), props))
            continue
        if ok:
            results.append(_result("pass", None, props))
        else:
            results.append(_result("permerror", "signature did not verify", props))
    return results


_TSPECIALS = set('()<>@,;:\\"/[]?=')


def _token(value: str) -> str:
    if all((0x20 < ord(c) < 0x7F and c not in _TSPECIALS) or c == "@" for c in value) and value:
        return value
    escaped = "".join("\\" + c if c in '"\\' else c for c in value)
    return f'"{escaped}"'


_RESULT_FIELDS = ("method", "method_version", "result", "reason", "props")


def check_results(results: Any) -> list[dict[str, Any]]:
    """AuthenticationResult specs as kumod deserializes them."""
    if results == {}:
        results = []
    if not isinstance(results, list):
        raise AuthResultError("invalid type: expected a sequence")
    out = []
    for r in results:
        if not isinstance(r, dict):
            raise AuthResultError("invalid type: expected struct AuthenticationResult")
        for key in r:
            if key not in _RESULT_FIELDS:
                expected = ", ".join(f"`{f}`" for f in _RESULT_FIELDS)
                raise AuthResultError(f"unknown field `{key}`, expected one of {expected}")
        for key in ("method", "result"):
            if key not in r:
                raise AuthResultError(f"missing field `{key}`")
            if not isinstance(r[key], str):
                raise AuthResultError(f"invalid type for `{key}`: expected a string")
        props = r.get("props") or {}
        if not isinstance(props, dict):
            raise AuthResultError("invalid type for `props`: expected a map")
        version = r.get("method_version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise AuthResultError("invalid type for `method_version`: expected u32")
        out.append(
            {
                "method": r["method"],
                "method_version": version,
                "result": r["result"],
                "reason": r.get("reason"),
                "props": {str(k): str(v) for k, v in sorted(props.items())},
            }
        )
    return out


def encode_authentication_results(serv_id: str, results: list[dict[str, Any]]) -> str:
    """The Authentication-Results value kumod writes."""
    out = _token(serv_id)
    if not results:
        return out + "; none"
    for r in results:
        out += ";\r\n\t" + _token(r["method"])
        if r.get("method_version") is not None:
            out += f"/{r['method_version']}"
        out += "=" + _token(r["result"])
        if r.get("reason") is not None:
            out += " reason=" + _token(r["reason"])
        for k, v in r.get("props", {}).items():
            out += f"\r\n\t{k}=" + _token(v)
    return out
