"""kumod's SMTP command parser (crates/rfc5321 `Command::parse`), for the
lines `kumopy serve` reads.

`parse_command(line)` gives one of:

* `Command`: a command kumod parses fully (`verb` is `EHLO`, `HELO`,
  `LHLO`, `NOOP`, `HELP`, `VRFY`, `EXPN`, `DATA`, `RSET`, `QUIT`,
  `STARTTLS`, `MAIL`, `RCPT`, `AUTH`, `XCLIENT` or `UNKNOWN`);
* `Partial`: the verb was recognised but not its arguments (kumod answers
  501 with `partial_reply_text(reason)`);
* `Unparsable`: not even a command word; `text` is the explanation kumod
  puts after `Syntax error in command or arguments: ` (nom-utils'
  `explain_nom`, line and caret included).

The grammar is kumod's, alternative by alternative (its parser tries the
verbs in a fixed order and, within a verb, a full parse before the partial
ones): greeting domains are a domain name or an address literal, normalised
as kumod's DomainString does (IDNA, lower case), and anything else on the
line (a CR, a NUL, a second word) makes the command partial.  Nothing here
raises: every input ends in one of the three results.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass

import idna

from .._message import EnvelopeAddress

__all__ = [
    "Command",
    "Partial",
    "Unparsable",
    "normalize_domain",
    "parse_command",
    "partial_reply_text",
]


@dataclass(frozen=True)
class Command:
    """A fully parsed command.  `arg`: the greeting domain as kumod prints
    it (EHLO/HELO/LHLO), the optional argument of NOOP/HELP/VRFY/EXPN, the
    SASL mechanism (AUTH) or the whole line (UNKNOWN).  `address`: the
    MAIL/RCPT path.  `params`: ESMTP or XCLIENT parameters (name, value;
    XCLIENT values xtext-decoded)."""

    verb: str
    arg: str | None = None
    address: EnvelopeAddress | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    initial_response: str | None = None


@dataclass(frozen=True)
class Partial:
    """A recognised verb with arguments kumod does not accept; `reason` is
    "syntax", "sender" or "recipient"."""

    verb: str
    reason: str = "syntax"


@dataclass(frozen=True)
class Unparsable:
    """A line that is no command at all (no command word)."""

    text: str


def partial_reply_text(reason: str) -> str:
    """kumod's 501 text for a partial command."""
    if reason == "recipient":
        return "5.1.3 Invalid recipient address syntax"
    if reason == "sender":
        return "5.1.7 Bad sender's mailbox address syntax"
    return "Syntax error in command or arguments"


# ---------------------------------------------------------------------------
# Character classes and small parsers: each takes the text and a position
# and returns the end of what it matched, or -1.
# ---------------------------------------------------------------------------

_ATEXT_ASCII = frozenset("!#$%&'*+-/=?^_`{|}~")


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _wsp(s: str, i: int) -> int:
    j = i
    while j < len(s) and s[j] in " \t":
        j += 1
    return j if j > i else -1


def _tag(s: str, i: int, word: str) -> int:
    end = i + len(word)
    return end if s[i:end].lower() == word.lower() else -1


def _run(s: str, i: int, ok: object) -> int:
    """take_while1 with a predicate on one character."""
    j = i
    test = ok  # a callable; kept untyped for speed
    while j < len(s) and test(s[j]):  # type: ignore[operator]
        j += 1
    return j if j > i else -1


def _atext(c: str) -> bool:
    return _alnum(c) or c in _ATEXT_ASCII or not c.isascii()


def _atom(s: str, i: int) -> int:
    return _run(s, i, _atext)


def _quoted_string(s: str, i: int) -> int:
    if i >= len(s) or s[i] != '"':
        return -1
    j = i + 1
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\" and j + 1 < n and 0x20 <= ord(s[j + 1]) <= 0x7E:
            j += 2
        elif c != '"' and c != "\\" and (0x20 <= ord(c) <= 0x7E or not c.isascii()):
            j += 1
        else:
            break
    return j + 1 if j < n and s[j] == '"' else -1


def _string(s: str, i: int) -> int:
    end = _atom(s, i)
    return end if end >= 0 else _quoted_string(s, i)


def _dot_string(s: str, i: int) -> int:
    end = _atom(s, i)
    if end < 0:
        return -1
    while end < len(s) and s[end] == ".":
        nxt = _atom(s, end + 1)
        if nxt < 0:
            break
        end = nxt
    return end


def _local_part(s: str, i: int) -> int:
    end = _dot_string(s, i)
    return end if end >= 0 else _quoted_string(s, i)


def _let_dig(c: str) -> bool:
    return _alnum(c) or not c.isascii()


def _ldh(c: str) -> bool:
    return _alnum(c) or c in "-_" or not c.isascii()


def _sub_domain(s: str, i: int) -> int:
    if i >= len(s) or not _let_dig(s[i]):
        return -1
    end = _run(s, i + 1, _ldh)
    return end if end >= 0 else i + 1


def _domain_name(s: str, i: int) -> tuple[int, str | None]:
    """(end, normalised name); (-1, None) when the name does not parse or
    kumod's DomainString refuses it."""
    end = _sub_domain(s, i)
    if end < 0:
        return -1, None
    while end < len(s) and s[end] == ".":
        nxt = _sub_domain(s, end + 1)
        if nxt < 0:
            break
        end = nxt
    name = normalize_domain(s[i:end])
    return (end, name) if name is not None else (-1, None)


# ---------------------------------------------------------------------------
# Domain names as kumod's DomainString (hickory Name::from_str_relaxed)
# ---------------------------------------------------------------------------


def _safe_ascii(label: str) -> bool:
    """hickory's label check for `from_ascii`: a first character that is
    alphanumeric, `_` or `*`; then alphanumerics, `-`, `_`, `.`."""
    if not label or not label.isascii() or len(label) > 63:
        return False
    first, rest = label[0], label[1:]
    if not (first.isalnum() or first in "_*"):
        return False
    return all(c.isalnum() or c in "-_." for c in rest)


def _uts46_label(label: str) -> str | None:
    """One label through UTS 46 ToASCII (STD3 rules, hyphens allowed,
    non-transitional), or None when it is refused."""
    if label == "*":
        return label
    if label.startswith("_"):
        return label if _safe_ascii(label) else None
    if label.isascii():
        lowered = label.lower()
        if any(not (c.isalnum() or c == "-") for c in lowered):
            return None  # STD3: only letters, digits and hyphens
        if lowered.startswith("xn--"):
            try:
                decoded = idna.decode(lowered)
            except (idna.IDNAError, UnicodeError, ValueError):
                return None
            if decoded.isascii():
                return None
        return lowered
    try:
        mapped = idna.uts46_remap(label, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    mapped = unicodedata.normalize("NFC", mapped)
    if mapped.isascii():
        return _uts46_label(mapped)
    try:
        return "xn--" + mapped.encode("punycode").decode("ascii")
    except UnicodeError:
        return None


def _name_fits(labels: list[str]) -> bool:
    if any(not 1 <= len(label) <= 63 for label in labels):
        return False
    return sum(len(label) for label in labels) + max(len(labels), 2) <= 255


def normalize_domain(text: str) -> str | None:
    """The domain as kumod keeps it: IDNA ToASCII and lower case when
    that succeeds, else the ASCII text as written (an underscore, say), or
    None when kumod refuses the name."""
    labels = text.split(".")
    converted: list[str] = []
    for label in labels:
        ascii_label = _uts46_label(label)
        if ascii_label is None or not _safe_ascii(ascii_label):
            break
        converted.append(ascii_label)
    else:
        if _name_fits(converted):
            return ".".join(converted)
    if all(_safe_ascii(label) for label in labels) and _name_fits(labels):
        return text
    return None


# ---------------------------------------------------------------------------
# Address literals, mailboxes, paths
# ---------------------------------------------------------------------------


def _ipv4(text: str) -> str | None:
    parts = text.split(".")
    if len(parts) != 4 or any(len(p) > 1 and p[0] == "0" for p in parts):
        return None  # Rust refuses leading zeros
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _ipv6_text(addr: ipaddress.IPv6Address) -> str:
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return f"::ffff:{mapped}"
    return addr.compressed


def _address_literal(s: str, i: int) -> tuple[int, str | None]:
    if i >= len(s) or s[i] != "[":
        return -1, None
    j = i + 1
    if s[j : j + 5].lower() == "ipv6:":
        end = _run(s, j + 5, lambda c: c in "0123456789abcdefABCDEF:.")
        if end < 0:
            return -1, None
        text = s[j + 5 : end]
        tail = text.rsplit(":", 1)[-1]
        if "." in tail and any(len(p) > 1 and p[0] == "0" for p in tail.split(".")):
            return -1, None
        try:
            shown = f"[IPv6:{_ipv6_text(ipaddress.IPv6Address(text))}]"
        except ValueError:
            return -1, None
    else:
        k = j
        ok = True
        for n in range(4):
            start = k
            while k < len(s) and k - start < 3 and s[k].isascii() and s[k].isdigit():
                k += 1
            if k == start:
                ok = False
                break
            if n < 3:
                if k < len(s) and s[k] == ".":
                    k += 1
                else:
                    ok = False
                    break
        v4 = _ipv4(s[j:k]) if ok else None
        if v4 is not None:
            end, shown = k, f"[{v4}]"
        else:
            tag_end = _run(s, j, lambda c: _alnum(c) or c == "-")
            if tag_end < 0 or tag_end >= len(s) or s[tag_end] != ":":
                return -1, None
            end = _run(s, tag_end + 1, _dcontent)
            if end < 0:
                return -1, None
            shown = f"[{s[j:end]}]"
    if end >= len(s) or s[end] != "]":
        return -1, None
    return end + 1, shown


def _dcontent(c: str) -> bool:
    return c.isascii() and (33 <= ord(c) <= 90 or 94 <= ord(c) <= 126)


def _mailbox_domain(s: str, i: int) -> tuple[int, str | None]:
    end, shown = _address_literal(s, i)
    if end >= 0:
        return end, shown
    return _domain_name(s, i)


def _mailbox(s: str, i: int) -> tuple[int, EnvelopeAddress | None]:
    end = _local_part(s, i)
    if end < 0 or end >= len(s) or s[end] != "@":
        return -1, None
    dom_end, domain = _mailbox_domain(s, end + 1)
    if dom_end < 0 or domain is None:
        return -1, None
    return dom_end, EnvelopeAddress(s[i:end], domain)


def _at_domain_list(s: str, i: int) -> int:
    def at_domain(k: int) -> int:
        if k >= len(s) or s[k] != "@":
            return -1
        return _domain_name(s, k + 1)[0]

    end = at_domain(i)
    if end < 0:
        return -1
    while end < len(s) and s[end] == ",":
        nxt = at_domain(end + 1)
        if nxt < 0:
            break
        end = nxt
    return end + 1 if end < len(s) and s[end] == ":" else -1


def _path(s: str, i: int) -> tuple[int, EnvelopeAddress | None]:
    if i >= len(s) or s[i] != "<":
        return -1, None
    j = _at_domain_list(s, i + 1)
    if j < 0:
        j = i + 1
    end, addr = _mailbox(s, j)
    if end < 0 or end >= len(s) or s[end] != ">":
        return -1, None
    return end + 1, addr


def _reverse_path(s: str, i: int) -> tuple[int, EnvelopeAddress | None]:
    if s.startswith("<>", i):
        return i + 2, EnvelopeAddress("", "", "null")
    end, addr = _path(s, i)
    return (end, addr) if end >= 0 else _mailbox(s, i)


def _forward_path(s: str, i: int) -> tuple[int, EnvelopeAddress | None]:
    if s[i : i + 12].lower() == "<postmaster>":
        return i + 12, EnvelopeAddress("postmaster", "", "postmaster")
    end, addr = _path(s, i)
    return (end, addr) if end >= 0 else _mailbox(s, i)


def _esmtp_keyword(s: str, i: int) -> int:
    if i >= len(s) or not _alnum(s[i]):
        return -1
    end = _run(s, i + 1, lambda c: _alnum(c) or c == "-")
    return end if end >= 0 else i + 1


def _esmtp_param(s: str, i: int) -> tuple[int, tuple[str, str | None] | None]:
    end = _esmtp_keyword(s, i)
    if end < 0:
        return -1, None
    name = s[i:end]
    if end < len(s) and s[end] == "=":
        vend = _run(s, end + 1,
                    lambda c: not c.isascii() or 33 <= ord(c) <= 60 or 62 <= ord(c) <= 126)
        if vend >= 0:
            return vend, (name, s[end + 1 : vend])
    return end, (name, None)


def _params(s: str, i: int) -> tuple[int, list[tuple[str, str | None]]]:
    """`param *(WSP param)`, or (-1, []) when there is not even one."""
    end, first = _esmtp_param(s, i)
    if end < 0 or first is None:
        return -1, []
    out = [first]
    while True:
        sp = _wsp(s, end)
        if sp < 0:
            return end, out
        nxt, param = _esmtp_param(s, sp)
        if nxt < 0 or param is None:
            return end, out
        out.append(param)
        end = nxt


def _xtext_decode(text: str) -> str | None:
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "+":
            if i + 2 >= len(text):
                return None
            try:
                out.append(int(text[i + 1 : i + 3], 16))
            except ValueError:
                return None
            if not all(c in "0123456789abcdefABCDEF" for c in text[i + 1 : i + 3]):
                return None
            i += 3
        else:
            out.extend(text[i].encode("utf-8"))
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _xclient_params(s: str, i: int) -> tuple[int, list[tuple[str, str | None]]]:
    def one(k: int) -> tuple[int, tuple[str, str | None] | None]:
        end = _esmtp_keyword(s, k)
        if end < 0 or end >= len(s) or s[end] != "=":
            return -1, None
        vend = _run(s, end + 1, lambda c: c.isascii() and 33 <= ord(c) <= 126)
        if vend < 0:
            return -1, None
        value = _xtext_decode(s[end + 1 : vend])
        if value is None:
            return -1, None
        return vend, (s[k:end], value)

    end, first = one(i)
    if end < 0 or first is None:
        return -1, []
    out = [first]
    while True:
        sp = _wsp(s, end)
        if sp < 0:
            return end, out
        nxt, param = one(sp)
        if nxt < 0 or param is None:
            return end, out
        out.append(param)
        end = nxt


# ---------------------------------------------------------------------------
# Verbs
# ---------------------------------------------------------------------------

_GREETINGS = ("EHLO", "HELO", "LHLO")
_OPT_ARG = ("HELP", "NOOP", "VRFY", "EXPN")
_SINGLE = ("DATA", "RSET", "QUIT", "STARTTLS")

Parsed = Command | Partial | Unparsable


def _verb_rest(s: str, verb: str) -> tuple[bool, int]:
    """Whether `s` starts with `verb` and where the arguments start
    (-1 when the verb stands alone, -2 when it is followed by neither
    whitespace nor the end of the line)."""
    end = _tag(s, 0, verb)
    if end < 0:
        return False, -2
    if end == len(s):
        return True, -1
    sp = _wsp(s, end)
    return True, sp if sp >= 0 else -2


def _greeting(s: str, verb: str) -> Parsed | None:
    ok, start = _verb_rest(s, verb)
    if not ok or start == -2:
        return None
    if start == -1 or start == len(s):
        return Partial(verb) if start == -1 else None
    end, domain = _mailbox_domain(s, start)
    if end == len(s) and domain is not None:
        return Command(verb, domain)
    return Partial(verb)


def _opt_arg(s: str, verb: str) -> Parsed | None:
    ok, start = _verb_rest(s, verb)
    if not ok or start == -2:
        return None
    if start == -1:
        return Command(verb)
    if start == len(s):
        return None
    if _string(s, start) == len(s):
        return Command(verb, s[start:])
    return Partial(verb)


def _single(s: str, verb: str) -> Parsed | None:
    ok, start = _verb_rest(s, verb)
    if not ok or start == -2:
        return None
    if start == -1:
        return Command(verb)
    return Partial(verb) if start < len(s) else None


def _mail_or_rcpt(s: str, verb: str) -> Parsed | None:
    prefix = "FROM:" if verb == "MAIL" else "TO:"
    ok, start = _verb_rest(s, verb)
    if not ok or start == -2:
        return None
    if start == -1:
        return Partial(verb)
    if start == len(s):
        return None
    after = _tag(s, start, prefix)
    if after >= 0:
        sp = _wsp(s, after)
        at = sp if sp >= 0 else after
        end, addr = (_reverse_path if verb == "MAIL" else _forward_path)(s, at)
        if end >= 0 and addr is not None:
            params: list[tuple[str, str | None]] = []
            sp2 = _wsp(s, end)
            full_end = end
            if sp2 >= 0:
                pend, plist = _params(s, sp2)
                if pend >= 0:
                    full_end, params = pend, plist
            if full_end == len(s):
                return Command(verb, address=addr, params=tuple(params))
            if sp2 >= 0 and sp2 < len(s):
                return Partial(verb)
        if after < len(s):
            return Partial(verb, "sender" if verb == "MAIL" else "recipient")
    return Partial(verb)


def _auth(s: str) -> Parsed | None:
    ok, start = _verb_rest(s, "AUTH")
    if not ok or start == -2:
        return None
    if start == -1:
        return Partial("AUTH")
    if start == len(s):
        return None
    mech_end = _run(s, start, lambda c: _alnum(c) or c == "-")
    if mech_end == len(s):
        return Command("AUTH", s[start:mech_end])
    if mech_end > 0:
        sp = _wsp(s, mech_end)
        if sp >= 0:
            resp_end = _run(s, sp, lambda c: _alnum(c) or c in "+/=")
            if resp_end == len(s):
                return Command("AUTH", s[start:mech_end], initial_response=s[sp:resp_end])
    return Partial("AUTH")


def _xclient(s: str) -> Parsed | None:
    ok, start = _verb_rest(s, "XCLIENT")
    if not ok or start == -2:
        return None
    if start == -1:
        return Partial("XCLIENT")
    if start == len(s):
        return None
    end, params = _xclient_params(s, start)
    if end == len(s):
        return Command("XCLIENT", params=tuple(params))
    return Partial("XCLIENT")


def parse_command(line: str) -> Parsed:
    """Parse one command line (without its CRLF) as kumod does."""
    if line.endswith("\n"):
        line = line[:-1]  # kumod strips one trailing LF before parsing
    s = line
    for verb in _GREETINGS:
        out = _greeting(s, verb)
        if out is not None:
            return out
    for verb in _OPT_ARG:
        out = _opt_arg(s, verb)
        if out is not None:
            return out
    for verb in _SINGLE:
        out = _single(s, verb)
        if out is not None:
            return out
    for verb in ("MAIL", "RCPT"):
        out = _mail_or_rcpt(s, verb)
        if out is not None:
            return out
    for parse in (_auth, _xclient):
        out = parse(s)
        if out is not None:
            return out
    word_end = _run(s, 0, _alnum)
    if word_end == len(s) and word_end > 0:
        return Command("UNKNOWN", s)
    if word_end > 0:
        sp = _wsp(s, word_end)
        if 0 <= sp < len(s):
            return Command("UNKNOWN", s)
    return Unparsable(_explain(s, word_end))


# ---------------------------------------------------------------------------
# nom-utils' explain_nom for the error kumod's parser ends with
# ---------------------------------------------------------------------------


def _shown_line(line: str) -> str:
    out = []
    for c in line:
        if c == "\t":
            out.append("\u2409")
        elif c == "\r":
            out.append("\u240d")
        elif c == "\n":
            out.append("\u240a")
        elif c == "\ufffd":
            out.append("".join(f"\\x{b:02X}" for b in c.encode("utf-8")))
        else:
            out.append(c)
    return "".join(out)


def _located(s: str, offset: int, kind: str) -> str:
    """`Error at line N, in KIND:` with the line and a caret under the
    span that starts at character `offset` and runs to the end."""
    line_no = s.count("\n", 0, offset) + 1
    start = s.rfind("\n", 0, offset) + 1
    stop = s.find("\n", offset)
    line = s[start : stop if stop >= 0 else len(s)]
    column = offset - start + 1
    length = len(s[offset:].encode("utf-8"))
    caret = " " * (column - 1) + "^" + "_" * max(0, length - 1)
    return f"Error at line {line_no}, in {kind}:\n{_shown_line(line)}\n{caret}\n\n"


def _explain(s: str, word_end: int) -> str:
    """kumod's text for a line no alternative parses.  The error it reports
    is the last alternative's (`unknown-command`: a command word alone),
    wrapped by each `alt` and `context` on the way out."""
    if not s:
        kinds = ["TakeWhile1", "command-word", "Alt", "unknown-command", "Alt", "command-verb"]
        return "".join(f"Error in {k}, got empty input\n\n" for k in kinds)
    if word_end < 0:
        head = _located(s, 0, "TakeWhile1") + "while parsing command-word\n"
    else:
        head = _located(s, word_end, "Eof")
    return (
        head
        + _located(s, 0, "Alt")
        + "while parsing unknown-command\n"
        + _located(s, 0, "Alt")
        + "while parsing command-verb\n"
    )
