"""Picking candidate lines from a batch: the fast path (every line laid out
as kumod writes it) must pick exactly what the line-by-line path picks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kumopy._replay import _scan
from kumopy._replay._report import Numbering, Part
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


def _messy_file(rng: random.Random, path: Path) -> bytes:
    """A log with long, blank and broken lines, as plain or zstd (maybe
    cut short); returns the data that was written (before compression)."""
    import zstandard

    lines = _clean_batch(rng, rng.randint(1, 300))
    for _ in range(rng.randint(0, 6)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(
            [b"", b"junk", b'{"type":"Bounce","x":"' + b"y" * 700 + b'"}', ODD[2], ODD[4]]))
    data = b"\n".join(lines) + rng.choice((b"\n", b""))
    if rng.random() < 0.5:
        packed = zstandard.ZstdCompressor().compress(data)
        if rng.random() < 0.5:
            packed = packed[: len(packed) * 2 // 3]  # kumod still writing it
        path.write_bytes(packed)
    else:
        path.write_bytes(data)
    return data


@pytest.mark.parametrize("seed", range(16))
def test_pieces_hold_the_lines_of_the_file_in_order(
        seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the sizes of reads, steps and pieces: the pieces' lines,
    with a line the reader found too long in its place, are the file's
    lines up to where it could be read; a piece's bytes (what another
    process gets) cut into the same lines; no line with kumod's rewrite
    note is in a piece said to hold none; only the first item begins."""
    from kumopy._replay import _reader

    rng = random.Random(seed)
    monkeypatch.setattr(_reader, "READ_SIZE", rng.choice((61, 97, 500, 4096)))
    monkeypatch.setattr(_reader, "OUT_SIZE", rng.choice((64, 300, 2048)))
    monkeypatch.setattr(_scan, "BATCH_BYTES", rng.choice((100, 400, 3000)))
    path = tmp_path / "log"
    data = _messy_file(rng, path)
    expected = _lines(data)
    got: list[bytes | int] = []
    items = list(_scan.pieces(str(path), max_line=500))
    failures = 0
    for k, item in enumerate(items):
        assert item.begins == (k == 0)
        if isinstance(item, Part):
            assert item.span in (0, 1) and item.malformed == 1
            if item.failure:
                failures += 1
                assert k == len(items) - 1 and "zstd" in item.failure
            else:  # a line that grew too long across steps
                got.append(int(item.problems[0][2].split("(")[1].split(" ")[0].replace(",", "")))
            continue
        lines, noted = item.lines()
        assert _scan.lines_of(item.data()) == lines
        assert item.size == sum(len(x) + 1 for x in lines)
        if not noted:
            assert not any(NOTE.encode() in x for x in lines)
        got.extend(lines)
    # (a line read whole, or the length of one the reader skipped)
    if failures:  # (up to where the data could be read)
        expected = expected[:len(got)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g == (len(e) if isinstance(g, int) else e)
        assert not isinstance(g, int) or g > 500


def test_numbering_places_each_part_after_the_lines_before_it() -> None:
    """Parts are numbered from their own first line; placed in order they
    get the file's numbers, and a file that begins starts again at 1."""
    numbering = Numbering()
    first = Part(file="a", span=3, begins=True, problems=[(2, "malformed", "x")],
                 out=[{"line": 3}])
    second = Part(file="a", span=4, problems=[(1, "error", "y"), (4, "malformed", "z")],
                  out=[{"line": 2}])
    broken = Part(file="a", malformed=1, failure="damaged zstd data (z)")
    again = Part(file="a", span=2, begins=True, problems=[(2, "malformed", "w")])
    placed = [numbering.place(p) for p in (first, second, broken, again)]
    assert [p.problems for p in placed] == [
        [(2, "malformed", "x")],
        [(4, "error", "y"), (7, "malformed", "z")],
        [(8, "malformed", "damaged zstd data (z) after line 7")],
        [(2, "malformed", "w")],
    ]
    assert first.out == [{"line": 3}] and second.out == [{"line": 5}]
