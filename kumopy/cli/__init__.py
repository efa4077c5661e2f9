"""The `kumopy` command line: validate, call, rewrite, script, events.

`main` is the console-script entry point (`kumopy = "kumopy.cli:main"`);
`cli` is the click group, for embedding or testing with click's CliRunner.
See docs/cli.md.
"""

from __future__ import annotations

from ._app import cli, main
from ._common import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "cli", "main"]
