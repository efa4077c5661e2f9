"""The replay engine: read log files, offer the eligible records to a
policy in one or more worker processes, and add up what happened.

The parent process reads and decompresses the files and hands batches of
whole lines to the workers, each with its own `Policy` (Lua states cannot
cross threads or processes).  A worker recognises, from the raw line, the
records that cannot be TransientFailure or Bounce records (no JSON
parsing: a line that does not contain `TransientFailure"`, `Bounce"` or
kumod's rewrite note cannot be one) and parses the others.  Results come
back in batch order, so `--out` is the same whatever the number of jobs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from .._errors import PolicyError
from .._kumo.regex_set_map import LuaRegexSetMap, observe_lookups
from .._policy import DEFAULT_BUDGET_SECONDS, Policy
from .._smtp import QueueName
from ._reader import LogReadError, iter_chunks
from ._records import NotEligible, examine

__all__ = ["Problem", "Report", "ReplaySpec", "default_jobs", "replay"]

# decompressed bytes of log per batch (about 500 records): small batches
# keep every worker busy (large ones stall on the pipes)
_BATCH_BYTES = 512 << 10
_EVENT = "smtp_client_rewrite_delivery_status"

#: reasons a record was not offered, in report order
NOT_OFFERED = ("type", "no response", "250", "internal", "protocol")


def default_jobs() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ReplaySpec:
    """How to load the policy (in every worker) and how to replay."""

    policy: str
    share_dir: str | None = None  # None: Policy's default (/opt/kumomta/share)
    path_map: tuple[tuple[str, str], ...] = ()
    kumod_strict: bool = False
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS
    package_dirs: tuple[str, ...] = ()
    #: reuse the result of an earlier identical call (response line and
    #: queue name): only right for handlers that are pure functions of
    #: their arguments
    cache: bool = False
    #: parse every line, not only those that can be eligible records
    check_json: bool = False

    def load(self) -> Policy:
        return Policy.load(
            self.policy,
            share_dir=self.share_dir,
            path_map=dict(self.path_map),
            kumod_strict=self.kumod_strict,
            budget_seconds=self.budget_seconds,
            package_dirs=self.package_dirs,
        )


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
class _Counts:
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

    def add(self, other: _Counts) -> None:
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
class Report(_Counts):
    """What a replay found.  `by_code` counts "OLD -> NEW" changes;
    `by_domain` maps a recipient domain to [eligible, rewritten];
    `by_rule` maps the pattern that decided (the last regex_set_map lookup
    of the handler call that matched) to [matched, rewritten]."""

    files: int = 0
    seconds: float = 0.0
    jobs: int = 1
    cache: bool = False

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
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


@dataclass
class _Part(_Counts):
    """The result of one batch (plain data: it crosses processes)."""

    out: list[str] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # line, kind, message


@dataclass
class _Batch:
    """Complete lines of one file, as read: `data` holds lines `first`,
    `first + 1`, ... (the last one may lack its LF only at the end of the
    file).  `part` has what the reader itself found (a damaged file)."""

    file: str
    first: int
    data: bytes
    part: _Part
    #: the lines that can be eligible, once `_split` ran (the parent splits
    #: before handing a batch to a worker: only ~1/6 of a log's bytes then
    #: cross the pipe)
    candidates: list[tuple[int, bytes]] | None = None


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

_CacheEntry = tuple[int | None, str | None, str | None]  # new code, error, pattern


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class _Worker:
    def __init__(self, spec: ReplaySpec, policy: Policy | None = None) -> None:
        self.spec = spec
        self.policy = policy if policy is not None else spec.load()
        self.cache: dict[tuple[str, QueueName], _CacheEntry] | None = (
            {} if spec.cache else None
        )
        self._hit: str | None = None

    def _observe(self, m: LuaRegexSetMap, index: int | None, subject: bytes | str) -> None:
        if index is not None:
            self._hit = m.patterns[index]

    def _call(self, line: str, queue: QueueName, rec: Any) -> _CacheEntry:
        self._hit = None
        try:
            result = self.policy._offer_response(rec, line, queue, True)
        except PolicyError as e:
            return None, str(e), self._hit
        code = result.code if result is not rec else None
        return code, None, self._hit

    def run(self, batch: _Batch) -> _Part:
        part = batch.part
        loads = orjson.loads  # ~3x json.loads on log records; same errors class
        cache = self.cache
        candidates = batch.candidates
        if candidates is None:
            candidates = _split(batch, self.spec.check_json)
        with observe_lookups(self._observe):
            for number, raw in candidates:
                try:
                    record = loads(raw)
                except ValueError as e:
                    part.malformed += 1
                    part.problems.append((number, "malformed", f"not JSON: {_json_error(e)}"))
                    continue
                try:
                    found = examine(record)
                except NotEligible as e:
                    part.not_offered[e.reason] += 1
                    continue
                except (ValueError, TypeError) as e:
                    part.malformed += 1
                    part.problems.append((number, "malformed", f"not a log record: {e}"))
                    continue
                part.eligible += 1
                if found.was_rewritten:
                    part.restored += 1
                response = found.response
                key = (found.line, found.queue)
                entry = cache.get(key) if cache is not None else None
                if entry is None:
                    entry = self._call(found.line, found.queue, response)
                    if cache is not None:
                        cache[key] = entry
                code, error, pattern = entry
                changed = code is not None and code != response.code
                row = part.by_domain.get(found.domain)
                if row is None:
                    row = part.by_domain[found.domain] = [0, 0]
                row[0] += 1
                if pattern is not None:
                    rule = part.by_rule.get(pattern)
                    if rule is None:
                        rule = part.by_rule[pattern] = [0, 0]
                    rule[0] += 1
                    if changed:
                        rule[1] += 1
                if error is not None:
                    part.errors += 1
                    part.unchanged += 1
                    part.problems.append((number, "error", f"{_EVENT} failed: {error}"))
                    continue
                if not changed:
                    part.unchanged += 1
                    continue
                assert code is not None
                part.rewritten += 1
                row[1] += 1
                part.by_code[f"{response.code} -> {code}"] += 1
                new_line = response.with_code(code).to_single_line()
                part.out.append(json.dumps({
                    "file": batch.file,
                    "line": number,
                    "id": found.id,
                    "domain": found.domain,
                    "queue": found.queue.format(),
                    "original": found.line,
                    "rewritten": new_line,
                    "original_code": response.code,
                    "code": code,
                    "pattern": pattern,
                }, ensure_ascii=False))
        part.problems.sort(key=lambda p: p[0])  # the reader's and ours, in line order
        return part


def _json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at column {e.colno}"
    return str(e)


_WORKER: _Worker | None = None


def _init_worker(spec: ReplaySpec) -> None:
    global _WORKER
    if _WORKER is None:  # not inherited from the parent (fork) process
        _WORKER = _Worker(spec)


def _run_batch(batch: _Batch) -> _Part:
    assert _WORKER is not None
    return _WORKER.run(batch)


def _pool(worker: _Worker, spec: ReplaySpec, jobs: int) -> Any:
    """`jobs` worker processes.  Forked ones start from `worker`'s policy
    (its memoized maps already built, as a kumod process that has been
    running); spawned ones load the policy from `spec`."""
    global _WORKER
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    _WORKER = worker if method == "fork" else None
    try:
        return ctx.Pool(jobs, initializer=_init_worker, initargs=(spec,))
    finally:
        _WORKER = None


def _run_file(path: str) -> list[_Part]:
    """A whole log file in a worker (it reads and decompresses it too)."""
    assert _WORKER is not None
    return [_WORKER.run(batch) for batch in _batches([path], None)]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


_NOTE = b"(kumomta: status was rewritten from "


def _split(batch: _Batch, check_json: bool) -> list[tuple[int, bytes]]:
    """Count the batch's lines and return the (line number, line) of those
    that can be eligible records.  Works on the whole batch with
    comprehensions: the common line (a `{...}` record of another type)
    costs a few substring tests."""
    part = batch.part
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
                if x[:9] == b'{"type":"'
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


def _pieces(chunk: bytes) -> Iterator[bytes]:
    """`chunk` (whole lines) cut at line ends into pieces of about
    `_BATCH_BYTES` (a decompressed zstd read can be tens of megabytes)."""
    pos = 0
    n = len(chunk)
    while n - pos > _BATCH_BYTES:
        cut = chunk.find(b"\n", pos + _BATCH_BYTES)
        if cut < 0:
            break
        yield chunk[pos:cut + 1]
        pos = cut + 1
    if pos < n:
        yield chunk[pos:] if pos else chunk


def _batches(paths: Sequence[str], on_read: Callable[[int], None] | None) -> Iterator[_Batch]:
    """The files' lines in batches of about `_BATCH_BYTES` (whole lines)."""
    for path in paths:
        number = 0  # lines handed out so far
        pending: list[bytes] = []
        size = 0
        first = 1
        try:
            for chunk in iter_chunks(path, on_read):
                for piece in _pieces(chunk):
                    pending.append(piece)
                    size += len(piece)
                    number += piece.count(b"\n")
                    if size >= _BATCH_BYTES:
                        yield _Batch(path, first, b"".join(pending), _Part())
                        pending, size, first = [], 0, number + 1
        except LogReadError as e:
            part = _Part(malformed=1)
            part.problems.append((e.line, "malformed", e.detail))
            yield _Batch(path, first, b"".join(pending), part)
            continue
        yield _Batch(path, first, b"".join(pending), _Part())


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def replay(
    spec: ReplaySpec,
    paths: Sequence[str],
    *,
    jobs: int = 1,
    out: IO[str] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    on_records: Callable[[int], None] | None = None,
    policy: Policy | None = None,
) -> Report:
    """Replay the log files `paths` through the policy of `spec`.

    `out` gets one JSON line per rewritten record, in input order;
    `on_problem` each malformed line and failed call, in input order;
    `on_read(n)` the bytes read from the files, `on_records(n)` the records
    processed (progress).  With `jobs` > 1 the records are processed by
    that many worker processes; `policy` (already loaded from `spec`) is
    used when `jobs` is 1."""
    report = Report(files=len(paths), jobs=jobs, cache=spec.cache)
    started = time.perf_counter()

    def take(batch_file: str, part: _Part) -> None:
        report.add(part)
        if out is not None and part.out:
            out.write("\n".join(part.out) + "\n")
        if on_problem is not None:
            for line, kind, message in part.problems:
                on_problem(Problem(batch_file, line, kind, message))
        if on_records is not None:
            on_records(part.read)

    batches = _batches(paths, on_read)
    worker = _Worker(spec, policy)
    if jobs > 1 and len(paths) >= jobs:
        # Several segments (kumod writes many): each worker takes whole
        # files, reading and decompressing them itself, so nothing but the
        # results crosses between processes.  Results are taken in file
        # order, so the output is the same as with one job.
        with _pool(worker, spec, jobs) as pool:
            for path, parts in zip(paths, pool.imap(_run_file, paths), strict=True):
                if on_read is not None:
                    on_read(_file_size(path))
                for part in parts:
                    take(path, part)
    elif jobs <= 1:
        for batch in batches:
            take(batch.file, worker.run(batch))
    else:
        # The first batch runs here; forked workers then start from this
        # process's policy (its memoized maps already built, as a kumod
        # process that has been running), instead of each loading it and
        # compiling the same rules again.
        first = next(batches, None)
        if first is not None:
            take(first.file, worker.run(first))
        with _pool(worker, spec, jobs) as pool:
            pending: deque[tuple[str, Any]] = deque()
            for batch in batches:
                batch.candidates = _split(batch, spec.check_json)
                batch.data = b""
                pending.append((batch.file, pool.apply_async(_run_batch, (batch,))))
                while len(pending) > 3 * jobs:
                    name, result = pending.popleft()
                    take(name, result.get())
            while pending:
                name, result = pending.popleft()
                take(name, result.get())
    report.seconds = time.perf_counter() - started
    return report
