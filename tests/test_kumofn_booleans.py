"""Boolean arguments convert as mlua converts them to a Rust `bool`: never
an error, nil and false are false, any other value (0, '', a table) is
true.  An `Option<bool>` argument is its default when nil.  (A boolean
field of a table kumod deserializes with serde is different: it refuses
anything but a boolean; see test_constructors and test_kumofn_arguments.)
"""

from __future__ import annotations

from typing import Any

import pytest

from kumopy import Message, PolicyError
from kumopy._kumo._args import bool_arg, opt_bool_arg

# (Lua expression, what mlua's bool is)
VALUES = [
    ("nil", False),
    ("false", False),
    ("true", True),
    ("0", True),
    ("''", True),
    ("'no'", True),
    ("{}", True),
    ("print", True),
]


def test_the_converters() -> None:
    for value, expected in [(None, False), (False, False), (True, True), (0, True), (b"", True)]:
        assert bool_arg(value) is expected
    assert opt_bool_arg(None, True) is True
    assert opt_bool_arg(None, False) is False
    assert opt_bool_arg(0, False) is True
    assert opt_bool_arg(False, True) is False


def _call(load: Any, body: str, *args: Any) -> Any:
    policy = load(
        "local kumo = require 'kumo'\n"
        f"kumo.on('t', function(msg)\n{body}\nend)\n"
    )
    return policy, policy.dispatch("t", *args).values


def _message(data: bytes = b"Subject: hi\r\n\r\nbody\r\n") -> Message:
    return Message(data, sender="a@example.com", recipients="b@example.com")


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_message_set_force_sync(load: Any, value: str, expected: bool) -> None:
    msg = _message()
    msg.force_sync = not expected
    _call(load, f"msg:set_force_sync({value})", msg)
    assert msg.force_sync is expected


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_message_import_scheduling_header(load: Any, value: str, expected: bool) -> None:
    msg = _message(b'X-Sched: {"first_attempt":"2030-05-01T10:00:00+02:00"}\r\n\r\nb\r\n')
    _, (kept,) = _call(
        load,
        f"msg:import_scheduling_header('X-Sched', {value})\n"
        "return msg:get_first_named_header_value('X-Sched')",
        msg,
    )
    assert (kept is None) is expected
    assert msg.scheduling == {"first_attempt": "2030-05-01T10:00:00+02:00"}


@pytest.mark.parametrize("method", ["append_header", "prepend_header"])
@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_message_header_encode_flag(load: Any, method: str, value: str, expected: bool) -> None:
    msg = _message()
    _call(load, f"msg:{method}('X-Name', 'caf\u00e9', {value})", msg)
    assert (b"X-Name: =?UTF-8?q?caf=C3=A9?=\r\n" in msg.data) is expected, msg.data


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_charset_encode_ignore_errors(load: Any, value: str, expected: bool) -> None:
    body = f"return kumo.encode.charset_encode('ascii', 'caf\u00e9', {value})"
    if value == "nil":
        expected = True  # Option<bool>: unwrap_or(true)
    if expected:
        assert _call(load, body)[1] == ("caf",)
    else:
        with pytest.raises(PolicyError, match="did not encode"):
            _call(load, body)


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_settings(load: Any, value: str, expected: bool) -> None:
    from kumopy._kumo.aaa import _service

    policy, _ = _call(
        load,
        f"kumo.suspend_delivery_when_spool_unhealthy({value})\n"
        f"kumo.enable_memory_callstack_tracking({value})\n"
        f"kumo.set_timeq_spawn_reinsertion({value})\n"
        f"kumo.dns.set_mta_sts_enabled({value})\n"
        f"kumo.aaa.set_fall_back_to_acl_map({value})\n",
    )
    settings = policy.server_config.settings
    assert settings["suspend_delivery_when_spool_unhealthy"] is expected
    assert settings["memory_callstack_tracking"] is expected
    assert _service(policy.state).fall_back is expected


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_builder_set_stable_content(load: Any, value: str, expected: bool) -> None:
    _, (first, second) = _call(
        load,
        "local function build()\n"
        "  local b = kumo.mimepart.builder()\n"
        f"  b:set_stable_content({value})\n"
        "  b:text_plain('hello')\n"
        "  b:text_html('<p>hello</p>')\n"  # (a boundary: random unless stable)
        "  return tostring(b:build())\n"
        "end\n"
        "return build(), build()",
    )
    assert (first == second) is expected
