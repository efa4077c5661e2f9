"""The bounded reader: whatever the sizes of reads, decompression steps and
lines, it hands out exactly the file's lines, a line that grows too long
across steps as a LongLine of its length, and never holds more than a
line's maximum besides the step."""

from __future__ import annotations

import io
import random

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kumopy._replay import _reader
from kumopy._replay._reader import LogReadError, LongLine, Step, iter_steps


def _expected(data: bytes, max_line: int) -> list[bytes | LongLine]:
    out: list[bytes | LongLine] = []
    for line in data.splitlines():  # (only LF in these tests)
        out.append(LongLine(len(line)) if len(line) > max_line else line)
    return out


def _flatten(pieces: list[Step | LongLine], max_line: int) -> list[bytes | LongLine]:
    out: list[bytes | LongLine] = []
    for p in pieces:
        if isinstance(p, LongLine):
            out.append(p)
        else:  # (a line too long within one step is the caller's to find)
            out.extend(LongLine(len(x)) if len(x) > max_line else x for x in p.lines())
    return out


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), compress=st.booleans(), final_lf=st.booleans(),
       step=st.integers(1, 40))
def test_pieces_are_the_lines(monkeypatch: pytest.MonkeyPatch, seed: int, compress: bool,
                              final_lf: bool, step: int) -> None:
    rng = random.Random(seed)
    max_line = 20
    monkeypatch.setattr(_reader, "READ_SIZE", step)
    monkeypatch.setattr(_reader, "OUT_SIZE", step)
    lines = [bytes(rng.choice(b"ab{} ") for _ in range(rng.choice((0, 3, 19, 20, 21, 60))))
             for _ in range(rng.randrange(1, 30))]
    data = b"\n".join(lines) + (b"\n" if final_lf else b"")
    if not data:
        return
    raw = zstandard.ZstdCompressor().compress(data) if compress else data
    pieces = list(iter_steps(io.BytesIO(raw), max_line=max_line))
    assert _flatten(pieces, max_line) == _expected(data, max_line)
    for p in pieces:
        if isinstance(p, Step):  # whole lines; at most a line's start carried
            assert p.end and p.chunk[p.end - 1:p.end] == b"\n"
            assert len(p.head) <= max_line and b"\n" not in p.head
            assert p.size == len(p.head) + p.end <= max_line + step + 1


def test_decompression_is_bounded_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_reader, "OUT_SIZE", 1 << 16)
    bomb = zstandard.ZstdCompressor().compress(b"x\n" * (8 << 20))  # 16 MiB, ~2 KB
    sizes = [len(p.lines()) for p in iter_steps(io.BytesIO(bomb)) if isinstance(p, Step)]
    assert sum(sizes) == 8 << 20 and max(sizes) <= (1 << 16) // 2 + 1


def test_a_line_without_end_stops_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_reader, "MAX_SKIP", 1000)
    pieces = iter_steps(io.BytesIO(b"ok\n" + b"z" * 5000), max_line=10)
    first = next(pieces)
    assert isinstance(first, Step) and first.lines() == [b"ok"]
    with pytest.raises(LogReadError, match="more than 1,000 bytes without a line end"):
        next(pieces)
