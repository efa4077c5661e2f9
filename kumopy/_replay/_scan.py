"""Cutting log files into batches of whole lines, and picking from a batch
the lines that can be eligible records without parsing the others.

kumod writes every record on one line, `"type"` first:
`{"type":"TransientFailure",...}`.  When every line of a batch has that
shape (checked by C loops over the batch's lines, no Python code per
line), the candidates are picked by the bytes at the type's place (and by
kumod's rewrite note, for Delivery records of a response rewritten to
250), the way the benchmark's floor picks them.  Any other batch (blank
or padded lines, another field order, lines that are not JSON objects,
`--check-json`) goes through `split`, which looks into every line.

Where it ends depends only on the data (a batch ends at the first step of
reading that brings it to BATCH_BYTES, or at an over-long line), so
processes that read the same file cut the same batches: with a `Share`,
one of them takes every N-th and only counts the lines of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import repeat

from ._reader import MAX_LINE, Counted, LogReadError, LongLine, iter_blocks, open_log
from ._report import Part

__all__ = ["BATCH_BYTES", "Batch", "Share", "batches", "candidates", "split"]

#: decompressed bytes of log per batch (about 500 records): small batches
#: keep every worker busy (large ones stall on the pipes)
BATCH_BYTES = 512 << 10

_NOTE = b"(kumomta: status was rewritten from "
_TYPE = b'{"type":"'


@dataclass
class Share:
    """One process's share of batches that every process reads (one log
    file replayed by several jobs): batch k, counted from 0 across the
    files in order, is this process's when k % `of` == `index`.  Every
    process cuts the same batches (the cut depends only on the data), so
    each batch is some process's, and only one's."""

    index: int
    of: int
    #: batches cut so far (this process's and the others')
    seq: int = 0

    def next_is_mine(self) -> bool:
        return self.seq % self.of == self.index

    def take(self) -> bool:
        """Whether the next batch is this process's (and count it)."""
        mine = self.seq % self.of == self.index
        self.seq += 1
        return mine


@dataclass
class Batch:
    """Complete lines of one file, as read: `lines` are lines `first`,
    `first + 1`, ... without their LFs.  `part` has what the reader itself
    found (a damaged file, an over-long line).  `noted`: whether a line
    may hold kumod's rewrite note (None: not known, look)."""

    file: str
    first: int
    lines: list[bytes]
    part: Part
    #: the lines that can be eligible, once `candidates` ran (`batches`
    #: picks them as it cuts the batch, and drops the other lines)
    candidates: list[tuple[int, bytes]] | None = None
    noted: bool | None = None


def batches(
    path: str,
    *,
    check_json: bool = False,
    max_line: int = MAX_LINE,
    on_read: Callable[[int], None] | None = None,
    share: Share | None = None,
) -> Iterator[Batch]:
    """The lines of one log file in batches of about BATCH_BYTES, their
    candidates picked (`Batch.candidates`; the lines themselves are
    dropped).  A line longer than `max_line`, and a file that cannot be
    read (any further), are counted as malformed lines.  With `share`,
    only this process's batches are yielded (the others are read and
    counted, their lines neither picked nor counted into a part)."""
    number = 0  # lines handed out so far
    pending: list[bytes] = []
    counted = 0  # lines of another process's batch, counted only
    size = 0
    noted = False
    part = Part()
    wanted = None if share is None else share.next_is_mine

    def flush() -> Batch | None:
        nonlocal number, pending, counted, size, noted, part
        batch = None
        if share is None or share.take():  # (another process's: only counted)
            batch = Batch(path, number + 1, pending, part, noted=noted)
            batch.candidates = candidates(batch, check_json)
            batch.lines = []
        number += len(pending) + counted
        pending, counted, size, noted, part = [], 0, 0, False, Part()
        return batch

    try:
        with open_log(path) as f:
            for block in iter_blocks(f, max_line=max_line, on_read=on_read, wanted=wanted):
                if isinstance(block, Counted):
                    counted += block.lines
                    size += block.size
                    if size >= BATCH_BYTES:
                        flush()  # (another process's)
                    continue
                if isinstance(block, LongLine):
                    if (pending or counted) and (batch := flush()) is not None:
                        yield batch
                    number += 1
                    part.read += 1
                    part.malformed += 1
                    part.problems.append((number, "malformed", (
                        f"line longer than {max_line:,} bytes ({block.size:,} bytes): "
                        "not replayed")))
                    continue
                if pending:
                    pending.extend(block.lines)
                else:
                    pending = block.lines
                size += block.size
                noted = noted or _NOTE in block.data or _NOTE in block.lines[0]
                if size >= BATCH_BYTES and (batch := flush()) is not None:
                    yield batch
    except LogReadError as e:
        if e.line >= 0:  # the file did not open
            part.malformed += 1
            part.problems.append((e.line, "malformed", e.detail))
        else:
            problem = (number + len(pending) + counted + 1, "malformed",
                       f"{e} after line {number + len(pending) + counted}")
            last = flush()
            if last is not None:
                last.part.malformed += 1
                last.part.problems.append(problem)
                yield last
            return
    if (batch := flush()) is not None:
        yield batch


def candidates(batch: Batch, check_json: bool) -> list[tuple[int, bytes]]:
    """Count the batch's lines (into its part) and return the (line
    number, line) of those that can be eligible records."""
    lines = batch.lines
    n = len(lines)
    # every line `{"type":"...}` (counted by C loops, no Python code per
    # line): then "type" stands at the same place on every line
    if (check_json or sum(map(bytes.startswith, lines, repeat(_TYPE))) != n
            or sum(map(bytes.endswith, lines, repeat(b"}"))) != n):
        return split(batch, check_json)
    first = batch.first
    out = [(number, x) for number, x in enumerate(lines, first)
           if x[9:26] == b'TransientFailure"' or x[9:16] == b'Bounce"']
    if batch.noted is not False:
        note = _NOTE
        noted = [(number, x) for number, x in enumerate(lines, first)
                 if x[9:18] == b'Delivery"' and note in x]
        if noted:
            out.extend(noted)
            out.sort()
    part = batch.part
    part.read += n
    part.not_offered["type"] += n - len(out)
    return out


def split(batch: Batch, check_json: bool) -> list[tuple[int, bytes]]:
    """`candidates` for any batch: looks into every line.  The common line
    (a `{...}` record of another type) costs a few substring tests."""
    part = batch.part
    block = list(batch.lines)
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
    return [(base + i + 1, block[i]) for i in taken]
