"""The harness defaults: ini options and command-line flags, resolved once.

Relative paths are resolved against:

* the directory of the ini file (pytest.ini, pyproject.toml, tox.ini,
  setup.cfg) for ini options and for paths given to the `kumo_policy`
  fixture; the rootdir when there is no ini file;
* the current directory for command-line flags, like any other path on a
  command line;
* the case file's directory for paths inside a `*.kumo.toml` file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["CovReport", "KumoSettings", "add_options", "parse_map_entry", "resolve_map"]

TMP_PLACEHOLDER = "{tmp}"
DEFAULT_LUA_TESTS = ("*_test.lua",)


@dataclass(frozen=True)
class CovReport:
    """One `--kumo-cov-report` request: `term`, `lcov:PATH` or `json:PATH`."""

    kind: str
    path: Path | None = None


@dataclass(frozen=True)
class KumoSettings:
    """Defaults for every policy the harness loads."""

    base_dir: Path
    policy: Path | None = None
    share_dir: Path | None = None
    #: absolute path the policy names -> local path (a str, which may start
    #: with "{tmp}", resolved when a policy is created)
    path_map: Mapping[str, str] = field(default_factory=dict)
    fresh_state: bool = False
    check_globals: bool = True
    allowed_globals: tuple[str, ...] = ()
    coverage: bool = False
    cov_reports: tuple[CovReport, ...] = ()
    cov_sources: tuple[Path, ...] = ()
    lua_test_patterns: tuple[str, ...] = DEFAULT_LUA_TESTS
    budget_seconds: float | None = None
    #: collect Lua test files and case tables (the project opted in)
    collect: bool = False
    #: kumo_network: the policies' DNS, HTTP and Redis calls may reach real servers
    network: bool = False


def parse_map_entry(entry: str) -> tuple[str, str]:
    """`SRC=DST` -> (SRC, DST); raises pytest.UsageError when malformed."""
    src, sep, dst = entry.partition("=")
    src, dst = src.strip(), dst.strip()
    if not sep or not src or not dst:
        raise pytest.UsageError(f"kumo path map entry {entry!r} is not of the form SRC=DST")
    return src, dst


def resolve_map(
    entries: Iterable[tuple[str, str]], base: Path
) -> dict[str, str]:
    """Resolve each DST against `base` (a DST starting with {tmp} is kept)."""
    out: dict[str, str] = {}
    for src, dst in entries:
        if dst.startswith(TMP_PLACEHOLDER) or os.path.isabs(dst):
            out[src] = dst
        else:
            out[src] = str((base / dst).resolve())
    return out


def expand_map(path_map: Mapping[str, str], tmp_dir: Path | None) -> dict[str, str]:
    """Replace the {tmp} placeholder with a policy's private directory."""
    out = {}
    for src, dst in path_map.items():
        if dst.startswith(TMP_PLACEHOLDER):
            if tmp_dir is None:
                raise ValueError(f"path map {src}={dst}: no private directory for {{tmp}}")
            rest = dst[len(TMP_PLACEHOLDER) :].lstrip("/\\")
            target = tmp_dir / rest if rest else tmp_dir
            target.mkdir(parents=True, exist_ok=True)
            dst = str(target)
        out[src] = dst
    return out


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("kumopy", "KumoMTA policy testing (kumopy)")
    group.addoption(
        "--kumo-policy", metavar="PATH", default=None,
        help="policy file the kumo_policy fixture loads by default (ini: kumo_policy)",
    )
    group.addoption(
        "--kumo-share-dir", metavar="DIR", default=None,
        help="directory standing in for /opt/kumomta/share (ini: kumo_share_dir)",
    )
    group.addoption(
        "--kumo-map", metavar="SRC=DST", action="append", default=[],
        help="map a path the policy names to a local path; repeatable (ini: kumo_path_map)",
    )
    group.addoption(
        "--kumo-fresh-state", action="store_true", default=None,
        help="run every event in a new Lua state (ini: kumo_fresh_state)",
    )
    group.addoption(
        "--kumo-no-check-globals", action="store_false", dest="kumo_check_globals",
        default=None,
        help="do not fail when a handler creates a global variable (ini: kumo_check_globals)",
    )
    group.addoption(
        "--kumo-cov", action="store_true", default=None,
        help="measure line coverage of the Lua policy files (ini: kumo_coverage)",
    )
    group.addoption(
        "--kumo-cov-report", metavar="TYPE[:PATH]", action="append", default=[],
        help="coverage report: term (default), lcov:PATH or json:PATH; repeatable; "
        "implies --kumo-cov (ini: kumo_cov_report)",
    )

    parser.addini("kumo_policy", "policy file the kumo_policy fixture loads by default",
                  type="string", default="")
    parser.addini("kumo_share_dir", "directory standing in for /opt/kumomta/share",
                  type="string", default="")
    parser.addini("kumo_path_map", "lines of SRC=DST: paths the policy names -> local paths",
                  type="linelist", default=[])
    parser.addini("kumo_fresh_state", "run every event in a new Lua state",
                  type="bool", default=False)
    parser.addini("kumo_check_globals", "fail when a handler creates a global variable",
                  type="bool", default=True)
    parser.addini("kumo_allowed_globals", "global names handlers may create",
                  type="args", default=[])
    parser.addini("kumo_coverage", "measure line coverage of the Lua policy files",
                  type="bool", default=False)
    parser.addini("kumo_cov_report", "coverage reports: term, lcov:PATH, json:PATH",
                  type="args", default=[])
    parser.addini("kumo_cov_source", "directories (or files) whose .lua files the coverage "
                  "report lists, even those that never ran", type="linelist", default=[])
    parser.addini("kumo_lua_tests", "file name patterns of Lua test files (default *_test.lua)",
                  type="args", default=[])
    parser.addini("kumo_collect", "collect Lua test files and test_*.kumo.toml case tables "
                  "(default: only when kumo_policy or kumo_lua_tests is set)",
                  type="bool", default=None)
    parser.addini("kumo_budget_seconds", "CPU budget of one handler call (default 5)",
                  type="string", default="")
    parser.addini("kumo_network", "let the policies' DNS lookups, HTTP requests and Redis "
                  "commands reach real servers (off by default)", type="bool", default=False)


def _cov_report(spec: str, base: Path) -> CovReport:
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "term" and not sep:
        return CovReport("term")
    if kind in ("lcov", "json") and path.strip():
        return CovReport(kind, (base / path.strip()).resolve())
    raise pytest.UsageError(
        f"--kumo-cov-report {spec!r}: expected term, lcov:PATH or json:PATH"
    )


def load_settings(config: pytest.Config) -> KumoSettings:
    ini_base = config.inipath.parent if config.inipath is not None else config.rootpath
    cli_base = config.invocation_params.dir

    def ini_path(name: str) -> Path | None:
        value = str(config.getini(name)).strip()
        return (ini_base / value).resolve() if value else None

    policy = ini_path("kumo_policy")
    if config.getoption("kumo_policy"):
        policy = (cli_base / config.getoption("kumo_policy")).resolve()
    share_dir = ini_path("kumo_share_dir")
    if config.getoption("kumo_share_dir"):
        share_dir = (cli_base / config.getoption("kumo_share_dir")).resolve()

    path_map = resolve_map((parse_map_entry(e) for e in config.getini("kumo_path_map")), ini_base)
    path_map.update(
        resolve_map((parse_map_entry(e) for e in config.getoption("kumo_map")), cli_base)
    )

    fresh = config.getoption("kumo_fresh_state")
    check = config.getoption("kumo_check_globals")
    cov_flag = config.getoption("kumo_cov")

    reports = [_cov_report(s, ini_base) for s in config.getini("kumo_cov_report")]
    cli_reports = [_cov_report(s, cli_base) for s in config.getoption("kumo_cov_report")]
    if cli_reports:
        reports = cli_reports
    coverage = bool(cov_flag) or bool(cli_reports) or bool(config.getini("kumo_coverage"))
    if coverage and not any(r.kind == "term" for r in reports):
        reports.insert(0, CovReport("term"))

    budget_text = str(config.getini("kumo_budget_seconds")).strip()
    try:
        budget = float(budget_text) if budget_text else None
    except ValueError:
        raise pytest.UsageError(f"kumo_budget_seconds = {budget_text!r} is not a number") from None

    lua_tests = tuple(config.getini("kumo_lua_tests"))
    try:
        explicit = config.getini("kumo_collect")
    except (ValueError, pytest.UsageError) as e:
        raise pytest.UsageError(f"kumo_collect: {e}; expected true or false") from None
    # unset: a project that configured kumopy means its Lua tests and cases
    collect = bool(explicit) if explicit is not None else (policy is not None or bool(lua_tests))

    return KumoSettings(
        base_dir=ini_base,
        policy=policy,
        share_dir=share_dir,
        path_map=path_map,
        fresh_state=bool(config.getini("kumo_fresh_state")) if fresh is None else bool(fresh),
        check_globals=bool(config.getini("kumo_check_globals")) if check is None else bool(check),
        allowed_globals=tuple(config.getini("kumo_allowed_globals")),
        coverage=coverage,
        cov_reports=tuple(reports),
        cov_sources=tuple((ini_base / s).resolve() for s in config.getini("kumo_cov_source")),
        lua_test_patterns=lua_tests or DEFAULT_LUA_TESTS,
        budget_seconds=budget,
        collect=collect,
        network=bool(config.getini("kumo_network")),
    )
