"""Cutting log files into batches of whole lines, and picking from a batch
the lines that can be eligible records without parsing the others.

kumod writes every record on one line, `"type"` first:
`{"type":"TransientFailure",...}`.  When every line of a batch has that
shape (checked by counting, at the speed of `bytes.count`), the candidates
are found by searching the batch for `\\n{"type":"TransientFailure"` and
`\\n{"type":"Bounce"` (and kumod's rewrite note, for Delivery records of a
response rewritten to 250); Python then touches only those lines.  Any
other batch (blank or padded lines, another field order, lines that are
not JSON objects, `--check-json`) goes through `split`, which looks at
every line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._reader import MAX_LINE, LogReadError, LongLine, iter_pieces, open_log
from ._report import Part

__all__ = ["BATCH_BYTES", "Batch", "batches", "candidates", "split"]

#: decompressed bytes of log per batch (about 500 records): small batches
#: keep every worker busy (large ones stall on the pipes)
BATCH_BYTES = 512 << 10

_NOTE = b"(kumomta: status was rewritten from "
_TYPE = b'{"type":"'
_FRAMED = b'}\n{"type":"'
_WANTED = (b'\n{"type":"TransientFailure"', b'\n{"type":"Bounce"')


@dataclass
class Batch:
    """Complete lines of one file, as read: `data` holds lines `first`,
    `first + 1`, ... (the last one may lack its LF only at the end of the
    file).  `part` has what the reader itself found (a damaged file, an
    over-long line)."""

    file: str
    first: int
    data: bytes
    part: Part
    #: the lines that can be eligible, once `candidates` ran (the parent
    #: picks them before handing a batch to a worker: only ~1/6 of a log's
    #: bytes then cross the pipe)
    candidates: list[tuple[int, bytes]] | None = None


def _cut(chunk: bytes) -> Iterator[bytes]:
    """`chunk` (whole lines) cut at line ends into pieces of about
    BATCH_BYTES."""
    pos = 0
    n = len(chunk)
    while n - pos > BATCH_BYTES:
        cut = chunk.find(b"\n", pos + BATCH_BYTES)
        if cut < 0:
            break
        yield chunk[pos:cut + 1]
        pos = cut + 1
    if pos < n:
        yield chunk[pos:] if pos else chunk


def batches(
    path: str,
    *,
    check_json: bool = False,
    max_line: int = MAX_LINE,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[Batch]:
    """The lines of one log file in batches of about BATCH_BYTES, their
    candidates picked (`Batch.candidates`; the data itself is dropped).  A
    line longer than `max_line`, and a file that cannot be read (any
    further), are counted as malformed lines."""
    number = 0  # lines handed out so far
    pending: list[bytes] = []
    size = 0
    part = Part()

    def flush() -> Batch:
        nonlocal number, pending, size, part
        batch = Batch(path, number + 1, b"".join(pending), part)
        batch.candidates, newlines = candidates(batch, check_json)
        batch.data = b""
        number += newlines
        pending, size, part = [], 0, Part()
        return batch

    try:
        with open_log(path) as f:
            for piece in iter_pieces(f, max_line=max_line, on_read=on_read):
                if isinstance(piece, LongLine):
                    if pending:
                        yield flush()
                    number += 1
                    part.read += 1
                    part.malformed += 1
                    part.problems.append((number, "malformed", (
                        f"line longer than {max_line:,} bytes ({piece.size:,} bytes): "
                        "not replayed")))
                    continue
                for sub in _cut(piece):
                    pending.append(sub)
                    size += len(sub)
                    if size >= BATCH_BYTES:
                        yield flush()
    except LogReadError as e:
        if e.line >= 0:  # the file did not open
            part.malformed += 1
            part.problems.append((e.line, "malformed", e.detail))
        else:
            last = flush()
            last.part.malformed += 1
            last.part.problems.append((number + 1, "malformed", f"{e} after line {number}"))
            yield last
            return
    yield flush()


def candidates(batch: Batch, check_json: bool) -> tuple[list[tuple[int, bytes]], int]:
    """Count the batch's lines (into its part) and return the (line
    number, line) of those that can be eligible records, and the number
    of LFs in the batch."""
    data = batch.data
    if check_json or not data:
        return split(batch, check_json)
    ends_with_lf = data[-1:] == b"\n"
    if not ends_with_lf:
        data += b"\n"
    # every line `{"type":"...}`: the first starts so, the last ends so,
    # and every LF in between is preceded by } and followed by {"type":"
    # (the count of those LFs is checked against the line count below)
    if not (data.startswith(_TYPE) and data.endswith(b"}\n")):
        return split(batch, check_json)
    framed = data.count(_FRAMED)
    # every line is `{"type":"...}`: find the wanted ones by searching
    starts: list[int] = []
    if data.startswith(_WANTED[0][1:]) or data.startswith(_WANTED[1][1:]):
        starts.append(0)
    find = data.find
    for needle in _WANTED:
        pos = find(needle)
        while pos >= 0:
            starts.append(pos + 1)
            pos = find(needle, pos + 1)
    if _NOTE in data:
        starts.extend(_noted_deliveries(data))
        starts = sorted(set(starts))
    else:
        starts.sort()
    out = []
    number = batch.first
    last = 0
    count = data.count
    for start in starts:
        number += count(b"\n", last, start)
        last = start
        out.append((number, data[start:find(b"\n", start)]))
    lines = number - batch.first + count(b"\n", last)
    if framed != lines - 1:
        return split(batch, check_json)
    part = batch.part
    part.read += lines
    part.not_offered["type"] += lines - len(starts)
    return out, (lines if ends_with_lf else lines - 1)


def _noted_deliveries(data: bytes) -> list[int]:
    """Starts of the Delivery lines that carry kumod's rewrite note."""
    out = []
    pos = data.find(_NOTE)
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        if data[start + 9:start + 18] == b'Delivery"':
            out.append(start)
        end = data.find(b"\n", pos)
        pos = data.find(_NOTE, end)
    return out


def split(batch: Batch, check_json: bool) -> tuple[list[tuple[int, bytes]], int]:
    """`candidates` for any batch: looks at every line.  The common line
    (a `{...}` record of another type) costs a few substring tests."""
    part = batch.part
    newlines = batch.data.count(b"\n")
    block = batch.data.split(b"\n")
    if block and not block[-1]:
        block.pop()
    base = batch.first - 1
    note = _NOTE
    if check_json:
        picked = list(range(len(block)))
    else:
        # kumod writes "type" first: look at it where it stands, and scan
        # the whole line only for a Delivery (a response rewritten to 250)
        # or a record laid out some other way
        picked = [
            i for i, x in enumerate(block)
            if ((x[9:26] == b'TransientFailure"' or x[9:16] == b'Bounce"'
                 or (x[9:18] == b'Delivery"' and note in x))
                if x[:9] == _TYPE
                else (b'TransientFailure"' in x or b'Bounce"' in x or note in x))
        ]
    odd = [i for i, x in enumerate(block) if not (x.startswith(b"{") and x.endswith(b"}"))]
    blank = 0
    bad: set[int] = set()
    for i in odd:
        s = block[i].strip()
        if not s:
            blank += 1
            bad.add(i)
        elif not (s.startswith(b"{") and s.endswith(b"}")):
            part.malformed += 1
            what = "incomplete JSON object" if s[:1] == b"{" else "not a JSON object"
            part.problems.append((base + i + 1, "malformed", what))
            bad.add(i)
        else:
            block[i] = s  # framed once stripped: an ordinary line
    part.read += len(block) - blank
    taken = [i for i in picked if i not in bad] if bad else picked
    part.not_offered["type"] += len(block) - len(bad) - len(taken)
    return [(base + i + 1, block[i]) for i in taken], newlines
