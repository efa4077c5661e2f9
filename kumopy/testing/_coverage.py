"""Line coverage of Lua policy files, collected through the Lua line hook.

`LuaCoverage.hit` is installed as the line hook of every Lua state the
harness creates; it counts (file, line) events.  Reports compare the hits
with the executable lines of each file (`_bytecode.executable_lines`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._bytecode import executable_lines

__all__ = ["FileCoverage", "LuaCoverage", "format_ranges", "write_json", "write_lcov"]


@dataclass(frozen=True)
class FileCoverage:
    """Coverage of one Lua file."""

    path: Path
    executable: frozenset[int]
    hits: dict[int, int]

    @property
    def hit_lines(self) -> set[int]:
        return {n for n in self.executable if self.hits.get(n, 0) > 0}

    @property
    def missing(self) -> list[int]:
        return sorted(self.executable - self.hit_lines)

    @property
    def percent(self) -> float:
        if not self.executable:
            return 100.0
        return 100.0 * len(self.hit_lines) / len(self.executable)


def format_ranges(lines: Iterable[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9" (the way coverage.py lists missing lines)."""
    out: list[str] = []
    ordered = sorted(lines)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(out)


class LuaCoverage:
    """Counts executed lines of Lua files.

    `accept(path)` decides which files are reported (by default every Lua
    file that exists on disk); `sources` are directories whose `.lua` files
    are reported even when they never ran.
    """

    def __init__(
        self,
        *,
        accept: Callable[[Path], bool] | None = None,
        sources: Iterable[Path] = (),
    ) -> None:
        self._accept = accept if accept is not None else (lambda _path: True)
        self._sources = [Path(s) for s in sources]
        self._counts: dict[Path, Counter[int]] = {}
        # chunk source name -> counter (None: not a file we report)
        self._by_source: dict[str, Counter[int] | None] = {}

    def hit(self, source: str, line: int) -> None:
        """The line hook: `source` is the chunk name without its `@`."""
        try:
            counter = self._by_source[source]
        except KeyError:
            counter = self._resolve(source)
        if counter is not None:
            counter[line] += 1

    def _resolve(self, source: str) -> Counter[int] | None:
        counter: Counter[int] | None = None
        if source and not source.startswith("[") and os.path.isfile(source):
            path = Path(os.path.abspath(source))
            if self._accept(path):
                counter = self._counts.setdefault(path, Counter())
        self._by_source[source] = counter
        return counter

    def _all_paths(self) -> list[Path]:
        paths = set(self._counts)
        for root in self._sources:
            if root.is_file():
                paths.add(Path(os.path.abspath(root)))
            elif root.is_dir():
                paths.update(
                    Path(os.path.abspath(p)) for p in root.rglob("*.lua") if self._accept(p)
                )
        return sorted(paths)

    def files(self) -> list[FileCoverage]:
        out = []
        for path in self._all_paths():
            try:
                source = path.read_bytes()
            except OSError:
                continue
            hits = dict(self._counts.get(path, Counter()))
            out.append(FileCoverage(path, executable_lines(source), hits))
        return out

    def __iter__(self) -> Iterator[FileCoverage]:
        return iter(self.files())


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def summary_lines(files: list[FileCoverage], root: Path | None = None) -> list[str]:
    """The terminal table: file, executable lines, hit, percent, missing."""
    rows = [
        (
            _display(f.path, root),
            str(len(f.executable)),
            str(len(f.hit_lines)),
            f"{f.percent:.0f}%",
            format_ranges(f.missing),
        )
        for f in files
    ]
    total_lines = sum(len(f.executable) for f in files)
    total_hit = sum(len(f.hit_lines) for f in files)
    percent = 100.0 * total_hit / total_lines if total_lines else 100.0
    header = ("File", "Lines", "Hit", "Cover", "Missing")
    total = ("TOTAL", str(total_lines), str(total_hit), f"{percent:.0f}%", "")
    width = max(len(r[0]) for r in [header, total, *rows])

    def fmt(r: tuple[str, str, str, str, str]) -> str:
        return f"{r[0]:<{width}}  {r[1]:>6}  {r[2]:>6}  {r[3]:>6}   {r[4]}".rstrip()

    rule = "-" * len(fmt(header))
    return [fmt(header), rule, *(fmt(r) for r in rows), rule, fmt(total)]


def write_lcov(files: list[FileCoverage], path: Path, test_name: str = "") -> None:
    """An LCOV tracefile (`genhtml`, IDE gutters, most CI services)."""
    parts = []
    for f in files:
        parts.append(f"TN:{test_name}")
        parts.append(f"SF:{f.path}")
        for n in sorted(f.executable):
            parts.append(f"DA:{n},{f.hits.get(n, 0)}")
        parts.append(f"LF:{len(f.executable)}")
        parts.append(f"LH:{len(f.hit_lines)}")
        parts.append("end_of_record")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + ("\n" if parts else ""))


def write_json(files: list[FileCoverage], path: Path) -> None:
    """A report with the layout of `coverage json` (files -> executed_lines,
    missing_lines, summary; totals), so tools that read coverage.py's JSON
    report can read this one."""
    report: dict[str, object] = {
        "meta": {"format": 2, "tool": "kumopy"},
        "files": {},
    }
    files_out: dict[str, object] = {}
    total_lines = total_hit = 0
    for f in files:
        hit = sorted(f.hit_lines)
        total_lines += len(f.executable)
        total_hit += len(hit)
        files_out[str(f.path)] = {
            "executed_lines": hit,
            "missing_lines": f.missing,
            "excluded_lines": [],
            "summary": {
                "covered_lines": len(hit),
                "num_statements": len(f.executable),
                "percent_covered": f.percent,
                "missing_lines": len(f.missing),
                "excluded_lines": 0,
            },
        }
    report["files"] = files_out
    report["totals"] = {
        "covered_lines": total_hit,
        "num_statements": total_lines,
        "percent_covered": 100.0 * total_hit / total_lines if total_lines else 100.0,
        "missing_lines": total_lines - total_hit,
        "excluded_lines": 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
