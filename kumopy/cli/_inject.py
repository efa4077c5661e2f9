"""`kumopy inject`: run one message through kumod's reception path without
a network, and show every event fired, what the policy changed and where
the message ends up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .._reception import Accepted, Reception, Reply, Session, normalize_crlf
from ._common import EXIT_FAILURE, CliError, common_options, echo, json_line, load_policy

__all__ = ["inject"]

_LABELS = {"C": "client  ", "S": "server  ", "E": "event   "}


def _header_diff(before: list[tuple[str, str]], after: list[tuple[str, str]]) -> dict[str, Any]:
    """Headers added and removed (a multiset difference, order kept)."""
    remaining = list(before)
    added = []
    for item in after:
        if item in remaining:
            remaining.remove(item)
        else:
            added.append(item)
    return {
        "added": [{"name": n, "value": v} for n, v in added],
        "removed": [{"name": n, "value": v} for n, v in remaining],
    }


def _meta_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if k not in before or before[k] != v}


def _describe(accepted: Accepted, base_headers: list[tuple[str, str]],
              base_meta: dict[str, Any], envelope_rcpts: list[str]) -> dict[str, Any]:
    msg = accepted.message
    recipients = [str(r) for r in msg.recipients]
    return {
        **accepted.to_json(),
        "changes": {
            "meta": _meta_diff(base_meta, msg.meta),
            "headers": _header_diff(base_headers, msg.headers),
            "recipients": recipients if recipients != envelope_rcpts else None,
        },
    }


def run_inject(reception: Reception, data: bytes, *, sender: str, recipients: list[str],
               peer: str, listener: str, helo: str, tls: bool,
               auth: tuple[str, str] | None) -> tuple[Session, list[Reply]]:
    """Drive one SMTP transaction as a well-behaved client would: stop at
    a rejected EHLO, AUTH or MAIL FROM, go on past rejected recipients,
    send DATA when one recipient was accepted."""
    session = reception.session(peer=peer, listener=listener, tls=tls)
    replies = [session.greeting]

    def step(reply: Reply, wanted: int) -> bool:
        replies.append(reply)
        return reply.code == wanted and not session.closed

    if session.closed or not step(session.ehlo(helo), 250):
        return session, replies
    if auth is not None and not step(session.auth_plain(auth[0], auth[1]), 235):
        return session, replies
    if not step(session.mail_from(sender), 250):
        return session, replies
    accepted = 0
    for rcpt in recipients:
        reply = session.rcpt_to(rcpt)
        replies.append(reply)
        if session.closed:
            return session, replies
        accepted += reply.code == 250
    if accepted:
        replies.append(session.data(data))
    return session, replies


@click.command(short_help="Run one message through the reception path.")
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("message", type=click.Path(exists=True, dir_okay=False, readable=True,
                                           allow_dash=True))
@click.option("--sender", "-f", required=True, help="Envelope sender (MAIL FROM).")
@click.option("--recipient", "-r", "recipients", required=True, multiple=True,
              help="Envelope recipient (RCPT TO); repeat for several.")
@click.option("--peer", default="127.0.0.1:50000", show_default=True, metavar="IP:PORT",
              help="The client's address (relay_hosts and relay_from are checked against it).")
@click.option("--listener", default="127.0.0.1:25", show_default=True, metavar="IP:PORT",
              help="The listener's address (get_listener_domain's second argument).")
@click.option("--helo", default="client.example", show_default=True,
              help="The EHLO domain.")
@click.option("--hostname", default=None, help="The listener hostname.")
@click.option("--auth", default=None, metavar="USER:PASSWORD",
              help="AUTH PLAIN before MAIL FROM (as if after STARTTLS).")
@click.option("--http", "http", is_flag=True,
              help="Inject over HTTP instead (http_message_generated) .")
@click.option("--raw", is_flag=True,
              help="Send MESSAGE byte for byte (default: line endings become CRLF, as an "
              "SMTP client sends a text file).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@common_options
def inject(policy: str, message: str, sender: str, recipients: tuple[str, ...], peer: str,
           listener: str, helo: str, hostname: str | None, auth: str | None, http: bool,
           raw: bool, as_json: bool) -> None:
    """Run MESSAGE (an RFC 5322 file, - for stdin) through POLICY's reception
    path as kumod would receive it over SMTP: EHLO, MAIL FROM, RCPT TO,
    DATA, with every SMTP server event, relay check and queue resolution.

    Prints each event fired, each SMTP reply, and for every accepted
    message its queue, disposition and what the policy changed (metadata,
    headers, recipients).  With --http the message goes through the HTTP
    injection path (http_message_generated) instead.

    Exit status: 0 the message was accepted, 1 it was rejected or a
    handler failed.
    """
    data = sys.stdin.buffer.read() if message == "-" else Path(message).read_bytes()
    if not raw:
        # what an SMTP client sends for a text file: CRLF line endings
        data = normalize_crlf(data)
    auth_pair: tuple[str, str] | None = None
    if auth is not None:
        user, sep, password = auth.partition(":")
        if not sep:
            raise click.BadParameter("expected USER:PASSWORD", param_hint="'--auth'")
        auth_pair = (user, password)
    loaded = load_policy(policy)
    reception = Reception(loaded, hostname=hostname, startup=True)
    from .._message import Message

    try:
        base = Message(data, sender=sender, recipients=list(recipients))
    except ValueError as e:
        raise CliError(f"{message}: {e}") from None
    base_headers = base.headers
    if http:
        result = reception.http_inject(data, sender=sender, recipients=list(recipients),
                                       peer=peer.rsplit(":", 1)[0], hostname=hostname)
        messages = [_describe(a, base_headers, {}, [str(r) for r in a.message.recipients])
                    for a in result.accepted]
        ok = result.fail_count == 0
        out: dict[str, Any] = {
            "ok": ok,
            "path": "http",
            "events": [e.to_json() for e in result.events],
            "response": {"success_count": result.success_count,
                         "fail_count": result.fail_count,
                         "failed_recipients": result.failed_recipients,
                         "errors": result.errors},
            "messages": messages,
        }
        if as_json:
            echo(json_line(out, indent=2))
        else:
            for record in result.events:
                echo(f"event   {record}")
            echo(f"response  success_count={result.success_count} "
                 f"fail_count={result.fail_count}")
            for err in result.errors:
                echo(f"error  {err}")
            _print_messages(messages)
        if not ok:
            raise click.exceptions.Exit(EXIT_FAILURE)
        return

    session, replies = run_inject(reception, data, sender=sender, recipients=list(recipients),
                                  peer=peer, listener=listener, helo=helo,
                                  tls=auth_pair is not None, auth=auth_pair)
    final = replies[-1]
    ok = final.code == 250 and bool(session.accepted)
    base_meta = session.meta.meta
    messages = []
    for accepted in session.last_messages if ok else []:
        described = _describe(accepted, base_headers, base_meta, list(recipients))
        if accepted.disposition == "deferred":
            # what the deferred-injection queue then does with it
            later = reception.deferred_inject(accepted.message)
            described["deferred_inject"] = {
                "outcome": later.outcome, "code": later.code, "response": later.response,
                "queue": later.queue, "events": [e.to_json() for e in later.events],
            }
        messages.append(described)
    if as_json:
        echo(json_line({
            "ok": ok,
            "path": "smtp",
            "reply": final.to_json(),
            "transcript": session.transcript,
            "events": [e.to_json() for e in session.events],
            "messages": messages,
        }, indent=2))
    else:
        for line in session.transcript:
            kind, _, text = line.partition(": ")
            echo(f"{_LABELS[kind]}{text}")
        _print_messages(messages)
        echo(f"reply  {final}")
    if not ok:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _print_messages(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        echo(f"message {m['id']} queue={m['queue']} {m['disposition']} "
             f"from=<{m['sender']}> to={','.join('<' + r + '>' for r in m['recipients'])}")
        changes = m["changes"]
        for key, value in changes["meta"].items():
            echo(f"  meta    {key} = {json_line(value)}")
        for h in changes["headers"]["added"]:
            value = h["value"] if len(h["value"]) <= 100 else h["value"][:97] + "..."
            echo(f"  header+ {h['name']}: {value}")
        for h in changes["headers"]["removed"]:
            echo(f"  header- {h['name']}: {h['value']}")
        if changes["recipients"] is not None:
            echo(f"  recipients -> {', '.join(changes['recipients'])}")
        later = m.get("deferred_inject")
        if later is not None:
            for event in later["events"]:
                echo(f"  event   {event['event']} -> {event['outcome']}")
            where = f" queue={later['queue']}" if later["queue"] else ""
            echo(f"  deferred inject: {later['outcome']} {later['code']} "
                 f"{later['response']}{where}")
