"""kumopy's copy of the `file_type` crate's format database, which kumod's
`kumo.file_type` answers from: converting the crate's source
(`_build.py`, `kumopy file-type build`), loading the result and looking
formats up with the crate's semantics (`_db.py`, `_match.py`)."""

from __future__ import annotations

from ._build import CRATE_VERSION, KUMOD_FEATURES, BuildError, build
from ._db import (
    BUILD_COMMAND,
    ENV_VAR,
    Database,
    DatabaseError,
    FileFormat,
    database_path,
    default_path,
    load,
    status,
)
from ._match import FileTypePanic

__all__ = [
    "BUILD_COMMAND",
    "CRATE_VERSION",
    "ENV_VAR",
    "KUMOD_FEATURES",
    "BuildError",
    "Database",
    "DatabaseError",
    "FileFormat",
    "FileTypePanic",
    "build",
    "database_path",
    "default_path",
    "load",
    "status",
]
