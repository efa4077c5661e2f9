"""`kumo.spf.check_host` / `kumo.spf.check_msg` (kumod: crates/kumo-spf,
crates/kumod/src/spf.rs): SPF (RFC 7208) evaluated against kumopy's fake
resolver, with kumod's results and wording.

Both return `{disposition = 'pass'|'fail'|..., result = {method='spf',
result=..., reason=..., props={['smtp.mailfrom']=..., ['smtp.helo']=...}}}`.
The evaluation follows kumo-spf: the 10-lookup limit, `include`,
`redirect`, `exp`, `a`, `mx`, `ptr`, `ip4`, `ip6`, `exists` and the macro
language, and the same context strings ("no SPF records found for
example.com", "matched 'ip4:192.0.2.0/24' directive", ...).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._message import ConnectionMeta, Message
from ._lib import rust_string
from .dns import _A, _AAAA, _MX, _PTR, _TXT, _resolver, _txt, fully_qualify, ptr_host

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace
    from .dns import TestResolver

__all__ = ["SpfQuery", "check_host", "register"]

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class DnsFailure(Exception):
    """A lookup the resolver could not answer (kumod's ResolveFailed)."""


class Lookups:
    """kumod's Resolver calls over kumopy's fake resolver."""

    def __init__(self, resolver: TestResolver) -> None:
        self.r = resolver

    def _get(self, name: str, rdtype: int) -> Any:
        answer = self.r.get(fully_qualify(name), rdtype)
        if answer.servfail:
            raise DnsFailure(f"failed to resolve {name}: SERVFAIL")
        return answer

    def txt(self, name: str) -> tuple[list[str], bool]:
        answer = self._get(name, _TXT)
        return _txt(answer), answer.nxdomain

    def ips(self, name: str) -> list[IP]:
        out: list[IP] = []
        for rdtype in (_A, _AAAA):
            out += [ipaddress.ip_address(rd.address) for rd in self._get(name, rdtype).records]
        return out

    def mx(self, name: str) -> list[str]:
        records = self._get(name, _MX).records
        ordered = sorted(records, key=lambda rd: rd.preference)
        return [rd.exchange.to_text() for rd in ordered]

    def ptr(self, ip: IP) -> list[str]:
        answer = self._get(ptr_host(ip), _PTR)
        return [rd.target.to_text() for rd in answer.records]


@dataclass
class Result:
    disposition: str
    context: str


class _Stop(Exception):
    def __init__(self, result: Result) -> None:
        self.result = result


# -- macros ----------------------------------------------------------------------

_MACRO_NAMES = "slodipvhcrt"


@dataclass
class _Macro:
    name: str
    digits: int | None
    reverse: bool
    escape: bool
    delimiters: str


def _parse_macro(s: str) -> list[str | _Macro]:
    out: list[str | _Macro] = []

    def lit(text: str) -> None:
        if out and isinstance(out[-1], str):
            out[-1] += text
        else:
            out.append(text)

    i = 0
    while i < len(s):
        rest = s[i:]
        if rest.startswith("%%"):
            lit("%")
            i += 2
        elif rest.startswith("%_"):
            lit(" ")
            i += 2
        elif rest.startswith("%-"):
            lit("%20")
            i += 2
        elif rest.startswith("%{"):
            if len(rest) < 4:
                raise ValueError(f"unexpected end of input in {rest}")
            c = rest[2]
            if c.lower() not in _MACRO_NAMES:
                raise ValueError(f"invalid macro name {c}")
            m = re.match(r"(\d*)(r?)([^}]*)\}", rest[3:])
            if m is None:
                raise ValueError(f"expected '}}' to close macro in {rest}")
            out.append(_Macro(c.lower(), int(m.group(1)) if m.group(1) else None,
                              bool(m.group(2)), c.isupper(), m.group(3)))
            i += 3 + m.end()
        else:
            c = rest[0]
            if not (0x20 <= ord(c) <= 0x24 or 0x26 <= ord(c) <= 0x7E):
                raise ValueError(f"invalid macro char in '{rest}'")
            lit(c)
            i += 1
    return out


def _macro_text(spec: list[str | _Macro]) -> str:
    parts = []
    for e in spec:
        if isinstance(e, str):
            parts.append(e)
        else:
            # kumod's MacroTerm display: no braces, delimiters before digits
            text = f"%{e.name}{e.delimiters}"
            parts.append(text + (str(e.digits) if e.digits is not None else "")
                         + ("r" if e.reverse else "") + ("/" if e.escape else ""))
    return " ".join(parts)


def _dotted(ip: IP) -> str:
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.packed.hex())


# -- records ---------------------------------------------------------------------

_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


@dataclass
class _Directive:
    qualifier: str
    kind: str
    domain: list[str | _Macro] | None = None
    v4: int = 32
    v6: int = 128
    network: IP | None = None
    text: str = ""


def _dual_cidr(s: str) -> tuple[str, int, int]:
    left, slash, right = s.rpartition("/")
    if not slash:
        return s, 32, 128
    try:
        r = int(right)
        if not 0 <= r <= 255:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"invalid dual-cidr-length in {s}: invalid digit found in string"
        ) from None
    if left.endswith("/"):
        prefix, slash2, v4 = left[:-1].rpartition("/")
        if slash2:
            try:
                return prefix, int(v4), r
            except ValueError:
                raise ValueError(f"invalid dual-cidr-length in {s}: parsing v4 cidr portion: "
                                 "invalid digit found in string") from None
    return left, r, 128


def _strip(s: str, ident: str) -> str | None:
    return s[len(ident):] if s[: len(ident)].lower() == ident else None


def _parse_directive(token: str) -> _Directive:
    qualifier = "+"
    s = token
    if s[:1] in _QUALIFIERS:
        qualifier, s = s[0], s[1:]
    d = _Directive(qualifier, "")
    if s.lower() == "all":
        d.kind = "all"
    elif (rest := _strip(s, "include:")) is not None:
        d.kind, d.domain = "include", _parse_macro(rest)
    elif (rest := _strip(s, "exists:")) is not None:
        d.kind, d.domain = "exists", _parse_macro(rest)
    elif (rest := _strip(s, "ip4:")) is not None or (rest := _strip(s, "ip6:")) is not None:
        v6 = s[:4].lower() == "ip6:"
        addr, _, length = rest.partition("/")
        try:
            net = ipaddress.IPv6Address(addr) if v6 else ipaddress.IPv4Address(addr)
            n = int(length) if length else (128 if v6 else 32)
        except ValueError as e:
            raise ValueError(f"invalid '{'ip6' if v6 else 'ip4'}' mechanism: {s}: {e}") from None
        d.kind, d.network = ("ip6" if v6 else "ip4"), net
        d.v4, d.v6 = (32, n) if v6 else (n, 128)
    elif (rest := _strip(s, "mx")) is not None or (rest := _strip(s, "a")) is not None:
        kind = "mx" if s[:2].lower() == "mx" else "a"
        remain, d.v4, d.v6 = _dual_cidr(rest)
        if remain.startswith(":"):
            d.domain = _parse_macro(remain[1:])
        elif remain:
            raise ValueError(f"invalid '{kind}' mechanism: {s}")
        d.kind = kind
    elif (rest := _strip(s, "ptr")) is not None:
        if rest.startswith(":"):
            d.domain = _parse_macro(rest[1:])
        elif rest:
            raise ValueError(f"invalid 'ptr' mechanism: {s}")
        d.kind = "ptr"
    else:
        raise ValueError(f"invalid mechanism {s}")
    d.text = _directive_text(d)
    return d


def _directive_text(d: _Directive) -> str:
    q = "" if d.qualifier == "+" else d.qualifier
    cidr = "" if (d.v4, d.v6) == (32, 128) else f"/{d.v4}" + (f"/{d.v6}" if d.v6 != 128 else "")
    dom = f":{_macro_text(d.domain)}" if d.domain is not None else ""
    if d.kind in ("ip4", "ip6"):
        return f"{q}{d.kind}:{d.network}/{d.v4 if d.kind == 'ip4' else d.v6}"
    if d.kind in ("a", "mx"):
        return f"{q}{d.kind}{dom}{cidr}"
    if d.kind == "all":
        return f"{q}all"
    return f"{q}{d.kind}{dom}"


@dataclass
class _Record:
    directives: list[_Directive] = field(default_factory=list)
    redirect: list[str | _Macro] | None = None
    exp: list[str | _Macro] | None = None


def parse_record(text: str) -> _Record:
    tokens = text.split()
    if not tokens:
        raise ValueError(f"expected version in {text}")
    if tokens[0] != "v=spf1":
        raise ValueError(f"expected SPF version 1 in {text}")
    rec = _Record()
    for t in tokens[1:]:
        try:
            d = _parse_directive(t)
        except ValueError:
            d = None
        if d is not None:
            if rec.redirect is not None or rec.exp is not None:
                raise ValueError("directive after modifier")
            rec.directives.append(d)
            continue
        try:
            if (rest := _strip(t, "redirect=")) is not None:
                if rec.redirect is not None:
                    raise ValueError("duplicate redirect modifier")
                rec.redirect = _parse_macro(rest)
                continue
            if (rest := _strip(t, "exp=")) is not None:
                if rec.exp is not None:
                    raise ValueError("duplicate explanation modifier")
                rec.exp = _parse_macro(rest)
                continue
            name, eq, _ = t.partition("=")
            if eq and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
                continue
        except ValueError as e:
            if "duplicate" in str(e):
                raise
        raise ValueError(f"invalid token '{t}'")
    return rec


# -- evaluation ------------------------------------------------------------------


@dataclass
class SpfQuery:
    """kumod's SpfContext."""

    sender: str
    domain: str
    client_ip: IP
    ehlo_domain: str | None = None
    relaying_host_name: str = "localhost"
    lookups: list[int] = field(default_factory=lambda: [10])
    now: int = field(default_factory=lambda: int(time.time()))

    @property
    def local_part(self) -> str:
        return self.sender.rpartition("@")[0] if "@" in self.sender else "postmaster"

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]

    def spend(self) -> None:
        if self.lookups[0] > 0:
            self.lookups[0] -= 1
            return
        raise _Stop(Result("permerror", "DNS lookup limits exceeded"))

    def expand(self, spec: list[str | _Macro], dns_: Lookups) -> str:
        out = []
        for e in spec:
            if isinstance(e, str):
                out.append(e)
                continue
            getters: dict[str, Callable[[], str]] = {
                "s": lambda: self.sender, "l": lambda: self.local_part,
                "o": lambda: self.sender_domain, "d": lambda: self.domain,
                "v": lambda: "in-addr" if self.client_ip.version == 4 else "ip6",
                "c": lambda: str(self.client_ip), "i": lambda: _dotted(self.client_ip),
                "t": lambda: str(self.now), "h": lambda: self.ehlo_domain or "",
                "r": lambda: self.relaying_host_name,
                "p": lambda: self._validated_or_unknown(dns_),
            }
            value = getters[e.name]()
            tokens = re.split("[" + re.escape(e.delimiters or ".") + "]", value)
            if e.reverse:
                tokens.reverse()
            if e.digits is not None:
                tokens = tokens[max(0, len(tokens) - e.digits):]
            text = ".".join(tokens)
            if e.escape:
                text = "".join(c if (c.isascii() and c.isalnum()) or c in "-._~" else
                               "".join(f"%{b:02x}" for b in c.encode()) for c in text)
            out.append(text)
        return "".join(out)

    def _validated_or_unknown(self, dns_: Lookups) -> str:
        try:
            return self.validated_domain(None, dns_) or "unknown"
        except _Stop:
            return "unknown"

    def target(self, spec: list[str | _Macro] | None, dns_: Lookups) -> str:
        if spec is None:
            return self.domain
        try:
            return self.expand(spec, dns_)
        except (ValueError, KeyError) as e:
            raise _Stop(Result("temperror", f"error evaluating domain spec: {e}")) from None

    def validated_domain(self, spec: list[str | _Macro] | None, dns_: Lookups) -> str | None:
        self.spend()
        domain = self.target(spec, dns_)
        import dns.name  # (dnspython's names: imported when first needed)

        try:
            zone = dns.name.from_text(domain)
        except dns.exception.DNSException as e:
            raise _Stop(Result("permerror", f"error parsing domain name: {e}")) from None
        try:
            ptrs = dns_.ptr(self.client_ip)
        except DnsFailure as e:
            raise _Stop(Result("temperror",
                               f"error looking up PTR for {self.client_ip}: {e}")) from None
        matching = [p for p in ptrs if dns.name.from_text(p).is_subdomain(zone)]
        for idx, name in enumerate(matching):
            if idx >= 10:
                raise _Stop(Result("permerror", f"too many PTR records for {self.client_ip}"))
            try:
                ips = dns_.ips(name)
            except DnsFailure as e:
                raise _Stop(Result("temperror", f"error looking up IP for {name}: {e}")) from None
            if self.client_ip in ips:
                return name.rstrip(".")
        return None

    def check(self, dns_: Lookups, initial: bool = True) -> Result:
        try:
            if not initial:
                self.spend()
            return self._check(dns_, initial)
        except _Stop as stop:
            return stop.result

    def _check(self, dns_: Lookups, initial: bool) -> Result:
        import dns.name

        try:
            dns.name.from_text(self.domain)
            if not self.domain:
                raise ValueError
        except (dns.exception.DNSException, ValueError):
            return Result("none" if initial else "temperror",
                          f"invalid domain name: {self.domain}")
        try:
            records, _ = dns_.txt(self.domain)
        except DnsFailure as e:
            return Result("temperror", str(e))
        for txt in records:
            if txt.startswith("v=spf1 "):
                try:
                    record = parse_record(txt)
                except ValueError as e:
                    return Result("permerror", f"failed to parse spf record: {e}")
                return self._evaluate(record, dns_)
        return Result("none", f"no SPF records found for {self.domain}")

    def _evaluate(self, record: _Record, dns_: Lookups) -> Result:
        failed = None
        for d in record.directives:
            if self._matches(d, dns_):
                disposition = _QUALIFIERS[d.qualifier]
                context = f"matched '{d.text}' directive"
                if disposition == "fail":
                    failed = context
                    break
                return Result(disposition, context)
        if failed is None and record.redirect is not None:
            nested = replace(self, domain=self.target(record.redirect, dns_))
            result = nested.check(dns_, initial=False)
            if result.disposition != "fail":
                return result
            failed = result.context
        if failed is None:
            return Result("neutral", "default result")
        if record.exp is None:
            return Result("fail", failed)
        domain = self.target(record.exp, dns_)
        try:
            texts, _ = dns_.txt(domain)
        except DnsFailure:
            return Result("fail", failed)
        if len(texts) != 1:
            return Result("fail", failed)
        try:
            return Result("fail", self.expand(_parse_macro(texts[0]), dns_))
        except (ValueError, _Stop):
            return Result("fail", failed)

    def _ips(self, domain: str, dns_: Lookups) -> list[IP]:
        try:
            return dns_.ips(domain)
        except DnsFailure as e:
            raise _Stop(Result("temperror", f"error looking up IP for {domain}: {e}")) from None

    def _cidr_match(self, d: _Directive, ip: IP) -> bool:
        if ip.version != self.client_ip.version:
            return False
        n = d.v4 if ip.version == 4 else d.v6
        net = ipaddress.ip_network(f"{ip}/{min(n, ip.max_prefixlen)}", strict=False)
        return self.client_ip in net

    def _matches(self, d: _Directive, dns_: Lookups) -> bool:
        if d.kind == "all":
            return True
        if d.kind in ("ip4", "ip6"):
            assert d.network is not None
            return self._cidr_match(d, d.network)
        if d.kind == "a":
            self.spend()
            domain = self.target(d.domain, dns_)
            return any(self._cidr_match(d, ip) for ip in self._ips(domain, dns_))
        if d.kind == "mx":
            self.spend()
            domain = self.target(d.domain, dns_)
            try:
                exchanges = dns_.mx(domain)
            except DnsFailure as e:
                raise _Stop(Result("temperror",
                                   f"error looking up IP for {domain}: {e}")) from None
            for idx, exchange in enumerate(exchanges):
                if idx >= 10:
                    raise _Stop(Result("permerror", f"too many MX records for {domain}"))
                if any(self._cidr_match(d, ip) for ip in self._ips(exchange, dns_)):
                    return True
            return False
        if d.kind == "ptr":
            return self.validated_domain(d.domain, dns_) is not None
        if d.kind == "exists":
            self.spend()
            domain = self.target(d.domain, dns_)
            return any(ip.version == 4 for ip in self._ips(domain, dns_))
        # include
        domain = self.target(d.domain, dns_)
        result = replace(self, domain=domain).check(dns_, initial=False)
        if result.disposition == "pass":
            return True
        if result.disposition in ("fail", "softfail", "neutral"):
            return False
        if result.disposition == "temperror":
            raise _Stop(Result("temperror", f"temperror while evaluating include:{domain}: "
                                            f"{result.context}"))
        raise _Stop(Result("permerror", f"{result.disposition} while evaluating "
                                        f"include:{domain}: {result.context}"))


def check_host(
    dns_: Lookups,
    *,
    domain: str,
    sender: str | None,
    client_ip: IP,
    ehlo_domain: str | None,
    relaying_host_name: str | None,
) -> Result:
    """kumod's CheckHostParams::check."""
    if not domain and ehlo_domain:
        domain = ehlo_domain
    query = SpfQuery(
        sender=sender if sender is not None else f"postmaster@{domain}",
        domain=domain,
        client_ip=client_ip,
        ehlo_domain=ehlo_domain,
        relaying_host_name=relaying_host_name or "localhost",
    )
    return query.check(dns_, initial=True)


# -- Lua -------------------------------------------------------------------------


def _socket_ip(value: Any) -> IP:
    if not isinstance(value, str):
        raise KumoError("received_from missing from metadata")
    host, sep, port = value.rpartition(":")
    try:
        if not sep or not port.isdigit():
            raise ValueError
        if host.startswith("["):
            return ipaddress.IPv6Address(host[1:-1])
        return ipaddress.IPv4Address(host)
    except ValueError:
        raise KumoError("invalid socket address syntax") from None


def _meta_string(meta: Any) -> str | None:
    return meta if isinstance(meta, str) else None


def _output(state: LuaState, result: Result, sender: str | None, ehlo: str | None) -> Any:
    props = {}
    if sender is not None:
        props["smtp.mailfrom"] = sender
    if ehlo is not None:
        props["smtp.helo"] = ehlo
    return state.to_lua({
        "disposition": result.disposition,
        "result": {
            "method": "spf",
            "method_version": None,
            "result": result.disposition,
            "reason": result.context,
            "props": dict(sorted(props.items())),
        },
    })


def _opt_resolver(value: Any) -> str | None:
    return None if value is None else rust_string(value)


def _check_msg(state: LuaState, msg: Any = None, resolver: Any = None, *_: Any) -> Any:
    if not isinstance(msg, Message):
        raise KumoError("error converting Lua value to userdata Message")
    dns_ = Lookups(_resolver(state, _opt_resolver(resolver)))
    ip = _socket_ip(msg.get_meta("received_from"))
    ehlo = _meta_string(msg.get_meta("ehlo_domain"))
    host = _meta_string(msg.get_meta("hostname"))
    sender = str(msg.sender)
    result = check_host(dns_, domain=msg.sender.domain, sender=sender, client_ip=ip,
                        ehlo_domain=ehlo, relaying_host_name=host)
    return _output(state, result, sender, ehlo)


def _check_host(state: LuaState, domain: Any = None, meta: Any = None, sender: Any = None,
                resolver: Any = None, *_: Any) -> Any:
    name = rust_string(domain)
    if not isinstance(meta, ConnectionMeta):
        raise KumoError("error converting Lua value to userdata ConnectionMetaData")
    dns_ = Lookups(_resolver(state, _opt_resolver(resolver)))
    who = None if sender is None else rust_string(sender)
    ip = _socket_ip(meta.get_meta("received_from"))
    ehlo = _meta_string(meta.get_meta("ehlo_domain")) if who is not None else name
    host = _meta_string(meta.get_meta("hostname"))
    result = check_host(dns_, domain=name, sender=who, client_ip=ip, ehlo_domain=ehlo,
                        relaying_host_name=host)
    return _output(state, result, who, ehlo)


def register(kumo: Namespace) -> None:
    note = "evaluated against kumopy's fake resolver, with kumo-spf's rules and wording"
    kumo.function("spf.check_msg", _check_msg, notes=note)
    kumo.function("spf.check_host", _check_host, notes=note)
