"""The data formats behind ``kumo.serde`` (KumoMTA's ``crates/mod-serde``).

One module per format: ``_json_comments`` and ``_json``, ``_toml``,
``_yaml``; ``_common`` holds what they share.  This package re-exports
their public functions.

Everything here works on plain Python values: ``dict``, ``list``, ``str``,
``int``, ``float``, ``bool`` and ``None``.  A ``str`` holding lone surrogates
(decoded with ``errors="surrogateescape"``) stands for a Lua string that is
not valid UTF-8.  Conversion to and from Lua values is the caller's job.

JSON is reproduced closely:

* comments are blanked out exactly as the ``json_comments`` 0.2.2 reader
  does (``//`` and ``#`` to the end of the line, ``/* */`` blocks, each
  comment byte becoming a space; a stray ``/`` or an unterminated string or
  block comment is an I/O "invalid data" error);
* parsing follows serde_json 1.0's ``from_reader`` byte by byte, so what is
  accepted, which numbers become integers or floats (including serde_json's
  default, not always correctly rounded, float conversion) and the error
  texts with their line/column numbers match kumod;
* encoding follows mlua + serde_json: compact output keeps the dict's order,
  pretty output sorts keys and indents by two spaces, floats print like
  serde_json (``1.0``, ``1e-7``, ``1e+16``), non-finite floats as ``null``.

YAML goes through libyaml, the C library serde_yaml is a translation of
(via PyYAML's extension), with serde_yaml's rules for turning nodes into
values.  TOML is parsed by the Rust ``toml`` crate kumod uses (through
``rtoml``); see :func:`parse_toml`.

Parsers take a :class:`Meter`, which the caller uses to stop them when
the Lua state's CPU budget or memory limit runs out (YAML aliases can
expand a small document into a huge value).

All failures raise :class:`FormatError`, whose text is the message kumod
would report (``parsing <source> as json: expected value at line 1
column 1``, ``reading file <path>: No such file or directory (os error 2)``).
"""

from ._common import UNMETERED, FormatError, Meter
from ._json import encode_json, load_json, parse_json
from ._json_comments import _strip_comments, strip_json_comments
from ._toml import TOML_DATETIME_KEY, encode_toml, load_toml, parse_toml

__all__ = [
    "TOML_DATETIME_KEY",
    "UNMETERED",
    "FormatError",
    "Meter",
    "_strip_comments",
    "encode_json",
    "encode_toml",
    "encode_yaml",
    "load_json",
    "load_toml",
    "load_yaml",
    "parse_json",
    "parse_toml",
    "parse_yaml",
    "strip_json_comments",
]

# YAML imports PyYAML, which most policies never need: its module is
# imported on the first YAML call (start-up of every command).


def parse_yaml(text: str, *, source: str | None = None, meter: Meter = UNMETERED) -> object:
    """``kumo.serde.yaml_parse`` (see ``_yaml.parse_yaml``)."""
    from . import _yaml

    return _yaml.parse_yaml(text, source=source, meter=meter)


def load_yaml(path: str) -> object:
    """``kumo.serde.yaml_load`` (see ``_yaml.load_yaml``)."""
    from . import _yaml

    return _yaml.load_yaml(path)


def encode_yaml(value: object) -> str:
    """``kumo.serde.yaml_encode`` (see ``_yaml.encode_yaml``)."""
    from . import _yaml

    return _yaml.encode_yaml(value)

