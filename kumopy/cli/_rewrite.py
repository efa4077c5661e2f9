"""`kumopy rewrite`: offer remote SMTP responses to the policy's
`smtp_client_rewrite_delivery_status` handler, as kumod's SMTP client does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import click

from .._errors import PolicyError
from .._policy import Policy
from .._smtp import (
    MAX_LINE_LEN,
    MalformedResponse,
    QueueName,
    Response,
    ResponseTooLong,
    line_received,
    longest_line,
)
from ._common import (
    EXIT_PARTIAL,
    REWRITE_EVENT,
    CliError,
    collect_errors,
    common_options,
    echo,
    echo_err,
    json_line,
    load_rewrite_policy,
    log_context,
    prints_to_stderr,
    settings,
)

__all__ = ["rewrite"]

EVENT = REWRITE_EVENT
_SHOWN = 120  # characters of a bad input line quoted in the error
_LABEL = 60  # characters of a command-line response quoted before its log lines


@dataclass
class _Counts:
    inputs: int = 0
    rewritten: int = 0
    unchanged: int = 0
    handler_errors: int = 0
    malformed: int = 0

    def summary(self) -> str:
        return (
            f"kumopy: {self.inputs} {'input' if self.inputs == 1 else 'inputs'}: "
            f"{self.rewritten} rewritten, {self.unchanged} unchanged "
            f"({self.handler_errors} with a handler error), "
            f"{self.malformed} not an SMTP response"
        )


#: the longest input line taken (bytes); kumod's SMTP client itself never
#: receives a response line over 8,190 bytes (`_smtp.line_received`)
MAX_INPUT_LINE = 64 << 10
#: an over-long line with no end within this many bytes stops the input
MAX_SKIP = 64 << 20


@dataclass(frozen=True)
class _TooLong:
    """An input line longer than MAX_INPUT_LINE, in place of its text."""

    size: int
    ended: bool  # False: no line end within MAX_SKIP bytes (reading stopped)


def _lines(stream: IO[bytes], name: str) -> Iterator[tuple[str | None, int, str | _TooLong]]:
    """The non-blank lines of `stream`, read in bounded steps: a line over
    MAX_INPUT_LINE bytes is skipped to its end and handed out as _TooLong
    (memory stays bounded whatever the input, /dev/zero included)."""
    number = 0
    readline = stream.readline
    while True:
        raw = readline(MAX_INPUT_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_INPUT_LINE and not raw.endswith(b"\n"):
            size = len(raw)
            while True:
                rest = readline(1 << 20)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    yield f"{name}:{number}", number, _TooLong(size - (1 if rest else 0), True)
                    if not rest:
                        return
                    break
                if size > MAX_SKIP:
                    yield f"{name}:{number}", number, _TooLong(size, False)
                    return
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", "surrogateescape")
        if text.strip():
            yield f"{name}:{number}", number, text


def _inputs(
    responses: tuple[str, ...], input_path: str | None
) -> Iterator[tuple[str | None, int, str | _TooLong]]:
    """(where, position, text) of every response to rewrite: `where` is
    FILE:LINE for a line of an input file, None for a command-line argument
    (the response text itself then names it)."""
    for i, text in enumerate(responses, start=1):
        yield None, i, text
    if input_path is None:
        return
    if input_path == "-":
        yield from _lines(sys.stdin.buffer, "<stdin>")
        return
    try:
        stream = open(input_path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise CliError(f"cannot read {input_path}: {e.strerror or e}") from None
    with stream:
        try:
            yield from _lines(stream, input_path)
        except OSError as e:
            raise CliError(f"cannot read {input_path}: {e.strerror or e}") from None


def _quote(text: str, limit: int = _SHOWN) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Rewrite SMTP responses with the policy.",
)
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("responses", metavar="[RESPONSE]...", nargs=-1)
@click.option("-i", "--input", "input_path", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="Read one response per line from FILE ('-' for stdin); blank lines are "
              "skipped.")
@click.option("-q", "--queue", default="example.com", show_default=True, metavar="QUEUE",
              help="Queue name of the message, [campaign:][tenant@]domain[!routing_domain]: "
              "supplies the domain, tenant, campaign and routing_domain arguments.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per response instead of the rewritten line.")
@click.option("--summary", is_flag=True, help="Print counts to stderr at the end.")
@click.option("--raise-errors", is_flag=True,
              help="Stop at the first handler error (exit 1) instead of logging it and "
              "keeping the original response as kumod does.")
@common_options
def rewrite(policy: str, responses: tuple[str, ...], input_path: str | None, queue: str,
            as_json: bool, summary: bool, raise_errors: bool) -> None:
    """Rewrite remote SMTP responses with the policy's
    smtp_client_rewrite_delivery_status handler.

    Each RESPONSE argument, or each line of --input, is parsed as an SMTP
    reply (an argument may hold a multi-line reply) and offered to the
    handler exactly as kumod does (a 250 is never offered).  stdout gets
    one line per response, in input order: the resulting response as a
    single line, with `(kumomta: status was rewritten from X -> Y)`
    appended when the handler changed the code.

    With --json each line is an object: line (input line number or
    argument position), input, output, changed, code, original_code,
    error (the handler error, or null).

    A line that is not an SMTP response is reported on stderr
    (`FILE:LINE: not an SMTP response ...`) and skipped, and so is a
    response with a line kumod's SMTP client never receives (over 8,190
    bytes: `not offered: ...`); a line of 4,096 to 8,190 bytes gets a note
    (kumod receives it only when it arrives in large enough pieces).  A handler error
    is logged on stderr and the original response kept, as kumod does.

    Exit status: 0 every response was processed, 1 the policy failed to
    load (or --raise-errors and a handler failed), 2 wrong command line,
    3 some lines were skipped or a handler call failed.
    """
    ctx = click.get_current_context()
    if responses and input_path is not None:
        raise click.UsageError("give RESPONSE arguments or --input FILE, not both", ctx=ctx)
    if not responses and input_path is None:
        raise click.UsageError(
            "nothing to rewrite: give RESPONSE arguments or --input FILE ('-' for stdin)",
            ctx=ctx,
        )
    queue_name = QueueName.parse(queue)
    loaded = load_rewrite_policy(policy)
    counts = _Counts()
    for where, position, text in _inputs(responses, input_path):
        counts.inputs += 1
        if isinstance(text, _TooLong):
            counts.malformed += 1
            if text.ended:
                echo_err(f"{where}: not an SMTP response (line longer than "
                         f"{MAX_INPUT_LINE:,} bytes: {text.size:,} bytes), skipped")
            else:
                echo_err(f"kumopy: error: {where}: a line longer than {MAX_SKIP:,} bytes "
                         "without a line end (not a file of SMTP responses?): stopped "
                         "reading the input")
            continue
        prefix = f"{where}: " if where is not None else ""
        try:
            original = Response.parse(text)
        except ResponseTooLong as e:
            counts.malformed += 1
            echo_err(f"{prefix}not offered ({e.reason}), skipped: {_quote(text)}")
            continue
        except MalformedResponse as e:
            counts.malformed += 1
            echo_err(f"{prefix}not an SMTP response ({e.reason}): {_quote(text)}")
            continue
        if len(text) >= MAX_LINE_LEN // 4 and line_received(longest_line(text)) is None:
            echo_err(f"{prefix}note: a line of {longest_line(text):,} bytes: kumod's SMTP "
                     f"client reads {MAX_LINE_LEN:,} bytes at a time and refuses a longer line "
                     "unless it arrives in two reads at most (Response line is too long)")
        label = where if where is not None else _quote(text, _LABEL)
        with prints_to_stderr():
            result, error = _rewrite_one(loaded, original, queue_name, label, raise_errors)
        changed = result.code != original.code
        if error is not None:
            counts.handler_errors += 1
        if changed:
            counts.rewritten += 1
        else:
            counts.unchanged += 1
        if as_json:
            echo(json_line({
                "line": position,
                "input": text,
                "output": result.to_single_line(),
                "changed": changed,
                "code": result.code,
                "original_code": original.code,
                "error": error,
            }))
        else:
            echo(result.to_single_line())
    if summary:
        echo_err(counts.summary())
    if counts.malformed or counts.handler_errors:
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _rewrite_one(policy: Policy, response: Response, queue: QueueName, where: str,
                 raise_errors: bool) -> tuple[Response, str | None]:
    """The rewritten response, and the error kumod would have logged.
    `where` names the input (FILE:LINE, or the quoted response): it prefixes
    what is logged meanwhile, and follows the policy's own position in the
    error of --raise-errors."""
    with log_context(where), collect_errors() as errors:
        try:
            result = policy.rewrite_delivery_status(response, queue, raise_errors=raise_errors)
        except PolicyError as e:
            details = e.describe() if settings().debug else None
            raise CliError(f"{e} while rewriting {where}", details=details) from None
    return result, (errors[0] if errors else None)
