"""Cutting log files into pieces of whole lines, and picking from a batch
the lines that can be eligible records without parsing the others.

A `Piece` is about BATCH_BYTES of whole lines as the reader produced them,
not yet cut into lines: the process that replays it cuts it (another
process gets its bytes through shared memory), so the process that reads
a file does no more than decompress it.  Line numbers count from each
piece's first line; `Numbering` places them in the file.

kumod writes every record on one line, `"type"` first:
`{"type":"TransientFailure",...}`.  When every line of a batch has that
shape (checked by C loops over the batch's lines, no Python code per
line), the candidates are picked by the bytes at the type's place (and by
kumod's rewrite note, for Delivery records of a response rewritten to
250), the way the benchmark's floor picks them.  Any other batch (blank
or padded lines, another field order, lines that are not JSON objects,
`--check-json`) goes through `split`, which looks into every line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

from ._reader import MAX_LINE, LogReadError, LongLine, Step, iter_steps, open_log
from ._report import Part

__all__ = ["BATCH_BYTES", "Batch", "Piece", "candidates", "lines_of", "may_note", "pieces", "split",
           "too_long"]

#: decompressed bytes of log per piece at least (a step of reading is
#: 1 MiB: about 1,500 records): small pieces keep every worker busy
BATCH_BYTES = 512 << 10

_NOTE = b"(kumomta: status was rewritten from "
_TYPE = b'{"type":"'


@dataclass
class Batch:
    """Complete lines of one file: `lines` are lines `first`, `first + 1`,
    ... (of their piece) without their LFs; `part` gets their counts.
    `noted`: whether a line may hold kumod's rewrite note (None: not
    known, look)."""

    file: str
    first: int
    lines: list[bytes]
    part: Part
    #: the lines that can be eligible, once `candidates` ran
    candidates: list[tuple[int, bytes]] | None = None
    noted: bool | None = None


class Piece(NamedTuple):
    """About BATCH_BYTES of whole lines of one file, as read (see `Step`):
    its lines are `lines()`, or `lines_of(data())` in another process."""

    file: str
    steps: list[Step]
    #: the bytes of its lines, LFs included
    size: int
    #: the first piece of its file
    begins: bool

    def lines(self) -> tuple[list[bytes], bool]:
        """Its lines (without LFs), and whether one may hold kumod's
        rewrite note (False: none does)."""
        if len(self.steps) == 1:  # (the common case: no copy)
            step = self.steps[0]
            lines = step.lines()
            return lines, _NOTE in step.chunk or _NOTE in lines[0]
        data = self.data()
        return lines_of(data), _NOTE in data

    def chunks(self) -> Iterator[bytes | memoryview]:
        """Its bytes, in a few pieces (none copied)."""
        for step in self.steps:
            if step.head:
                yield step.head
            yield memoryview(step.chunk)[:step.end]

    def data(self) -> bytes:
        return b"".join(self.chunks())


def lines_of(data: bytes) -> list[bytes]:
    """The lines of a piece's `data()`, without their LFs."""
    lines = data.split(b"\n")
    lines.pop()  # (after the last LF)
    return lines


def pieces(
    path: str,
    *,
    max_line: int = MAX_LINE,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[Piece | Part]:
    """The lines of one log file in pieces of about BATCH_BYTES, and in
    their places, as parts already counted, what the reader found itself:
    a line that grew longer than `max_line` (a malformed line), and a
    file that cannot be read (any further; see `Part.failure`)."""
    steps: list[Step] = []
    size = 0
    begins = True

    def flush() -> Piece:
        nonlocal steps, size, begins
        piece = Piece(path, steps, size, begins)
        steps, size, begins = [], 0, False
        return piece

    def lone(**counts: Any) -> Part:
        nonlocal begins
        part = Part(file=path, begins=begins, malformed=1, **counts)
        begins = False
        return part

    try:
        with open_log(path) as f:
            for step in iter_steps(f, max_line=max_line, on_read=on_read):
                if isinstance(step, LongLine):
                    if steps:
                        yield flush()
                    problem = (1, "malformed", too_long(step.size, max_line))
                    yield lone(span=1, read=1, problems=[problem])
                    continue
                steps.append(step)
                size += step.size
                if size >= BATCH_BYTES:
                    yield flush()
    except LogReadError as e:
        if e.line >= 0:  # the file did not open
            yield lone(problems=[(e.line, "malformed", e.detail)])
            return
        if steps:
            yield flush()
        yield lone(failure=str(e))
        return
    if steps:
        yield flush()


def may_note(data: bytes) -> bool:
    """Whether a line of `data` may hold kumod's rewrite note."""
    return _NOTE in data


def too_long(size: int, max_line: int) -> str:
    return f"line longer than {max_line:,} bytes ({size:,} bytes): not replayed"


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
