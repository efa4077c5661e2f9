"""`python bench/_run_cli.py ARGS...` runs `kumopy ARGS...` in this process,
as `python -m kumopy.cli` does, then writes on stderr, last, the CPU seconds
of this process and of the worker processes it waited for (what each would
take on a core of its own).  bench_replay.py runs the command lines through
it; it imports nothing else, so that start-up is the command's own."""

from __future__ import annotations

import atexit
import resource
import runpy
import sys
from pathlib import Path

TAG = "bench-cpu:"


def _report() -> None:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{TAG} {own.ru_utime + own.ru_stime} {children.ru_utime + children.ru_stime}",
          file=sys.stderr)


if __name__ == "__main__":
    atexit.register(_report)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # this tree's kumopy
    sys.argv = ["kumopy", *sys.argv[1:]]
    runpy.run_module("kumopy.cli", run_name="__main__", alter_sys=True)
