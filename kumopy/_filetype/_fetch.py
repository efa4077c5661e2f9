"""The `file_type` crate as cargo packages it: a `.crate` file (a gzip'd
tar holding `file_type-<version>/`), read from disk or, when the user asks
for it, downloaded from crates.io.

The archive is trusted only when its SHA-256 is the one KumoMTA's
Cargo.lock pins for file_type 0.8.11 (cargo checks the same digest), and it
is unpacked with size and member limits, plain files and folders only, so a
damaged or hostile archive cannot write outside the scratch directory or
fill the disk.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ._build import CRATE_VERSION, BuildError

__all__ = ["CRATE_SHA256", "CRATE_URL", "download_crate", "unpacked_crate"]

#: where cargo downloads the crate from
CRATE_URL = f"https://static.crates.io/crates/file_type/file_type-{CRATE_VERSION}.crate"
#: the checksum KumoMTA's Cargo.lock records for file_type 0.8.11
CRATE_SHA256 = "678acf8099d6cd5d8f1c665140918c36b4875c251c05a7f76acd79ab84f1d1ed"

#: the real archive is a few MiB, its source about 23 MB in 20,700 files
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 100_000

_CHUNK = 1 << 16


def _digest_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download_crate(url: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` (at most MAX_ARCHIVE_BYTES); BuildError
    naming the URL when the server cannot be reached or refuses."""
    request = urllib.request.Request(url, headers={"User-Agent": "kumopy (file-type build)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
            total = 0
            while chunk := response.read(_CHUNK):
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise BuildError(
                        f"{url}: the download exceeds {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB, "
                        "which is not the file_type crate"
                    )
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise BuildError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise BuildError(f"cannot download {url}: {reason}") from None
    return dest


def _safe_members(archive: tarfile.TarFile, origin: str) -> Iterator[tarfile.TarInfo]:
    count = 0
    size = 0
    for member in archive:
        count += 1
        size += max(member.size, 0)
        if count > MAX_MEMBERS or size > MAX_UNPACKED_BYTES:
            raise BuildError(
                f"{origin}: the archive holds more than {MAX_MEMBERS} files or "
                f"{MAX_UNPACKED_BYTES:,} bytes, which is not the file_type crate"
            )
        name = Path(member.name)
        if not (member.isfile() or member.isdir()) or name.is_absolute() or ".." in name.parts:
            raise BuildError(
                f"{origin}: the archive holds {member.name!r}, which is not a plain file "
                "inside the crate's folder"
            )
        yield member


@contextmanager
def unpacked_crate(
    crate_file: str | Path,
    *,
    sha256: str = CRATE_SHA256,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Check `crate_file`'s checksum, unpack it into a scratch directory and
    yield that directory (removed afterwards); `kumopy._filetype.build`
    finds `file_type-<version>/` in it."""
    say = progress or (lambda _msg: None)
    path = Path(crate_file).expanduser()
    if not path.is_file():
        raise BuildError(f"{path} is not a file")
    digest = _digest_of(path)
    if digest != sha256.lower():
        raise BuildError(
            f"{path}: SHA-256 {digest} is not the file_type {CRATE_VERSION} crate's "
            f"({sha256.lower()}, as KumoMTA's Cargo.lock pins it)"
        )
    say(f"unpacking {path.name} (SHA-256 checked)")
    scratch = Path(tempfile.mkdtemp(prefix="kumopy-file-type-"))
    try:
        try:
            with tarfile.open(path, "r:gz") as archive:
                members = _safe_members(archive, str(path))
                if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                    archive.extractall(scratch, members=members, filter="data")
                else:  # pragma: no cover - _safe_members already refused links and escapes
                    archive.extractall(scratch, members=members)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise BuildError(f"{path}: not a readable .crate archive ({e})") from None
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
