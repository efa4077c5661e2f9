"""`kumo.string.psl_domain` / `kumo.string.psl_suffix` (kumod: mod-string
over psl-utils): the registrable domain and the public suffix of a name,
from the Public Suffix List (ICANN and private sections; an unknown TLD is
its own suffix), as shipped by the `publicsuffixlist` package.  Names are
lowercased and lose a trailing dot first, as kumod normalizes them.  The
DMARC organizational domain uses the same list."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ._lib import rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["normalize_domain", "registrable_domain", "public_suffix", "register"]


@cache
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def normalize_domain(domain: str) -> str:
    return (domain[:-1] if domain.endswith(".") else domain).lower()


def registrable_domain(domain: str) -> str | None:
    """psl::domain_str of an already normalized name."""
    if not domain:
        return None
    found = _psl().privatesuffix(domain)
    return found if isinstance(found, str) else None


def public_suffix(domain: str) -> str | None:
    """psl::suffix_str of an already normalized name."""
    if not domain:
        return None
    found = _psl().publicsuffix(domain)
    return found if isinstance(found, str) else None


def _lua(fn: Any) -> Any:
    def impl(state: LuaState, name: Any = None, *_: Any) -> Any:
        found = fn(normalize_domain(rust_string(name)))
        return None if found is None else state.to_lua(found)

    return impl


def register(kumo: Namespace) -> None:
    note = "the Public Suffix List of the publicsuffixlist package (kumod: the psl crate's copy)"
    kumo.function("string.psl_domain", _lua(registrable_domain), notes=note)
    kumo.function("string.psl_suffix", _lua(public_suffix), notes=note)
