"""MIME header parameters (Content-Type, Content-Transfer-Encoding,
Content-Disposition) and Authentication-Results, parsed and written as
kumod's mailparsing does.

Parameters keep their RFC 2231 sections, charsets and encodings; `get`
joins and decodes them, `encode` writes one `;\\r\\n\\tname=value` line per
parameter (sorted by name), as a quoted string when the value is
printable ASCII, otherwise RFC 2231 percent-encoded UTF-8 cut into
sections of about 74 columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._charset import CharsetError, decode_charset
from ._rfc5322 import (
    ATTRIBUTE_CHAR,
    MIME_TOKEN,
    _Fail,
    _ocfws,
    _opt,
    _run,
    _tag,
    _take_while1,
    cfws,
    domain,
    encoded_word,
    is_qtext_byte,
    is_quoted_pair_byte,
    local_part,
    parse_with,
    quoted_string,
)

__all__ = [
    "AuthenticationResult",
    "AuthenticationResults",
    "MimeParameters",
    "encode_auth_results",
    "parse_authentication_results",
    "parse_content_transfer_encoding",
    "parse_content_type",
    "qp_encode_header",
]

NONE, RFC2231, UNQUOTED_2047, QUOTED_2047 = "none", "rfc2231", "unquoted2047", "quoted2047"
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NOT_APOS = MIME_TOKEN - {0x27}


@dataclass
class MimeParameter:
    name: bytes
    value: bytes
    section: int | None = None
    charset: bytes | None = None
    language: bytes | None = None
    encoding: str = NONE


@dataclass
class MimeParameters:
    value: bytes
    parameters: list[MimeParameter] = field(default_factory=list)

    def get(self, name: str | bytes) -> bytes | None:
        """The parameter's value, RFC 2231 sections joined and decoded."""
        key = (name.encode() if isinstance(name, str) else name).lower()
        elements = [p for p in self.parameters if p.name.lower() == key]
        if not elements:
            return None
        elements.sort(key=lambda p: (p.section is not None, p.section or 0))
        charset: str | None = None
        out = bytearray()
        for ele in elements:
            if ele.charset is not None:
                try:
                    label = ele.charset.decode("utf-8")
                    decode_charset(label, b"")
                    charset = label
                except (UnicodeDecodeError, CharsetError):
                    charset = None
            if ele.encoding == RFC2231 and charset is not None:
                raw = _percent_decode(ele.value)
                try:
                    out += decode_charset(charset, raw).encode("utf-8")
                except UnicodeDecodeError:
                    pass
            else:
                out += ele.value
        return bytes(out)

    def parameter_map(self) -> dict[bytes, bytes]:
        """name -> decoded value, first spelling of each name, sorted."""
        out: dict[bytes, bytes] = {}
        seen: set[bytes] = set()
        for p in self.parameters:
            if p.name.lower() in seen:
                continue
            value = self.get(p.name)
            if value is not None:
                seen.add(p.name.lower())
                out[p.name] = value
        return dict(sorted(out.items()))

    def remove(self, name: str | bytes) -> None:
        key = (name.encode() if isinstance(name, str) else name).lower()
        self.parameters = [p for p in self.parameters if p.name.lower() != key]

    def set(self, name: str | bytes, value: str | bytes, encoding: str = NONE) -> None:
        n = name.encode() if isinstance(name, str) else name
        v = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        self.remove(n)
        self.parameters.append(MimeParameter(n, v, encoding=encoding))

    def is_multipart(self) -> bool:
        return self.value.startswith((b"message/", b"multipart/"))

    def is_text(self) -> bool:
        return self.value.startswith(b"text/")

    def encode(self) -> bytes:
        out = bytearray(self.value)
        names: dict[bytes, str] = {}
        for p in self.parameters:
            names[p.name] = p.encoding
        for name in sorted(names):
            value = self.get(name) or b""
            stated = names[name]
            if stated == UNQUOTED_2047:
                out += b";\r\n\t" + name + b"=" + qp_encode_header(value)
            elif stated == QUOTED_2047:
                out += b";\r\n\t" + name + b'="' + qp_encode_header(value) + b'"'
            else:
                out += _encode_2231(name, value)
        return bytes(out)


def _percent_decode(value: bytes) -> bytes:
    """kumod's RFC 2231 %-decoding: a bad escape keeps `%` and the
    offending character, and ends the value there."""
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        i += 1
        if c != 0x25:
            out.append(c)
            continue
        for _ in range(2):
            if i + _ >= n:
                out += b"%"
                return bytes(out)
            if value[i + _] not in _HEX:
                out += b"%" + value[i + _ : i + _ + 1]
                return bytes(out)
        out.append(int(value[i : i + 2], 16))
        i += 2
    return bytes(out)


def _chars(value: bytes) -> list[bytes]:
    """The UTF-8 characters of value (each invalid byte on its own)."""
    out: list[bytes] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        k = 1
        if c >= 0xC2:
            want = 2 if c < 0xE0 else 3 if c < 0xF0 else 4 if c < 0xF5 else 1
            try:
                value[i : i + want].decode("utf-8")
                k = want
            except UnicodeDecodeError:
                k = 1
        out.append(value[i : i + k])
        i += k
    return out


def _encode_2231(name: bytes, value: bytes) -> bytes:
    needs_encoding = any(c not in MIME_TOKEN for c in value)
    quoted = all((is_qtext_byte(c) or is_quoted_pair_byte(c)) and c < 0x80 for c in value)
    chars = _chars(value)
    chunks: list[bytes] = []
    k = 0
    while k < len(chars):
        first = not chunks
        prefix = b'"' if quoted else b"UTF-8''" if first and needs_encoding else b""
        limit = 74 - (len(name) + 4 + len(prefix))
        enc = bytearray()
        while len(enc) < limit and k < len(chars):
            ch = chars[k]
            k += 1
            if quoted:
                if ch in (b'"', b"\\"):
                    enc += b"\\"
                enc += ch
            elif len(ch) == 1 and ch[0] in MIME_TOKEN and (not needs_encoding or ch != b"%"):
                enc += ch
            else:
                enc += b"".join(b"%%%02X" % b for b in ch)
        if quoted:
            enc += b'"'
        chunks.append(bytes(enc))
    out = bytearray()
    for n, chunk in enumerate(chunks):
        out += b";\r\n\t" + name
        if len(chunks) > 1:
            out += b"*%d" % n
        if quoted:
            out += b'="' + chunk
            continue
        if needs_encoding:
            out += b"*"
        out += b"="
        if n == 0:
            out += b"UTF-8''"
        out += chunk
    return bytes(out)


def qp_encode_header(value: bytes) -> bytes:
    """An RFC 2047 `q` encoded word (or several, folded) in UTF-8, as
    kumod writes non-ASCII header text: lines of at most 72 columns."""
    prefix, suffix = b"=?UTF-8?q?", b"?="
    limit = 72 - len(prefix) - len(suffix)
    out = bytearray(prefix)
    used = 0
    for ch in _chars(value):
        if len(ch) == 1 and 0x21 <= ch[0] <= 0x7E and ch not in (b"?", b"="):
            piece, need = ch, 1
        elif ch == b" ":
            piece, need = b"_", 1
        else:
            piece = b"".join(b"=%02X" % b for b in ch)
            need = len(piece)
        if need > limit - used:
            out += suffix + b"\r\n\t" + prefix
            used = 0
        out += piece
        used += need
    if used > 0:
        out += suffix
    return bytes(out)


# -- parsing ------------------------------------------------------------------


def _mime_token(s: bytes, i: int) -> tuple[bytes, int]:
    j = _run(s, i, MIME_TOKEN, "mime_token")
    return s[i:j], j


def _attribute(s: bytes, i: int) -> tuple[bytes, int]:
    j = _take_while1(s, i, ATTRIBUTE_CHAR, "attribute")
    return s[i:j], j


def _value(s: bytes, i: int) -> tuple[bytes, int]:
    try:
        return _mime_token(s, i)
    except _Fail:
        return quoted_string(s, i)


def _equals(s: bytes, i: int) -> int:
    i = _ocfws(s, i)
    i = _tag(s, i, b"=")
    return _ocfws(s, i)


def _section(s: bytes, i: int) -> tuple[int, int]:
    j = _tag(s, i, b"*")
    k = j
    while k < len(s) and 0x30 <= s[k] <= 0x39:
        k += 1
    if k == j:
        raise _Fail(j, "section")
    number = int(s[j:k])
    if number > 0xFFFFFFFF:
        raise _Fail(j, "section")
    return number, k


def _ext_value(s: bytes, i: int) -> tuple[bytes, int]:
    j = i
    n = len(s)
    while j < n:
        if s[j] == 0x25 and j + 2 < n and s[j + 1] in _HEX and s[j + 2] in _HEX:
            j += 3
        elif s[j] in ATTRIBUTE_CHAR:
            j += 1
        else:
            break
    return s[i:j], j


def parameter(s: bytes, i: int) -> tuple[MimeParameter, int]:
    name, j = _attribute(s, i)
    try:  # name=<encoded word>
        k = _equals(s, j)
        text, k = encoded_word(s, k)
        return MimeParameter(name, text.encode("utf-8"), encoding=UNQUOTED_2047), k
    except _Fail:
        pass
    try:  # name="<encoded word>"
        k = _tag(s, _equals(s, j), b'"')
        text, k = encoded_word(s, k)
        k = _tag(s, k, b'"')
        return MimeParameter(name, text.encode("utf-8"), encoding=QUOTED_2047), k
    except _Fail:
        pass
    try:
        value, k = _value(s, _equals(s, j))
        return MimeParameter(name, value), k
    except _Fail:
        pass
    section, k = _opt(_section, s, j)
    try:  # name*N*=charset'lang'value
        m = _tag(s, k, b"*")
        m = _equals(s, m)
        c_end = _opt(lambda s, x: (None, _take_while1(s, x, _NOT_APOS, "charset")), s, m)[1]
        charset = s[m:c_end] or None
        m = _tag(s, c_end, b"'")
        l_end = _opt(lambda s, x: (None, _take_while1(s, x, _NOT_APOS, "language")), s, m)[1]
        language = s[m:l_end] or None
        m = _tag(s, l_end, b"'")
        value, m = _ext_value(s, m)
        return MimeParameter(name, value, section, charset, language, RFC2231), m
    except _Fail:
        pass
    star = s.startswith(b"*", k)
    m = _equals(s, k + 1 if star else k)
    try:
        value, m = quoted_string(s, m)
    except _Fail:
        value, m = _ext_value(s, m)
    return MimeParameter(name, value, section, encoding=RFC2231 if star else NONE), m


def _parameters(s: bytes, i: int) -> tuple[list[MimeParameter], int]:
    out: list[MimeParameter] = []
    while True:
        j = i + 1 if s.startswith(b";", i) else i
        j = _ocfws(s, j)
        try:
            p, j = parameter(s, j)
        except _Fail:
            return out, i
        j = _ocfws(s, j)
        if j == i:
            return out, i
        out.append(p)
        i = j


def content_type(s: bytes, i: int) -> tuple[MimeParameters, int]:
    i = _ocfws(s, i)
    major, i = _mime_token(s, i)
    i = _tag(s, _ocfws(s, i), b"/")
    minor, i = _mime_token(s, _ocfws(s, i))
    i = _ocfws(s, i)
    params, i = _parameters(s, i)
    return MimeParameters(major + b"/" + minor, params), i


def content_transfer_encoding(s: bytes, i: int) -> tuple[MimeParameters, int]:
    i = _ocfws(s, i)
    value, i = _mime_token(s, i)
    i = _ocfws(s, i)
    params, i = _parameters(s, i)
    return MimeParameters(value, params), i


def parse_content_type(data: bytes) -> MimeParameters:
    return parse_with(data, content_type)


def parse_content_transfer_encoding(data: bytes) -> MimeParameters:
    """Also kumod's parser for Content-Disposition."""
    return parse_with(data, content_transfer_encoding)


# -- Authentication-Results (RFC 8601) ------------------------------------------


@dataclass
class AuthenticationResult:
    method: str
    result: str
    method_version: int | None = None
    reason: bytes | None = None
    props: dict[str, bytes] = field(default_factory=dict)


@dataclass
class AuthenticationResults:
    serv_id: bytes
    version: int | None = None
    results: list[AuthenticationResult] = field(default_factory=list)


_KEYWORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _keyword(s: bytes, i: int) -> tuple[str, int]:
    j = _take_while1(s, i, _KEYWORD, "keyword")
    return s[i:j].decode("ascii"), j


def _u32(s: bytes, i: int) -> tuple[int, int]:
    j = i
    while j < len(s) and 0x30 <= s[j] <= 0x39:
        j += 1
    if j == i or int(s[i:j]) > 0xFFFFFFFF:
        raise _Fail(i, "u32")
    return int(s[i:j]), j


def _pvalue(s: bytes, i: int) -> tuple[bytes, int]:
    if s.startswith(b"@", i):
        try:
            d, j = domain(s, i + 1)
            return b"@" + d, j
        except _Fail:
            pass
    try:
        lp, j = local_part(s, i)
        j = _tag(s, j, b"@")
        d, j = domain(s, j)
        return lp + b"@" + d, j
    except _Fail:
        pass
    for p in (quoted_string, domain, _mime_token):
        try:
            return p(s, i)
        except _Fail:
            continue
    raise _Fail(i, "propspec")


def _propspec(s: bytes, i: int) -> tuple[tuple[str, bytes], int]:
    i = _ocfws(s, i)
    ptype, i = _keyword(s, i)
    i = _tag(s, _ocfws(s, i), b".")
    prop, i = _keyword(s, _ocfws(s, i))
    i = _equals(s, i)
    value, i = _pvalue(s, i)
    return (f"{ptype}.{prop}", value), _ocfws(s, i)


def _resinfo(s: bytes, i: int) -> tuple[AuthenticationResult, int]:
    i = _tag(s, _ocfws(s, i), b";")
    i = _ocfws(s, i)
    method, i = _keyword(s, i)
    version = None
    try:
        j = _tag(s, _ocfws(s, i), b"/")
        version, i = _u32(s, _ocfws(s, j))
    except _Fail:
        pass
    i = _equals(s, i)
    result, i = _keyword(s, i)
    reason = None
    try:
        _, j = cfws(s, i)
        j = _tag(s, j, b"reason")
        reason, i = _value(s, _equals(s, j))
    except _Fail:
        pass
    props: dict[str, bytes] = {}
    while True:
        try:
            (k, v), j = _propspec(s, i)
        except _Fail:
            break
        props[k] = v
        i = j
    return AuthenticationResult(method, result, version, reason, dict(sorted(props.items()))), i


def authentication_results(s: bytes, i: int) -> tuple[AuthenticationResults, int]:
    serv_id, i = _value(s, _ocfws(s, i))
    version = None
    try:
        _, j = cfws(s, i)
        version, i = _u32(s, j)
    except _Fail:
        pass
    results: list[AuthenticationResult] = []
    try:
        j = _tag(s, _ocfws(s, i), b";")
        i = _tag(s, _ocfws(s, j), b"none")
    except _Fail:
        first, i = _resinfo(s, i)
        results.append(first)
        while True:
            try:
                r, i = _resinfo(s, i)
            except _Fail:
                break
            results.append(r)
    return AuthenticationResults(serv_id, version, results), _ocfws(s, i)


def parse_authentication_results(data: bytes) -> AuthenticationResults:
    return parse_with(data, authentication_results)


def _value_token(value: bytes) -> bytes:
    if all(c in MIME_TOKEN or c == 0x40 for c in value):
        return value
    out = bytearray(b'"')
    for ch in _chars(value):
        if ch in (b'"', b"\\"):
            out += b"\\"
        out += ch
    return bytes(out + b'"')


def encode_auth_results(ar: AuthenticationResults) -> bytes:
    out = bytearray(_value_token(ar.serv_id))
    if ar.version is not None:
        out += b" %d" % ar.version
    if not ar.results:
        out += b"; none"
    for r in ar.results:
        out += b";\r\n\t" + _value_token(r.method.encode())
        if r.method_version is not None:
            out += b"/%d" % r.method_version
        out += b"=" + _value_token(r.result.encode())
        if r.reason is not None:
            out += b" reason=" + _value_token(r.reason)
        for k in sorted(r.props):
            out += b"\r\n\t" + k.encode() + b"=" + _value_token(r.props[k])
    return bytes(out)


def auth_results_data(ar: AuthenticationResults, text: Any) -> dict[str, Any]:
    """The serde shape kumod hands to Lua (None fields left out)."""
    out: dict[str, Any] = {"serv_id": text(ar.serv_id), "results": []}
    if ar.version is not None:
        out["version"] = ar.version
    for r in ar.results:
        item: dict[str, Any] = {"method": r.method, "result": r.result, "props": {}}
        if r.method_version is not None:
            item["method_version"] = r.method_version
        if r.reason is not None:
            item["reason"] = text(r.reason)
        item["props"] = {k: text(v) for k, v in r.props.items()}
        out["results"].append(item)
    return out
