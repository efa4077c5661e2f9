"""`kumopy file-type build|status`: the file type database behind
`kumo.file_type.*` (docs/library.md, "File types")."""

from __future__ import annotations

from pathlib import Path

import click

from .._filetype import (
    CRATE_VERSION,
    ENV_VAR,
    KUMOD_FEATURES,
    BuildError,
    build,
    database_path,
    status,
)
from ._common import CliError, echo, echo_err

__all__ = ["file_type"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group("file-type", context_settings=CONTEXT_SETTINGS,
             short_help="Build or check the database behind kumo.file_type.")
def file_type() -> None:
    """The database `kumo.file_type.*` answers from.

    kumod answers from the Rust crate file_type (version 0.8.11, default
    features plus httpd and iana), whose format database kumopy does not
    ship.  `build` converts the crate's source into kumopy's data file
    once; `status` says where kumopy looks for it and whether it is usable.
    """


@file_type.command("build", context_settings=CONTEXT_SETTINGS,
                   short_help="Convert the file_type crate's source.")
@click.option("--crate-src", "crate_src", required=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help=f"the file_type {CRATE_VERSION} crate's source: a cargo registry "
              f"checkout (~/.cargo/registry/src/*/file_type-{CRATE_VERSION}) or a git "
              "checkout of theseus-rs/file-type at v" + CRATE_VERSION)
@click.option("--out", metavar="PATH", type=click.Path(dir_okay=False),
              help=f"where to write it [default: ${ENV_VAR}, else "
              f"$XDG_DATA_HOME/kumopy/file_type-{CRATE_VERSION}.jsonl]")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress.")
def build_command(crate_src: str, out: str | None, quiet: bool) -> None:
    """Convert the file_type crate's source in DIR into kumopy's file type
    database.

    Reads the crate's lookup tables (src/extensions.rs, media_types.rs,
    signatures.rs) and the format modules they name, with the features
    kumod compiles it with (the default ones plus httpd and iana), and
    writes one JSON Lines file to PATH.  Nothing is fetched: DIR is source
    you already have.  stdout gets one line naming the file written and
    what it holds; stderr the progress.

    Exit status: 0 written, 1 DIR is not the file_type crate's source of
    the right version, a file cannot be read, or PATH cannot be written.
    """
    target = Path(out) if out else database_path()
    try:
        summary = build(crate_src, target, progress=None if quiet else echo_err)
    except BuildError as e:
        raise CliError(str(e)) from None
    echo(
        f"wrote {target}: {summary['formats']} formats from file_type {summary['version']} "
        f"(features {', '.join(summary['features'])}), {summary['extensions']} extensions, "
        f"{summary['media_types']} media types, {summary['signatures']} signature keys"
    )
    if out and Path(out).expanduser() != database_path():
        echo_err(f"note: kumopy looks for it at {database_path()}; set {ENV_VAR}={target} "
                 "to use this file")


@file_type.command("status", context_settings=CONTEXT_SETTINGS,
                   short_help="Say whether kumo.file_type can answer.")
def status_command() -> None:
    """Say where kumopy looks for the file type database (${ENV_VAR}, else
    $XDG_DATA_HOME/kumopy/file_type-0.8.11.jsonl) and whether it is usable.

    Exit status: 0 usable, 1 missing or unusable (the error says how to
    build it).
    """
    where, db, problem = status()
    if db is None:
        raise CliError(problem.removeprefix("kumopy: "))
    echo(
        f"{where}: file_type {db.version} (features {', '.join(db.features)}; kumod adds "
        f"{', '.join(KUMOD_FEATURES)} to the default ones), {len(db)} formats, "
        f"{len(db.extensions)} extensions, {len(db.media_types)} media types"
    )
