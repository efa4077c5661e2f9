"""kumo.spf, kumo.dmarc and msg:arc_verify against the fake resolver."""

from __future__ import annotations

import base64
import ipaddress
import threading

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kumopy import Policy, PolicyError
from kumopy._kumo import dmarc as dm
from kumopy._kumo import spf
from kumopy._kumo.dns import configure_test_resolver
from kumopy._message._arc import arc_verify

ZONE = """
$ORIGIN example.com.
@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all"
_spf 300 IN TXT "v=spf1 a:mail.example.com ~all"
mail 300 IN A 198.51.100.7
mx1 300 IN A 203.0.113.5
@ 300 IN MX 10 mx1.example.com.
macro 300 IN TXT "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"
1.2.0.192.strong._spf.macro 300 IN A 127.0.0.2
mxonly 300 IN TXT "v=spf1 mx:example.com/24 -all"
redir 300 IN TXT "v=spf1 redirect=example.com"
loop 300 IN TXT "v=spf1 include:loop.example.com -all"
bad 300 IN TXT "v=spf1 ip4:999.1.1.1 -all"
exp 300 IN TXT "v=spf1 -all exp=why.example.com"
why 300 IN TXT "%{i} is not one of %{d}'s designated mail servers"
_dmarc 300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=r"
"""

OTHER = """
$ORIGIN example.net.
_dmarc 300 IN TXT "v=DMARC1; p=quarantine; sp=none"
"""


def _lookups(*zones: str) -> spf.Lookups:
    policy = Policy.__new__(Policy)
    policy._services = {}
    policy._services_lock = threading.RLock()
    configure_test_resolver(policy, list(zones))
    from kumopy._kumo.dns import _resolver

    return spf.Lookups(_resolver(policy))


def _check(domain: str, ip: str, sender: str | None = None) -> tuple[str, str]:
    r = spf.check_host(_lookups(ZONE), domain=domain, sender=sender,
                       client_ip=ipaddress.ip_address(ip), ehlo_domain=None,
                       relaying_host_name=None)
    return r.disposition, r.context


def test_spf_mechanisms_and_wording() -> None:
    assert _check("example.com", "192.0.2.9") == ("pass", "matched 'ip4:192.0.2.0/24' directive")
    assert _check("example.com", "198.51.100.7") == ("pass", "matched 'include:_spf.example.com' directive")
    assert _check("example.com", "10.0.0.1") == ("fail", "matched '-all' directive")
    assert _check("redir.example.com", "10.0.0.1") == ("fail", "matched '-all' directive")
    assert _check("mxonly.example.com", "203.0.113.200") == ("pass", "matched 'mx:example.com/24' directive")
    assert _check("macro.example.com", "192.0.2.1", "strong@macro.example.com") == (
        "pass", "matched 'exists:%ir . %l+-1r ._spf. %d' directive")  # kumod's rendering
    assert _check("nothing.example.org", "10.0.0.1") == ("none", "no SPF records found for nothing.example.org")
    assert _check("bad.example.com", "10.0.0.1")[0] == "permerror"
    assert _check("loop.example.com", "10.0.0.1") == (
        "permerror", "permerror while evaluating include:loop.example.com: " * 11
        + "DNS lookup limits exceeded")
    assert _check("exp.example.com", "10.0.0.1") == (
        "fail", "10.0.0.1 is not one of exp.example.com's designated mail servers")


def test_spf_record_parsing() -> None:
    with pytest.raises(ValueError, match="invalid token"):
        spf.parse_record("v=spf1 \u200binclude:x.example")
    with pytest.raises(ValueError, match="directive after modifier"):
        spf.parse_record("v=spf1 redirect=x.example -all")
    assert spf.parse_record("v=spf1 unknown=thing -all").directives[0].text == "-all"


SPF_POLICY = """
local kumo = require 'kumo'
kumo.on('t', function(ip, sender)
  local msg = kumo.make_message(sender, 'r@example.net', 'From: x@example.com\\r\\n\\r\\nhi')
  msg:set_meta('received_from', ip .. ':25')
  msg:set_meta('ehlo_domain', 'helo.example.com')
  return kumo.spf.check_msg(msg)
end)
"""


def test_spf_check_msg_from_lua(load) -> None:
    p = load(SPF_POLICY, dns_zones=[ZONE])
    out = p.call("t", "192.0.2.4", "a@example.com")
    assert out == {"disposition": "pass", "result": {
        "method": "spf", "result": "pass", "reason": "matched 'ip4:192.0.2.0/24' directive",
        "props": {"smtp.helo": "helo.example.com", "smtp.mailfrom": "a@example.com"}}}


def _dmarc(from_domain: str, dkim_d: str | None, spf_result: str, mailfrom: str) -> dm.Outcome:
    dkim_results = [] if dkim_d is None else [
        {"method": "dkim", "result": "pass", "props": {"header.d": dkim_d}}]
    cx = dm.DmarcInput(from_domain, mailfrom.rpartition("@")[2], dkim_results,
                       {"method": "spf", "result": spf_result, "props": {"smtp.mailfrom": mailfrom}})
    return dm.check(cx, _lookups(ZONE, OTHER))


def test_dmarc_alignment_and_policies() -> None:
    ok = _dmarc("example.com", "example.com", "fail", "a@elsewhere.org")
    assert (ok.disposition, ok.context) == ("Pass", "Success")
    assert ok.props["policy.p"] == "reject" and ok.props["policy.adkim"] == "s"
    strict = _dmarc("example.com", "sub.example.com", "fail", "a@elsewhere.org")
    assert (strict.disposition, strict.context) == ("Reject", "DMARC: DKIM strict check failed")
    relaxed_spf = _dmarc("example.com", None, "pass", "a@bounce.example.com")
    assert relaxed_spf.disposition == "Pass"
    spf_bad = _dmarc("example.com", None, "pass", "a@elsewhere.org")
    assert (spf_bad.disposition, spf_bad.context) == ("Reject", "DMARC: SPF relaxed check failed")
    # a subdomain falls back to the organizational domain and its sp=
    sub = _dmarc("mail.example.net", None, "fail", "a@x.org")
    assert (sub.disposition, sub.context) == ("None", "No aligned DKIM or SPF")
    assert _dmarc("example.org", None, "fail", "a@x.org").context == "no DMARC records found for example.org"
    assert _dmarc("a.example.org", None, "fail", "a@x.org").disposition == "PermError"


def test_dmarc_record_parsing() -> None:
    assert dm.parse_record("v=DMARC1; p=none; rua=mailto:a@b.example!10m; pct=25").pct == 25
    for bad in ("v=DMARC1; adkim=r", "p=none", "v=DMARC1; p=maybe", "v=DMARC1; p=none; zz=1"):
        with pytest.raises(ValueError):
            dm.parse_record(bad)


DMARC_POLICY = """
local kumo = require 'kumo'
kumo.on('t', function(from, reporting)
  local msg = kumo.make_message('a@example.com', 'r@example.net',
                                'From: ' .. from .. '\\r\\n\\r\\nhi')
  local spf = { method = 'spf', result = 'fail', props = {} }
  return kumo.dmarc.check_msg(msg, {}, nil, spf, reporting)
end)
"""


def test_dmarc_check_msg_from_lua(load) -> None:
    p = load(DMARC_POLICY, dns_zones=[ZONE])
    out = p.call("t", "x@example.com", False)
    assert out["disposition"] == "Reject"
    assert out["result"]["result"] == "fail"
    assert out["result"]["props"]["policy.published-domain-policy"] == "reject"
    two = p.call("t", "a@example.com, b@example.com", False)
    assert two["result"] == {"method": "dmarc", "result": "None",
                             "reason": "'From:' header missing domain", "props": {}}
    with pytest.raises(PolicyError, match="400 DMARC reporting missing required fields"):
        p.call("t", "x@example.com", True)
    # use_reporting is a plain bool argument: mlua reads nil as false and
    # any other value as true, never an error
    assert p.call("t", "x@example.com", None)["disposition"] == "Reject"
    with pytest.raises(PolicyError, match="400 DMARC reporting missing required fields"):
        p.call("t", "x@example.com", "no")


def _keypair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def _seal(data: bytes, pem: bytes, cv_result: str) -> bytes:
    # dkimpy takes the chain status from the (single) Authentication-Results header
    data = data.replace(b"Authentication-Results: mx.example.org; arc=none\r\n", b"")
    ar = f"Authentication-Results: mx.example.org; arc={cv_result}\r\n".encode()
    headers = dkim.arc_sign(ar + data, b"s1", b"example.org", pem, b"mx.example.org",
                            include_headers=[b"from", b"to", b"subject"])
    return b"".join(headers) + ar + data


def test_arc_chain(tmp_path) -> None:
    pem, txt = _keypair()
    records = {"s1._domainkey.example.org": [txt]}

    def lookup(name: str) -> list[str] | None:
        return records.get(name.rstrip("."))

    msg = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
    assert arc_verify(msg, lookup) == {"method": "arc", "method_version": None,
                                       "result": "none", "reason": None, "props": {}}
    once = _seal(msg, pem, "none")
    assert arc_verify(once, lookup)["result"] == "pass"
    assert arc_verify(once, lookup)["props"] == {"header.oldest-pass": "0"}
    twice = _seal(once, pem, "pass")
    assert arc_verify(twice, lookup)["result"] == "pass"
    tampered = twice.replace(b"Subject: hi", b"Subject: ho")
    bad = arc_verify(tampered, lookup)
    assert bad["result"] == "fail"
    assert bad["reason"] == "The ARC-Message-Signature for instance 1 failed to validate"
    assert bad["props"] == {"header.oldest-pass": "0"}
    # drop instance 1's seal: an incomplete set
    lines = twice.split(b"\r\n")
    partial = b"\r\n".join(line for line in lines if not (
        line.startswith(b"ARC-Seal: i=1") or line.startswith(b"ARC-Seal:") and b"i=1;" in line))
    assert arc_verify(partial, lookup)["result"] == "fail"


def test_arc_verify_from_lua(load) -> None:
    p = load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function()
          local msg = kumo.make_message('a@example.com', 'b@example.net',
            'ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=x; s=y; b=abc\\r\\nFrom: a@example.com\\r\\n\\r\\nhi')
          return msg:arc_verify()
        end)
        """,
        dns_zones=[ZONE],
    )
    out = p.call("t")
    assert out["result"] == "fail"
    assert out["reason"] == "The ARC Set with instance 2 is missing some of its constituent headers"


def test_arc_seal_from_lua_validates_with_dkimpy_too(load, tmp_path) -> None:
    pem, txt = _keypair()
    key = tmp_path / "key.pem"
    key.write_bytes(pem)
    chunks = " ".join(f'"{txt[i:i + 200]}"' for i in range(0, len(txt), 200))
    zone = f"$ORIGIN example.org.\ns1._domainkey 300 IN TXT {chunks}\n"
    p = load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function(key, data, times)
          local signer = kumo.dkim.rsa_sha256_signer {
            domain = 'example.org', selector = 's1', headers = { 'From', 'To', 'Subject' }, key = key }
          local msg = kumo.make_message('a@example.com', 'b@example.net', data)
          for i = 1, times do
            msg:arc_seal(signer, 'mx.example.org', {
              { method = 'spf', result = 'pass', props = { ['smtp.mailfrom'] = 'a@example.com' } } })
          end
          return msg:get_data(), msg:arc_verify()
        end)
        """,
        dns_zones=[zone],
    )
    data = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
    sealed, result = p.dispatch("t", str(key), data, 1).values
    assert result["result"] == "pass"
    raw = sealed.encode()
    assert raw.startswith(b"ARC-Authentication-Results: i=1; mx.example.org;\r\n\tspf=pass")
    assert b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.org; s=s1; t=" in raw
    dnsfunc = lambda name, timeout=5: txt.encode()  # noqa: E731
    cv, _, reason = dkim.arc_verify(raw, dnsfunc=dnsfunc)
    assert cv == b"pass", reason
    sealed2, result2 = p.dispatch("t", str(key), data, 2).values
    assert result2["result"] == "pass"
    assert b"ARC-Seal: i=2; cv=pass;" in sealed2.encode()
    assert dkim.arc_verify(sealed2.encode(), dnsfunc=dnsfunc)[0] == b"pass"
    # a broken chain is left alone
    broken = "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=x; s=y; b=abc\r\n" + data
    unchanged, result3 = p.dispatch("t", str(key), broken, 1).values
    assert unchanged == broken and result3["result"] == "fail"


# RFC 7208 appendix A's example zones, and what its examples evaluate to
RFC_COM = """$ORIGIN example.com.
@       600 MX  10 mail-a
            MX  20 mail-b
            A   192.0.2.10
            A   192.0.2.11
amy         A   192.0.2.65
bob         A   192.0.2.66
mail-a      A   192.0.2.129
mail-b      A   192.0.2.130
www         CNAME example.com.
"""
RFC_ZONES = [
    "$ORIGIN example.org.\n@ 600 MX 10 mail-c\nmail-c A 192.0.2.140\n",
    "$ORIGIN 2.0.192.in-addr.arpa.\n10 600 PTR example.com.\n11 PTR example.com.\n"
    "65 PTR amy.example.com.\n66 PTR bob.example.com.\n129 PTR mail-a.example.com.\n"
    "130 PTR mail-b.example.com.\n140 PTR mail-c.example.org.\n",
    "$ORIGIN 0.0.10.in-addr.arpa.\n4 600 PTR bob.example.com.\n",
]


@pytest.mark.parametrize(("record", "ip", "want"), [
    ("v=spf1 +all", "127.0.0.1", ("pass", "matched 'all' directive")),
    ("v=spf1 a -all", "192.0.2.10", ("pass", "matched 'a' directive")),
    ("v=spf1 a:example.org -all", "192.0.2.10", ("fail", "matched '-all' directive")),
    ("v=spf1 mx -all", "192.0.2.129", ("pass", "matched 'mx' directive")),
    ("v=spf1 mx:example.org -all", "192.0.2.140", ("pass", "matched 'mx:example.org' directive")),
    ("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.131", ("pass", "matched 'mx/30' directive")),
    ("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.141",
     ("pass", "matched 'mx:example.org/30' directive")),
    ("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65", ("fail", "matched '-all' directive")),
    ("v=spf1 ip4:192.0.2.128 -all", "192.0.2.128", ("pass", "matched 'ip4:192.0.2.128/32' directive")),
    ("v=spf1 ip6:2a01:111:f400:: -all", "2a01:111:f400::",
     ("pass", "matched 'ip6:2a01:111:f400::/128' directive")),
    ("v=spf1 ptr -all", "192.0.2.65", ("pass", "matched 'ptr' directive")),
    ("v=spf1 ptr -all", "192.0.2.140", ("fail", "matched '-all' directive")),
    ("v=spf1 ptr -all", "10.0.0.4", ("fail", "matched '-all' directive")),
])
def test_rfc7208_appendix_a(record: str, ip: str, want: tuple[str, str]) -> None:
    zone = RFC_COM.replace("$ORIGIN example.com.\n", f'$ORIGIN example.com.\n@ 600 TXT "{record}"\n')
    query = spf.SpfQuery("sender@example.com", "example.com", ipaddress.ip_address(ip))
    result = query.check(_lookups(zone, *RFC_ZONES))
    assert (result.disposition, result.context) == want


def test_arc_chain_of_five_seals_with_over_signing(load, tmp_path) -> None:
    pem, txt = _keypair()
    key = tmp_path / "key.pem"
    key.write_bytes(pem)
    chunks = " ".join(f'"{txt[i:i + 200]}"' for i in range(0, len(txt), 200))
    p = load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function(key)
          local signer = kumo.dkim.rsa_sha256_signer { domain = 'example.com', selector = 's20',
            headers = { 'From', 'Subject' }, key = key, over_sign = true }
          local msg = kumo.make_message('a@example.com', 'b@example.net',
                                        'Subject: hello\\r\\n\\r\\nHello\\r\\n')
          local seen = {}
          for i = 1, 5 do
            local r = msg:arc_verify()
            seen[#seen + 1] = r.result
            msg:arc_seal(signer, 'localhost', { r })
          end
          seen[#seen + 1] = msg:arc_verify().result
          return seen, msg:get_data()
        end)
        """,
        dns_zones=[f"$ORIGIN example.com.\ns20._domainkey 300 IN TXT {chunks}\n"],
    )
    seen, data = p.dispatch("t", str(key)).values
    assert seen == ["none", "pass", "pass", "pass", "pass", "pass"]
    assert dkim.arc_verify(data.encode(), dnsfunc=lambda n, timeout=5: txt.encode())[0] == b"pass"
