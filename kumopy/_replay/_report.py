"""What a replay counts: per batch (`Part`, plain data that crosses
processes) and in total (`Report`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NOT_OFFERED", "Counts", "Part", "Problem", "Report"]

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
    """The result of one batch (plain data: it crosses processes)."""

    #: the log file the batch was read from
    file: str = ""
    out: list[str] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # line, kind, message


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
