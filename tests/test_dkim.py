"""kumo.dkim signers and msg:dkim_sign (kumod: crates/message dkim.rs,
crates/dkim).  Keys are generated per test in a tmp dir; signatures are
checked with dkimpy's verifier (DNS stubbed) and, independently, by
rebuilding the signed data for simple/simple canonicalization and
verifying the raw signature with `openssl dgst` (RSA) or PyNaCl
(Ed25519)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import dkim
import nacl.encoding
import nacl.signing
import pytest

from kumopy import ConnectionMeta, Message, PolicyError
from kumopy._kumo.dkim import load_private_key

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")

DATA = (
    b"From: Joe <joe@example.com>\r\n"
    b"To: ann@dest.example\r\n"
    b"Subject: hello\r\n"
    b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"\r\n"
    b"Hello there,\r\n"
    b"  spaced   line  \r\n"
    b"\r\n"
    b"\r\n"
)


class Keys:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.rsa_pub_b64: str | None = None
        seed = nacl.signing.SigningKey.generate()
        der = bytes.fromhex("302e020100300506032b657004220420") + bytes(seed)
        pem = (
            b"-----BEGIN PRIVATE KEY-----\n"
            + base64.encodebytes(der)
            + b"-----END PRIVATE KEY-----\n"
        )
        (root / "ed.pem").write_bytes(pem)
        self.ed_verify = seed.verify_key
        self.ed_pub_b64 = base64.b64encode(bytes(seed.verify_key)).decode()
        if OPENSSL:
            subprocess.run(
                [OPENSSL, "genrsa", "-out", str(root / "rsa.pem"), "2048"],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    OPENSSL,
                    "rsa",
                    "-in",
                    str(root / "rsa.pem"),
                    "-pubout",
                    "-out",
                    str(root / "rsa.pub"),
                ],
                check=True,
                capture_output=True,
            )
            pub = (root / "rsa.pub").read_text()
            self.rsa_pub_b64 = "".join(line for line in pub.splitlines() if "-----" not in line)

    def dns(self, name: bytes, timeout: int = 5) -> bytes | None:
        if name.startswith(b"rsa._domainkey.") and self.rsa_pub_b64:
            return f"v=DKIM1; k=rsa; p={self.rsa_pub_b64}".encode()
        if name.startswith(b"ed._domainkey."):
            return f"v=DKIM1; k=ed25519; p={self.ed_pub_b64}".encode()
        return None


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("dkim-keys"))


@pytest.fixture
def sign(load: Any, keys: Keys) -> Any:
    """sign(lua_signer_expr, data=DATA) -> the signed Message; the key
    directory is reachable as /etc/kumo/dkim through the path map."""

    def _sign(signer: str, data: bytes = DATA) -> Message:
        policy = load(
            "local kumo = require 'kumo'\n"
            "kumo.on('smtp_server_message_received', function(msg)\n"
            f"  local signer = {signer}\n"
            "  msg:dkim_sign(signer)\n"
            "end)\n",
            path_map={"/etc/kumo/dkim": str(keys.root)},
        )
        msg = Message(data, sender="joe@example.com", recipients="ann@dest.example")
        policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())
        return msg

    return _sign


def rsa_signer(**extra: str) -> str:
    fields = {
        "domain": "'example.com'",
        "selector": "'rsa'",
        "headers": "{'From', 'To', 'Subject'}",
        "key": "'/etc/kumo/dkim/rsa.pem'",
        **extra,
    }
    return (
        "kumo.dkim.rsa_sha256_signer {" + ", ".join(f"{k} = {v}" for k, v in fields.items()) + "}"
    )


def ed_signer(**extra: str) -> str:
    fields = {
        "domain": "'example.com'",
        "selector": "'ed'",
        "headers": "{'From', 'To', 'Subject'}",
        "key": "'/etc/kumo/dkim/ed.pem'",
        **extra,
    }
    return "kumo.dkim.ed25519_signer {" + ", ".join(f"{k} = {v}" for k, v in fields.items()) + "}"


def tags(msg: Message) -> list[tuple[str, str]]:
    raw = msg.first_header_raw("DKIM-Signature")
    assert raw is not None
    text = re.sub(r"\s+", "", raw.decode())
    return [tuple(t.split("=", 1)) for t in text.split(";") if t]  # type: ignore[misc]


def dkimpy_verifies(msg: Message, keys: Keys) -> bool:
    return bool(dkim.DKIM(msg.data).verify(dnsfunc=keys.dns))


# -- signatures verify -----------------------------------------------------------


@needs_openssl
def test_rsa_signature_verifies_with_dkimpy(sign: Any, keys: Keys) -> None:
    msg = sign(rsa_signer())
    assert msg.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa;")
    assert msg.data.endswith(DATA)
    assert [k for k, _ in tags(msg)] == ["v", "a", "d", "s", "c", "bh", "h", "t", "b"]
    assert dict(tags(msg))["c"] == "relaxed/relaxed"
    assert dict(tags(msg))["h"] == "from:to:subject"
    assert dkimpy_verifies(msg, keys)


def test_ed25519_signature_verifies_with_dkimpy(sign: Any, keys: Keys) -> None:
    msg = sign(ed_signer())
    assert dict(tags(msg))["a"] == "ed25519-sha256"
    assert dkimpy_verifies(msg, keys)


def test_tampering_breaks_the_signature(sign: Any, keys: Keys) -> None:
    msg = sign(ed_signer())
    assert dkimpy_verifies(msg, keys)
    msg.set_data(msg.data.replace(b"Subject: hello", b"Subject: HELLO"))
    assert not dkimpy_verifies(msg, keys)


def test_key_type_picks_the_algorithm(sign: Any, keys: Keys) -> None:
    # kumod: both constructors are the same function; the key decides
    msg = sign(rsa_signer(key="'/etc/kumo/dkim/ed.pem'", selector="'ed'"))
    assert dict(tags(msg))["a"] == "ed25519-sha256"
    assert dkimpy_verifies(msg, keys)


def test_inline_key_data_and_simple_canonicalization(sign: Any, keys: Keys) -> None:
    pem = (keys.root / "ed.pem").read_text().replace("\n", "\\n")
    msg = sign(
        ed_signer(
            key=f"{{key_data = '{pem}'}}",
            header_canonicalization="'Simple'",
            body_canonicalization="'Simple'",
        )
    )
    assert dict(tags(msg))["c"] == "simple/simple"
    assert dkimpy_verifies(msg, keys)


def _simple_signed_data(msg: Message) -> tuple[bytes, bytes]:
    """(data hashed for b=, signature) for a simple/simple signature over
    From, To, Subject, rebuilt by hand from RFC 6376 section 3.7."""
    data = msg.data
    sig_end = re.search(rb"\r\n(?![ \t])", data)
    assert sig_end is not None
    sig_header = data[: sig_end.end()]
    rest = data[sig_end.end() :]
    head, _, body = rest.partition(b"\r\n\r\n")
    lines = re.split(rb"\r\n(?![ \t])", head)
    by_name = {ln.split(b":", 1)[0].lower(): ln + b"\r\n" for ln in lines}
    signed = b"".join(by_name[h] for h in (b"from", b"to", b"subject"))
    b_value = re.search(rb"b=([A-Za-z0-9+/=\s]+)$", sig_header.rstrip(b"\r\n"))
    assert b_value is not None
    signature = base64.b64decode(re.sub(rb"\s+", b"", b_value.group(1)))
    emptied = sig_header[: b_value.start(1)] + sig_header[b_value.end(1) :]
    signed += emptied.rstrip(b"\r\n")
    # body hash, simple canonicalization: trailing empty lines reduced to one CRLF
    canon_body = body.rstrip(b"\r\n") + b"\r\n"
    bh = base64.b64encode(hashlib.sha256(canon_body).digest()).decode()
    assert dict(tags(msg))["bh"] == bh
    return signed, signature


def test_ed25519_signature_checked_by_hand(sign: Any, keys: Keys) -> None:
    msg = sign(ed_signer(header_canonicalization="'Simple'", body_canonicalization="'Simple'"))
    signed, signature = _simple_signed_data(msg)
    keys.ed_verify.verify(hashlib.sha256(signed).digest(), signature)  # raises if bad
    with pytest.raises(nacl.exceptions.BadSignatureError):
        keys.ed_verify.verify(hashlib.sha256(signed + b"x").digest(), signature)


@needs_openssl
def test_rsa_signature_checked_with_openssl(sign: Any, keys: Keys, tmp_path: Path) -> None:
    assert OPENSSL is not None
    msg = sign(rsa_signer(header_canonicalization="'Simple'", body_canonicalization="'Simple'"))
    signed, signature = _simple_signed_data(msg)
    (tmp_path / "data").write_bytes(signed)
    (tmp_path / "sig").write_bytes(signature)
    ok = subprocess.run(
        [
            OPENSSL,
            "dgst",
            "-sha256",
            "-verify",
            str(keys.root / "rsa.pub"),
            "-signature",
            str(tmp_path / "sig"),
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "data").write_bytes(signed.replace(b"hello", b"HELLO"))
    bad = subprocess.run(
        [
            OPENSSL,
            "dgst",
            "-sha256",
            "-verify",
            str(keys.root / "rsa.pub"),
            "-signature",
            str(tmp_path / "sig"),
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0


def test_over_sign_and_expiration(sign: Any, keys: Keys) -> None:
    msg = sign(
        ed_signer(
            over_sign="true", expiration="3600", headers="{'From', 'To', 'Subject', 'Reply-To'}"
        )
    )
    t = dict(tags(msg))
    assert t["h"] == "from:from:to:to:subject:subject:reply-to"
    assert int(t["x"]) - int(t["t"]) == 3600
    assert dkimpy_verifies(msg, keys)


# -- parameter and key errors ---------------------------------------------------


@pytest.mark.parametrize(
    ("signer", "error"),
    [
        (
            "kumo.dkim.ed25519_signer {selector='s', headers={'From'}, key='/k'}",
            "deserialize error: missing field `domain`, while processing",
        ),
        (
            "kumo.dkim.ed25519_signer {domain='d', selector='s', headers={'From'}}",
            "missing field `key`",
        ),
        (
            ed_signer(header_canonicalization="'relaxed'"),
            "unknown variant `relaxed`, expected `Relaxed` or `Simple`",
        ),
        (ed_signer(headers="'From'"), "invalid type: string, expected table"),
        (
            ed_signer(headers="{'To', 'Subject'}"),
            "configure signed headers: failed to build object: missing From in signed headers",
        ),
        (ed_signer(atps="'x.example'"), "atps is not currently supported for RSA keys"),
        (ed_signer(body_length="true"), "body_length is not currently supported for RSA keys"),
        (
            ed_signer(key="'/etc/kumo/dkim/missing.pem'"),
            'File("/etc/kumo/dkim/missing.pem"): KeySource failed to load data from file '
            "`/etc/kumo/dkim/missing.pem`: No such file or directory",
        ),
        (ed_signer(key="{key_data = 'not a key'}"), "failed to load private key"),
        (
            ed_signer(key="{vault_mount = 'm', vault_path = 'p'}"),
            "kumopy: vault key sources are not supported",
        ),
        (ed_signer(ttl="'5 fortnights'"), "deserialize error"),
    ],
)
def test_signer_errors(sign: Any, signer: str, error: str) -> None:
    with pytest.raises(PolicyError) as info:
        sign(signer)
    assert error in str(info.value)


def test_dkim_sign_needs_a_signer(load: Any) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg) msg:dkim_sign({}) end)\n"
    )
    msg = Message(DATA, sender="", recipients="a@b.example")
    with pytest.raises(PolicyError, match="error converting Lua table to Signer"):
        policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())


def test_unknown_signer_fields_are_ignored_and_ttl_accepts_durations(sign: Any, keys: Keys) -> None:
    msg = sign(ed_signer(ttl="'5 mins'", comment="'ignored by serde'"))
    assert dkimpy_verifies(msg, keys)


def test_key_is_cached_for_its_ttl(load: Any, keys: Keys, tmp_path: Path, clock: Any) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes((keys.root / "ed.pem").read_bytes())
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg)\n"
        f"  msg:dkim_sign(kumo.dkim.ed25519_signer {{domain='example.com', selector='ed', "
        f"headers={{'From'}}, key='{key}', ttl=60}})\n"
        "end)\n"
    )
    msg = Message(DATA, sender="", recipients="a@b.example")
    policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())
    key.unlink()
    policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())  # cached
    clock.advance(61)
    with pytest.raises(PolicyError, match="KeySource failed to load data"):
        policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())


def test_set_signing_threads_only_once(load: Any) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function() kumo.dkim.set_signing_threads(4) "
        "kumo.dkim.set_signing_threads(4) end)\n"
    )
    with pytest.raises(PolicyError, match="dkimsign pool is already configured"):
        policy.dispatch("main")


def test_load_private_key_formats(keys: Keys) -> None:
    ed = load_private_key((keys.root / "ed.pem").read_bytes())
    assert ed.algorithm == "ed25519-sha256"
    pem = (keys.root / "ed.pem").read_bytes()
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert load_private_key(der) == ed
    if OPENSSL:
        rsa = load_private_key((keys.root / "rsa.pem").read_bytes())
        assert rsa.algorithm == "rsa-sha256"
    with pytest.raises(ValueError, match="failed to load private key"):
        load_private_key(b"garbage")


# -- KumoMTA's policy-extras dkim_sign helper -----------------------------------

EXTRAS = os.environ.get("KUMOMTA_POLICY_EXTRAS")


@pytest.mark.skipif(
    not EXTRAS, reason="set KUMOMTA_POLICY_EXTRAS to KumoMTA's assets/policy-extras directory"
)
@needs_openssl
def test_policy_extras_dkim_sign_helper(load: Any, keys: Keys, tmp_path: Path) -> None:
    from kumopy._kumo import catalogue

    if not catalogue()["domain_map.new"].supported:
        pytest.skip("kumo.domain_map.new is not implemented yet")
    assert EXTRAS is not None
    keydir = tmp_path / "dkim" / "example.com"
    keydir.mkdir(parents=True)
    shutil.copy(keys.root / "rsa.pem", keydir / "rsa.key")
    shutil.copy(keys.root / "ed.pem", keydir / "ed.key")
    (tmp_path / "dkim_data.toml").write_text(
        '[base]\nselector = "rsa"\nheaders = ["From", "To", "Subject"]\n'
        'additional_signatures = ["esp"]\n\n'
        '[domain."example.com"]\nover_sign = true\n\n'
        '[signature."esp"]\ndomain = "example.com"\nselector = "ed"\nalgo = "ed25519"\n'
    )
    policy = load(
        "local kumo = require 'kumo'\n"
        "local dkim_sign = require 'policy-extras.dkim_sign'\n"
        "local signer = dkim_sign:setup({'/opt/kumomta/etc/policy/dkim_data.toml'})\n"
        "kumo.on('smtp_server_message_received', function(msg) signer(msg) end)\n",
        share_dir=str(Path(EXTRAS).parent),
        path_map={
            "/opt/kumomta/etc/dkim": str(tmp_path / "dkim"),
            "/opt/kumomta/etc/policy/dkim_data.toml": str(tmp_path / "dkim_data.toml"),
        },
    )
    msg = Message(DATA, sender="joe@example.com", recipients="ann@dest.example")
    policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())
    d = dkim.DKIM(msg.data)
    assert d.verify(idx=0, dnsfunc=keys.dns) and d.verify(idx=1, dnsfunc=keys.dns)
    sigs = msg.get_all_named_header_values("DKIM-Signature")
    assert "a=ed25519-sha256" in sigs[0] and "a=rsa-sha256" in sigs[1]
    assert "h=from:from:to:to:subject:subject" in sigs[1]
    assert policy.validate().ok


# -- msg:dkim_verify and msg:add_authentication_results ---------------------------


def _zone(keys: Keys) -> str:
    lines = [
        "$ORIGIN example.com.",
        "@ 600 IN SOA ns1 hostmaster 1 7200 3600 1209600 3600",
        f'ed._domainkey 600 IN TXT "v=DKIM1; k=ed25519; p={keys.ed_pub_b64}"',
    ]
    if keys.rsa_pub_b64:
        p = "p=" + keys.rsa_pub_b64
        chunks = " ".join(f'"{p[i : i + 200]}"' for i in range(0, len(p), 200))
        lines.append(f'rsa._domainkey 600 IN TXT "v=DKIM1; k=rsa; " {chunks}')
    return "\n".join(lines) + "\n"


VERIFY_POLICY = """
local kumo = require 'kumo'
kumo.on('smtp_server_message_received', function(msg)
  local results = msg:dkim_verify()
  msg:add_authentication_results('mx.example.net', results)
  local out = {}
  for i, r in ipairs(results) do
    out[i] = r.result .. '|' .. (r.reason or '') .. '|' .. r.props['header.s']
  end
  return table.concat(out, ';')
end)
"""


def _verify(load: Any, keys: Keys, msg: Message, **options: Any) -> str:
    policy = load(VERIFY_POLICY, dns_zones=[_zone(keys)], **options)
    return str(policy.call("smtp_server_message_received", msg, ConnectionMeta()))


def test_dkim_verify_results(sign: Any, load: Any, keys: Keys) -> None:
    signed = sign(ed_signer())
    other = sign(ed_signer(selector="'nokey'"))
    nokey_header = other.data[: other.data.index(b"From:")]
    msg = Message(nokey_header + signed.data, sender="", recipients="a@b.example")
    assert _verify(load, keys, msg) == (
        "temperror|key unavailable: failed to resolve nokey._domainkey.example.com|nokey;pass||ed"
    )
    header = msg.get_first_named_header_value("Authentication-Results")
    assert header is not None and header.startswith("mx.example.net; dkim=temperror reason=")
    assert "dkim=pass header.a=ed25519-sha256 header.b=" in header


def test_dkim_verify_failures(sign: Any, load: Any, keys: Keys) -> None:
    signed = sign(ed_signer())
    body_changed = Message(signed.data + b"extra\r\n", sender="", recipients="a@b.example")
    assert _verify(load, keys, body_changed) == "permerror|body hash did not verify|ed"
    header_changed = Message(
        signed.data.replace(b"Subject: hello", b"Subject: hullo"), sender="", recipients="a@b"
    )
    assert _verify(load, keys, header_changed) == "permerror|signature did not verify|ed"
    broken = Message(
        b"DKIM-Signature: v=1; a=rsa-sha256; s=x; h=from; bh=AA==; b=AA==\r\n" + DATA,
        sender="",
        recipients="a@b",
    )
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg)\n"
        "  local r = msg:dkim_verify()[1]\n"
        "  return r.result, r.reason, #msg:dkim_verify()\n"
        "end)\n",
        dns_zones=[_zone(keys)],
    )
    got = policy.dispatch("smtp_server_message_received", broken, ConnectionMeta()).values
    assert got == ("permerror", "signature missing required tag (d)", 1)
    lone_lf = Message(signed.data.replace(b"\r\n", b"\n"), sender="", recipients="a@b")
    got = policy.dispatch("smtp_server_message_received", lone_lf, ConnectionMeta()).values
    assert got == ("permerror", "message has non-canonical line endings", 1)


def test_dkim_verify_without_a_resolver(load: Any) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg) msg:dkim_verify() end)\n"
    )
    with pytest.raises(PolicyError, match="kumopy: no DNS resolver is configured"):
        policy.dispatch(
            "smtp_server_message_received",
            Message(DATA, sender="", recipients="a@b"),
            ConnectionMeta(),
        )


def test_add_authentication_results_encoding(load: Any) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg)\n"
        "  msg:add_authentication_results('mx.example.net', {\n"
        "    { method = 'spf', method_version = 1, result = 'pass',\n"
        "      props = { ['smtp.mailfrom'] = 'joe@example.com' } },\n"
        "    { method = 'dmarc', result = 'fail', reason = 'policy says \"no\"' },\n"
        "  })\n"
        "  msg:add_authentication_results('mx.example.net', {})\n"
        "end)\n"
    )
    msg = Message(DATA, sender="", recipients="a@b")
    policy.dispatch("smtp_server_message_received", msg, ConnectionMeta())
    assert msg.data.startswith(
        b"Authentication-Results: mx.example.net; none\r\n"
        b"Authentication-Results: mx.example.net;\r\n"
        b"\tspf/1=pass\r\n"
        b"\tsmtp.mailfrom=joe@example.com;\r\n"
        b'\tdmarc=fail reason="policy says \\"no\\""\r\n'
        b"From: Joe"
    )
    bad = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_server_message_received', function(msg)\n"
        "  msg:add_authentication_results('mx', {{ method = 'spf' }})\n"
        "end)\n",
        name="bad.lua",
    )
    with pytest.raises(PolicyError, match="missing field `result`"):
        bad.dispatch("smtp_server_message_received", msg, ConnectionMeta())


def test_signing_needs_crlf_headers(sign: Any) -> None:
    with pytest.raises(PolicyError, match="Canonical CRLF line endings are required"):
        sign(ed_signer(), DATA.replace(b"\r\n", b"\n"))
