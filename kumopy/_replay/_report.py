"""What a replay counts: per batch (`Part`, plain data that crosses
processes) and in total (`Report`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NOT_OFFERED", "Counts", "Numbering", "Part", "Problem", "Report"]

#: reasons a record was not offered, in report order
NOT_OFFERED = ("type", "no response", "250", "internal", "protocol", "line too long")


@dataclass(frozen=True)
class Problem:
    """A malformed line (`kind` "malformed") or a failed handler call
    (`kind` "error") at FILE:LINE."""

    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Counts:
    """The counts a batch produces and a report sums."""

    read: int = 0
    eligible: int = 0
    rewritten: int = 0
    unchanged: int = 0
    errors: int = 0
    malformed: int = 0
    #: eligible records whose logged response kumod had already rewritten
    restored: int = 0
    not_offered: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    by_domain: dict[str, list[int]] = field(default_factory=dict)
    by_rule: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.eligible += other.eligible
        self.rewritten += other.rewritten
        self.unchanged += other.unchanged
        self.errors += other.errors
        self.malformed += other.malformed
        self.restored += other.restored
        self.not_offered.update(other.not_offered)
        self.by_code.update(other.by_code)
        for table, src in ((self.by_domain, other.by_domain), (self.by_rule, other.by_rule)):
            for key, (a, b) in src.items():
                row = table.get(key)
                if row is None:
                    table[key] = [a, b]
                else:
                    row[0] += a
                    row[1] += b


@dataclass
class Part(Counts):
    """The result of one batch (plain data: it crosses processes).  Its
    line numbers count from the batch's first line (1) until `Numbering`
    places it in its file."""

    #: the log file the batch was read from
    file: str = ""
    #: the rewritten records, as --out writes them (with "line")
    out: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # line, kind, message
    #: the lines of the file the batch stands for (blank and over-long
    #: ones included)
    span: int = 0
    #: the first batch of its file
    begins: bool = False
    #: the file could not be read past this batch (why; see `Numbering`)
    failure: str = ""

    def merge(self, other: Part) -> None:
        """Add `other`, numbered as this part (a batch of this part's
        piece)."""
        self.add(other)
        self.problems.extend(other.problems)
        self.out.extend(other.out)


class Numbering:
    """Places parts in their files, in input order: turns the line numbers
    of each part (counted from its own first line) into the file's."""

    def __init__(self) -> None:
        self._base = 0  # lines of the file before the next part

    def place(self, part: Part) -> Part:
        if part.begins:
            self._base = 0
        base = self._base
        if base:
            part.problems = [(n + base, kind, text) for n, kind, text in part.problems]
            for record in part.out:
                record["line"] += base
        self._base = end = base + part.span
        if part.failure:
            part.problems.append((end + 1, "malformed", f"{part.failure} after line {end}"))
        return part


@dataclass
class Report(Counts):
    """What a replay found.  `by_code` counts "OLD -> NEW" changes;
    `by_domain` maps a recipient domain to [eligible, rewritten];
    `by_rule` maps the pattern that decided (the last regex_set_map lookup
    of the handler call that matched) to [matched, rewritten]."""

    files: int = 0
    seconds: float = 0.0
    jobs: int = 1
    cache: bool = False
    #: the Dask scheduler the files were replayed on (jobs: its workers)
    cluster: str | None = None

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {
            "files": self.files,
            "read": self.read,
            "eligible": self.eligible,
            "rewritten": self.rewritten,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "malformed": self.malformed,
            "restored": self.restored,
            "not_offered": {k: self.not_offered[k] for k in NOT_OFFERED if self.not_offered[k]},
            "by_code": dict(sorted(self.by_code.items())),
            "by_domain": {k: {"eligible": v[0], "rewritten": v[1]}
                          for k, v in sorted(self.by_domain.items())},
            "by_rule": {k: {"matched": v[0], "rewritten": v[1]}
                        for k, v in sorted(self.by_rule.items())},
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.rate),
            "jobs": self.jobs,
            "cache": self.cache,
        }
        if self.cluster is not None:
            data["cluster"] = self.cluster
        return data
