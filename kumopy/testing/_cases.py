"""Table-driven policy tests: `test_*.kumo.toml` (or `.kumo.yaml`) files.

Each `[[rewrite]]` or `[[event]]` table is one pytest item.  All cases of a
file share one loaded policy (one simulated kumod process, with its own
fake clock), created when the first case runs.  See docs/testing.md for
the format.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .._errors import PolicyError
from .._policy import Policy
from .._smtp import MalformedResponse, Response, rewrite_event_args
from ._asserts import (
    MISSING,
    REWRITE_EVENT,
    KumoAssertionError,
    assert_event,
    assert_raises_in_event,
    assert_rewrite,
)
from ._coverage import LuaCoverage
from ._harness import PolicyFactory
from ._keys import COVERAGE_KEY, FACTORY_KEY, SETTINGS_KEY
from ._report import describe_error, show_path
from ._settings import KumoSettings

__all__ = ["CASE_SUFFIXES", "KumoCaseFile", "KumoCaseItem"]

CASE_SUFFIXES = (".kumo.toml", ".kumo.yaml", ".kumo.yml")

_TOP_KEYS = {
    "policy", "share_dir", "path_map", "fresh_state", "check_globals", "allowed_globals",
    "queue", "rewrite", "event",
}
_COMMON_KEYS = {"name", "advance", "logged", "not_logged", "skip", "xfail"}
_CASE_KEYS = {
    "rewrite": _COMMON_KEYS | {"response", "queue", "code", "line", "unchanged", "raises"},
    "event": _COMMON_KEYS | {
        "event", "args", "nil_args", "returns", "returns_nil", "values", "handled", "raises",
    },
}
_HEADER = re.compile(r"^\s*\[\[\s*(rewrite|event)\s*\]\]")


class CaseFileError(Exception):
    """The case file itself is malformed (reported as a collection error)."""


class CaseError(Exception):
    """One case is malformed (reported as that case's failure)."""


def _toml_lines(text: str) -> dict[tuple[str, int], int]:
    lines: dict[tuple[str, int], int] = {}
    seen = {"rewrite": 0, "event": 0}
    for number, raw in enumerate(text.splitlines(), 1):
        m = _HEADER.match(raw)
        if m is not None:
            kind = m.group(1)
            lines[(kind, seen[kind])] = number
            seen[kind] += 1
    return lines


def _yaml_lines(text: str) -> dict[tuple[str, int], int]:
    lines: dict[tuple[str, int], int] = {}
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        kind = getattr(key, "value", None)
        if kind in ("rewrite", "event") and isinstance(value, yaml.SequenceNode):
            for i, node in enumerate(value.value):
                lines[(kind, i)] = node.start_mark.line + 1
    return lines


def load_case_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
    """The parsed file and the line number of every case."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.name.endswith(".kumo.toml"):
            data: Any = tomllib.loads(text)
            lines = _toml_lines(text)
        else:
            data = yaml.safe_load(text) or {}
            lines = _yaml_lines(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise CaseFileError(f"{path.name}: cannot parse: {e}") from None
    if not isinstance(data, dict):
        raise CaseFileError(f"{path.name}: expected a table of settings and cases")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise CaseFileError(
            f"{path.name}: unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(_TOP_KEYS))}"
        )
    for kind in ("rewrite", "event"):
        cases = data.get(kind, [])
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            raise CaseFileError(f"{path.name}: '{kind}' must be a list of tables ([[{kind}]])")
    return data, lines


def _case_id(kind: str, case: dict[str, Any]) -> str:
    name = case.get("name")
    if name is None:
        if kind == "rewrite":
            name = case.get("response", "rewrite")
        else:
            args = case.get("args", [])
            shown = ", ".join(repr(a) for a in args) if isinstance(args, list) else repr(args)
            name = f"{case.get('event', 'event')}({shown})"
    text = " ".join(str(name).split()).replace("::", ": ")
    return text if len(text) <= 100 else text[:97] + "..."


class KumoCaseFile(pytest.File):
    """A `test_*.kumo.toml` / `test_*.kumo.yaml` file of cases."""

    data: dict[str, Any]
    _kumo_factory: PolicyFactory | None = None
    _kumo_policy: Policy | PolicyError | None = None

    def collect(self) -> Iterator[pytest.Item]:
        self.data, lines = load_case_file(self.path)
        used: dict[str, int] = {}
        for kind in ("rewrite", "event"):
            for index, case in enumerate(self.data.get(kind, [])):
                name = _case_id(kind, case)
                used[name] = used.get(name, 0) + 1
                if used[name] > 1:
                    name = f"{name} #{used[name]}"
                item = KumoCaseItem.from_parent(
                    self, name=name, kind=kind, case=case, lineno=lines.get((kind, index), 0)
                )
                if "skip" in case:
                    item.add_marker(pytest.mark.skip(reason=str(case["skip"])))
                if "xfail" in case:
                    item.add_marker(pytest.mark.xfail(reason=str(case["xfail"]), strict=True))
                yield item

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    # -- the shared policy -------------------------------------------------

    def _factory(self) -> PolicyFactory:
        factory = self._kumo_factory
        if factory is None:
            settings: KumoSettings = self.config.stash[SETTINGS_KEY]
            coverage: LuaCoverage | None = self.config.stash.get(COVERAGE_KEY, None)
            data = self.data
            factory = PolicyFactory(
                settings,
                coverage=coverage,
                fresh_state=data.get("fresh_state"),
                check_globals=data.get("check_globals"),
                allowed_globals=tuple(data.get("allowed_globals", ())),
            )
            self._kumo_factory = factory
        return factory

    def policy(self) -> Policy:
        """The file's policy, loaded on first use (a load error is kept and
        raised again for every case)."""
        cached = self._kumo_policy
        if cached is None:
            base = self.path.parent
            data = self.data
            try:
                cached = self._factory().load(
                    data.get("policy"),
                    base=base,
                    path_map=data.get("path_map"),
                    share_dir=data.get("share_dir"),
                )
            except PolicyError as e:
                cached = e
            self._kumo_policy = cached
        if isinstance(cached, PolicyError):
            raise cached
        return cached

    @property
    def factory(self) -> PolicyFactory:
        return self._factory()

    def teardown(self) -> None:
        if self._kumo_factory is not None:
            self._kumo_factory.close()
        self._kumo_policy = None
        self._kumo_factory = None


class KumoCaseItem(pytest.Item):
    """One case of a case file."""

    def __init__(
        self, *, kind: str, case: dict[str, Any], lineno: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.case = case
        self.lineno = lineno
        #: index of the first log record of this case in the file's log
        self.log_start = 0

    @property
    def case_file(self) -> KumoCaseFile:
        parent = self.parent
        assert isinstance(parent, KumoCaseFile)
        return parent

    def _check_keys(self) -> None:
        unknown = sorted(set(self.case) - _CASE_KEYS[self.kind])
        if unknown:
            raise CaseError(
                f"unknown key(s) {', '.join(unknown)} in a [[{self.kind}]] case; expected "
                f"{', '.join(sorted(_CASE_KEYS[self.kind]))}"
            )

    def runtest(self) -> None:
        self._check_keys()
        parent = self.case_file
        policy = parent.policy()
        factory = parent.factory
        if "advance" in self.case:
            factory.clock.advance(self.case["advance"])
        self.stash[FACTORY_KEY] = factory
        self.log_start = logged_before = len(factory.logs.records)
        if self.kind == "rewrite":
            self._run_rewrite(policy)
        else:
            self._run_event(policy)
        self._check_logs([e.message for e in factory.logs.records[logged_before:]])

    def _run_rewrite(self, policy: Policy) -> None:
        case = self.case
        response = case.get("response")
        if not isinstance(response, str):
            raise CaseError("a [[rewrite]] case needs `response`, the SMTP reply text")
        queue = str(case.get("queue", self.case_file.data.get("queue", "example.com")))
        try:
            parsed = Response.parse(response)
        except (MalformedResponse, ValueError) as e:
            raise CaseError(f"response {response!r} is not an SMTP reply: {e}") from None
        if "raises" in case:
            assert_raises_in_event(
                policy, REWRITE_EVENT, *rewrite_event_args(parsed, queue),
                match=re.escape(str(case["raises"])),
            )
            return
        if not {"code", "line", "unchanged"} & set(case):
            raise CaseError("a [[rewrite]] case needs `code`, `line`, `unchanged` or `raises`")
        assert_rewrite(
            policy, parsed, queue,
            code=case.get("code"), line=case.get("line"), unchanged=case.get("unchanged"),
        )

    def _run_event(self, policy: Policy) -> None:
        case = self.case
        event = case.get("event")
        if not isinstance(event, str):
            raise CaseError("an [[event]] case needs `event`, the event name")
        args = case.get("args", [])
        if not isinstance(args, list):
            raise CaseError("`args` must be an array")
        # TOML has no nil: `nil_args` lists the (1-based) positions that are nil
        nil_args = case.get("nil_args", [])
        if not isinstance(nil_args, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in nil_args
        ):
            raise CaseError("`nil_args` must be an array of argument positions (1, 2, ...)")
        args = list(args)
        for position in nil_args:
            args.extend([None] * (position - len(args)))
            args[position - 1] = None
        if "raises" in case:
            assert_raises_in_event(policy, event, *args, match=re.escape(str(case["raises"])))
            return
        returns: Any = MISSING
        if "returns" in case:
            returns = case["returns"]
        elif case.get("returns_nil"):
            returns = None
        values = case.get("values", MISSING)
        handled = case.get("handled")
        if returns is MISSING and values is MISSING and handled is None:
            raise CaseError(
                "an [[event]] case needs `returns`, `returns_nil`, `values`, `handled` or `raises`"
            )
        assert_event(policy, event, *args, returns=returns, values=values, handled=handled)

    def _check_logs(self, messages: list[str]) -> None:
        def as_list(key: str) -> list[str]:
            value = self.case.get(key, [])
            return [value] if isinstance(value, str) else [str(v) for v in value]

        listing = "\n".join(f"  {m}" for m in messages) or "  (nothing was logged)"
        for text in as_list("logged"):
            if not any(text in m for m in messages):
                raise KumoAssertionError(
                    f"expected a log message containing {text!r}; the case logged:\n{listing}"
                )
        for text in as_list("not_logged"):
            if any(text in m for m in messages):
                raise KumoAssertionError(
                    f"expected no log message containing {text!r}; the case logged:\n{listing}"
                )

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        where = f"{show_path(self.path)}:{self.lineno}" if self.lineno else show_path(self.path)
        header = f"{where}: [[{self.kind}]] case {self.name!r}"
        error = excinfo.value
        if isinstance(error, KumoAssertionError | CaseError):
            return f"{header}\n{error}"
        if isinstance(error, PolicyError):
            body = "\n".join("  " + x for x in describe_error(error))
            return f"{header}\nthe policy failed to load:\n{body}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.lineno - 1 if self.lineno else None), f"[[{self.kind}]] {self.name}"
