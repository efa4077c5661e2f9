"""`Answers`: regex_set_map answers that forked processes share.  A process
writes only its own region and reads the others'; an answer is taken only for
the same map and the same subject bytes, never from a slot whose words
disagree; a full region stops taking answers and the map still answers."""

from __future__ import annotations

import os
import struct

import pytest

from kumopy._regex import RegexSetMap
from kumopy._regex._shared import Answers
from kumopy._regex.setmap import share_answers


def test_an_answer_written_is_read_for_that_map_and_subject_only() -> None:
    answers = Answers(2, slots=64, arena=4096)
    answers.use(1)
    assert answers.get(7, b"450 mailbox full") == -1
    answers.put(7, b"450 mailbox full", 3)
    answers.put(7, b"550 no such user", 0)
    assert answers.get(7, b"450 mailbox full") == -1  # (its own: not read)
    answers.use(0)  # (as another process)
    assert answers.get(7, b"450 mailbox full") == 3
    assert answers.get(7, b"550 no such user") == 0  # (known: no match)
    assert answers.get(8, b"450 mailbox full") == -1  # another map
    assert answers.get(7, b"450 mailbox ful") == -1
    assert answers.get(7, b"450 mailbox fulL") == -1
    assert sorted(answers.entries()) == [
        (1, 7, b"450 mailbox full", 3), (1, 7, b"550 no such user", 0)]
    answers.close()


def test_a_process_writes_its_region_and_reads_the_others() -> None:
    answers = Answers(3, slots=64, arena=4096)
    children = []
    for region in (1, 2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                answers.use(region)
                answers.put(1, b"subject %d" % region, region * 10)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    answers.use(0)
    assert answers.get(1, b"subject 1") == 10
    assert answers.get(1, b"subject 2") == 20
    assert sorted((r, s) for r, _, s, _ in answers.entries()) == [
        (1, b"subject 1"), (2, b"subject 2")]
    answers.close()


def test_a_slot_whose_words_disagree_is_not_taken() -> None:
    answers = Answers(2, slots=16, arena=4096)
    answers.use(0)
    answers.put(5, b"421 try later", 2)
    answers.use(1)
    mm = answers._mm
    slot = next(i for i in range(16) if mm[i * 32:i * 32 + 8] != bytes(8))
    answer_at = slot * 32 + 24
    struct.pack_into("<Q", mm, answer_at, 9)  # a stale or torn answer word
    assert answers.get(5, b"421 try later") == -1
    struct.pack_into("<Q", mm, answer_at, 2)
    assert answers.get(5, b"421 try later") == 2
    mm[16 * 32:16 * 32 + 3] = b"XXX"  # the subject's bytes in the arena
    assert answers.get(5, b"421 try later") == -1
    answers.close()


def test_a_full_region_stops_taking_answers() -> None:
    answers = Answers(2, slots=4, arena=64)
    answers.use(0)
    subjects = [b"response number %03d" % i for i in range(40)]
    for i, subject in enumerate(subjects):
        answers.put(1, subject, i + 1)
    held = {s: a for _, _, s, a in answers.entries()}
    assert 0 < len(held) <= 3  # (64 bytes of arena: three subjects of 20)
    answers.use(1)
    for i, subject in enumerate(subjects):
        assert answers.get(1, subject) == (i + 1 if subject in held else -1)
    # with no region of its own, a process only reads
    reader = Answers(1, slots=4, arena=64)
    reader.put(1, b"x", 1)
    assert list(reader.entries()) == []
    with pytest.raises(ValueError):
        reader.use(1)
    reader.close()
    answers.close()


@pytest.fixture
def shared() -> object:
    answers = Answers(2, slots=1024, arena=1 << 16)
    answers.use(0)
    share_answers(answers)
    yield answers
    share_answers(None)
    answers.close()


def test_a_map_reads_and_writes_the_shared_answers(shared: Answers) -> None:
    rules = {r"^4[0-9][0-9] .*quota": "quota", r"(?i)user unknown": "unknown",
             r"\bfull\b": "full"}
    smap = RegexSetMap(rules)
    subjects = ["452 4.2.2 over quota", "550 User Unknown", "552 mailbox full",
                "552 mailboxfull", "250 ok", "452 quota again", "452 ünïcode full"]
    alone = []
    share_answers(None)
    for s in subjects:
        alone.append(smap.first_index(s))
    share_answers(shared)
    assert [smap.first_index(s) for s in subjects] == alone
    written = {s: a for _, _, s, a in shared.entries()}
    assert written == {s.encode(): 0 if i is None else i + 1 for s, i in zip(subjects, alone, strict=True)}
    # an equal map (the same patterns, built again) in another process
    # reads what this one wrote, without asking RE2
    shared.use(1)
    again = RegexSetMap(dict(reversed(list(rules.items()))))
    hidden = RegexSetMap.__dict__["_match"]  # (a slot: the map is immutable)
    matcher = hidden.__get__(again)
    calls = []

    def counting(data: bytes) -> list[int]:
        calls.append(data)
        return matcher(data)

    hidden.__set__(again, counting)
    assert [again.first_index(s) for s in subjects] == alone
    assert calls == []
    assert again.lookup("552 mailbox full") == "full"
    # a map with other patterns has answers of its own
    other = RegexSetMap({r"mailbox": "m"})
    assert other.first_index("552 mailbox full") == 0
    assert other.first_index("250 ok") is None
