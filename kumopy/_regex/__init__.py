"""Rust-regex compatible pattern sets for `kumo.regex_set_map`.

`RegexSetMap` validates patterns with the Rust `regex` crate's syntax and
semantics and matches them with RE2 (linear time).  See `setmap` for the
matching rules and `syntax` for the translation.
"""

from __future__ import annotations

from kumopy._regex.setmap import RegexSetError, RegexSetMap, utf8_error
from kumopy._regex.syntax import RegexSyntaxError, translate

__all__ = ["RegexSetError", "RegexSetMap", "RegexSyntaxError", "translate", "utf8_error"]
