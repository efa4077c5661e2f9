"""`kumopy file-type build|status`: the file type database behind
`kumo.file_type.*` (docs/library.md, "File types")."""

from __future__ import annotations

import tempfile
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
from .._filetype._fetch import CRATE_SHA256, CRATE_URL, download_crate, unpacked_crate
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
@click.option("--crate-src", "crate_src", metavar="DIR",
              type=click.Path(file_okay=False),
              help=f"the file_type {CRATE_VERSION} crate's source: a cargo registry "
              f"checkout (~/.cargo/registry/src/*/file_type-{CRATE_VERSION}) or a git "
              "checkout of theseus-rs/file-type at v" + CRATE_VERSION)
@click.option("--crate", "crate_file", metavar="FILE", type=click.Path(dir_okay=False),
              help=f"the crate as cargo downloads it (~/.cargo/registry/cache/*/"
              f"file_type-{CRATE_VERSION}.crate), checked against KumoMTA's Cargo.lock")
@click.option("--download", is_flag=True,
              help="download the .crate from crates.io (or --url), checked against "
              "KumoMTA's Cargo.lock: the only time this command uses the network")
@click.option("--url", default=CRATE_URL, show_default=True, metavar="URL",
              help="where --download fetches the .crate (a crates.io mirror)")
@click.option("--sha256", default=CRATE_SHA256, metavar="HEX",
              help="the .crate's expected SHA-256 [default: the one KumoMTA's Cargo.lock pins]")
@click.option("--out", metavar="PATH", type=click.Path(dir_okay=False),
              help=f"where to write it [default: ${ENV_VAR}, else "
              f"$XDG_DATA_HOME/kumopy/file_type-{CRATE_VERSION}.jsonl]")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress.")
def build_command(crate_src: str | None, crate_file: str | None, download: bool, url: str,
                  sha256: str, out: str | None, quiet: bool) -> None:
    """Convert the file_type crate into kumopy's file type database.

    The crate comes from exactly one of: its source in DIR (--crate-src),
    a .crate FILE (--crate), or crates.io (--download; nothing else in
    kumopy fetches anything, and only this flag makes it).  A .crate must
    have the SHA-256 KumoMTA's Cargo.lock records, as cargo requires.

    Reads the crate's lookup tables (src/extensions.rs, media_types.rs,
    signatures.rs) and the format modules they name, with the features
    kumod compiles it with (the default ones plus httpd and iana), and
    writes one JSON Lines file to PATH.  stdout gets one line naming the
    file written and what it holds; stderr the progress.

    Exit status: 0 written, 1 the crate cannot be had or is not file_type
    of the right version, a file cannot be read, or PATH cannot be written.
    """
    given = [name for name, value in (("--crate-src", crate_src), ("--crate", crate_file),
                                      ("--download", download)) if value]
    if len(given) != 1:
        raise CliError("give exactly one of --crate-src DIR, --crate FILE or --download"
                       + (f" (got {' and '.join(given)})" if given else ""))
    target = Path(out) if out else database_path()
    say = None if quiet else echo_err
    try:
        if crate_src is not None:
            summary = build(crate_src, target, progress=say)
        else:
            with tempfile.TemporaryDirectory(prefix="kumopy-crate-") as scratch:
                if download:
                    if say:
                        say(f"downloading {url}")
                    crate_file = str(download_crate(
                        url, Path(scratch) / f"file_type-{CRATE_VERSION}.crate"))
                assert crate_file is not None
                with unpacked_crate(crate_file, sha256=sha256, progress=say) as source:
                    summary = build(source, target, progress=say)
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
