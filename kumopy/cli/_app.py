"""The `kumopy` command group and the `validate`, `call`, `script` and
`events` commands (`rewrite` lives in `_rewrite.py`)."""

from __future__ import annotations

import json
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from .. import __version__
from .._errors import PolicyError, PolicyExit
from .._events import EVENTS, EventSpec, UnknownEventError, closest_name, event_spec, suggest_event
from .._version import follows
from ._common import (
    EXIT_FAILURE,
    CliError,
    KumopyGroup,
    common_options,
    echo,
    echo_err,
    flush_stdout,
    json_line,
    load_policy,
    prints_to_stderr,
    quiet_kumopy_records,
)
from ._completion import complete_event

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = ["cli", "main"]

POLICY = click.Path(exists=True, dir_okay=False, readable=True)

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


#: the commands defined in modules of their own, imported only when a
#: command line names them (start-up: `kumopy lint` need not import what
#: `kumopy serve` does): name -> (module, attribute, short help).  The short
#: help is here so that `kumopy --help` and shell completion import nothing
#: (tests/test_lazy_imports.py checks it against the commands' own).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "explain": ("._explain", "explain", "Show which rules match a response and what it becomes."),
    "file-type": ("._filetype", "file_type", "Build or check the database behind kumo.file_type."),
    "inject": ("._inject", "inject", "Run one message through the reception path."),
    "lint": ("._lint", "lint", "Check a regex_set_map rule file."),
    "replay": ("._replay", "replay_command", "Replay KumoMTA logs through the rewrite handler."),
    "resolve-egress-path": ("._resolve", "resolve_egress_path",
                            "Print the egress path config for a domain and source."),
    "resolve-queue-config": ("._resolve", "resolve_queue_config",
                             "Print the queue config a queue name resolves to."),
    "rewrite": ("._rewrite", "rewrite", "Rewrite SMTP responses with the policy."),
    "serve": ("._serve", "serve", "Run an SMTP listener that answers like kumod."),
    "stubs": ("._stubs", "stubs", "Write editor definitions of the kumo API."),
}


class LazyGroup(KumopyGroup):
    """The `kumopy` group, whose commands in LAZY_COMMANDS are imported
    when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            command = getattr(import_module(module, __package__), attribute)
            assert isinstance(command, click.Command)
            self.commands[cmd_name] = command
        return command

    def help_of(self, name: str, limit: int = 45) -> str:
        """A command's short help, without importing it."""
        command = self.commands.get(name)
        if command is not None:
            return command.get_short_help_str(limit)
        return LAZY_COMMANDS[name][2]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if names:
            limit = formatter.width - 6 - max(len(name) for name in names)
            with formatter.section("Commands"):
                formatter.write_dl([(name, self.help_of(name, limit)) for name in names])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        results = [CompletionItem(name, help=self.help_of(name))
                   for name in self.list_commands(ctx) if name.startswith(incomplete)]
        # the group's own options (click.Command's completion)
        results.extend(super(click.Group, self).shell_complete(ctx, incomplete))
        return results


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="kumopy",
                      message=f"%(prog)s %(version)s\n{follows()}")
@common_options
def cli() -> None:
    """Run KumoMTA Lua policies without kumod.

    The common options (--share, --map, --strict, --budget, --network,
    --dns-zone, --log-level, --debug) are accepted before or after the
    command name.  Errors are
    reported as one line on stderr, `kumopy: error: FILE:LINE: message`.

    \b
    Exit status: 0 success, 1 the policy failed (load error, handler error,
    failed validation), 2 wrong command line, 3 `rewrite` skipped inputs
    or a handler call failed, 130 interrupted (Ctrl-C).
    """


def _kind(name: str) -> str:
    spec = event_spec(name)
    return "Multiple" if spec is not None and spec.multiple else "Single"


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Check a policy like kumod --validate.")
@click.argument("policy", type=POLICY)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--fail-on-warning", is_flag=True, help="Exit 1 when there are warnings.")
@click.option("--no-probe", is_flag=True,
              help="Make no probe call: check only what kumod --validate checks.")
@common_options
def validate(policy: str, as_json: bool, fail_on_warning: bool, no_probe: bool) -> None:
    """Check a policy the way `kumod --validate` does, then probe it.

    Loads POLICY with `_VALIDATING_CONFIG` set, runs its pre_init, init and
    validate_config handlers, and fails if one raised or called
    kumo.validation_failed().  Then, unless --no-probe, makes the probe
    calls kumod does not make: smtp_client_rewrite_delivery_status('451
    4.0.0 kumopy validate probe', 'example.com', nil, nil, 'example.com')
    when the policy handles it, so that rules which cannot load or compile
    (a missing file, a pattern Rust's regex refuses) fail validation
    instead of every delivery; a failure there is an error.  The
    regex_set_maps the policy built are then linted (as warnings).

    stdout lists the registered events, one per line: NAME, Single or
    Multiple, and where each handler was registered; then what the policy
    would start and the probe calls made.  stderr has the errors, then the
    warnings (event names KumoMTA does not know, uses of the global `kumo`
    that kumod does not define, lint findings), then the verdict.

    Exit status: 0 valid, 1 not valid (or the policy does not load).
    """
    from .._lint import MapObservation, lint_policy_maps
    from .._validate import PROBE_RESPONSE, run_probes

    # the maps the policy builds, watched during the probe call, are linted
    # afterwards without calling the handler a second time
    maps = MapObservation(PROBE_RESPONSE)

    try:
        with prints_to_stderr():
            loaded = load_policy(policy, validating=True)
            # the registrations are fixed once the top level has run (kumo.on
            # is an error inside pre_init/init): list them before any handler
            handlers = {name: [h.location for h in loaded.handlers(name)]
                        for name in loaded.events()}
            report = loaded.validate(probe=False)
            if report.ok and not no_probe:
                # a probe failure is reported once, as an error: kumopy's own
                # log line about it (memoize's) would only repeat it
                with quiet_kumopy_records(), maps.watching():
                    run_probes(loaded, report)
    except PolicyError as e:
        if as_json:
            echo(json_line({"policy": policy, "ok": False, "events": [], "warnings": [],
                            "errors": [str(e)], "probes": []}))
        raise
    # --- begin: lint the regex_set_maps the policy builds (kumopy lint; docs/lint.md).
    # kumod --validate accepts these maps, so findings are warnings here.
    if report.ok and not no_probe:
        with prints_to_stderr():
            for where, findings in lint_policy_maps(loaded, maps):
                report.warnings.extend(
                    f"regex_set_map built at {where}: {f.describe()}" if f.patterns
                    else f.describe()
                    for f in findings)
    # --- end: lint ---
    ok = report.ok and not (fail_on_warning and report.warnings)
    if as_json:
        events = [
            {"name": name, "kind": _kind(name), "known": event_spec(name) is not None,
             "handlers": locations}
            for name, locations in handlers.items()
        ]
        echo(json_line({"policy": policy, "ok": ok, "events": events,
                        "warnings": report.warnings, "errors": report.errors,
                        "server": report.server,
                        "probes": [p.to_dict() for p in report.probes]}))
    else:
        width = max((len(name) for name in handlers), default=0)
        for name, locations in handlers.items():
            echo(f"{name:<{width}}  {_kind(name):<8}  {', '.join(locations)}")
        started = loaded.server_config.summary_lines()
        if started:
            echo("")
            echo("# what the policy would start (nothing is started):")
            for line in started:
                echo(line)
        if report.probes:
            echo("")
            echo("# probe calls (after init; --no-probe skips them):")
            for probe in report.probes:
                outcome = json_line(probe.value) if probe.ok else "failed (see the error)"
                echo(f"{probe.call_text()} -> {'nil' if outcome == 'null' else outcome}")
        for error in report.errors:
            echo_err(f"kumopy: error: {error}")
        for warning in report.warnings:
            echo_err(f"kumopy: warning: {warning}")
        counts = (f"{_plural(len(handlers), 'event')}, {_plural(len(report.warnings), 'warning')}, "
                  f"{_plural(len(report.errors), 'error')}")
        verdict = "valid" if ok else "validation failed"
        echo_err(f"kumopy: {policy}: {verdict} ({counts})")
    if not ok:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------------------
# call
# ---------------------------------------------------------------------------

_I64 = 2**63


def _check_ints(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_I64 <= value < _I64
    if isinstance(value, dict):
        return all(_check_ints(v) for v in value.values())
    if isinstance(value, list):
        return all(_check_ints(v) for v in value)
    return True


def _parse_json_args(raw: tuple[str, ...], ctx: click.Context) -> list[Any]:
    values = []
    for i, text in enumerate(raw, start=1):
        try:
            value = json.loads(text)
        except RecursionError:
            raise click.BadParameter(
                f"argument {i} is nested too deeply", ctx=ctx, param_hint="'ARG'"
            ) from None
        except json.JSONDecodeError as e:
            raise click.BadParameter(
                f"argument {i} {text!r} is not JSON ({e.msg} at column {e.colno}); "
                "quote strings ('\"text\"') or use --strings",
                ctx=ctx,
                param_hint="'ARG'",
            ) from None
        if not _check_ints(value):
            raise click.BadParameter(
                f"argument {i} {text!r} has an integer outside Lua's 64-bit range",
                ctx=ctx,
                param_hint="'ARG'",
            )
        values.append(value)
    return values


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Fire one event, print the result.")
@click.argument("policy", type=POLICY)
@click.argument("event", shell_complete=complete_event)
@click.argument("args", metavar="[ARG]...", nargs=-1)
@click.option("--all", "all_values", is_flag=True,
              help="Print every value the handler returned, as a JSON array.")
@click.option("-s", "--strings", is_flag=True,
              help="Pass every ARG as a string instead of parsing it as JSON.")
@click.option("--compact", is_flag=True, help="Print the JSON on one line.")
@common_options
def call(policy: str, event: str, args: tuple[str, ...], all_values: bool, strings: bool,
         compact: bool) -> None:
    """Fire EVENT once and print what the handler returned, as JSON.

    Each ARG is a JSON value: '"text"', 42, 1.5, true, null, '{"a": 1}',
    '[1, 2]' (objects and arrays become Lua tables).  Only the policy's top
    level runs first (as in a fresh kumod Lua state; pre_init and init do
    not run).  Multiple events call their handlers in order until one
    returns a value.

    stdout: the first returned value (null for nil or nothing), or with
    --all every returned value as an array.  kumo objects are shown as
    their data; functions and other userdata as strings like "<function>".
    When no handler is registered for an EVENT kumod fires, or every
    handler of a Multiple event returned nothing, stdout gets null ([]
    with --all), stderr a note, and the exit status is 0.  An EVENT that
    kumod never fires and the policy registers no handler for (a
    misspelling) is a usage error, with a suggestion.

    Exit status: 0 the handler ran (or none is registered), 1 it raised,
    2 wrong command line (including an unknown EVENT).
    """
    ctx = click.get_current_context()
    values = list(args) if strings else _parse_json_args(args, ctx)
    with prints_to_stderr():
        loaded = load_policy(policy)
        try:
            result = loaded.dispatch(event, *values)
        except UnknownEventError as e:
            raise click.BadParameter(str(e), ctx=ctx, param_hint="'EVENT'") from None
        note = None if result.handled else _no_handler(loaded, event)
    if note is not None:
        echo_err(f"kumopy: note: {note}")
    indent = None if compact else 2
    echo(json_line(list(result.values) if all_values else result.value, indent=indent))


def _no_handler(policy: Policy, event: str) -> str:
    """The note for an event kumod fires that produced no value."""
    if policy.handlers(event):
        return f"no handler of '{event}' returned a value"
    message = f"no handler registered for '{event}'"
    # a handler registered under a near name is probably the misspelling
    hint = closest_name(event, policy.events())
    if hint is not None:
        message += f" (the policy registers '{hint}': a misspelling?)"
    return message


# ---------------------------------------------------------------------------
# script
# ---------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Run a policy's main handler.")
@click.argument("policy", type=POLICY)
@click.argument("args", metavar="[-- ARG...]", nargs=-1)
@common_options
def script(policy: str, args: tuple[str, ...]) -> None:
    """Run POLICY as a script, like `kumod --script --policy POLICY -- ARG...`.

    Runs the top level, then the `main` handler with each ARG as a separate
    string; pre_init and init do not run.  Put `--` before arguments that
    start with a dash.  Lua `print` goes to stdout.  There is no CPU limit
    unless --budget is given.

    Exit status: 0 main returned, 1 the policy or main raised, or the
    policy registers no main handler; os.exit(N) exits with N, as
    `kumod --script` does.
    """
    try:
        loaded = load_policy(policy, default_budget=None)
        if not loaded.handlers("main"):
            raise CliError(
                f"{policy}: no 'main' handler registered "
                "(add kumo.on('main', function(...) ... end))"
            )
        loaded.run_script(*args)
    except PolicyExit as e:
        # kumod --script ends the process with the status, silently
        flush_stdout()
        raise click.exceptions.Exit(e.status & 0xFF) from None
    flush_stdout()


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


def _event_json(spec: EventSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "args": list(spec.args),
        "returns": spec.returns,
        "kind": "Multiple" if spec.multiple else "Single",
        "documented": spec.documented,
        "summary": spec.summary,
    }


def _event_line(spec: EventSpec) -> str:
    kind = "Multiple" if spec.multiple else "Single"
    return f"{spec.name}({', '.join(spec.args)}) -> {spec.returns}  [{kind}]"


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="List the events KumoMTA fires.")
@click.argument("names", metavar="[NAME]...", nargs=-1, shell_complete=complete_event)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of event objects.")
@click.option("-l", "--long", "long_", is_flag=True, help="Add each event's summary.")
@common_options
def events(names: tuple[str, ...], as_json: bool, long_: bool) -> None:
    """List the events KumoMTA fires: arguments, return value, Single or
    Multiple.

    With NAMEs, only those events.  One line per event:
    `NAME(ARGS) -> RETURNS  [Single|Multiple]`.  Multiple events accept
    several handlers, called in registration order until one returns a
    value; a second handler for a Single event is an error.
    """
    ctx = click.get_current_context()
    specs: list[EventSpec] = []
    if names:
        for name in names:
            spec = event_spec(name)
            if spec is None:
                hint = suggest_event(name)
                extra = f" (did you mean '{hint}'?)" if hint else ""
                raise click.BadParameter(f"'{name}' is not a KumoMTA event{extra}",
                                         ctx=ctx, param_hint="'NAME'")
            specs.append(spec)
    else:
        specs = sorted(EVENTS.values(), key=lambda s: s.name)
    if as_json:
        echo(json_line([_event_json(s) for s in specs], indent=2))
        return
    for spec in specs:
        echo(_event_line(spec))
        if long_ or names:
            note = "" if spec.documented else " (no KumoMTA reference page)"
            echo(f"    {spec.summary}{note}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="kumopy")

