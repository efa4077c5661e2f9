"""Shared machinery of the `kumopy` commands.

* the options every command accepts (`--share`, `--map`, `--package-dir`, `--strict`,
  `--debug`, `--log-level`, `--budget`), usable before or after the
  command name;
* loading a policy with those settings;
* output helpers that never fail on 8-bit text, and conversion of Lua
  results to JSON;
* logging of the `kumopy` loggers to stderr;
* turning every failure into one line on stderr (no traceback unless
  `--debug`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._defaults import DEFAULT_BUDGET_SECONDS, DEFAULT_SHARE_DIR
from .._errors import PolicyError, PolicyInterrupted
from .._events import UnknownEventError, closest_name

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "CliError",
    "KumopyGroup",
    "Settings",
    "common_options",
    "echo",
    "echo_err",
    "json_line",
    "jsonable",
    "load_policy",
    "log_context",
    "prints_to_stderr",
    "quiet_kumopy_records",
    "settings",
]

EXIT_OK = 0
#: the policy failed: load error, handler error, failed validation, I/O error
EXIT_FAILURE = 1
#: wrong command line (click's usage errors)
EXIT_USAGE = 2
#: `rewrite` finished, but some inputs were skipped or a handler failed
EXIT_PARTIAL = 3
#: stopped by Ctrl-C (SIGINT), as shells report it
EXIT_INTERRUPTED = 130

_META_KEY = "kumopy.settings"
_GUARD_KEY = "kumopy.runtime_guard"

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------
# Settings and common options
# ---------------------------------------------------------------------------


@dataclass
class Settings:
    """What the common options asked for (group and command level merged:
    flags add up, `--map` entries accumulate, a value given after the
    command name wins over one given before it)."""

    share: str | None = None
    maps: dict[str, str] = field(default_factory=dict)
    package_dirs: list[str] = field(default_factory=list)
    strict: bool = False
    debug: bool = False
    log_level: str = "warning"
    budget: float | None = None  # None: the command's default; 0: no limit
    #: --network: DNS, HTTP and Redis calls may reach real servers
    network: bool = False
    #: --dns-zone: zone-file texts for the fake resolver, in order
    dns_zones: list[str] = field(default_factory=list)


def settings(ctx: click.Context | None = None) -> Settings:
    """The Settings of the running invocation (shared by all its contexts)."""
    ctx = ctx if ctx is not None else click.get_current_context()
    found = ctx.meta.get(_META_KEY)
    if found is None:
        found = ctx.meta[_META_KEY] = Settings()
    assert isinstance(found, Settings)
    return found


def _set_share(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        settings(ctx).share = value


def _set_maps(ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> None:
    for item in value:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise click.BadParameter(
                f"{item!r} is not SRC=DST (the path the policy names = a local path)",
                ctx=ctx,
                param_hint="'--map'",
            )
        settings(ctx).maps[src] = dst


def _add_package_dirs(ctx: click.Context, _param: click.Parameter,
                      value: tuple[str, ...]) -> None:
    settings(ctx).package_dirs.extend(value)


def _flag(name: str, help: str) -> Callable[[F], F]:
    """`--NAME`: a flag that sets the invocation's setting NAME."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            setattr(settings(ctx), name, True)

    return click.option(
        f"--{name}", is_flag=True, default=False, expose_value=False, callback=callback,
        help=help,
    )  # fmt: skip


def _set_log_level(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        settings(ctx).log_level = value.lower()


def _set_budget(ctx: click.Context, _param: click.Parameter, value: float | None) -> None:
    if value is not None:
        settings(ctx).budget = value


def _set_dns_zones(ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> None:
    if not value:
        return  # (click calls this even so: no need to import the DNS code)
    from .._kumo.dns import DnsError, TestResolver

    for path in value:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise click.BadParameter(
                f"{path}: {e.strerror or e}", ctx=ctx, param_hint="'--dns-zone'"
            ) from None
        try:
            TestResolver().add_zone(text)
        except DnsError as e:
            raise click.BadParameter(f"{path}: {e}", ctx=ctx, param_hint="'--dns-zone'") from None
        settings(ctx).dns_zones.append(text)


def common_options(f: F) -> F:
    """Add the options every command (and the group) accepts."""
    options = [
        click.option(
            "--share",
            "share",
            metavar="DIR",
            default=None,
            envvar="KUMOPY_SHARE_DIR",
            expose_value=False,
            callback=_set_share,
            help=f"KumoMTA share directory searched by require, also standing in "
            f"for {DEFAULT_SHARE_DIR} in paths the policy opens [default: "
            f"{DEFAULT_SHARE_DIR}, or the parent of $KUMOMTA_POLICY_EXTRAS; "
            f"env KUMOPY_SHARE_DIR].",
        ),
        click.option(
            "--map",
            "maps",
            metavar="SRC=DST",
            multiple=True,
            expose_value=False,
            callback=_set_maps,
            help="Read DST wherever the policy names SRC (a file, or a directory prefix). "
            "Repeatable.",
        ),
        click.option(
            "--package-dir",
            metavar="DIR",
            multiple=True,
            expose_value=False,
            callback=_add_package_dirs,
            help="Search DIR first for `require` (DIR/?.lua, DIR/?/init.lua), as a debug "
            "build of kumod does with `assets`. Repeatable.",
        ),
        _flag(
            "strict",
            "Like kumod: no global `kumo`; the policy must `require 'kumo'`.",
        ),
        click.option(
            "--budget",
            metavar="SECONDS",
            type=click.FloatRange(min=0),
            default=None,
            expose_value=False,
            callback=_set_budget,
            help=f"CPU time limit per handler call, 0 for none "
            f"[default: {DEFAULT_BUDGET_SECONDS:g}; none for `script`].",
        ),
        _flag(
            "network",
            "Let the policy's DNS lookups, HTTP requests and Redis commands reach real "
            "servers (off by default: kumopy never touches the network).",
        ),
        click.option(
            "--dns-zone",
            "dns_zones",
            metavar="FILE",
            multiple=True,
            expose_value=False,
            callback=_set_dns_zones,
            help="Answer DNS lookups from this zone file (starting with `$ORIGIN name.`), "
            "as kumo.dns.configure_test_resolver does. Repeatable.",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
            default=None,
            expose_value=False,
            callback=_set_log_level,
            help="Lowest level of log lines (kumo.log_* and kumopy's own) shown on stderr "
            "[default: warning].",
        ),
        _flag(
            "debug",
            "On failure, show the Lua and Python tracebacks.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# ---------------------------------------------------------------------------
# Loading a policy
# ---------------------------------------------------------------------------


def policy_options(default_budget: float | None = DEFAULT_BUDGET_SECONDS) -> dict[str, Any]:
    """The `Policy.load` options the invocation's settings give (share
    directory, path map, strictness, budget): one place, so every command and
    every replay worker loads the policy the same way."""
    s = settings()
    share = s.share
    extras = os.environ.get("KUMOMTA_POLICY_EXTRAS")
    if share is None and extras:
        # the helpers live in <share>/policy-extras
        share = os.path.dirname(os.path.abspath(extras.rstrip("/")))
    return {
        "share_dir": share,
        "path_map": {src: os.path.abspath(dst) for src, dst in s.maps.items()},
        "kumod_strict": s.strict,
        "package_dirs": list(s.package_dirs),
        "budget_seconds": default_budget if s.budget is None else (s.budget or None),
        "network": s.network,
        **({"dns_zones": list(s.dns_zones)} if s.dns_zones else {}),
    }


def load_policy(path: str, *, default_budget: float | None = DEFAULT_BUDGET_SECONDS,
                **options: Any) -> Policy:
    """Load `path` with the invocation's settings (logging set up first, so
    what the policy logs at load time is shown)."""
    s = settings()
    configure_logging(s.log_level)
    guard_runtime()
    for src, dst in s.maps.items():
        if not os.path.exists(dst):
            echo_err(f"kumopy: warning: --map {src}={dst}: {dst} does not exist")
    from .._policy import Policy  # (imported when a command needs it: start-up)

    return Policy.load(path, **policy_options(default_budget), **options)


REWRITE_EVENT = "smtp_client_rewrite_delivery_status"


def load_rewrite_policy(path: str) -> Policy:
    """load_policy, warning when the policy has no rewrite handler (every
    response is then kept)."""
    with prints_to_stderr():
        loaded = load_policy(path)
        registered = bool(loaded.handlers(REWRITE_EVENT))
    if not registered:
        hint = closest_name(REWRITE_EVENT, loaded.events())
        also = f" (it registers '{hint}': a misspelling?)" if hint is not None else ""
        echo_err(f"kumopy: warning: {path} registers no {REWRITE_EVENT} handler; "
                 f"every response is kept{also}")
    return loaded


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _encode(text: str) -> bytes:
    # strings from Lua may carry 8-bit bytes as surrogate escapes
    return text.encode("utf-8", "surrogateescape")


def echo(text: str) -> None:
    """One line on stdout, 8-bit text written back byte for byte."""
    click.echo(_encode(text))


def echo_err(text: str) -> None:
    """One line on stderr."""
    click.echo(_encode(text), err=True)


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A Python value converted from Lua -> something `json.dumps` accepts.

    Tables are already dicts/lists; keys become strings; kumo objects that
    kumod can serialise become their data; other functions, userdata and
    coroutines become strings such as `"<function>"`; NaN and infinities
    become `"nan"`, `"inf"`, `"-inf"`.
    """
    from .._runtime import Userdata, lua_type

    if _depth > 200:
        return "<nested too deeply>"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, Mapping):
        return {_json_key(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, Userdata):
        try:
            data = value.to_data()
        except Exception:
            return f"<{value.lua_type_name}>"
        return jsonable(data, _depth + 1)
    kind = lua_type(value)
    if kind is not None:
        return f"<{kind}>"
    return f"<{type(value).__name__}>"


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str):
        return key
    if isinstance(key, int | float):
        return json.dumps(jsonable(key))
    converted = jsonable(key)
    return converted if isinstance(converted, str) else json.dumps(converted)


def json_line(value: Any, *, indent: int | None = None) -> str:
    """JSON text of `value` (after `jsonable`), UTF-8 when possible and
    `\\uXXXX` escapes for 8-bit bytes that are not UTF-8."""
    data = jsonable(value)
    text = json.dumps(data, ensure_ascii=False, indent=indent, sort_keys=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, indent=indent, sort_keys=True)
    return text


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes `[<where>: ]LEVEL message` to the current stderr (looked up
    at each record, so test runners that swap sys.stderr see it)."""

    def __init__(self) -> None:
        super().__init__()
        self.where: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            text = f"{record.levelname} {message}"
            if self.where is not None:
                text = f"{self.where}: {text}"
            echo_err(text)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


_HANDLER = _StderrHandler()
_LOGGER = logging.getLogger("kumopy")


def configure_logging(level: str) -> None:
    """Send the `kumopy` loggers (kumopy itself, `kumopy.lua` for
    kumo.log_*) at `level` and above to stderr, once."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    _HANDLER.setLevel(numeric)
    _LOGGER.setLevel(numeric)
    if _HANDLER not in _LOGGER.handlers:
        _LOGGER.addHandler(_HANDLER)
    _LOGGER.propagate = False


@contextmanager
def _restore_logging() -> Iterator[None]:
    """Undo `configure_logging` at the end of a command (matters when the
    CLI runs inside another program, e.g. under click's CliRunner)."""
    level, propagate = _LOGGER.level, _LOGGER.propagate
    try:
        yield
    finally:
        if _HANDLER in _LOGGER.handlers:
            _LOGGER.removeHandler(_HANDLER)
        _LOGGER.setLevel(level)
        _LOGGER.propagate = propagate


@contextmanager
def log_context(where: str | None) -> Iterator[None]:
    """Prefix log lines written inside the block with `where` (an input
    position such as `responses.txt:7`)."""
    previous = _HANDLER.where
    _HANDLER.where = where
    try:
        yield
    finally:
        _HANDLER.where = previous


class _DropKumopyRecords(logging.Filter):
    """Let through only what the policy itself logs (kumo.log_*)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("kumopy.lua")


@contextmanager
def quiet_kumopy_records() -> Iterator[None]:
    """Inside the block, stderr shows no log record of kumopy's own (what
    the policy logs with kumo.log_* still shows): for work whose failures
    are reported otherwise, such as validate's probe calls."""
    quiet = _DropKumopyRecords()
    _HANDLER.addFilter(quiet)
    try:
        yield
    finally:
        _HANDLER.removeFilter(quiet)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "kumopy":
            self.messages.append(record.getMessage())


@contextmanager
def collect_errors() -> Iterator[list[str]]:
    """The ERROR records kumopy itself logs inside the block (e.g. a failed
    smtp_client_rewrite_delivery_status call)."""
    collector = _Collector()
    _LOGGER.addHandler(collector)
    try:
        yield collector.messages
    finally:
        _LOGGER.removeHandler(collector)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class CliError(click.ClickException):
    """A failure reported as one line: `kumopy: error: <message>`."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details

    def show(self, file: Any = None) -> None:
        if self.details:
            echo_err(self.details)
        echo_err(f"kumopy: error: {self.message}")


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


class CliInterrupted(CliError):
    """Ctrl-C: one line, exit status 130."""

    exit_code = EXIT_INTERRUPTED


def _die(line: str, status: int) -> None:
    """(watchdog thread) Report a call that cannot be stopped and end the
    process: nothing else can end it."""
    try:
        sys.stdout.flush()
    except Exception:  # pragma: no cover - a closed or full pipe
        pass
    try:
        os.write(2, _encode(line + "\n"))
    finally:
        os._exit(status)


@contextmanager
def _runtime_guard() -> Iterator[None]:
    """While a command runs: a handler that cannot be stopped (past its
    budget and the grace, in C code) or that Ctrl-C cannot reach ends the
    process with one line, instead of hanging it."""
    from .._runtime import _watchdog

    previous_hang = _watchdog.set_hang_handler(
        lambda _state, hang: _die(f"kumopy: error: {hang.describe()}", EXIT_FAILURE)
    )
    previous_interrupt = _watchdog.set_interrupt_handler(
        lambda _state, hang: _die(f"kumopy: error: {hang.describe()}", EXIT_INTERRUPTED)
    )
    undo = _watchdog.watch_sigint()
    try:
        yield
    finally:
        undo()
        _watchdog.set_hang_handler(previous_hang)
        _watchdog.set_interrupt_handler(previous_interrupt)


def guard_runtime() -> None:
    """Enter `_runtime_guard` for the rest of the running invocation (once;
    every command that runs Lua loads its policy through `load_policy`)."""
    root = click.get_current_context().find_root()
    if not root.meta.get(_GUARD_KEY):
        root.meta[_GUARD_KEY] = True
        root.with_resource(_runtime_guard())


class KumopyGroup(click.Group):
    """The `kumopy` group: every failure inside a command becomes a
    `CliError` (one line on stderr); `--debug` adds the tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        # (_runtime_guard is entered by load_policy: a command that runs no
        # Lua does not import the runtime)
        with _restore_logging():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except PolicyError as e:
            details = None
            if settings(ctx).debug:
                details = traceback.format_exc().rstrip("\n") + "\n" + e.describe()
            raise CliError(str(e), details=details) from None
        except UnknownEventError as e:
            raise CliError(str(e)) from None
        except KeyboardInterrupt as e:
            # PolicyInterrupted says where the handler was; a bare one not
            text = str(e) if isinstance(e, PolicyInterrupted) else "interrupted (Ctrl-C)"
            details = traceback.format_exc().rstrip("\n") if settings(ctx).debug else None
            raise CliInterrupted(text, details=details) from None
        except BrokenPipeError:
            raise  # click reports it itself (quiet exit)
        except Exception as e:
            details = None
            hint = ""
            if settings(ctx).debug:
                details = traceback.format_exc().rstrip("\n")
            else:
                hint = " (run with --debug for a traceback)"
            message = _first_line(str(e)) or type(e).__name__
            raise CliError(
                f"{type(e).__name__}: {message}{hint}" if not isinstance(e, OSError)
                else f"{message}{hint}",
                details=details,
            ) from None


@contextmanager
def prints_to_stderr() -> Iterator[None]:
    """Send what the policy prints (Lua `print`) to stderr inside the block,
    so that stdout carries only the command's own output."""
    flush_stdout()
    with redirect_stdout(sys.stderr):
        yield


def flush_stdout() -> None:
    """Flush what the policy printed (Lua `print` writes to sys.stdout)."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # pragma: no cover - closed pipe
        pass
