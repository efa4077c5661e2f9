"""The kumopy pytest plugin (entry point `pytest11: kumopy`).

Installing kumopy activates it; with PYTEST_DISABLE_PLUGIN_AUTOLOAD set,
load it with `-p kumopy`.  It provides the `kumo_policy`, `kumo_clock`,
`kumo_logs`, `kumo_calls`, `kumo_smtp_server` and `kumo_http` fixtures,
collects `test_*.kumo.toml` case files and `*_test.lua` Lua tests in
projects that opt in (`kumo_collect`,
a configured `kumo_policy` or `kumo_lua_tests`, or a conftest's
`pytest_kumo_collect` hook), checks handlers for leaked globals, and
measures Lua line coverage (`--kumo-cov`).  docs/testing.md is the manual.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .._clock import FakeClock
from .._errors import PolicyError
from .._policy import CallResult, LogEntry
from . import _hooks
from ._cases import CASE_SUFFIXES, KumoCaseFile, KumoCaseItem
from ._coverage import LuaCoverage, summary_lines, write_json, write_lcov
from ._harness import KumoCalls, KumoLogs, PolicyFactory
from ._keys import COVERAGE_KEY, FACTORY_KEY, SETTINGS_KEY
from ._luatests import LuaTestFile, LuaTestItem
from ._report import call_text, describe_error, show, show_path
from ._settings import add_options, load_settings
from ._smtpserver import SmtpServerFactory

__all__ = [
    "kumo_calls",
    "kumo_clock",
    "kumo_http",
    "kumo_logs",
    "kumo_policy",
    "kumo_smtp_server",
]

ENTRY_POINT_NAME = "kumopy"
_NOTED = "_kumopy_noted"


# -- registration ----------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    # Loaded under another name (`-p kumopy.testing.plugin`, pytester): keep
    # the entry point from registering this same module a second time.
    name = pluginmanager.get_name(sys.modules[__name__])
    if name != ENTRY_POINT_NAME and not pluginmanager.has_plugin(ENTRY_POINT_NAME):
        pluginmanager.set_blocked(ENTRY_POINT_NAME)
    if not hasattr(pluginmanager.hook, "pytest_kumo_collect"):
        pluginmanager.add_hookspecs(_hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kumo_fresh_state(enabled=True): run every event of the test's policies in a new "
        "Lua state",
    )
    config.addinivalue_line(
        "markers",
        "kumo_allow_globals(*names): let handlers create these globals (no names: turn the "
        "leaked-global check off for the test)",
    )
    settings = load_settings(config)
    config.stash[SETTINGS_KEY] = settings
    coverage = None
    if settings.coverage:
        root = config.rootpath.resolve()
        patterns = settings.lua_test_patterns
        sources = settings.cov_sources

        def accept(path: Path) -> bool:
            if any(fnmatch.fnmatch(path.name, p) for p in patterns):
                return False
            if sources:
                return any(path == s or s in path.parents for s in sources)
            return root in path.parents

        coverage = LuaCoverage(accept=accept, sources=sources)
    config.stash[COVERAGE_KEY] = coverage


# -- collection ------------------------------------------------------------


def pytest_collect_file(
    file_path: Path, parent: pytest.Collector
) -> pytest.Collector | None:
    name = file_path.name
    settings = parent.config.stash[SETTINGS_KEY]
    if name.startswith("test_") and name.endswith(CASE_SUFFIXES):
        if _collects(file_path, parent, settings.collect):
            return KumoCaseFile.from_parent(parent, path=file_path)
    elif name.endswith(".lua") and any(
        fnmatch.fnmatch(name, p) for p in settings.lua_test_patterns
    ):
        if _collects(file_path, parent, settings.collect):
            return LuaTestFile.from_parent(parent, path=file_path)
    return None


def _collects(file_path: Path, parent: pytest.Collector, configured: bool) -> bool:
    """Only projects that opt in get their Lua tests and case tables
    collected (kumopy may be installed where unrelated projects run pytest):
    a conftest's pytest_kumo_collect decides for its directories, else the
    `kumo_collect` setting; a file named on the command line always is."""
    if parent.session.isinitpath(file_path):
        return True
    verdict = parent.ihook.pytest_kumo_collect(file_path=file_path, config=parent.config)
    return configured if verdict is None else bool(verdict)


# -- fixtures --------------------------------------------------------------


@pytest.fixture
def kumo_clock() -> FakeClock:
    """The test's fake clock: every policy `kumo_policy` loads reads it, so
    `kumo_clock.advance("5 minutes")` expires memoize entries."""
    return FakeClock()


@pytest.fixture
def kumo_policy(
    request: pytest.FixtureRequest, kumo_clock: FakeClock
) -> Iterator[PolicyFactory]:
    """Load a policy: `kumo_policy()` (the `kumo_policy` ini option) or
    `kumo_policy("policy/init.lua", path_map=..., share_dir=..., **options)`."""
    config = request.config
    fresh = None
    marker = request.node.get_closest_marker("kumo_fresh_state")
    if marker is not None:
        fresh = bool(marker.args[0]) if marker.args else bool(marker.kwargs.get("enabled", True))
    check = None
    allowed: tuple[str, ...] = ()
    marker = request.node.get_closest_marker("kumo_allow_globals")
    if marker is not None:
        if marker.args:
            allowed = tuple(str(a) for a in marker.args)
        else:
            check = False
    factory = PolicyFactory(
        config.stash[SETTINGS_KEY],
        clock=kumo_clock,
        coverage=config.stash.get(COVERAGE_KEY, None),
        fresh_state=fresh,
        check_globals=check,
        allowed_globals=allowed,
        tmp_parent=request.getfixturevalue("tmp_path_factory").getbasetemp(),
    )
    request.node.stash[FACTORY_KEY] = factory
    yield factory
    factory.close()


@pytest.fixture
def kumo_logs(kumo_policy: PolicyFactory) -> KumoLogs:
    """What the test's policies logged (kumo.log_*) and printed."""
    return kumo_policy.logs


@pytest.fixture
def kumo_calls(kumo_policy: PolicyFactory) -> KumoCalls:
    """Every kumo.* call the test's policies made, with its arguments."""
    return kumo_policy.calls


@pytest.fixture
def kumo_smtp_server(kumo_policy: PolicyFactory, tmp_path: Path) -> Iterator[SmtpServerFactory]:
    """Start `kumopy serve` on a free loopback port: `server =
    kumo_smtp_server("policy/init.lua")`, then send mail with
    `smtplib.SMTP("127.0.0.1", server.port)`; recorded messages are in
    `server.messages` (and `server.record_dir`)."""
    factory = SmtpServerFactory(kumo_policy, tmp_path)
    yield factory
    errors = factory.close()
    if errors:
        raise errors[0]


@pytest.fixture
def kumo_http(kumo_policy: PolicyFactory) -> Iterator[Any]:
    """A pytest-httpserver `HTTPServer` on 127.0.0.1: every `kumo.http`
    request of the policies `kumo_policy` loads afterwards goes to it (the
    scheme and host replaced, the path and query kept), without --network.
    Set answers with `kumo_http.expect_request("/hook").respond_with_json(...)`;
    `kumo_http.log` has what arrived and `policy.http_requests` the URLs the
    policy named.  Needs pytest-httpserver (`pip install kumopy[testing]`)."""
    try:
        from pytest_httpserver import HTTPServer
    except ImportError:  # pragma: no cover - the testing extra is missing
        pytest.fail("the kumo_http fixture needs pytest-httpserver: "
                    "pip install 'kumopy[testing]'", pytrace=False)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    kumo_policy.http_base = server.url_for("/").rstrip("/")
    try:
        yield server
    finally:
        kumo_policy.http_base = None
        server.clear()
        if server.is_running():
            server.stop()


# -- reporting -------------------------------------------------------------


def _logged_lines(records: list[LogEntry]) -> str:
    return "\n".join(f"{e.levelname} {show_path(e.file)}:{e.line}: {e.message}" for e in records)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    error = call.excinfo.value if call.excinfo is not None else None
    if (
        isinstance(error, PolicyError)
        and not isinstance(item, LuaTestItem | KumoCaseItem)
        and not getattr(error, _NOTED, False)
    ):
        # a Lua error escaped a Python test: show where in the Lua code it
        # was raised (kumopy's modules hide their own frames from pytest)
        details = describe_error(error)
        if not str(error).startswith("..."):
            details = details[1:]  # the exception's own message says the same
        if details:
            error.add_note("\n".join(details))
        setattr(error, _NOTED, True)
    report = yield
    if report.failed and call.when == "call":
        factory = item.stash.get(FACTORY_KEY, None)
        if factory is not None:
            records = factory.logs.records
            if isinstance(item, KumoCaseItem):
                records = records[item.log_start :]
            if records:
                report.sections.append((f"Captured kumo log {call.when}", _logged_lines(records)))
    return report


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: Any, right: Any
) -> list[str] | None:
    if op != "==" or not (isinstance(left, CallResult) or isinstance(right, CallResult)):
        return None
    if isinstance(left, CallResult) and isinstance(right, CallResult):
        lines = [f"CallResult of {call_text(left.event, left.args)} differs"]
        for field in ("event", "args", "handled", "values"):
            a, b = getattr(left, field), getattr(right, field)
            if a != b:
                lines.append(f"  {field}: {show(a)} != {show(b)}")
        return lines
    result = left if isinstance(left, CallResult) else right
    other = right if result is left else left
    handler = result.handler
    where = f"{show_path(handler.source)}:{handler.line}" if handler is not None else "no handler"
    return [
        f"CallResult of {call_text(result.event, result.args)} == {show(other)}",
        f"the handler ({where}) returned {show(result.values)}; a CallResult never "
        "equals a plain value: compare `.value` (the first returned value) or use "
        "policy.call(...)",
    ]


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    coverage = config.stash.get(COVERAGE_KEY, None)
    if coverage is None:
        return
    settings = config.stash[SETTINGS_KEY]
    files = coverage.files()
    for report in settings.cov_reports:
        if report.kind == "term":
            terminalreporter.write_sep("-", "kumo Lua coverage")
            if not files:
                terminalreporter.write_line("no Lua policy file ran")
            else:
                for line in summary_lines(files, config.rootpath):
                    terminalreporter.write_line(line)
        elif report.path is not None:
            if report.kind == "lcov":
                write_lcov(files, report.path)
            else:
                write_json(files, report.path)
            terminalreporter.write_line(f"kumo Lua coverage {report.kind} written to {report.path}")
