"""`kumopy explain`: which rules decide one response, and why."""

from __future__ import annotations

from typing import Any

import click

from .._errors import PolicyError
from .._events import closest_name
from .._kumo.regex_set_map import LuaRegexSetMap, observe_lookups
from .._smtp import MalformedResponse, QueueName, Response
from ._common import (
    EXIT_FAILURE,
    CliError,
    common_options,
    echo,
    json_line,
    load_policy,
    prints_to_stderr,
)

__all__ = ["explain"]

EVENT = "smtp_client_rewrite_delivery_status"


@click.command(
    "explain",
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Show which rules match a response and what it becomes.",
)
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("response")
@click.option("-q", "--queue", default="example.com", show_default=True, metavar="QUEUE",
              help="Queue name, [campaign:][tenant@]domain[!routing_domain].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@common_options
def explain(policy: str, response: str, queue: str, as_json: bool) -> None:
    """Offer RESPONSE to the policy's smtp_client_rewrite_delivery_status
    handler and show every regex_set_map lookup it made: each pattern that
    matches, the value it maps to, the one kumopy chose (the first in
    sorted pattern order) and whether kumod could choose another (when
    matching patterns map to different values kumod's choice changes
    between restarts); then the final response line.

    Exit status: 0 done, 1 the policy failed to load, registers no
    smtp_client_rewrite_delivery_status handler, or the handler failed,
    2 wrong command line.
    """
    try:
        original = Response.parse(response)
    except MalformedResponse as e:
        raise click.BadParameter(f"not an SMTP response ({e.reason}): {response!r}",
                                 param_hint="'RESPONSE'") from None
    queue_name = QueueName.parse(queue)
    lookups: list[tuple[LuaRegexSetMap, int | None, str]] = []

    def observe(m: LuaRegexSetMap, index: int | None, subject: bytes | str) -> None:
        text = subject.decode("utf-8", "surrogateescape") if isinstance(subject, bytes) \
            else subject
        lookups.append((m, index, text))

    with prints_to_stderr():
        loaded = load_policy(policy)
        registered = bool(loaded.handlers(EVENT))
        if not registered:
            # nothing to explain: every response would be kept, which must
            # not pass for an answer (the handler is often misspelt)
            raise CliError(f"{policy} registers no {EVENT} handler{_misspelt(loaded.events())}")
        error: str | None = None
        with observe_lookups(observe):
            try:
                result = loaded.rewrite_delivery_status(original, queue_name, raise_errors=True)
            except PolicyError as e:
                result, error = original, str(e)
    rows: list[dict[str, Any]] = []
    for m, index, subject in lookups:
        matches = m.matches(subject)
        chosen = m.patterns[index] if index is not None else None
        values = {repr(v) for _, v in matches}
        rows.append({
            "subject": subject,
            "patterns": len(m),
            "matches": [{"pattern": p, "value": v, "chosen": p == chosen} for p, v in matches],
            "chosen": chosen,
            "ambiguous": len(values) > 1,
        })
    final = result.to_single_line()
    if as_json:
        echo(json_line({
            "response": original.to_single_line(), "queue": queue_name.format(),
            "offered": original.code != 250, "lookups": rows,
            "code": result.code, "result": final, "error": error,
        }))
    else:
        echo(f"response: {original.to_single_line()}")
        domain, tenant, campaign, routing = queue_name.rewrite_event_args()
        echo(f"queue:    {queue_name.format()} (domain {domain}, tenant {tenant or '-'}, "
             f"campaign {campaign or '-'}, routing domain {routing})")
        if original.code == 250:
            echo("kumod never offers a 250 response to the event")
        elif not rows:
            echo("the handler made no regex_set_map lookup")
        for n, row in enumerate(rows, start=1):
            echo(f"lookup {n}: map of {row['patterns']} patterns, "
                 f"{len(row['matches'])} matching")
            for match in row["matches"]:
                mark = "*" if match["chosen"] else " "
                echo(f"  {mark} {match['pattern']!r} -> {match['value']!r}")
            if row["ambiguous"]:
                echo("  patterns with different values match: kumod may choose any of them "
                     "(its order changes between restarts); kumopy takes the first in "
                     "sorted order (*)")
        if error is not None:
            echo(f"handler error: {error} (kumod keeps the response)")
        echo(f"result:   {final}")
    if error is not None:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _misspelt(registered: list[str]) -> str:
    """A hint naming a registered event that looks like a misspelling."""
    hint = closest_name(EVENT, registered)
    return f" (it registers '{hint}': a misspelling?)" if hint is not None else ""
