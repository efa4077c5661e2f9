"""Reading KumoMTA log segments: plain JSON lines or zstd-compressed.

kumod's local logger writes one JSON object per line into segment files
named by their start time, compressed with zstd by default; the segment
being written is a zstd stream that may stop in the middle of a frame.
The format is recognised by the zstd magic number, not by the file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import zstandard

__all__ = ["LogReadError", "ZSTD_MAGIC", "iter_blocks", "iter_chunks", "iter_lines"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_READ_SIZE = 1 << 20


class LogReadError(Exception):
    """A log file cannot be read (any further).  `str()` names the file and
    the line at which reading stopped; `truncated` tells a zstd stream cut
    short (kumod was still writing it) from damaged or unreadable data."""

    def __init__(self, message: str, *, truncated: bool = False, line: int = 0,
                 detail: str = "") -> None:
        super().__init__(message)
        self.truncated = truncated
        #: the line number where reading stopped (0: the file did not open)
        self.line = line
        #: the message without the "PATH:LINE: " prefix
        self.detail = detail or message


def _zstd_chunks(first: bytes, read: Callable[[int], bytes], path: str) -> Iterator[bytes]:
    """Decompressed data of consecutive zstd frames."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    pending = first
    in_frame = False
    while True:
        if not pending:
            pending = read(_READ_SIZE)
            if not pending:
                break
        data, pending = pending, b""
        try:
            out = dobj.decompress(data)
        except zstandard.ZstdError as e:
            raise LogReadError(f"damaged zstd data ({e})") from None
        in_frame = True
        if out:
            yield out
        if dobj.eof:
            pending = dobj.unused_data
            dobj = zstandard.ZstdDecompressor().decompressobj()
            in_frame = False
    if in_frame:
        raise LogReadError("zstd data ends in the middle of a frame", truncated=True)


def _iter_data(path: str, on_read: Callable[[int], None] | None) -> Iterator[bytes]:
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except OSError as e:
        detail = f"cannot read: {e.strerror or e}"
        raise LogReadError(f"{path}: {detail}", detail=detail) from None

    def read(n: int) -> bytes:
        data = f.read(n)
        if data and on_read is not None:
            on_read(len(data))
        return data

    number = 0
    with f:
        try:
            first = read(_READ_SIZE)
            chunks: Iterator[bytes]
            if first[:4] == ZSTD_MAGIC:
                chunks = _zstd_chunks(first, read, path)
            else:
                chunks = _plain_chunks(first, read)
            tail = b""
            for chunk in chunks:
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    tail += chunk
                    continue
                data = tail + chunk[: cut + 1] if tail else chunk[: cut + 1]
                tail = chunk[cut + 1:]
                number += data.count(b"\n")
                yield data
            if tail:
                number += 1
                yield tail
        except LogReadError as e:
            detail = f"{e} after line {number}"
            raise LogReadError(f"{path}:{number + 1}: {detail}", truncated=e.truncated,
                               line=number + 1, detail=detail) from None
        except OSError as e:
            detail = f"read error: {e.strerror or e}"
            raise LogReadError(f"{path}:{number + 1}: {detail}", line=number + 1,
                               detail=detail) from None


def iter_blocks(path: str, on_read: Callable[[int], None] | None = None) -> Iterator[list[bytes]]:
    """The lines of a log file without their LF, a block (list) at a time,
    decompressing zstd segments; `on_read(n)` is told of every n bytes
    read from the file.

    Raises `LogReadError` ("PATH:LINE: ...") when the file cannot be opened,
    or its compressed data is damaged or cut short, after yielding every
    complete line before that point.  A last line without LF is yielded
    as it is (the caller sees it is incomplete)."""
    for data in _iter_data(path, on_read):
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        yield lines


def iter_chunks(path: str, on_read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The file's (decompressed) data in pieces that end with a whole line
    (LF), except a last line without LF; same errors as `iter_blocks`."""
    return _iter_data(path, on_read)


def iter_lines(path: str, on_read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Like `iter_blocks`, a line at a time."""
    for block in iter_blocks(path, on_read):
        yield from block


def _plain_chunks(first: bytes, read: Callable[[int], bytes]) -> Iterator[bytes]:
    data = first
    while data:
        yield data
        data = read(_READ_SIZE)
