"""`kumo.string.normalize_smtp_response(text)` (kumod:
crates/mod-smtp-response-normalize): replace the variable parts of an SMTP
response (timestamps, UUIDs, hashes, IP addresses, base64, email
addresses, durations) with `{timestamp}`, `{uuid}`, ... so that responses
can be grouped.  Also the `normalize_smtp_response` filter of Jinja
templates.

kumod first keeps every dictionary word as it is.  Its dictionary is built
from `/usr/share/dict/words` (plus a few SMTP words), so kumopy reads the
same file (or the one named by `KUMOPY_DICT_WORDS`).  Only a purely
alphabetic word can be a dictionary word, and only a few of those could
otherwise be tokenized (as base64, or `P`/`PT` as an ISO 8601 duration);
when the dictionary file is missing and such a word appears, kumopy raises
an error saying so instead of guessing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._lib import rust_string

if TYPE_CHECKING:
    import regex

    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["normalize", "register"]

_EXTRA_WORDS = ("SpamCop", "ehlo", "helo", "rcpt", "smtp", "vrfy")
_ACRONYMS = ("arc", "bimi", "dkim", "dmarc", "dns", "rbl", "spf", "surbl", "uuid", "esmtp", "lmtp")


def _titled(word: str) -> str:
    return word[:1].upper() + word[1:] if word[:1].islower() else word


@cache
def _dictionary(path: str) -> frozenset[str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            words = f.read().splitlines()
    except OSError:
        return None
    stage: set[str] = set()
    for w in (*words, *_EXTRA_WORDS):
        stage.add(w)
        stage.add(_titled(w))
    for a in _ACRONYMS:
        stage.add(a.lower())
        stage.add(a.upper())
    return frozenset(stage)


def dictionary_path() -> str:
    return os.environ.get("KUMOPY_DICT_WORDS", "/usr/share/dict/words")


_BASE64 = (
    r"^(?:[a-zA-Z0-9+/_\-]{4})+(?:[a-zA-Z0-9+/_\-]{2}==|[a-zA-Z0-9+/_\-]{3}=)?$")
_IP = (
    r"^(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|(?:[0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,7}:|(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,5}(?::[0-9a-fA-F]{1,4}){1,2}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,4}(?::[0-9a-fA-F]{1,4}){1,3}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,3}(?::[0-9a-fA-F]{1,4}){1,4}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,2}(?::[0-9a-fA-F]{1,4}){1,5}"
    r"|[0-9a-fA-F]{1,4}:(?:(?::[0-9a-fA-F]{1,4}){1,6})|:(?:(?::[0-9a-fA-F]{1,4}){1,7}|:)"
    r"|fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}"
    r"|::(?:ffff(?::0{1,4}){0,1}:){0,1}(?:(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}"
    r"(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])"
    r"|(?:[0-9a-fA-F]{1,4}:){1,4}:(?:(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}"
    r"(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9]))(:?:\d{1,5})?$")
_EMAIL = (
    r"^(?:[a-z0-9!#$%&'*+\x2f=?^_`\x7b-\x7d~\x2d]+(?:\.[a-z0-9!#$%&'*+\x2f=?^_`\x7b-\x7d~\x2d]+)*"
    r"|\"(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21\x23-\x5b\x5d-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*\")"
    r"@(?:(?:[a-z0-9](?:[a-z0-9\x2d]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9\x2d]*[a-z0-9])?"
    r"|\[(?:(?:(?:2(?:5[0-5]|[0-4][0-9])|1[0-9][0-9]|[1-9]?[0-9]))\.){3}"
    r"(?:(?:2(?:5[0-5]|[0-4][0-9])|1[0-9][0-9]|[1-9]?[0-9])|[a-z0-9\x2d]*[a-z0-9]:"
    r"(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21-\x5a\x53-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])+)\])$")
_ISO_DURATION = (
    r"^P(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?$")
_DURATIONS = (
    r"\b\d+(?:ns|us|ms|s|m|h|day|month|year)(?:\s+\d+(?:ns|us|ms|s|m|h|day|month|year))*\b")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(
    r"^(?:[0-9a-fA-F]{32}|(?:urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\})$")
_ALPHA = re.compile(r"^[^\W\d_]+(?:'[^\W\d_]*)*$")


@cache
def _rx(pattern: str) -> regex.Pattern[str]:
    """A pattern of the `regex` module, compiled on first use (the module
    is imported then too: start-up of policies that never normalize)."""
    import regex

    return regex.compile(pattern)


def _timestamp(word: str) -> str | None:
    m = _RFC3339.match(word)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        datetime(y, mo, d, h, mi, min(s, 59))
    except ValueError:
        return None
    if s > 60 or (m.group(8) not in "Zz" and int(m.group(8)[1:3]) > 23):
        return None
    return "{timestamp}"


def _hash(word: str) -> str | None:
    if len(word) < 8:
        return None
    alpha = digit = 0
    for c in word:
        if c.isascii() and c.isalpha():
            alpha += 1
        elif c.isascii() and c.isdigit():
            digit += 1
        elif c not in "-._":
            return None
    return "{hash}" if alpha > 2 and digit > 2 else None


def _regexes(word: str) -> str | None:
    for pattern, label in ((_IP, "{ipaddr}"), (_BASE64, "{base64}"), (_EMAIL, "{email}")):
        if _rx(pattern).match(word):
            return label
    return None


def _duration(word: str) -> str | None:
    if word == "__DURATION__":
        return "{duration}"
    if word.startswith("P") and _rx(_ISO_DURATION).match(word):
        return "{duration}"
    return None


def _compound(word: str) -> str | None:
    lhs, eq, rhs = word.partition("=")
    if not eq:
        return None
    token = _normalize_word(rhs)
    return None if token is None else f"{lhs}={token}"


def _in_dictionary(word: str) -> str | None:
    words = _dictionary(dictionary_path())
    if words is None:
        if _ALPHA.match(word) and (_duration(word) or _regexes(word)):
            raise KumoError(
                f"kumopy: normalize_smtp_response: deciding whether {word!r} is a dictionary "
                f"word needs {dictionary_path()} (kumod builds its dictionary from that file; "
                "install a word list such as Debian's wamerican, or set KUMOPY_DICT_WORDS)"
            )
        return None
    return word if word in words else None


_STEPS: tuple[Callable[[str], str | None], ...] = (
    _in_dictionary, _duration, _timestamp,
    lambda w: "{uuid}" if _UUID.match(w) else None,
    _hash, _regexes, _compound,
)


def _normalize_word(word: str) -> str | None:
    for step in _STEPS:
        token = step(word)
        if token is not None:
            return token
    return None


_ASCII_SPACE = " \t\n\x0c\r"


def normalize(text: str) -> str:
    """kumod's normalize(): the response with its variable words tokenized."""
    s = _rx(_DURATIONS).sub("__DURATION__", text)
    if any(c in s for c in "[({"):
        out: list[str] = []
        i = 0
        while i < len(s):
            c = s[i]
            nxt = s[i + 1] if i + 1 < len(s) else None
            if (c in _ASCII_SPACE or not out) and nxt in ("[", "(", "{"):
                out.append(" ")
                i += 2
                continue
            if c in "])}" and (nxt is None or nxt in _ASCII_SPACE or
                               (nxt.isascii() and not nxt.isalnum() and nxt.isprintable()
                                and nxt != " ")):
                out.append(" ")
                i += 2
                continue
            out.append(c)
            i += 1
        s = "".join(out)
    words = [w for w in re.split(r"[ \t\n\x0c\r]+", s) if w]
    return " ".join(_normalize_word(w) or w for w in words)


def _lua_normalize(state: LuaState, text: Any = None, *_: Any) -> Any:
    return state.to_lua(normalize(rust_string(text)))


def register(kumo: Namespace) -> None:
    kumo.function(
        "string.normalize_smtp_response",
        _lua_normalize,
        notes="dictionary words from /usr/share/dict/words (or $KUMOPY_DICT_WORDS), as kumod "
        "builds its own; an error when the file is missing and a word depends on it",
    )
