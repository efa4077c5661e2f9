"""`kumo.dmarc.check_msg(msg, dkim_results, resolver, spf_result,
use_reporting [, reporting_info])` (kumod: crates/kumo-dmarc,
crates/kumod/src/dmarc.rs): DMARC (RFC 7489) against kumopy's fake
resolver.

The policy record is looked up at `_dmarc.<From domain>`, then at the
organizational domain (Public Suffix List, from the `publicsuffixlist`
package); DKIM and SPF alignment (relaxed or strict) decide; `pct`
sampling is random, as in kumod.  The result is `{disposition =
'Pass'|'None'|'Quarantine'|'Reject'|'TempError'|'PermError', result =
AuthenticationResult}` with kumod's reasons and `policy.*` props.  kumod
appends failure reports to /var/log/kumomta/dmarc.log when
`use_reporting` is set; kumopy writes no report (it checks the arguments
the same way).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._message import Message
from .._message._auth import AuthResultError, check_results
from ._args import bool_arg
from ._lib import rust_string
from .dns import _resolver
from .psl import normalize_domain, registrable_domain
from .smtp import RejectError, _raise
from .spf import DnsFailure, Lookups

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["DmarcInput", "check", "register"]


def organizational_domain(domain: str) -> str | None:
    return registrable_domain(domain)


def _relaxed(a: str, b: str) -> bool:
    x = organizational_domain(normalize_domain(a))
    y = organizational_domain(normalize_domain(b))
    return x is not None and y is not None and x == y


def _strict(a: str, b: str) -> bool:
    return normalize_domain(a) == normalize_domain(b)


@dataclass
class _Record:
    tags: dict[str, str] = field(default_factory=dict)
    policy: str = "None"
    subdomain_policy: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100


_POLICIES = {"none": "None", "quarantine": "Quarantine", "reject": "Reject"}


def parse_record(text: str) -> _Record:
    rec = _Record()
    version = has_policy = False
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"invalid part {part!r}")
        key, value = key.strip(), value.strip()
        if not version:
            if (key, value) == ("v", "DMARC1"):
                version = True
                continue
            raise ValueError(f"invalid key {key!r}")
        rec.tags[key] = value
        if key in ("p", "sp"):
            if value not in _POLICIES:
                raise ValueError(f"invalid policy {value!r}")
            if key == "p":
                rec.policy, has_policy = _POLICIES[value], True
            else:
                rec.subdomain_policy = _POLICIES[value]
        elif key in ("adkim", "aspf"):
            if value not in ("r", "s"):
                raise ValueError(f"invalid mode {value!r}")
            setattr(rec, key, value)
        elif key == "fo":
            if any(p.strip() not in ("0", "1", "d", "s") for p in value.split(":")):
                raise ValueError(f"invalid report failure {value!r}")
        elif key == "pct":
            if not value.isdigit() or int(value) > 255:
                raise ValueError(f"invalid value {value!r} for pct")
            rec.pct = int(value)
        elif key == "rf":
            if value != "afrf":
                raise ValueError(f"invalid format {value!r}")
        elif key == "ri":
            if not value.isdigit() or int(value) > 2**32 - 1:
                raise ValueError(f"invalid value {value!r} for ri")
        elif key in ("rua", "ruf"):
            for addr in value.split(","):
                _feedback_address(addr)
        else:
            raise ValueError(f"invalid key {key!r}")
    if not has_policy:
        raise ValueError(f"missing policy in {text!r}")
    return rec


def _feedback_address(text: str) -> None:
    s = text.strip()
    if not s:
        raise ValueError("empty feedback address")
    uri, bang, size = s.rpartition("!")
    if not bang:
        return
    size = size.strip()
    if not size:
        raise ValueError(f"empty size in {s!r}")
    if size[-1] in "kmgt":
        size = size[:-1]
    if not size.isdigit():
        raise ValueError(f"invalid size in {s!r}")


@dataclass
class DmarcInput:
    from_domain: str
    mail_from_domain: str | None
    dkim_results: list[dict[str, Any]]
    spf_result: dict[str, Any]


@dataclass
class Outcome:
    disposition: str
    context: str
    props: dict[str, str] = field(default_factory=dict)


def _fetch(name: str, dns_: Lookups) -> list[_Record] | str:
    """The parsed records at `name`, or "temp"/"perm"."""
    try:
        texts, nxdomain = dns_.txt(name)
    except DnsFailure:
        return "temp"
    if not texts or nxdomain:
        return "perm"
    records = []
    for t in texts:
        if t.startswith("v=DMARC1;"):
            try:
                records.append(parse_record(t))
            except ValueError:
                continue
    return records or "perm"


def _is_pass(result: dict[str, Any]) -> bool:
    return str(result.get("result", "")).lower() == "pass"


def _spf_domain(props: dict[str, Any], fallback: str | None) -> str | None:
    mailfrom = props.get("smtp.mailfrom")
    if mailfrom:
        return str(mailfrom).rpartition("@")[2]
    helo = props.get("smtp.helo")
    if helo:
        return str(helo)
    return fallback


def _evaluate(rec: _Record, cx: DmarcInput, organizational: bool) -> Outcome:
    if random.randrange(256) % 100 >= rec.pct:
        return Outcome("Pass", f"sampled_out due to pct={rec.pct}")
    dkim_ok = spf_ok = False
    dkim_errors: list[str] = []
    spf_errors: list[str] = []
    align = _relaxed if rec.adkim == "r" else _strict
    mode = "relaxed" if rec.adkim == "r" else "strict"
    for dkim in cx.dkim_results:
        if not _is_pass(dkim):
            continue
        domain = (dkim.get("props") or {}).get("header.d")
        if domain is None:
            dkim_errors.append("DMARC: DKIM signature missing 'd=' tag")
            continue
        if align(cx.from_domain, str(domain)):
            dkim_errors.clear()
            dkim_ok = True
            break
        dkim_errors.append(f"DMARC: DKIM {mode} check failed")
    if _is_pass(cx.spf_result):
        domain = _spf_domain(cx.spf_result.get("props") or {}, cx.mail_from_domain)
        if domain is not None:
            if rec.aspf == "r":
                spf_ok = _relaxed(cx.from_domain, domain)
                if not spf_ok:
                    spf_errors.append("DMARC: SPF relaxed check failed")
            else:
                spf_ok = _strict(cx.from_domain, domain)
                if not spf_ok:
                    spf_errors.append("DMARC: SPF strict check failed")
    if dkim_ok or spf_ok:
        return Outcome("Pass", "Success")
    policy = rec.subdomain_policy if organizational and rec.subdomain_policy else rec.policy
    errors = spf_errors or dkim_errors
    return Outcome(policy, errors[0] if errors else "No aligned DKIM or SPF")


def _with_tags(outcome: Outcome, rec: _Record) -> Outcome:
    outcome.props.update({f"policy.{k}": v for k, v in sorted(rec.tags.items())})
    return outcome


def check(cx: DmarcInput, dns_: Lookups) -> Outcome:
    """kumod's DmarcContext::check."""
    name = f"_dmarc.{cx.from_domain}"
    found = _fetch(name, dns_)
    if isinstance(found, list):
        return _with_tags(_evaluate(found[0], cx, False), found[0])
    normalized = normalize_domain(cx.from_domain)
    org = organizational_domain(normalized)
    if org is not None:
        if org != normalized:
            address = f"_dmarc.{org}"
            again = _fetch(address, dns_)
            if again == "temp":
                return Outcome("TempError", f"DNS records could not be resolved for {address}")
            if again == "perm":
                return Outcome("PermError", f"no DMARC records found for {address}")
            assert isinstance(again, list)
            return _with_tags(_evaluate(again[0], cx, True), again[0])
        return Outcome("TempError" if found == "temp" else "PermError",
                       f"no DMARC records found for {cx.from_domain}")
    return Outcome("None", f"no DMARC records found for {cx.from_domain}")


def _output(state: LuaState, disposition: str, result: str, reason: str,
            props: dict[str, str]) -> Any:
    return state.to_lua({
        "disposition": disposition,
        "result": {"method": "dmarc", "method_version": None, "result": result,
                   "reason": reason, "props": dict(sorted(props.items()))},
    })


def _results(state: LuaState, value: Any, single: bool) -> Any:
    data = state.to_python(value, serialize=True)
    try:
        checked = check_results([data] if single else data)
    except AuthResultError as e:
        raise KumoError(str(e)) from None
    return checked[0] if single else checked


def _check_msg(state: LuaState, msg: Any = None, dkim_results: Any = None, resolver: Any = None,
               spf_result: Any = None, use_reporting: Any = None, reporting_info: Any = None,
               *_: Any) -> Any:
    if not isinstance(msg, Message):
        raise KumoError("error converting Lua value to userdata Message")
    dkim = _results(state, dkim_results, single=False)
    name = None if resolver is None else rust_string(resolver)
    spf = _results(state, spf_result, single=True)
    use_reporting = bool_arg(use_reporting)
    dns_ = Lookups(_resolver(state, name))
    mail_from = msg.sender.domain or None
    try:
        header = msg.address_header("From")
    except Exception:
        header = None
    if header is None:
        return _output(state, "None", "None", "Only single 'From:' header supported", {})
    try:
        from_domain = header.single().domain
    except Exception:
        from_domain = None
    if not from_domain:
        return _output(state, "None", "None", "'From:' header missing domain", {})
    if use_reporting and reporting_info is None:
        return _raise(RejectError(400, "DMARC reporting missing required fields", "If421"))
    outcome = check(DmarcInput(from_domain, mail_from, dkim, spf), dns_)
    if outcome.disposition in ("Quarantine", "Reject"):
        props = dict(outcome.props)
        props["policy.published-domain-policy"] = outcome.disposition.lower()
        return _output(state, outcome.disposition, "fail", outcome.context, props)
    return _output(state, outcome.disposition, outcome.disposition.lower(), outcome.context,
                   outcome.props)


def register(kumo: Namespace) -> None:
    kumo.function(
        "dmarc.check_msg",
        _check_msg,
        notes="against kumopy's fake resolver with kumo-dmarc's rules; no failure reports written",
    )
