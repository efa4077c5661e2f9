"""mlua's argument rules for every `kumo` function and userdata method.

mlua drops surplus arguments, passes nil for missing ones, and reports a
value that does not convert as `bad argument #N: ...`.  The generated test
calls every function of the catalogue (and every method of the objects
they return) with too few and too many arguments of several types, and
requires that nothing ends in a kumopy internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kumopy import ConnectionMeta, FakeClock, Message, Policy, PolicyError
from kumopy._kumo import catalogue
from kumopy._kumo._args import ArgConversionError, ArgSpec, adapt_function, lua_tonumber
from kumopy._kumo._lib import LibObject, int_arg, usize_arg
from kumopy._message._lua import LUA_METHODS
from kumopy._runtime import LuaState
from kumopy._runtime.userdata import Userdata

PROBE = """
local kumo = require 'kumo'
function probe(path, ...)
  local f = kumo
  for part in path:gmatch('[^.]+') do f = f[part] end
  return pcall(f, ...)
end
function probe_method(obj, name, ...)
  return pcall(function(...) return obj[name](obj, ...) end, ...)
end
function factories()
  return {
    kumo.uuid.new_v4(),
    kumo.time.now(),
    kumo.time.parse_duration('1s'),
    kumo.time.start_timer('t'),
    kumo.regex.compile('a(b)'),
    kumo.digest.sha256('x'),
    kumo.fs.metadata_for_path('.'),
    kumo.fs.open('probe.txt', 'w+'),
    kumo.make_throttle('probe', '10/s'),
  }
end
kumo.on('main', function() end)
"""

#: never called: they would stop the test process or wait on the network
SKIP = frozenset({"sleep", "time.sleep"})


@pytest.fixture
def probe_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Policy:
    monkeypatch.chdir(tmp_path)  # functions that create files do so here
    path = tmp_path / "init.lua"
    path.write_text(PROBE)
    return Policy.load(path, clock=FakeClock(), capture_output=True)


def _samples(state: LuaState) -> list[Any]:
    return [b"x", 1, 2.5, True, None, state.rt.table()]


def _spec(entry_value: Any) -> ArgSpec:
    spec = ArgSpec.of(getattr(entry_value, "__wrapped__", entry_value), skip=1)
    assert spec is not None
    return spec


def _check(state: LuaState, what: str, result: tuple[Any, ...], problems: list[str]) -> None:
    """Note an internal error (a kumopy bug) of one call."""
    if state.internal_error is not None:
        problems.append(f"{what}: {state.internal_error!r}")
        state.internal_error = None
    elif result and result[0] is False:
        message = state.tostring(result[1]) if len(result) > 1 else ""
        if "internal error" in message:
            problems.append(f"{what}: {message}")


def _methods(obj: Any) -> list[str]:
    if isinstance(obj, LibObject):
        return list(type(obj).methods)
    return [k.decode() for k in LUA_METHODS.get(type(obj), {})]


def _calls(n: int, samples: list[Any], surplus: list[Any]) -> Iterator[list[Any]]:
    yield []  # every argument missing
    for sample in samples:
        yield [sample] * n + surplus


def test_every_function_and_method_takes_surplus_and_missing_arguments(
    probe_policy: Policy,
) -> None:
    state = probe_policy.state
    probe = state.globals[b"probe"]
    probe_method = state.globals[b"probe_method"]
    samples = _samples(state)
    surplus = [b"surplus", 7, state.rt.table(), False]
    objects: dict[type, Any] = {}
    problems: list[str] = []
    called = 0
    for name, entry in catalogue().items():
        if not entry.supported or not callable(entry.value) or name in SKIP:
            continue
        spec = _spec(entry.value)
        n = spec.most if spec.most is not None else 2
        for args in _calls(n, samples, surplus):
            result = state.invoke(probe, name.encode(), *args)
            called += 1
            _check(state, f"kumo.{name}{tuple(args)!r}", result, problems)
            if result and result[0] is True:
                for value in result[1:]:
                    if isinstance(value, Userdata) and _methods(value):
                        objects.setdefault(type(value), value)
    assert called > 600
    for value in state.invoke(state.globals[b"factories"])[0].values():
        objects.setdefault(type(value), value)
    for value in (
        Message(b"Subject: x\r\n\r\nbody\r\n", sender="a@b.example", recipients="c@d.example"),
        ConnectionMeta(received_from="192.0.2.7:5555", hostname="mx.test"),
    ):
        objects.setdefault(type(value), value)
    # methods of the objects those calls returned (time, regex, uuid, ...)
    method_calls = 0
    for obj in objects.values():
        for method in _methods(obj):
            for args in _calls(3, samples, surplus):
                result = state.invoke(probe_method, obj, method.encode(), *args)
                method_calls += 1
                _check(state, f"{type(obj).__name__}:{method}{tuple(args)!r}", result, problems)
    assert len(objects) >= 10 and method_calls > 400
    assert not problems, "\n".join(problems)


def run(load: Callable[..., Policy], body: str) -> Any:
    policy = load(f"local kumo = require 'kumo'\nkumo.on('main', function() {body} end)\n")
    return policy.run_script().values


def test_surplus_arguments_from_gsub_are_dropped(load: Callable[..., Policy]) -> None:
    assert run(load, "return kumo.string.trim(('  a  '):gsub('x', 'y'))") == ("a",)
    assert run(load, "return kumo.string.replace('abc', 'b', 'x', 'surplus', {})") == ("axc",)


def test_missing_arguments_are_nil_with_mlua_wording(load: Callable[..., Policy]) -> None:
    with pytest.raises(PolicyError) as info:
        run(load, "return kumo.string.replace('abc', 'b')")
    assert "bad argument #3: error converting Lua nil to String (expected string or number)" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("kumo.string.trim({})", "bad argument #1: error converting Lua table to String"),
        (
            "kumo.string.splitn('a', true, ',')",
            "bad argument #2: error converting Lua boolean to usize",
        ),
        (
            "kumo.string.splitn('a', -1, ',')",
            "bad argument #2: error converting Lua integer to usize (out of range)",
        ),
        (
            "kumo.string.starts_with('a', nil)",
            "bad argument #2: error converting Lua nil to string",
        ),
        (
            "kumo.regex.compile('a'):replace('a', {})",
            "bad argument #3 to `RegexWrap.replace`: error converting Lua table to String",
        ),
        (
            "kumo.regex.compile('a'):find()",
            "bad argument #2 to `RegexWrap.find`: error converting Lua nil to String",
        ),
    ],
)
def test_wrong_types_read_as_mlua_bad_argument(
    load: Callable[..., Policy], call: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as info:
        run(load, f"return {call}")
    assert expected in str(info.value)


def test_a_method_takes_surplus_arguments(load: Callable[..., Policy]) -> None:
    assert run(load, "return kumo.regex.compile('b'):replace('abc', 'x', 'surplus', 1)") == ("axc",)


def test_adapted_function_picks_the_argument_it_was_converting() -> None:
    def impl(state: Any, a: Any = None, b: Any = None, c: Any = None) -> Any:
        if a is not None:
            usize_arg(a)
        return usize_arg(c)

    call = adapt_function(impl)
    # a and b and c are all nil: the converter failed on c
    with pytest.raises(Exception, match=r"^bad argument #3: error converting Lua nil to usize"):
        call(None)
    with pytest.raises(Exception, match=r"^bad argument #1: error converting Lua boolean"):
        call(None, True, None, 1)


def test_a_field_of_a_table_argument_is_not_a_bad_argument() -> None:
    def impl(state: Any, options: Any = None, name: Any = None) -> Any:
        return usize_arg(options.get("n"))

    call = adapt_function(impl)
    with pytest.raises(ArgConversionError) as info:
        call(None, {"n": None})
    assert str(info.value).startswith("error converting Lua nil to usize")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"  42 ", 42),
        (b"0x10", 16),
        (b"0xffffffffffffffff", -1),
        (b"1e2", 100.0),
        (b"9" * 5000, float("inf")),
        (b"-" + b"1" * 30, float("-" + "1" * 30)),
        (b"inf", None),
        (b"12abc", None),
    ],
)
def test_lua_tonumber(value: bytes, expected: Any) -> None:
    assert lua_tonumber(value) == expected


@pytest.mark.parametrize(
    ("value", "result"),
    [(3, 3), (3.0, 3), (3.7, 3), (b"4", 4), (b"4.9", 4), (-0.5, 0)],
)
def test_integer_conversion_truncates_like_num_traits(value: Any, result: int) -> None:
    assert int_arg(value, "u8", 0, 255) == result


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (256, "error converting Lua integer to u8 (out of range)"),
        (1e300, "error converting Lua number to u8 (out of range)"),
        (float("nan"), "error converting Lua number to u8 (out of range)"),
        (b"9" * 5000, "error converting Lua string to u8 (out of range)"),
        (b"x", "error converting Lua string to u8 (expected number or string coercible to number)"),
        (None, "error converting Lua nil to u8 (expected number or string coercible to number)"),
    ],
)
def test_integer_conversion_errors(value: Any, message: str) -> None:
    with pytest.raises(ArgConversionError) as info:
        int_arg(value, "u8", 0, 255)
    assert str(info.value) == message
