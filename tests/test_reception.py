"""The reception engine through its Python API (`kumopy._reception`):
every SMTP server event with an accepted and a rejected path, relaying,
the queue a message lands in, HTTP injection, requeue and log hooks.

The policy is tests/reception/init.lua; its settings file is written per
test and mapped to the absolute path the policy reads."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kumopy import Policy
from kumopy._errors import PolicyError
from kumopy._message import Message
from kumopy._message._fold import wrap
from kumopy._reception import Reception, SessionClosed

POLICY = Path(__file__).resolve().parent / "reception" / "init.lua"
CONFIG_PATH = "/opt/kumomta/etc/policy/reception.json"

MESSAGE = (
    b"From: Alice <alice@good.example>\r\n"
    b"To: bob@dest.example\r\n"
    b"Subject: hello\r\n"
    b"X-Tenant: acme\r\n"
    b"\r\n"
    b"Hi Bob\r\n"
)


def with_headers(extra: str, base: bytes = MESSAGE) -> bytes:
    return extra.replace("\n", "\r\n").encode() + base


MakeReception = Callable[..., Reception]


@pytest.fixture
def make_reception(tmp_path: Path) -> MakeReception:
    def make(**config: Any) -> Reception:
        settings = {"tenants": ["acme", "broken"], "blocked_peers": []}
        settings.update(config)
        path = tmp_path / "reception.json"
        path.write_text(json.dumps(settings))
        policy = Policy.load(POLICY, path_map={CONFIG_PATH: path})
        return Reception(policy, hostname="mx.test")

    return make


@pytest.fixture
def reception(make_reception: MakeReception) -> Reception:
    return make_reception()


def outcomes(session: Any, event: str) -> list[str]:
    return [e.outcome for e in session.events if e.event == event]


# ---------------------------------------------------------------------------
# connection, EHLO, AUTH
# ---------------------------------------------------------------------------


def test_greeting_after_connection_accepted(reception: Reception) -> None:
    session = reception.session(peer="127.0.0.1:4000", listener="127.0.0.1:25")
    assert str(session.greeting) == "220 mx.test KumoMTA"
    assert not session.closed
    assert session.meta.get_meta("screened") is True
    assert session.meta.meta["received_from"] == "127.0.0.1:4000"
    assert session.meta.meta["reception_protocol"] == "ESMTP"


def test_connection_rejected_by_kumo_reject(make_reception: MakeReception) -> None:
    session = make_reception(blocked_peers=["192.0.2.66"]).session(peer="192.0.2.66:1234")
    assert str(session.greeting) == "550 5.7.1 connections from 192.0.2.66 are not welcome"
    # kumod ends the session after rejecting the connection, whatever the code
    assert session.closed and session.greeting.close
    with pytest.raises(SessionClosed):
        session.ehlo("client.example")


def test_ehlo_advertises_kumod_extensions(reception: Reception) -> None:
    session = reception.session()
    reply = session.ehlo("client.example")
    assert reply.lines() == [
        "250-mx.test Aloha client.example",
        "250-PIPELINING",
        "250-ENHANCEDSTATUSCODES",
        "250-8BITMIME",
        "250-SMTPUTF8",
        "250 STARTTLS",
    ]
    assert session.meta.get_meta("ehlo_domain") == "client.example"
    event = next(e for e in session.events if e.event == "smtp_server_ehlo")
    assert event.args[0] == "client.example"
    assert event.args[2][-1] == "STARTTLS"


def test_ehlo_handler_replaces_extensions(reception: Reception) -> None:
    reply = reception.session().ehlo("minimal.example")
    assert reply.lines() == [
        "250-mx.test Aloha minimal.example",
        "250-PIPELINING",
        "250 ENHANCEDSTATUSCODES",
    ]


def test_ehlo_rejected_keeps_the_session_open(reception: Reception) -> None:
    session = reception.session()
    reply = session.ehlo("bad.example")
    assert (reply.code, reply.text, reply.command) == (550, "5.7.1 go away bad.example",
                                                       "EHLO bad.example")
    assert not session.closed
    assert session.meta.get_meta("ehlo_domain") is None
    assert session.helo("good.example").lines() == ["250 Hello good.example!"]


def test_helo_fires_ehlo_event_without_extensions(reception: Reception) -> None:
    session = reception.session()
    session.helo("client.example")
    event = next(e for e in session.events if e.event == "smtp_server_ehlo")
    assert len(event.args) == 2


def test_auth_requires_tls(reception: Reception) -> None:
    reply = reception.session().auth_plain("alice", "secret")
    assert str(reply) == "524 5.7.11 AUTH PLAIN requires an encrypted channel"


def test_auth_plain_true_and_false(reception: Reception) -> None:
    session = reception.session(tls=True)
    assert "250 AUTH PLAIN" in session.ehlo("client.example").lines()
    assert str(session.auth_plain("alice", "wrong")) == "535 5.7.8 AUTH invalid"
    assert str(session.auth_plain("alice", "secret")) == "235 2.7.0 AUTH OK!"
    assert session.meta.get_meta("authn_id") == "alice"
    assert session.meta.get_meta("authz_id") == "alice"
    assert str(session.auth_plain("alice", "secret")).startswith("503 5.5.1 AUTH me once")
    session.mail_from("alice@good.example")
    # conn_meta:auth_info(): the authorization and the authentication identity
    assert session.meta.get_meta("identity_count") == 2
    event = [e for e in session.events if e.event == "smtp_server_auth_plain"][-1]
    assert event.args[:3] == ["alice", "alice", "secret"]


def test_auth_plain_auth_info_and_reject(reception: Reception) -> None:
    session = reception.session(tls=True)
    assert str(session.auth_plain("bob", "secret", authz="boss")) == "235 2.7.0 AUTH OK!"
    # the identities the handler returned win; no authorization identity -> authn
    assert session.meta.get_meta("authn_id") == "bob"
    assert session.meta.get_meta("authz_id") == "bob"
    session.mail_from("bob@good.example")
    assert session.meta.get_meta("identity_count") == 1
    assert session.meta.get_meta("groups") == ["staff"]
    other = reception.session(tls=True)
    assert str(other.auth_plain("mallory", "x")) == "454 4.7.0 try again later"
    assert not other.closed


# ---------------------------------------------------------------------------
# MAIL FROM, RCPT TO and relaying
# ---------------------------------------------------------------------------


def test_mail_from_accepted_and_rejected(reception: Reception) -> None:
    session = reception.session()
    reply = session.mail_from("a@spam.example")
    assert (reply.code, reply.text) == (550, "5.7.1 sender a@spam.example rejected")
    assert str(session.mail_from("alice@good.example")) == "250 OK <alice@good.example>"
    assert session.meta.get_meta("mail_from_seen") == "alice@good.example"
    assert str(session.mail_from("x@good.example")).startswith("503 5.5.0 MAIL FROM already")
    assert str(session.rset()) == "250 Reset state"
    assert str(session.mail_from("<>")) == "250 OK <>"


def test_disconnect_closes_the_connection(reception: Reception) -> None:
    session = reception.session()
    reply = session.mail_from("x@abuse.example")
    assert str(reply) == "421 4.7.0 bye"
    assert reply.close and session.closed


def test_rcpt_to_before_mail_from(reception: Reception) -> None:
    reply = reception.session().rcpt_to("bob@dest.example")
    assert str(reply) == "503 5.5.0 MAIL FROM must be issued first"


def test_relay_hosts_let_localhost_relay_anywhere(reception: Reception) -> None:
    session = reception.session(peer="127.0.0.1:5000")
    session.mail_from("alice@good.example")
    assert str(session.rcpt_to("bob@dest.example")) == "250 OK <bob@dest.example>"
    looked_up = [e.args[0] for e in session.events if e.event == "get_listener_domain"]
    assert looked_up == ["good.example", "dest.example"]


def test_relaying_denied_for_other_peers(reception: Reception) -> None:
    session = reception.session(peer="203.0.113.9:5000")
    session.mail_from("alice@good.example")
    reply = session.rcpt_to("bob@dest.example")
    # the policy's smtp_server_rewrite_response appends the link
    assert str(reply) == (
        "550 5.7.1 relaying not permitted for 203.0.113.9:5000 "
        "(see https://example.com/policy)"
    )
    assert outcomes(session, "smtp_server_rcpt_to") == []
    assert str(session.rcpt_to("postmaster@relay.example")) == "250 OK <postmaster@relay.example>"


def test_relay_from_cidr_of_the_sender_domain(reception: Reception) -> None:
    inside = reception.session(peer="10.1.2.3:5000")
    inside.mail_from("ceo@corp.example")
    assert inside.rcpt_to("x@anywhere.example").code == 250
    outside = reception.session(peer="198.51.100.7:5000")
    outside.mail_from("ceo@corp.example")
    assert outside.rcpt_to("x@anywhere.example").code == 550


def test_listener_domain_results_are_cached_per_session(reception: Reception) -> None:
    session = reception.session(peer="203.0.113.9:5000")
    session.mail_from("a@good.example")
    session.rcpt_to("x@relay.example")
    session.rcpt_to("y@relay.example")
    looked_up = [e.args[0] for e in session.events if e.event == "get_listener_domain"]
    assert looked_up == ["good.example", "relay.example"]


def test_rcpt_to_rejected_by_policy(reception: Reception) -> None:
    session = reception.session()
    session.mail_from("alice@good.example")
    reply = session.rcpt_to("nobody@dest.example")
    assert str(reply) == (
        "550 5.1.1 no such user nobody@dest.example (see https://example.com/policy)"
    )
    assert reply.command == "RCPT TO:<nobody@dest.example>"
    assert outcomes(session, "smtp_server_rewrite_response")[-1] == "ok"


def test_error_in_get_listener_domain_is_technical_difficulties(reception: Reception) -> None:
    session = reception.session()
    session.mail_from("alice@good.example")
    reply = session.rcpt_to("bob@broken.example")
    assert str(reply) == "421 4.3.0 mx.test technical difficulties"
    assert session.closed
    assert "listener domain lookup failed" in (reply.command or "")


def test_reject_in_get_listener_domain_also_becomes_421(tmp_path: Path) -> None:
    policy_path = tmp_path / "p.lua"
    policy_path.write_text(textwrap.dedent("""
        local kumo = require 'kumo'
        kumo.on('get_listener_domain', function(domain)
          kumo.reject(550, 'no such domain')
        end)
    """))
    session = Reception(Policy.load(policy_path), hostname="h").session()
    session.mail_from("a@b.example")
    assert str(session.rcpt_to("c@d.example")) == "421 4.3.0 h technical difficulties"


# ---------------------------------------------------------------------------
# DATA and the queue
# ---------------------------------------------------------------------------


def transaction(reception: Reception, data: bytes, *recipients: str, peer: str = "127.0.0.1:5000"):
    session = reception.session(peer=peer)
    session.ehlo("client.example")
    session.mail_from("alice@good.example")
    for r in recipients or ("bob@dest.example",):
        assert session.rcpt_to(r).code == 250
    return session, session.data(data)


def test_data_accepted_into_the_tenant_queue(reception: Reception) -> None:
    session, reply = transaction(reception, MESSAGE)
    assert reply.code == 250
    [accepted] = session.accepted
    msg = accepted.message
    assert reply.text == f"OK ids={msg.id}"
    assert accepted.queue == "acme@dest.example"
    assert accepted.disposition == "queued"
    assert msg.get_meta("tenant") == "acme"
    assert msg.get_meta("recipient_count") == 1  # set in smtp_server_data, copied per batch
    assert msg.get_meta("ehlo_domain") == "client.example"
    assert msg.get_first_named_header_value("X-Tenant") is None
    assert msg.get_first_named_header_value("X-Screened-By") == "mx.test"
    received = msg.get_first_named_header_value("Received") or ""
    assert received.startswith("from client.example (127.0.0.1)")
    assert "by mx.test (KumoMTA 127.0.0.1)" in received
    assert f"with ESMTP id {msg.id} for <bob@dest.example>;" in received
    ref = msg.get_first_named_header_value("X-KumoRef") or ""
    decoded = json.loads(base64.b64decode("".join(ref.split())))
    assert decoded == {"_@_": "\\_/", "recipient": "bob@dest.example"}
    fired = [e.event for e in session.events if e.event != "smtp_server_rewrite_response"]
    assert fired[-4:] == [
        "smtp_server_data", "smtp_server_split_transaction", "smtp_server_message_received",
        "get_queue_config",
    ]


def test_campaign_and_one_message_per_recipient(reception: Reception) -> None:
    data = with_headers("X-Campaign: spring\n")
    session, reply = transaction(reception, data, "bob@dest.example", "carol@other.example")
    queues = [a.queue for a in session.accepted]
    assert queues == ["spring:acme@dest.example", "spring:acme@other.example"]
    ids = [a.message.id for a in session.accepted]
    assert reply.text == "OK ids=" + " ".join(ids)
    assert [str(r) for r in session.accepted[1].message.recipients] == ["carol@other.example"]


def test_smtp_server_data_reject(reception: Reception) -> None:
    session, reply = transaction(reception, with_headers("X-Block: yes\n"))
    assert (reply.code, reply.text, reply.command) == (554, "5.7.1 content blocked", "DATA")
    assert session.accepted == []
    assert outcomes(session, "smtp_server_message_received") == []
    # the transaction is over; a new one can start
    assert session.mail_from("alice@good.example").code == 250


def test_message_received_reject_rejects_the_whole_batch(reception: Reception) -> None:
    data = MESSAGE.replace(b"X-Tenant: acme", b"X-Tenant: nope")
    session, reply = transaction(reception, data, "bob@dest.example", "carol@other.example")
    assert str(reply) == "550 5.7.1 unknown tenant nope"
    assert session.accepted == []
    assert outcomes(session, "smtp_server_message_received") == ["rejected"]


def test_null_queue_is_accepted_and_discarded(reception: Reception) -> None:
    session, reply = transaction(reception, with_headers("X-Discard: 1\n"))
    assert reply.code == 250
    [accepted] = session.accepted
    assert (accepted.queue, accepted.disposition) == ("null", "null")
    assert "get_queue_config" not in [e.event for e in session.events]


def test_get_queue_config_error_is_technical_difficulties(reception: Reception) -> None:
    data = MESSAGE.replace(b"X-Tenant: acme", b"X-Tenant: broken")
    session, reply = transaction(reception, data)
    assert str(reply) == "421 4.3.0 mx.test technical difficulties"
    assert "QueueManager::resolve(broken@dest.example) failed" in (reply.command or "")
    assert session.closed and session.accepted == []


def test_bare_line_feeds_are_refused(reception: Reception) -> None:
    _, reply = transaction(reception, MESSAGE.replace(b"\r\n", b"\n"))
    assert str(reply) == "552 5.6.0 message data must use CRLF for line endings"


def test_data_without_recipients(reception: Reception) -> None:
    session = reception.session()
    assert str(session.data(MESSAGE)) == "503 5.5.0 MAIL FROM must be issued first"
    session.mail_from("alice@good.example")
    assert str(session.data(MESSAGE)) == "503 5.5.0 RCPT TO must be issued first"


def test_report_domain_accepts_arf_but_relays_nothing(reception: Reception) -> None:
    peer = "203.0.113.9:5000"
    session, reply = transaction(reception, MESSAGE, "fbl@reports.example", peer=peer)
    assert str(reply) == "550 5.7.1 relaying not permitted"
    report = (
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n"
        + MESSAGE
    )
    session, reply = transaction(reception, report, "fbl@reports.example", peer=peer)
    assert reply.code == 250
    assert session.accepted[0].disposition == "not relayed"


# ---------------------------------------------------------------------------
# HTTP injection, requeue, log hooks
# ---------------------------------------------------------------------------


def test_http_message_generated_accepted(reception: Reception) -> None:
    auth = {"peer_address": "10.0.0.1", "groups": [],
            "identities": [{"identity": "api-user", "context": "HttpBasicAuth"}]}
    result = reception.http_inject(MESSAGE, sender="alice@good.example",
                                   recipients=["bob@dest.example"], auth_info=auth)
    assert (result.success_count, result.fail_count) == (1, 0)
    [accepted] = result.accepted
    msg = accepted.message
    assert accepted.queue == "acme@dest.example"
    assert msg.get_meta("reception_protocol") == "HTTP"
    assert msg.get_meta("injected_by") == "api-user"
    event = next(e for e in result.events if e.event == "http_message_generated")
    assert event.args[1]["identities"][0]["identity"] == "api-user"
    received = msg.get_first_named_header_value("Received") or ""
    assert received.startswith("from good.example (127.0.0.1)")
    assert f"with HTTP id {msg.id} for <bob@dest.example>;" in received


def test_http_message_generated_reject_fails_the_recipient(reception: Reception) -> None:
    data = MESSAGE.replace(b"X-Tenant: acme", b"X-Tenant: nope")
    result = reception.http_inject(data, sender="alice@good.example",
                                   recipients=["bob@dest.example", "carol@dest.example"])
    assert (result.success_count, result.fail_count) == (0, 2)
    assert result.failed_recipients == ["bob@dest.example", "carol@dest.example"]
    assert result.errors[0] == "bob@dest.example: 550 5.7.1 unknown tenant nope"


def queued_message() -> Message:
    return Message(MESSAGE, sender="alice@good.example", recipients=["bob@dest.example"],
                   meta={"tenant": "acme"})


def test_requeue_message_changes_the_queue(reception: Reception) -> None:
    result = reception.requeue(queued_message(), "451 4.7.1 throttled, try later")
    assert result.outcome == "requeued"
    assert (result.queue_before, result.queue) == ("acme@dest.example",
                                                   "acme@dest.example!slow.example")
    assert result.due_now
    event = result.events[0]
    assert event.args[1:4] == ["451 4.7.1 throttled, try later", ["LoggedTransientFailure"],
                               True]


def test_requeue_message_reject_bounces(reception: Reception) -> None:
    result = reception.requeue(queued_message(), "452 4.2.2 mailbox full")
    assert result.outcome == "bounced"
    assert result.reject is not None
    assert (result.reject.code, result.reject.message) == (
        550, "5.2.2 giving up: 452 4.2.2 mailbox full")
    unchanged = reception.requeue(queued_message(), "421 4.4.2 timeout")
    assert (unchanged.outcome, unchanged.queue) == ("requeued", "acme@dest.example")


def test_should_enqueue_log_record(reception: Reception) -> None:
    record = Message(b"Subject: log\r\n\r\n{}\r\n", sender="log@kumo.example",
                     recipients=["hook@kumo.example"])
    yes = reception.should_enqueue_log_record(record, "webhook")
    assert (yes.enqueue, yes.queue) == (True, "webhook.example")
    no = reception.should_enqueue_log_record(record, "other")
    assert (no.enqueue, no.queue) == (False, None)


# ---------------------------------------------------------------------------
# kumo.reject / kumo.disconnect as Lua sees them
# ---------------------------------------------------------------------------


def test_reject_error_value_in_lua(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(textwrap.dedent("""
        local kumo = require 'kumo'
        kumo.on('main', function()
          local ok, err = pcall(kumo.reject, '550', 'no thanks')
          assert(not ok)
          return tostring(err), type(err)
        end)
        kumo.on('bad_mode', function() kumo.disconnect(421, 'x', 'Sometimes') end)
        kumo.on('bad_code', function() kumo.reject(70000, 'x') end)
    """))
    policy = Policy.load(path)
    assert policy.dispatch("main").values == ("550 no thanks", "userdata")
    with pytest.raises(PolicyError, match="expected one of 'If421', 'FollowWith421' or "
                       "'ForceDisconnect', but got String\\(\"Sometimes\"\\)"):
        policy.dispatch("bad_mode")
    with pytest.raises(PolicyError, match=r"error converting Lua integer to u16 \(out of range\)"):
        policy.dispatch("bad_code")


def test_follow_with_421(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(textwrap.dedent("""
        local kumo = require 'kumo'
        kumo.on('smtp_server_mail_from', function()
          kumo.disconnect(550, '5.7.1 no\\nreally not', 'FollowWith421')
        end)
    """))
    session = Reception(Policy.load(path), hostname="h").session()
    reply = session.mail_from("a@b.example")
    assert reply.lines() == [
        "550-5.7.1 no",
        "550 really not",
        "421 h disconnecting due to previous error",
    ]
    assert session.closed


def test_header_folding_matches_kumo_wrap() -> None:
    assert wrap(b"hello world", 10, 15) == b"hello\r\n\tworld"
    assert wrap(b"hi there breakmepleaseIamtoolong", 10, 15) == (
        b"hi there\r\n\tbreakmepleaseIa\r\n\tmtoolong"
    )
    assert wrap(b"x" * 80, 75, 75) == b"x" * 75 + b"\r\n\t" + b"x" * 5


def test_requeue_counts_the_attempt(reception: Reception) -> None:
    msg = queued_message()
    reception.requeue(msg, "421 4.4.2 timeout", increment_attempts=False)
    assert msg.num_attempts == 0
    reception.requeue(msg, "421 4.4.2 timeout")
    assert msg.num_attempts == 1
    reception.requeue(msg, "451 4.7.1 throttled", increment_attempts=True)
    assert msg.num_attempts == 2


BATCHING_POLICY = """
local kumo = require 'kumo'
kumo.on('smtp_server_get_dynamic_parameters', function(listener, conn_meta)
  local peer = conn_meta:get_meta('received_from')
  if peer:find('^192%.0%.2%.1:') then
    kumo.reject(421, '4.3.2 not today')
  end
  if peer:find('^192%.0%.2%.2:') then
    return nil
  end
  return { hostname = 'dyn.example', batch_handling = 'BatchByDomain',
           meta = { tier = 'gold' } }
end)
kumo.on('smtp_server_split_transaction', function(msg, conn_meta)
  if msg:get_first_named_header_value('X-Split') then
    local out = {}
    for _, r in ipairs(msg:recipient_list()) do table.insert(out, { r }) end
    return out
  end
end)
"""


def test_dynamic_parameters_and_batching(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(BATCHING_POLICY)
    reception = Reception(Policy.load(path))
    session = reception.session(peer="127.0.0.1:1000")
    assert str(session.greeting) == "220 dyn.example KumoMTA"
    assert session.meta.get_meta("tier") == "gold"
    session.mail_from("a@good.example")
    for r in ("x@one.example", "y@two.example", "z@ONE.example"):
        session.rcpt_to(r)
    assert session.data(MESSAGE).code == 250
    batches = [[str(r) for r in a.message.recipients] for a in session.accepted]
    # kumod's parser normalises the domain (DomainString: IDNA, lower case)
    assert batches == [["x@one.example", "z@one.example"], ["y@two.example"]]
    # the split event overrides batch_handling
    session.mail_from("a@good.example")
    session.rcpt_to("x@one.example")
    session.rcpt_to("z@one.example")
    assert session.data(b"X-Split: 1\r\n" + MESSAGE).code == 250
    assert [len(a.message.recipients) for a in session.last_messages] == [1, 1]


def test_dynamic_parameters_reject_and_nil(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(BATCHING_POLICY)
    reception = Reception(Policy.load(path), hostname="h")
    rejected = reception.session(peer="192.0.2.1:1000")
    assert str(rejected.greeting) == "421 4.3.2 not today" and rejected.closed
    nil = reception.session(peer="192.0.2.2:1000")
    assert str(nil.greeting) == "421 4.3.0 h technical difficulties" and nil.closed


DEFERRED_POLICY = """
local kumo = require 'kumo'
kumo.on('smtp_server_message_received', function(msg)
  error('not called for a deferred_queue listener')
end)
kumo.on('smtp_server_message_deferred_inject', function(msg, conn_meta)
  local tenant = msg:get_first_named_header_value('X-Tenant')
  if tenant == 'gone' then kumo.reject(550, '5.7.1 tenant gone') end
  if tenant == 'later' then kumo.reject(451, '4.7.1 not yet') end
  if tenant == 'boom' then error('broken') end
  conn_meta:set_meta('discarded', true)
  msg:set_meta('tenant', tenant)
  msg:set_meta('via', conn_meta:get_meta('received_via'))
end)
"""


@pytest.mark.parametrize(("tenant", "outcome", "code", "queue"), [
    ("acme", "queued", 250, "acme@dest.example"),
    ("gone", "bounced", 550, "dest.example"),  # queue meta cleared, then removed
    ("later", "transient", 451, "deferred_smtp_inject.kumomta.internal"),
    ("boom", "transient", 450, "deferred_smtp_inject.kumomta.internal"),
])
def test_deferred_queue_listener(tmp_path: Path, tenant: str, outcome: str, code: int,
                                 queue: str) -> None:
    path = tmp_path / "p.lua"
    path.write_text(DEFERRED_POLICY)
    reception = Reception(Policy.load(path), params={"deferred_queue": True})
    session = reception.session(listener="127.0.0.1:2026")
    session.mail_from("a@good.example")
    session.rcpt_to("b@dest.example")
    data = MESSAGE.replace(b"X-Tenant: acme", f"X-Tenant: {tenant}".encode())
    assert session.data(data).code == 250
    [accepted] = session.accepted
    assert (accepted.queue, accepted.disposition) == (
        "deferred_smtp_inject.kumomta.internal", "deferred")
    result = reception.deferred_inject(accepted.message)
    assert (result.outcome, result.code) == (outcome, code)
    if outcome == "queued":
        assert result.queue == queue
        assert accepted.message.get_meta("via") == "127.0.0.1:2026"
        assert accepted.message.get_meta("discarded") is None
    else:
        assert accepted.message.queue_name() == queue
    if tenant == "boom":
        assert "broken" in result.response


def test_auth_without_initial_response(reception: Reception) -> None:
    session = reception.session(tls=True)
    assert session.auth("PLAIN", None).lines() == ["334  "]
    token = base64.b64encode(b"\0alice\0secret").decode()
    assert str(session.auth_response(token)) == "235 2.7.0 AUTH OK!"
    other = reception.session(tls=True)
    other.auth("PLAIN", None)
    assert str(other.auth_response("*")) == "501 5.5.0 AUTH cancelled by client"
    assert str(other.auth("LOGIN", None)) == "504 5.5.4 AUTH LOGIN not supported"
