"""Assertion helpers whose failures say what the policy did.

A failure names the event and its arguments, the handler (file:line), what
it returned, and the last line it ran (with the source around it); when the
handler raised, the Lua error with file:line, source and Lua traceback.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any, Final

from .._errors import PolicyError
from .._events import Handler, UnknownEventError
from .._policy import CallResult, Policy
from .._smtp import QueueName, Response, rewrite_event_args
from ._harness import tracker_for
from ._report import (
    call_text,
    describe_error,
    diff_text,
    is_container,
    show,
    show_path,
    source_excerpt,
)

__all__ = [
    "KumoAssertionError",
    "assert_event",
    "assert_raises_in_event",
    "assert_rewrite",
    "same_value",
]

REWRITE_EVENT: Final = "smtp_client_rewrite_delivery_status"


class _Missing(enum.Enum):
    MISSING = enum.auto()


MISSING: Final = _Missing.MISSING


class KumoAssertionError(AssertionError):
    """A kumopy assertion failed; the message is the whole report."""

    __module__ = "kumopy.testing"  # the public name, shown in test reports


def same_value(expected: Any, actual: Any) -> bool:
    """Python equality, except that booleans never equal numbers (Lua's
    `true` is not 1) and lists equal tuples with the same items."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(
            same_value(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same_value(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


def _field(label: str, value: str) -> list[str]:
    first, *rest = value.splitlines() or [""]
    pad = " " * 12
    return [f"  {label + ':':<10}{first}", *(f"{pad}{line}" for line in rest)]


def _handler_text(policy: Policy, event: str, handler: Handler | None) -> str:
    if handler is not None:
        return f"{show_path(handler.source)}:{handler.line}"
    registered = policy.handlers(event)
    if not registered:
        return f"none (no handler is registered for '{event}')"
    where = ", ".join(f"{show_path(h.source)}:{h.line}" for h in registered)
    return f"{where} (every handler returned nothing)"


def _last_line_lines(policy: Policy, handler: Handler | None) -> list[str]:
    tracker = tracker_for(policy)
    if tracker is None or handler is None:
        return []
    line = tracker.last_line.get(handler.source)
    if line is None:
        return []
    out = [f"  last line the handler's file ran: {show_path(handler.source)}:{line}"]
    out.extend("    " + x for x in source_excerpt(handler.source, line, context=1))
    return out


def _reset_trace(policy: Policy) -> None:
    tracker = tracker_for(policy)
    if tracker is not None:
        tracker.last_line.clear()


def _returned_text(result: CallResult) -> str:
    if not result.handled:
        return "nothing"
    if len(result.values) == 1:
        return show(result.values[0])
    return "(" + ", ".join(show(v) for v in result.values) + ")" if result.values else "nothing"


def _raised_report(
    policy: Policy, event: str, args: Sequence[Any], error: PolicyError, expectation: str
) -> str:
    handler_loc = error.handler
    lines = [f"event '{event}' raised a Lua error; {expectation}"]
    lines += _field("call", call_text(event, args))
    if handler_loc is not None:
        lines += _field("handler", show_path(handler_loc))
    lines.append("  error:")
    lines.extend("    " + x for x in describe_error(error))
    return "\n".join(lines)


def _unknown_report(policy: Policy, error: UnknownEventError) -> str:
    registered = policy.events()
    listed = ", ".join(registered) if registered else "none"
    return f"{error}\n  the policy registers handlers for: {listed}"


def assert_event(
    policy: Policy,
    event: str,
    *args: Any,
    returns: Any = MISSING,
    values: Sequence[Any] | _Missing = MISSING,
    handled: bool | None = None,
) -> CallResult:
    """Dispatch `event(*args)` and check the outcome.

    `returns`: the first value the handler returned (None for nil or
    nothing); `values`: all of them; `handled`: whether a handler produced
    a result.  Fails with a report if the handler raised or returned
    something else; returns the `CallResult`.
    """
    __tracebackhide__ = True
    expect = []
    if returns is not MISSING:
        expect.append(f"expected it to return {show(returns)}")
    if not isinstance(values, _Missing):
        expect.append(f"expected the values {show(tuple(values))}")
    expectation = " and ".join(expect) or "expected it to run without error"
    _reset_trace(policy)
    try:
        result = policy.dispatch(event, *args)
    except PolicyError as e:
        raise KumoAssertionError(_raised_report(policy, event, args, e, expectation)) from None
    except UnknownEventError as e:
        # a misspelt name must fail whatever was expected (nil, not handled)
        raise KumoAssertionError(_unknown_report(policy, e)) from None

    problems: list[tuple[str, Any, Any]] = []
    if handled is not None and result.handled != handled:
        problems.append(("handled", handled, result.handled))
    if returns is not MISSING and not same_value(returns, result.value):
        problems.append(("returned", returns, result.value))
    if not isinstance(values, _Missing) and not same_value(tuple(values), result.values):
        problems.append(("values", tuple(values), result.values))
    if not problems:
        return result

    kind, expected, actual = problems[0]
    if kind == "handled":
        title = (
            f"event '{event}' was {'' if actual else 'not '}handled, expected it "
            f"{'to be' if expected else 'not to be'}"
        )
    elif len(show(actual)) + len(show(expected)) < 60:
        title = f"event '{event}' returned {show(actual)}, expected {show(expected)}"
    else:
        title = f"event '{event}' returned an unexpected value"
    lines = [title]
    lines += _field("call", call_text(event, args))
    lines += _field("handler", _handler_text(policy, event, result.handler))
    lines += _field("returned", _returned_text(result))
    for kind, expected, actual in problems:
        if kind == "handled":
            lines += _field("expected", "handled" if expected else "not handled")
            continue
        lines += _field("expected" if kind == "returned" else "expected values", show(expected))
        both_text = isinstance(expected, str) and isinstance(actual, str)
        if both_text or (is_container(expected) and is_container(actual)):
            lines.append("  diff (- expected, + returned):")
            lines.extend("    " + d for d in diff_text(expected, actual))
    lines += _last_line_lines(policy, result.handler)
    raise KumoAssertionError("\n".join(lines))


def assert_raises_in_event(
    policy: Policy, event: str, *args: Any, match: str | re.Pattern[str] | None = None
) -> PolicyError:
    """Dispatch `event(*args)`, expecting a handler to raise a Lua error
    whose message matches `match` (re.search); returns the error."""
    __tracebackhide__ = True
    _reset_trace(policy)
    pattern = match.pattern if isinstance(match, re.Pattern) else match
    wanted = f" matching {pattern!r}" if pattern is not None else ""
    try:
        result = policy.dispatch(event, *args)
    except UnknownEventError as e:
        raise KumoAssertionError(_unknown_report(policy, e)) from None
    except PolicyError as e:
        if match is None or re.search(match, e.message) or re.search(match, str(e)):
            return e
        raise KumoAssertionError(
            _raised_report(policy, event, args, e, f"expected an error{wanted}")
        ) from None
    lines = [f"event '{event}' did not raise; expected a Lua error{wanted}"]
    lines += _field("call", call_text(event, args))
    lines += _field("handler", _handler_text(policy, event, result.handler))
    lines += _field("returned", _returned_text(result))
    lines += _last_line_lines(policy, result.handler)
    raise KumoAssertionError("\n".join(lines))


def assert_rewrite(
    policy: Policy,
    response: Response | str,
    queue: QueueName | str = "example.com",
    *,
    code: int | None = None,
    line: str | None = None,
    unchanged: bool | None = None,
    raise_errors: bool = True,
) -> Response:
    """Offer `response` to smtp_client_rewrite_delivery_status the way
    kumod does (`Policy.rewrite_delivery_status`) and check the result:
    its `code`, its single-line text `line` (with kumod's
    "(kumomta: status was rewritten from X -> Y)" suffix), or that it is
    `unchanged`.  Handler errors fail the assertion unless `raise_errors` is
    False (kumod logs them and keeps the response).  Returns the result.
    """
    __tracebackhide__ = True
    original = Response.parse(response) if isinstance(response, str) else response
    q = QueueName.parse(queue) if isinstance(queue, str) else queue
    args = rewrite_event_args(original, q)
    _reset_trace(policy)
    policy.last_call = None
    expect = []
    if code is not None:
        expect.append(f"code {code}")
    if line is not None:
        expect.append(f"line {line!r}")
    if unchanged is not None:
        expect.append("the response unchanged" if unchanged else "a rewritten response")
    expectation = "expected " + (" and ".join(expect) or "no error")
    try:
        result = policy.rewrite_delivery_status(original, q, raise_errors=raise_errors)
    except PolicyError as e:
        raise KumoAssertionError(_raised_report(policy, REWRITE_EVENT, args, e, expectation)) \
            from None

    got_line = result.to_single_line()
    was_rewritten = result.rewritten_from is not None and result is not original
    problems = []
    if code is not None and result.code != code:
        problems.append(f"gave code {result.code}, expected {code}")
    if line is not None and got_line != line:
        problems.append("gave a different line")
    if unchanged is not None and unchanged == was_rewritten:
        problems.append(
            f"was rewritten to {result.code}, expected it unchanged" if unchanged
            else "was left unchanged, expected a rewrite"
        )
    if not problems:
        return result

    call = policy.last_call
    lines = [f"rewrite of {original.to_single_line()!r} {problems[0]}"]
    lines += _field("queue", str(q))
    lines += _field("call", call_text(REWRITE_EVENT, args))
    if call is None:
        lines += _field("handler", "not called (kumod never offers a 250)")
    else:
        handler = _handler_text(policy, REWRITE_EVENT, call.handler)
        if call.handled:
            returned = show(call.value)
            if call.value is None:
                returned += " (keep the response)"
            handler += f" returned {returned}"
        lines += _field("handler", handler)
    lines += _field("result", got_line)
    lines += _field("expected", "; ".join(expect) or "-")
    if line is not None and got_line != line:
        lines.append("  diff (- expected, + result):")
        lines.extend("    " + d for d in diff_text(line, got_line))
    if call is not None:
        lines += _last_line_lines(policy, call.handler)
    raise KumoAssertionError("\n".join(lines))
