"""Picking candidate lines from a batch: the fast path (every line laid out
as kumod writes it) must pick exactly what the line-by-line path picks."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from kumopy._replay import _scan
from kumopy._replay._report import Part
from kumopy._replay._scan import Batch, candidates, split

NOTE = "(kumomta: status was rewritten from 450 -> 250)"


def _record(kind: str, n: int, note: bool = False) -> bytes:
    content = f"ok {n}" + (f" {NOTE}" if note else "")
    return (f'{{"type":"{kind}","id":"m{n}","response":{{"code":250,'
            f'"content":"{content}"}}}}').encode()


KINDS = ["Reception", "Delivery", "TransientFailure", "Bounce", "Expiration",
         "AdminBounce", "Bouncey", "Transient"]


def _clean_batch(rng: random.Random, n: int) -> list[bytes]:
    lines = []
    for i in range(n):
        kind = rng.choice(KINDS)
        lines.append(_record(kind, i, note=kind == "Delivery" and rng.random() < 0.2))
    return lines


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _run(data: bytes, first: int = 1,
         noted: bool | None = None) -> tuple[list[tuple[int, bytes]], Part]:
    batch = Batch("f", first, _lines(data), Part(), noted=noted)
    return candidates(batch, False), batch.part


def _reference(data: bytes, first: int = 1) -> tuple[list[tuple[int, bytes]], Part]:
    batch = Batch("f", first, _lines(data), Part())
    return split(batch, False), batch.part


def _same(a: tuple[list[tuple[int, bytes]], Part],
          b: tuple[list[tuple[int, bytes]], Part]) -> None:
    assert a[0] == b[0]
    assert a[1].read == b[1].read
    assert a[1].malformed == b[1].malformed
    assert a[1].problems == b[1].problems
    assert dict(a[1].not_offered) == dict(b[1].not_offered)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("final_lf", [True, False])
def test_fast_path_picks_what_the_line_by_line_path_picks(
        seed: int, final_lf: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    lines = _clean_batch(rng, rng.randint(1, 400))
    data = b"\n".join(lines) + (b"\n" if final_lf else b"")
    expected = _reference(data, first=17)
    calls = []
    real_split = _scan.split
    monkeypatch.setattr(_scan, "split", lambda *a: calls.append(a) or real_split(*a))
    got = _run(data, first=17, noted=NOTE.encode() in data)
    assert calls == [], "a clean batch must take the fast path"
    _same(got, expected)
    _same(_run(data, first=17, noted=None), expected)  # (not known: looked for)
    picked = {n for n, _ in got[0]}
    for i, line in enumerate(lines):
        wanted = (line.startswith((b'{"type":"TransientFailure"', b'{"type":"Bounce"'))
                  or (line.startswith(b'{"type":"Delivery"') and NOTE.encode() in line))
        assert (17 + i in picked) == wanted


ODD = [
    b"",  # a blank line
    b"   ",
    b'  {"type":"Bounce","id":"padded"}  ',  # padded: still a record
    b'{"id":"x","type":"TransientFailure"}',  # "type" not first
    b'{"type":"TransientFailure","id":"cut',  # cut short
    b"not json at all",
    b'{"type":"Delivery","response":{"content":"' + NOTE.encode() + b'"}}',
]


@pytest.mark.parametrize("odd", ODD)
def test_any_odd_line_sends_the_batch_the_long_way_with_the_same_answer(
        odd: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(len(odd))
    lines = _clean_batch(rng, 50)
    lines.insert(rng.randint(0, 50), odd)
    data = b"\n".join(lines) + b"\n"
    _same(_run(data), _reference(data))
    if odd.startswith(b'{"type":"') and odd.endswith(b"}"):
        return  # (a well-framed line: the fast path is right to take it)
    calls = []
    real_split = _scan.split
    monkeypatch.setattr(_scan, "split", lambda *a: calls.append(a) or real_split(*a))
    _run(data)
    assert len(calls) == 1


def test_a_record_with_type_elsewhere_is_still_a_candidate() -> None:
    data = (_record("Reception", 1) + b"\n" + b'{"id":"x","type":"Bounce","response":{}}'
            + b"\n" + _record("Delivery", 2) + b"\n")
    found, part = _run(data, first=5)
    assert [n for n, _ in found] == [6]
    assert part.read == 3


def test_batches_number_lines_across_blocks_and_long_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kumopy._replay import _reader

    monkeypatch.setattr(_reader, "READ_SIZE", 97)  # blocks end mid-line
    monkeypatch.setattr(_scan, "BATCH_BYTES", 300)
    rng = random.Random(5)
    lines = _clean_batch(rng, 200)
    lines[120] = b'{"type":"Bounce","x":"' + b"y" * 500 + b'"}'  # over max_line
    path = tmp_path / "log"
    path.write_bytes(b"\n".join(lines))  # (no final LF)
    got = []
    read = malformed = 0
    for batch in _scan.batches(str(path), max_line=400):
        got.extend(batch.candidates or [])
        read += batch.part.read
        malformed += batch.part.malformed
    expected = [(i + 1, x) for i, x in enumerate(lines) if i != 120 and (
        x.startswith((b'{"type":"TransientFailure"', b'{"type":"Bounce"'))
        or (x.startswith(b'{"type":"Delivery"') and NOTE.encode() in x))]
    assert got == expected
    assert read == 200 and malformed == 1


def _batch_view(batch: Batch) -> tuple[Any, ...]:
    p = batch.part
    return (batch.file, batch.first, batch.candidates, p.read, p.malformed, p.problems,
            dict(p.not_offered))


@pytest.mark.parametrize("seed", range(12))
def test_shares_cut_the_same_batches_and_take_each_once(
        seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process reads the whole file and keeps batches k % of ==
    index: together the shares are exactly the batches of one reader,
    whatever the file holds (long lines, blank or broken lines, a zstd
    stream cut short) and however the reads fall."""
    import zstandard

    from kumopy._replay import _reader

    rng = random.Random(seed)
    monkeypatch.setattr(_reader, "READ_SIZE", rng.choice((61, 97, 500, 4096)))
    monkeypatch.setattr(_reader, "OUT_SIZE", rng.choice((64, 300, 2048)))
    monkeypatch.setattr(_scan, "BATCH_BYTES", rng.choice((100, 400, 3000)))
    lines = _clean_batch(rng, rng.randint(1, 300))
    for _ in range(rng.randint(0, 6)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(
            [b"", b"junk", b'{"type":"Bounce","x":"' + b"y" * 700 + b'"}', ODD[2], ODD[4]]))
    data = b"\n".join(lines) + rng.choice((b"\n", b""))
    path = tmp_path / "log"
    if rng.random() < 0.5:
        packed = zstandard.ZstdCompressor().compress(data)
        if rng.random() < 0.5:
            packed = packed[: len(packed) * 2 // 3]  # kumod still writing it
        path.write_bytes(packed)
    else:
        path.write_bytes(data)
    whole = [_batch_view(b) for b in _scan.batches(str(path), max_line=500)]
    for of in (2, 3):
        shares = [[_batch_view(b) for b in _scan.batches(str(path), max_line=500,
                                                          share=_scan.Share(i, of))]
                  for i in range(of)]
        merged = [shares[k % of][k // of] for k in range(len(whole))]
        assert merged == whole
        assert sum(len(s) for s in shares) == len(whole)
