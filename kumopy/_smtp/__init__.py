"""SMTP responses, queue names and the `smtp_client_rewrite_delivery_status` rules.

Pure Python models of three small pieces of KumoMTA that policies observe:

* `Response` / `EnhancedStatusCode`: how kumod's SMTP client assembles a
  (possibly multi-line) reply from a remote server, renders it as the single
  line handed to `smtp_client_rewrite_delivery_status`, rewrites its code, and
  serialises it in log records (`crates/rfc5321/src/client_types.rs`,
  `parse_response_line` in `crates/rfc5321/src/client.rs`).
* `to_u16`: how mlua 0.11 converts the value a handler returns into the
  `Option<u16>` that kumod expects from that event (mlua's integer
  `FromLua`/`from_stack` rules, Lua 5.4 string-to-number coercion, and the
  `num-traits` float-to-integer cast).
* `QueueName`: the `campaign:tenant@domain!routing_domain` grammar
  (`crates/message/src/queue_name.rs`).

Everything here is deliberately literal about KumoMTA's quirks; the docstrings
say where KumoMTA's documentation and its code disagree (the code wins).

The implementation is split by concern, one module each: `_response` (the
response model: enhanced codes, reply lines, `Response`), `_lua_number`
(Lua value -> u16), `_queue` (`QueueName`) and `_rewrite` (the event's
arguments, result and failure).  This package re-exports the names the rest
of kumopy imports from it.
"""

from kumopy._smtp._lua_number import ConversionError, lua_str2number, to_u16
from kumopy._smtp._queue import QueueName
from kumopy._smtp._response import (
    MAX_LINE_LEN,
    EnhancedStatusCode,
    MalformedResponse,
    Response,
    ResponseTooLong,
    line_received,
    longest_line,
    remove_line_breaks,
    rewrite_annotation,
)
from kumopy._smtp._rewrite import (
    REWRITE_EVENT,
    apply_rewrite,
    rewrite_event_args,
    rewrite_failure_message,
)

__all__ = [
    "REWRITE_EVENT",
    "ConversionError",
    "EnhancedStatusCode",
    "MAX_LINE_LEN",
    "MalformedResponse",
    "ResponseTooLong",
    "QueueName",
    "Response",
    "apply_rewrite",
    "line_received",
    "longest_line",
    "lua_str2number",
    "remove_line_breaks",
    "rewrite_annotation",
    "rewrite_event_args",
    "rewrite_failure_message",
    "to_u16",
]
