"""Reading KumoMTA log segments (plain JSON lines or zstd) in bounded steps.

kumod's local logger writes one JSON object per line into segment files
named by their start time, compressed with zstd by default; the segment
being written is a zstd stream that may stop in the middle of a frame.
The format is recognised by the zstd magic number, not by the file name.

Memory stays bounded whatever the input: compressed data is read
`READ_SIZE` bytes at a time and decompressed at most `OUT_SIZE` bytes at a
time (a few hundred kilobytes of zstd can stand for gigabytes), and a line
is never held once it is longer than the maximum (`max_line`): the reader
hands out a `LongLine` marker in its place and skips to its end.  A line
that has no end within `MAX_SKIP` bytes (a decompression bomb, a device
like /dev/zero) stops the file with a `LogReadError`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

if sys.version_info >= (3, 14):  # pragma: no cover - the standard library's
    from compression.zstd import ZstdDecompressor, ZstdError
else:
    from backports.zstd import ZstdDecompressor, ZstdError

__all__ = [
    "MAX_LINE",
    "MAX_SKIP",
    "LogReadError",
    "LongLine",
    "ZSTD_MAGIC",
    "Step",
    "iter_lines",
    "iter_steps",
    "open_log",
]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: the longest line (bytes, without its LF) replay takes as a record; a
#: longer one is malformed (kumod's records are a few kilobytes)
MAX_LINE = 4 << 20
#: an over-long line that has not ended after this many bytes stops the file
MAX_SKIP = 256 << 20
#: compressed (or plain) bytes read from the file at a time
READ_SIZE = 1 << 20
#: the most decompressed bytes produced by one step
OUT_SIZE = 1 << 20


class LogReadError(Exception):
    """A log file cannot be read (any further).  `truncated` tells a zstd
    stream cut short (kumod was still writing it) from damaged or
    unreadable data; `line` is the line at which reading stopped (0: the
    file did not open, -1: not known to the reader, the caller counts)."""

    def __init__(self, message: str, *, truncated: bool = False, line: int = -1,
                 detail: str = "") -> None:
        super().__init__(message)
        self.truncated = truncated
        self.line = line
        #: the message without the "PATH:LINE: " prefix
        self.detail = detail or message


class LongLine(NamedTuple):
    """A line longer than the maximum, in place of its bytes."""

    size: int  # its length in bytes, without the LF


def open_log(path: str) -> IO[bytes]:
    """A binary file object for a local path or, when it names a protocol
    (`s3://...`, `gcs://...`), for whatever fsspec opens (the `cluster`
    extra installs fsspec; the protocol's own package, s3fs for one, is the
    user's to install)."""
    try:
        if "://" in path and not path.startswith("file://"):
            try:
                import fsspec
            except ImportError:
                raise OSError(
                    f"reading {path.split('://')[0]}:// paths needs fsspec "
                    "(pip install 'kumopy[cluster]')"
                ) from None
            f: IO[bytes] = fsspec.open(path, "rb").open()
            return f
        if path.startswith("file://"):
            path = path[len("file://"):]
        return open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it
    except OSError as e:
        detail = f"cannot read: {e.strerror or e}"
        raise LogReadError(f"{path}: {detail}", line=0, detail=detail) from None
    except Exception as e:  # fsspec's own errors (credentials, unknown protocol)
        detail = f"cannot read: {e}"
        raise LogReadError(f"{path}: {detail}", line=0, detail=detail) from None


def _zstd_chunks(first: bytes, read: Callable[[], bytes]) -> Iterator[bytes]:
    """Decompressed data of consecutive zstd frames, at most OUT_SIZE bytes
    at a time."""
    dec = ZstdDecompressor()
    data = first
    in_frame = False
    while True:
        if dec.eof:
            data = dec.unused_data + data
            dec = ZstdDecompressor()
            in_frame = False
            if not data:
                data = read()
                if not data:
                    break
        elif dec.needs_input and not data:
            data = read()
            if not data:
                break
        try:
            out = dec.decompress(data, OUT_SIZE)
        except ZstdError as e:
            raise LogReadError(f"damaged zstd data ({e})") from None
        data = b""
        in_frame = True
        if out:
            yield out
    if in_frame and not dec.eof:
        raise LogReadError("zstd data ends in the middle of a frame", truncated=True)


def _raw_chunks(f: IO[bytes], on_read: Callable[[int], None] | None) -> Iterator[bytes]:
    def read() -> bytes:
        data = f.read(READ_SIZE)
        if data and on_read is not None:
            on_read(len(data))
        return data

    first = read()
    while 0 < len(first) < 4:  # a short read (a pipe, a network stream)
        more = read()
        if not more:
            break
        first += more
    if first[:4] == ZSTD_MAGIC:
        yield from _zstd_chunks(first, read)
        return
    data = first
    while data:
        yield data
        data = read()


def _check_skip(size: int) -> None:
    if size > MAX_SKIP:
        raise LogReadError(
            f"a line runs on for more than {MAX_SKIP:,} bytes without a line end: the "
            "rest of the file is skipped"
        )


class Step(NamedTuple):
    """Complete lines of a file, as one step of reading produced them:
    `head + chunk[:end]`, every line ended by its LF.  `head` is the start
    of the first line, carried over from earlier steps; `chunk[end:]` is
    the start of a line that goes on in the next step.  Nothing is copied
    to make a step (only the carried start of a line is)."""

    head: bytes
    chunk: bytes
    end: int

    @property
    def size(self) -> int:
        """The bytes of its lines, LFs included."""
        return len(self.head) + self.end

    def lines(self) -> list[bytes]:
        """Its lines, without their LFs (cut once, from the chunk)."""
        lines = self.chunk.split(b"\n")
        lines.pop()  # (chunk[end:]: the next step's)
        if self.head:
            lines[0] = self.head + lines[0]
        return lines


def iter_steps(
    f: IO[bytes],
    *,
    max_line: int = MAX_LINE,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[Step | LongLine]:
    """The file's (decompressed) lines, a `Step` of whole lines per step of
    reading (a last line without LF is handed out with one), and a
    `LongLine` in place of a line that grew longer than `max_line` bytes
    across steps (a longer line within one step, which cannot be longer
    than the step, is for the caller to find: see `Step.size`).
    `on_read(n)` is told of every n bytes read from the file.

    Raises `LogReadError` when the compressed data is damaged or cut short,
    or when a line has no end within `MAX_SKIP` bytes, after yielding
    everything before that point."""
    carry = b""  # the start of a line not yet ended (at most max_line bytes)
    skipping = 0  # inside an over-long line: its bytes so far
    for chunk in _raw_chunks(f, on_read):
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping += len(chunk)
                _check_skip(skipping)
                continue
            yield LongLine(skipping + cut)
            skipping = 0
            chunk = chunk[cut + 1:]
        end = chunk.rfind(b"\n") + 1
        if end:
            yield Step(carry, chunk, end)
            carry = chunk[end:] if end < len(chunk) else b""
        else:
            carry += chunk
        if len(carry) > max_line:
            skipping, carry = len(carry), b""
            _check_skip(skipping)
    if skipping:
        yield LongLine(skipping)
    elif carry:
        yield Step(b"", carry + b"\n", len(carry) + 1)


def iter_lines(path: str, *, max_line: int = MAX_LINE) -> Iterator[bytes | LongLine]:
    """The lines of a log file (without LF), a LongLine for each over-long
    one; same errors as `iter_steps` (and for a file that cannot be
    opened)."""
    with open_log(path) as f:
        for step in iter_steps(f, max_line=max_line):
            if isinstance(step, LongLine):
                yield step
                continue
            for line in step.lines():
                yield LongLine(len(line)) if len(line) > max_line else line
