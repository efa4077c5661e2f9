"""The `smtp_client_rewrite_delivery_status` event: the arguments kumod
passes to it, what it does with the handler's return value, and its
diagnostic when the handler fails."""

from __future__ import annotations

from kumopy._smtp._lua_number import to_u16
from kumopy._smtp._queue import QueueName
from kumopy._smtp._response import Response

REWRITE_EVENT = "smtp_client_rewrite_delivery_status"


def rewrite_failure_message(error: str) -> str:
    """kumod's ERROR diagnostic when the handler fails (the error text is the
    full error chain, e.g. a `ConversionError` message); the original
    response is then kept unchanged."""
    return f"{REWRITE_EVENT} event failed: {error}. Preserving original DSN"


def apply_rewrite(response: Response, handler_result: object) -> Response:
    """What kumod does with the handler's (first) return value: nil keeps the
    response, a convertible value goes through `Response.with_code`.  Raises
    `ConversionError` where kumod would log `rewrite_failure_message(...)`
    and keep the original."""
    code = to_u16(handler_result)
    if code is None:
        return response
    return response.with_code(code)


def rewrite_event_args(
    response: Response, queue_name: str | QueueName
) -> tuple[str, str, str | None, str | None, str]:
    """All five arguments kumod passes to `smtp_client_rewrite_delivery_status`."""
    queue = queue_name if isinstance(queue_name, QueueName) else QueueName.parse(queue_name)
    return (response.to_single_line(), *queue.rewrite_event_args())
