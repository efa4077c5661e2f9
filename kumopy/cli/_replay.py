"""`kumopy replay`: what a policy's smtp_client_rewrite_delivery_status
handler would have done to the responses recorded in KumoMTA logs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import click

from .._replay import Problem, ReplayError, ReplaySpec, Report, default_jobs, replay
from ._common import (
    EXIT_PARTIAL,
    REWRITE_EVENT,
    CliError,
    common_options,
    echo,
    echo_err,
    json_line,
    load_rewrite_policy,
    policy_options,
    prints_to_stderr,
)

__all__ = ["replay_command"]

EVENT = REWRITE_EVENT

_REASONS = {
    "type": "other record types",
    "no response": "without a response",
    "250": "with a 250 response",
    "internal": "with a KumoMTA internal response",
    "protocol": "delivered by another protocol than ESMTP",
    "line too long": "with a response line kumod's SMTP client never receives",
}


def _expand(logs: tuple[str, ...], remote: bool = False) -> list[str]:
    """Files named on the command line; a directory stands for the files in
    it (kumod's log directory), in name order.  With `remote` (a cluster
    reads them) URLs (`s3://...`) are taken as they are."""
    paths: list[str] = []
    for item in logs:
        if remote and "://" in item:
            paths.append(item)
            continue
        if not os.path.exists(item):
            raise click.BadParameter(f"Path {item!r} does not exist.", param_hint="'LOG...'")
        if os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if not n.startswith("."))
            paths.extend(os.path.join(item, n) for n in names
                         if os.path.isfile(os.path.join(item, n)))
        else:
            paths.append(item)
    for path in paths:
        if not (remote and "://" in path) and not os.access(path, os.R_OK):
            raise CliError(f"cannot read {path}")
    return paths


def _n(value: int) -> str:
    return f"{value:,}"


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                        strict=True)]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _top(items: list[tuple[str, list[int]]], top: int) -> tuple[list[tuple[str, list[int]]], int]:
    items.sort(key=lambda kv: (-kv[1][0], kv[0]))
    if top and len(items) > top:
        return items[:top], len(items) - top
    return items, 0


def render(report: Report, top: int) -> list[str]:
    """The text report (stdout)."""
    jobs = f"{report.jobs} job{'s' if report.jobs != 1 else ''}"
    if report.cluster is not None:
        jobs = (f"{report.jobs} Dask worker{'s' if report.jobs != 1 else ''} at "
                f"{report.cluster}")
    cache = ", --cache" if report.cache else ""
    lines = [
        f"kumopy replay: {_n(report.read)} records in {report.files} "
        f"file{'s' if report.files != 1 else ''}, {report.seconds:.2f} s "
        f"({_n(round(report.rate))} records/s, {jobs}{cache})",
        f"  eligible   {_n(report.eligible):>12}  (TransientFailure and Bounce records "
        "with a remote response)",
        f"  rewritten  {_n(report.rewritten):>12}",
        f"  unchanged  {_n(report.unchanged):>12}",
        f"  errors     {_n(report.errors):>12}  (handler failed; kumod keeps the response)",
        f"  malformed  {_n(report.malformed):>12}",
    ]
    if report.restored:
        lines.append(f"  ({_n(report.restored)} logged responses had been rewritten by kumod; "
                     "replayed with their original code)")
    skipped = [f"{_n(report.not_offered[k])} {text}" for k, text in _REASONS.items()
               if report.not_offered[k]]
    if skipped:
        lines.append("  not offered to the event: " + ", ".join(skipped))
    if report.by_code:
        lines.append("")
        lines.append("by code:")
        rows = [(k, _n(v)) for k, v in sorted(report.by_code.items(),
                                               key=lambda kv: (-kv[1], kv[0]))]
        lines.extend(_table(rows, ("change", "records")))
    if report.by_domain:
        lines.append("")
        shown, more = _top(list(report.by_domain.items()), top)
        lines.append("by domain:" + (f" (top {top})" if more else ""))
        lines.extend(_table([(k or "(none)", _n(v[0]), _n(v[1])) for k, v in shown],
                            ("domain", "eligible", "rewritten")))
        if more:
            lines.append(f"  ... and {_n(more)} more domains (--top 0 lists all)")
    if report.by_rule:
        lines.append("")
        shown, more = _top(list(report.by_rule.items()), top)
        lines.append("by rule:" + (f" (top {top})" if more else ""))
        lines.extend(_table([(k, _n(v[0]), _n(v[1])) for k, v in shown],
                            ("pattern", "matched", "rewritten")))
        if more:
            lines.append(f"  ... and {_n(more)} more rules (--top 0 lists all)")
    return lines


class _Progress:
    """A rich progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total_bytes: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.records = 0
        self._progress = Progress(
            TextColumn("replay"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[records]:,} records"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
            auto_refresh=False,  # no thread: replay forks its workers
        )
        self._last = 0.0
        self._task = self._progress.add_task("replay", total=total_bytes or None,
                                             records=0, rate=0.0)

    def read(self, n: int) -> None:
        self._progress.advance(self._task, n)
        self._refresh()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self._progress.refresh()

    def done(self, n: int) -> None:
        self.records += n
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = self.records / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, records=self.records, rate=rate)
        self._refresh()

    @contextmanager
    def shown(self) -> Iterator[None]:
        with self._progress:
            yield


@click.command(
    "replay",
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Replay KumoMTA logs through the rewrite handler.",
)
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("logs", metavar="LOG...", nargs=-1, required=True)
@click.option("-o", "--out", "out_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write one JSON line per rewritten record to FILE ('-' for stdout, "
              "instead of the report).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes [default: every core, one per 4 MiB of input at "
              "most].")
@click.option("--cluster", metavar="ADDRESS",
              help="Replay on the Dask cluster whose scheduler is at ADDRESS "
              "(tcp://host:8786), one task per log file (pip install 'kumopy[cluster]'). "
              "LOG may then be any path fsspec opens (s3://...).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
              help="Rows shown in the by-domain and by-rule tables (0: all).")
@click.option("--cache", is_flag=True,
              help="Call the handler once per distinct (response line, queue name) and reuse "
              "its result.  Only right when the handler is a pure function of its "
              "arguments (no counters, no clock, no state).")
@click.option("--check-json", is_flag=True,
              help="Parse every line, not only those that can be TransientFailure or Bounce "
              "records, so that every malformed line is found.")
@click.option("--show-problems", type=click.IntRange(min=0), default=20, show_default=True,
              metavar="N", help="Malformed lines and handler errors reported on stderr "
              "(each kind; all are counted).")
@common_options
def replay_command(policy: str, logs: tuple[str, ...], out_path: str | None, jobs: int | None,
                   cluster: str | None, as_json: bool, top: int, cache: bool, check_json: bool,
                   show_problems: int) -> None:
    """Replay KumoMTA log files through the policy's
    smtp_client_rewrite_delivery_status handler.

    Each LOG is a kumod log segment (JSON lines, plain or zstd-compressed)
    or a directory of them.  Records kumod offered to the event
    (TransientFailure and Bounce records with a remote, non-250 response)
    are rebuilt -- response line and queue name -- and offered again; the
    report counts records read, eligible, rewritten, unchanged, handler
    errors and malformed lines, then the changes by code, by recipient
    domain and by rule (the regex_set_map pattern that matched).

    Malformed lines and failed calls are reported on stderr as FILE:LINE
    and never stop the run.  A progress bar is shown on stderr when it is
    a terminal; stdout gets only the report.

    Exit status: 0 every record was processed, 1 the policy failed to
    load, 2 wrong command line, 3 some lines were malformed or a handler
    call failed.
    """
    if cluster is not None and jobs is not None:
        raise click.UsageError("give --jobs or --cluster, not both")
    paths = _expand(logs, remote=cluster is not None)
    options = policy_options()
    spec = ReplaySpec(
        policy=policy,
        share_dir=options["share_dir"],
        path_map=tuple(options["path_map"].items()),
        kumod_strict=options["kumod_strict"],
        budget_seconds=options["budget_seconds"],
        package_dirs=tuple(options["package_dirs"]),
        cache=cache,
        check_json=check_json,
    )
    loaded = load_rewrite_policy(policy)
    n_jobs = jobs if jobs is not None else 1 if cluster is not None else default_jobs(paths)
    shown: dict[str, int] = {"malformed": 0, "error": 0}
    first: list[Problem] = []

    def on_problem(problem: Problem) -> None:
        if not first:
            first.append(problem)
        count = shown[problem.kind] = shown[problem.kind] + 1
        if count <= show_problems:
            kind = "malformed line" if problem.kind == "malformed" else "handler error"
            echo_err(f"{problem.file}:{problem.line}: {kind}: {problem.message}")

    progress: _Progress | None = None
    if _isatty(sys.stderr):
        progress = _Progress(sum(_size(p) for p in paths))
    out: IO[str] | None = None
    to_stdout = out_path == "-"
    try:
        if out_path is not None:
            out = sys.stdout if to_stdout else open(  # noqa: SIM115 - closed below
                out_path, "w", encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise CliError(f"cannot write {out_path}: {e.strerror or e}") from None
    try:
        kwargs: dict[str, Any] = {
            "jobs": n_jobs, "out": out, "on_problem": on_problem, "policy": loaded,
            "cluster": cluster,
        }
        with prints_to_stderr():
            if progress is not None:
                with progress.shown():
                    report = replay(spec, paths, on_read=progress.read,
                                    on_records=progress.done, **kwargs)
            else:
                report = replay(spec, paths, **kwargs)
    except ReplayError as e:
        raise CliError(str(e)) from None
    finally:
        if out is not None and not to_stdout:
            out.close()
    for kind, label in (("malformed", "malformed lines"), ("error", "handler errors")):
        hidden = shown[kind] - show_problems
        if hidden > 0:
            echo_err(f"kumopy: ... and {hidden:,} more {label} (--show-problems N shows more)")
    if as_json:
        text = json_line(report.to_json())
        (echo_err if to_stdout else echo)(text)
    else:
        for line in render(report, top):
            (echo_err if to_stdout else echo)(line)
    if report.malformed or report.errors:
        # one verdict line for CI logs, after the report
        counts = [f"{n:,} {what}{'s' if n != 1 else ''}" for n, what in (
            (report.malformed, "malformed line"), (report.errors, "handler error")) if n]
        where = f"; the first at {first[0].file}:{first[0].line}" if first else ""
        echo_err(f"kumopy: error: {' and '.join(counts)}{where} (every other record was "
                 "replayed)")
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
