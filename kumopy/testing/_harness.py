"""The objects behind the fixtures: a policy factory, the log view, the spy."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import pytest

from .._clock import FakeClock
from .._errors import hide_frames_of_policy_errors
from .._policy import LogEntry, Policy
from .._runtime import LuaState
from ._coverage import LuaCoverage
from ._report import remember_source, show, show_path
from ._settings import KumoSettings, expand_map, resolve_map

__all__ = ["KumoCall", "KumoCalls", "KumoLogs", "PolicyFactory", "tracker_for"]

__tracebackhide__ = hide_frames_of_policy_errors  # a load error is the policy's, not ours

SetupFn = Callable[[LuaState], None]


# -- the spy ---------------------------------------------------------------


@dataclass(frozen=True)
class KumoCall:
    """One call the policy made to a `kumo` function.

    `name` is the dotted name without `kumo.` (`json_load`,
    `regex_set_map.new`; a function returned by kumo.memoize is
    `memoize[<name>]`); `args` are the arguments converted to Python;
    `file`/`line` the policy line that made the call.
    """

    name: str
    args: tuple[Any, ...]
    file: str
    line: int

    def __str__(self) -> str:
        shown = ", ".join(show(a) for a in self.args)
        return f"kumo.{self.name}({shown}) at {show_path(self.file)}:{self.line}"


def _bare(name: str) -> str:
    return name[5:] if name.startswith("kumo.") else name


class KumoCalls:
    """Every `kumo.*` call made by the policies of one test, in order."""

    def __init__(self) -> None:
        self._calls: list[KumoCall] = []

    def record(self, name: str, args: tuple[Any, ...], file: str, line: int) -> None:
        self._calls.append(KumoCall(name, args, file, line))

    @property
    def calls(self) -> list[KumoCall]:
        return list(self._calls)

    def __iter__(self) -> Iterator[KumoCall]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    @overload
    def __getitem__(self, index: int) -> KumoCall: ...
    @overload
    def __getitem__(self, index: slice) -> list[KumoCall]: ...
    def __getitem__(self, index: int | slice) -> KumoCall | list[KumoCall]:
        return self._calls[index]

    def names(self) -> list[str]:
        """The names of the calls, in order."""
        return [c.name for c in self._calls]

    def named(self, name: str) -> list[KumoCall]:
        """The calls of `kumo.<name>` (`"json_load"` or `"kumo.json_load"`)."""
        bare = _bare(name)
        return [c for c in self._calls if c.name == bare]

    def called(self, name: str) -> bool:
        return bool(self.named(name))

    def count(self, name: str) -> int:
        return len(self.named(name))

    def args(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of each call of `kumo.<name>`."""
        return [c.args for c in self.named(name)]

    def last(self, name: str | None = None) -> KumoCall:
        calls = self.named(name) if name is not None else self._calls
        if not calls:
            raise LookupError(f"kumo.{_bare(name)} was not called" if name else "no kumo calls")
        return calls[-1]

    def clear(self) -> None:
        self._calls.clear()

    def _listing(self) -> str:
        if not self._calls:
            return "  (no kumo.* calls)"
        return "\n".join(f"  {c}" for c in self._calls)

    def assert_called(self, name: str, *args: Any, times: int | None = None) -> None:
        """Fail unless `kumo.<name>` was called (with exactly `args`, when
        given; `times` times, when given)."""
        __tracebackhide__ = True
        calls = self.named(name)
        if args:
            calls = [c for c in calls if c.args == args]
        what = f"kumo.{_bare(name)}" + (f"({', '.join(show(a) for a in args)})" if args else "")
        if times is None and not calls:
            raise AssertionError(f"{what} was not called; the calls were:\n{self._listing()}")
        if times is not None and len(calls) != times:
            raise AssertionError(
                f"{what} was called {len(calls)} time(s), expected {times}; "
                f"the calls were:\n{self._listing()}"
            )

    def assert_not_called(self, name: str) -> None:
        __tracebackhide__ = True
        calls = self.named(name)
        if calls:
            listing = "\n".join(f"  {c}" for c in calls)
            raise AssertionError(f"kumo.{_bare(name)} was called:\n{listing}")

    def __repr__(self) -> str:
        return f"<KumoCalls {self.names()!r}>"


# -- the logs --------------------------------------------------------------

_LEVEL_NAMES = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    try:
        return _LEVEL_NAMES[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (debug, info, warn, error)") from None


class KumoLogs:
    """What the policies of one test logged with kumo.log_* and print.

    Like pytest's caplog: `.records` (LogEntry: level, levelname, file,
    line, message, kind), `.messages`, `.text`; `at_level(...)` and
    `filter(...)` return narrowed views with the same interface.
    """

    def __init__(
        self,
        source: Callable[[], list[LogEntry]],
        clear: Callable[[], None],
        predicate: Callable[[LogEntry], bool] | None = None,
    ) -> None:
        self._source = source
        self._clear = clear
        self._predicate = predicate

    @property
    def records(self) -> list[LogEntry]:
        entries = self._source()
        if self._predicate is None:
            return entries
        return [e for e in entries if self._predicate(e)]

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.records]

    @property
    def text(self) -> str:
        """One `LEVEL file:line: message` line per record."""
        return "\n".join(str(e) for e in self.records)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __bool__(self) -> bool:
        return bool(self.records)

    def _view(self, predicate: Callable[[LogEntry], bool]) -> KumoLogs:
        outer = self._predicate
        if outer is None:
            return KumoLogs(self._source, self._clear, predicate)
        return KumoLogs(self._source, self._clear, lambda e: outer(e) and predicate(e))

    def at_level(self, level: int | str) -> KumoLogs:
        """Records of kumo.log_* at `level` or above ("debug", "info",
        "warn", "error" or a logging level number); print output is not a
        log record and is left out."""
        threshold = _level(level)
        return self._view(lambda e: e.kind == "log" and e.level >= threshold)

    def filter(
        self,
        *,
        level: int | str | None = None,
        contains: str | None = None,
        match: str | re.Pattern[str] | None = None,
        file: str | None = None,
        kind: str | None = None,
    ) -> KumoLogs:
        """Records at exactly `level`, whose message contains `contains`,
        matches the regular expression `match` (re.search), was written by
        a file whose path ends with `file`, of `kind` ("log" or "print")."""
        exact = _level(level) if level is not None else None
        pattern = re.compile(match) if isinstance(match, str) else match

        def keep(e: LogEntry) -> bool:
            return (
                (exact is None or (e.kind == "log" and e.level == exact))
                and (contains is None or contains in e.message)
                and (pattern is None or pattern.search(e.message) is not None)
                and (file is None or e.file.endswith(file))
                and (kind is None or e.kind == kind)
            )

        return self._view(keep)

    @property
    def prints(self) -> KumoLogs:
        """What the policy printed."""
        return self._view(lambda e: e.kind == "print")

    @property
    def errors(self) -> KumoLogs:
        return self.at_level(logging.ERROR)

    @property
    def warnings(self) -> KumoLogs:
        return self.at_level(logging.WARNING)

    def clear(self) -> None:
        """Forget everything logged so far (by every policy of the test)."""
        self._clear()

    def _listing(self) -> str:
        records = self._source()
        if not records:
            return "  (nothing was logged)"
        return "\n".join(f"  {e}" for e in records)

    def assert_logged(self, pattern: str, *, level: int | str | None = None) -> LogEntry:
        """Fail unless a record's message matches `pattern` (re.search; a
        plain substring works too) at `level` or above; returns it."""
        __tracebackhide__ = True
        view = self.at_level(level) if level is not None else self
        regex = re.compile(pattern)
        for e in view.records:
            if regex.search(e.message) or pattern in e.message:
                return e
        where = f" at level {level} or above" if level is not None else ""
        raise AssertionError(
            f"nothing matching {pattern!r} was logged{where}; the log was:\n{self._listing()}"
        )

    def assert_not_logged(self, pattern: str, *, level: int | str | None = None) -> None:
        __tracebackhide__ = True
        view = self.at_level(level) if level is not None else self
        regex = re.compile(pattern)
        hits = [e for e in view.records if regex.search(e.message) or pattern in e.message]
        if hits:
            listing = "\n".join(f"  {e}" for e in hits)
            raise AssertionError(f"{pattern!r} was logged:\n{listing}")

    def __repr__(self) -> str:
        return f"<KumoLogs {len(self)} record(s)>"


# -- per-state hooks -------------------------------------------------------


class _Tracker:
    """Installed on every Lua state of a harness policy: records kumo.*
    calls, the last line run in each file, and coverage."""

    def __init__(
        self,
        calls: KumoCalls | None,
        coverage: LuaCoverage | None,
        extra: SetupFn | None,
    ) -> None:
        self.calls = calls
        self.coverage = coverage
        self.extra = extra
        self.state: LuaState | None = None
        self.last_line: dict[str, int] = {}

    def setup(self, state: LuaState) -> None:
        self.state = state
        observers = state.process.call_observers
        if self.calls is not None and self.observe not in observers:
            observers.append(self.observe)
        state.set_line_hook(self.on_line)
        if self.extra is not None:
            self.extra(state)

    def on_line(self, file: str, line: int) -> None:
        if file not in self.last_line:
            remember_source(file)
        self.last_line[file] = line
        if self.coverage is not None:
            self.coverage.hit(file, line)

    def observe(self, name: str, args: tuple[Any, ...]) -> None:
        file, line = self.state.where() if self.state is not None else ("?", 0)
        if self.calls is not None:
            self.calls.record(name, args, file, line)


_TRACKERS: weakref.WeakKeyDictionary[Policy, _Tracker] = weakref.WeakKeyDictionary()


def tracker_for(policy: Policy) -> _Tracker | None:
    """The hooks of a policy created by the harness (None for others)."""
    return _TRACKERS.get(policy)


# -- the factory -----------------------------------------------------------


class PolicyFactory:
    """The `kumo_policy` fixture: call it to load a policy.

    Every policy it loads uses the test's fake clock (`kumo_clock`),
    captures its output (`kumo_logs`), reports its kumo.* calls
    (`kumo_calls`) and, unless disabled, fails on leaked globals.
    """

    def __init__(
        self,
        settings: KumoSettings,
        *,
        clock: FakeClock | None = None,
        coverage: LuaCoverage | None = None,
        calls: KumoCalls | None = None,
        fresh_state: bool | None = None,
        check_globals: bool | None = None,
        allowed_globals: Sequence[str] = (),
        tmp_parent: Path | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock if clock is not None else FakeClock()
        self.coverage = coverage
        self.calls = calls if calls is not None else KumoCalls()
        self.fresh_state = settings.fresh_state if fresh_state is None else fresh_state
        self.check_globals = settings.check_globals if check_globals is None else check_globals
        self.allowed_globals = tuple(settings.allowed_globals) + tuple(allowed_globals)
        #: every policy loaded so far, in order
        self.policies: list[Policy] = []
        #: set by the kumo_http fixture: kumo.http requests go to this
        #: loopback server instead of the hosts the policy names
        self.http_base: str | None = None
        self._tmp_parent = tmp_parent
        self._tmp_path: Path | None = None
        self.logs = KumoLogs(self._records, self._clear_records)

    @property
    def tmp_path(self) -> Path:
        """The private directory of this test's policies (the `{tmp}` of
        path map entries); removed when the test ends."""
        if self._tmp_path is None:
            self._tmp_path = Path(tempfile.mkdtemp(prefix="kumo-", dir=self._tmp_parent))
        return self._tmp_path

    def _records(self) -> list[LogEntry]:
        return [e for p in self.policies for e in p.output]

    def _clear_records(self) -> None:
        for p in self.policies:
            p.output.clear()

    def __call__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        path_map: Mapping[str, str | os.PathLike[str]] | None = None,
        share_dir: str | os.PathLike[str] | None = None,
        fresh_state_per_event: bool | None = None,
        check_globals: bool | None = None,
        allowed_globals: Sequence[str] = (),
        **options: Any,
    ) -> Policy:
        """Load a policy (default: the `kumo_policy` ini option).

        Relative paths (the policy, share_dir, path_map targets) are
        resolved against the ini file's directory (the rootdir when there is
        none); `path_map` entries are added to the configured ones.  Other
        keyword arguments go to `Policy` (clock, kumod_strict,
        budget_seconds, validating, ...).  Raises `PolicyError` when the
        policy fails to load.
        """
        return self.load(
            path,
            base=self.settings.base_dir,
            path_map=path_map,
            share_dir=share_dir,
            fresh_state_per_event=fresh_state_per_event,
            check_globals=check_globals,
            allowed_globals=allowed_globals,
            **options,
        )

    def load(
        self,
        path: str | os.PathLike[str] | None,
        *,
        base: Path,
        path_map: Mapping[str, str | os.PathLike[str]] | None = None,
        share_dir: str | os.PathLike[str] | None = None,
        fresh_state_per_event: bool | None = None,
        check_globals: bool | None = None,
        allowed_globals: Sequence[str] = (),
        setup: SetupFn | None = None,
        record: bool = True,
        **options: Any,
    ) -> Policy:
        """`__call__` with an explicit base directory, an extra per-state
        setup function, and `record=False` for a load that must not count
        towards coverage or the spy (collection)."""
        if path is None:
            if self.settings.policy is None:
                pytest.fail(
                    "no policy to load: pass a path to kumo_policy(...), or set the "
                    "kumo_policy ini option or --kumo-policy",
                    pytrace=False,
                )
            policy_path = self.settings.policy
        else:
            policy_path = (base / path).resolve()
        mapping = dict(self.settings.path_map)
        if path_map:
            mapping.update(resolve_map(((str(k), os.fspath(v)) for k, v in path_map.items()), base))
        needs_tmp = any(v.startswith("{tmp}") for v in mapping.values())
        mapping = expand_map(mapping, self.tmp_path if needs_tmp else None)
        if share_dir is not None:
            share: Path | None = (base / share_dir).resolve()
        else:
            share = self.settings.share_dir
        fresh = self.fresh_state if fresh_state_per_event is None else fresh_state_per_event
        check = self.check_globals if check_globals is None else check_globals
        tracker = _Tracker(
            self.calls if record else None, self.coverage if record else None, setup
        )
        remember_source(str(policy_path))
        options.setdefault("clock", self.clock)
        options.setdefault("capture_output", True)
        if self.settings.budget_seconds is not None:
            options.setdefault("budget_seconds", self.settings.budget_seconds)
        options.setdefault("network", self.settings.network)
        if self.http_base is not None:
            options.setdefault("http_base", self.http_base)
        # a handler stuck in code nothing can interrupt fails its test and
        # the run goes on (the stuck thread is abandoned)
        options.setdefault("isolate_calls", True)
        policy = Policy.load(
            policy_path,
            share_dir=share,
            path_map=mapping,
            fresh_state_per_event=fresh,
            check_globals=check,
            allowed_globals=(*self.allowed_globals, *allowed_globals),
            setup_state=tracker.setup,
            **options,
        )
        _TRACKERS[policy] = tracker
        if record:
            self.policies.append(policy)
        return policy

    def __repr__(self) -> str:
        default = show_path(self.settings.policy) if self.settings.policy else "none"
        return f"<kumo_policy factory (default policy: {default})>"

    def close(self) -> None:
        self.policies.clear()
        if self._tmp_path is not None:
            shutil.rmtree(self._tmp_path, ignore_errors=True)
            self._tmp_path = None
