"""Lua patterns through kumopy's engines give exactly what Lua's C matcher
gives: the same matches, captures, positions, replacements and errors.

A property test runs the same calls in a stock Lua (lupa, the C matcher) and
in a kumopy state whose every pattern call is forced onto one engine (RE2,
or the Python transcription of the matcher), on generated patterns and
subjects; then the routing itself (what goes where) and the budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa import lua54

from kumopy import BudgetExceeded, Policy
from kumopy._runtime import _patterns

PROBE = """
local pack, unpack = table.pack, table.unpack
local function flat(...)
  local out = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    out[i] = type(v) .. ':' .. tostring(v)
  end
  return table.concat(out, '|')
end
local TABLE = {a = 'T', b = false, [' '] = 42, ['(a)'] = 'P'}
local function fn(...) return select('#', ...) .. '/' .. flat(...) end
-- (n: how many arguments the call gets, so that a missing one is "no value")
return function(op, n, s, p, a, b)
  if op == 'gsub_fn' then a = fn end
  if op == 'gsub_table' then a = TABLE end
  local args = {s, p, a, b}
  if op == 'find' then return flat(pcall(string.find, unpack(args, 1, n))) end
  if op == 'match' then return flat(pcall(string.match, unpack(args, 1, n))) end
  if op:sub(1, 4) == 'gsub' then return flat(pcall(string.gsub, unpack(args, 1, n))) end
  if op == 'gmatch' then
    local ok, r = pcall(function()
      local out, k = {}, 0
      for x, y, z in string.gmatch(unpack(args, 1, n)) do
        k = k + 1
        out[k] = flat(x, y, z)
        if k > 200 then break end
      end
      return table.concat(out, ' ; ')
    end)
    return tostring(ok) .. ':' .. tostring(r)
  end
end
"""


def _c_probe() -> Any:
    return lua54.LuaRuntime(encoding=None).execute(PROBE)


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    policy = tmp_path_factory.mktemp("patterns") / "init.lua"
    policy.write_text("local kumo = require 'kumo'\n")
    found: dict[str, Any] = {"c": _c_probe()}
    try:
        for engine in ("re2", "python"):
            _patterns.FORCE = engine
            state = Policy.load(policy).state
            found[engine] = (state, state.rt.execute(PROBE.encode()))
    finally:
        _patterns.FORCE = None
    yield found


def _count(op: bytes, args: tuple[Any, ...]) -> int:
    """Arguments the call passes: up to the last one given (a function or
    table replacement counts)."""
    given = list(args)
    if op in (b"gsub_fn", b"gsub_table"):
        given[2] = True
    n = len(given)
    while n > 0 and given[n - 1] is None:
        n -= 1
    return n


def _call(fn: Any, op: bytes, *args: Any) -> Any:
    return fn(op, _count(op, args), *args)


def _run(probes: dict[str, Any], engine: str, *args: Any) -> str:
    _patterns.FORCE = engine
    try:
        out = _call(probes[engine][1], *args)
    finally:
        _patterns.FORCE = None
    return out.decode("latin-1") if isinstance(out, bytes) else str(out)


# -- generated patterns ------------------------------------------------------

ALPHABET = "ab c()_1.%x"

SINGLE = st.sampled_from(
    ["a", "b", " ", "c", "_", "1", "%.", "%%", "%(", ".", "%a", "%d", "%s", "%w", "%A",
     "%S", "%p", "%x", "[ab]", "[^a]", "[a-c]", "[%s_]", "[%a1]", "[]]", "[^%s]", "[%%]",
     "-", ")"]
)
QUANT = st.sampled_from(["", "", "*", "+", "-", "?"])


@st.composite
def translatable(draw: st.DrawFn) -> bytes:
    """Patterns with an RE2 form: classes, quantifiers, (nested) captures,
    position captures, anchors."""
    parts: list[str] = []
    depth = 0
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.integers(0, 9))
        if kind == 0 and depth < 3:
            parts.append("(")
            depth += 1
        elif kind == 1 and depth > 0:
            parts.append(")")
            depth -= 1
        elif kind == 2:
            parts.append("()")
        else:
            atom = draw(SINGLE)
            if atom in ("-", ")"):
                atom = "%" + atom
            parts.append(atom + draw(QUANT))
    parts.append(")" * depth)
    text = "".join(parts)
    if draw(st.booleans()):
        text = "^" + text
    if draw(st.booleans()):
        text += "$"
    return text.encode()


@st.composite
def anything(draw: st.DrawFn) -> bytes:
    """Any pattern text, malformed ones and %b, %f, back-references too."""
    pieces = st.sampled_from(
        ["a", "b", " ", "(", ")", "()", "%", "[", "]", "^", "$", "*", "+", "-", "?", ".",
         "%b()", "%bab", "%f[%w]", "%f[^a]", "%f", "%1", "%2", "%0", "%s", "[a-", "%a*",
         "(a*)", "(%s*)", "a-", "%w+", "[^%]]"]
    )
    return "".join(draw(st.lists(pieces, max_size=7))).encode()


SUBJECT = st.text(alphabet=ALPHABET, max_size=24).map(lambda t: t.encode())
INIT = st.one_of(st.none(), st.integers(-30, 30))
REPL = st.sampled_from([b"<%0>", b"%1", b"[%2]", b"%%", b"x%", b"%z", b"", b"-%1-%0-"])
MAXN = st.one_of(st.none(), st.integers(-1, 4))

PROPERTY = settings(
    max_examples=400, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _same(probes: dict[str, Any], engine: str, *args: Any) -> None:
    c = _call(probes["c"], *args)
    c_text = c.decode("latin-1") if isinstance(c, bytes) else str(c)
    ours = _run(probes, engine, *args)
    assert ours == c_text, f"{engine} differs from the C matcher on {args!r}"


@PROPERTY
@given(p=translatable(), s=SUBJECT, init=INIT)
def test_re2_find_and_match_agree_with_c(probes, p, s, init):
    info = _patterns.analysis(p)
    assert info.re2 is not None and info.re2_gmatch is not None, p  # RE2 really runs
    _same(probes, "re2", b"find", s, p, init)
    _same(probes, "re2", b"match", s, p, init)


@PROPERTY
@given(p=translatable(), s=SUBJECT, init=INIT, repl=REPL, max_n=MAXN)
def test_re2_gmatch_and_gsub_agree_with_c(probes, p, s, init, repl, max_n):
    _same(probes, "re2", b"gmatch", s, p, init)
    _same(probes, "re2", b"gsub", s, p, repl, max_n)
    _same(probes, "re2", b"gsub_fn", s, p, None, max_n)
    _same(probes, "re2", b"gsub_table", s, p, None, max_n)


@PROPERTY
@given(p=st.one_of(anything(), translatable()), s=SUBJECT, init=INIT)
def test_python_matcher_find_and_match_agree_with_c(probes, p, s, init):
    _same(probes, "python", b"find", s, p, init)
    _same(probes, "python", b"match", s, p, init)


@PROPERTY
@given(p=st.one_of(anything(), translatable()), s=SUBJECT, init=INIT, repl=REPL, max_n=MAXN)
def test_python_matcher_gmatch_and_gsub_agree_with_c(probes, p, s, init, repl, max_n):
    _same(probes, "python", b"gmatch", s, p, init)
    _same(probes, "python", b"gsub", s, p, repl, max_n)
    _same(probes, "python", b"gsub_fn", s, p, None, max_n)
    _same(probes, "python", b"gsub_table", s, p, None, max_n)


EDGE_CASES = [
    # (op, subject, pattern, a, b)
    (b"find", b"hello world", b"o w", None, None),
    (b"find", b"a.b", b".", 1, True),
    (b"find", b"x", b"", 2, None),
    (b"find", b"x", b"", 3, None),
    (b"match", b"  trim me  ", b"^%s*(.-)%s*$", None, None),
    (b"match", b"key = value", b"(%w+)%s*=%s*(%w+)", None, None),
    (b"match", b"THE (quick) fox", b"%f[%a]%a+", None, None),
    (b"match", b"f(a(b)c)d", b"%b()", None, None),
    (b"match", b"abcabc", b"(abc)%1", None, None),
    (b"match", b"aaa", b"()a()", None, None),
    (b"match", b"abc", b"(b", None, None),
    (b"match", b"abc", b"a)", None, None),
    (b"match", b"abc", b"%", None, None),
    (b"match", b"abc", b"[a", None, None),
    (b"match", b"abc", b"%f", None, None),
    (b"match", b"abc", b"%1", None, None),
    (b"match", b"abc", b"%b", None, None),
    (b"match", b"a" * 40, b"(" * 33, None, None),
    (b"match", b"a" * 300, b"a?" * 250, None, None),
    (b"match", b"\xe9t\xe9", b"%a+", None, None),
    (b"match", b"a\x00b", b"%z", None, None),
    (b"gsub", b"hello world", b"o", b"0", None),
    (b"gsub", b"hello", b"", b"-", None),
    (b"gsub", b"abc", b"%w", b"%2", None),
    (b"gsub", b"abc", b"(b", b"x", None),
    (b"gsub", b"abc", b"^a", b"%0%0", None),
    (b"gsub_fn", b"a,b,,c", b"[^,]*", None, None),
    (b"gsub_table", b"a b a", b"%w", None, 2),
    (b"gmatch", b"one two  three", b"%a+", None, None),
    (b"gmatch", b"abc", b"", None, None),
    (b"gmatch", b"^a^a", b"^a", None, None),
    (b"find", None, b"x", None, None),
    (b"find", b"x", None, None, None),
    (b"find", 12345, 3, None, None),
    (b"find", b"abc", b"b", 1.5, None),
    (b"find", b"abc", b"b", b"2", None),
    (b"gsub", b"abc", b"b", None, None),
]


@pytest.mark.parametrize("engine", ["re2", "python"])
@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: repr(c)[:60])
def test_edge_cases_agree_with_c(probes, engine, case):
    _same(probes, engine, *case)


# -- routing, positions, the budget -----------------------------------------


def test_pattern_errors_are_raised_at_the_policys_line(load):
    _patterns.FORCE = "python"
    try:
        p = load(
            "kumo.on('t', function(s)\n"
            "  local m = string.rep(s, 10):match('(%w+)%1[')\n"
            "  return m\n"
            "end)"
        )
    finally:
        _patterns.FORCE = None
    with pytest.raises(Exception, match=r"init\.lua:2: malformed pattern \(missing '\]'\)"):
        p.call("t", "ab")


def test_argument_errors_name_the_function_and_the_line(load):
    p = load(
        "kumo.on('t', function(s)\n"
        "  local i = ('x'):rep(1000000):find(s, {})\n"
        "  return i\n"
        "end)"
    )
    # (a method call: `self` is not counted, as Lua counts it)
    with pytest.raises(Exception, match=r"init\.lua:2: bad argument #2 to 'find' "
                                        r"\(number expected, got table\)"):
        p.call("t", "x")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("#s:match('^%s*(.-)%s*$')", 200_002),
        ("s:find('(%s*)x$')", None),
        ("select(2, s:gsub('%s*$', ''))", 1),
        ("(function() local n = 0 for w in s:gmatch('%s*x') do n = n + 1 end return n end)()", 0),
    ],
)
def test_runaway_patterns_finish_with_luas_results(load, call, expected):
    # 200k characters: the C matcher would take minutes on each of these
    p = load(
        "kumo.on('t', function(n)\n"
        "  local s = 'a' .. string.rep(' ', n) .. 'b'\n"
        f"  return {call}\n"
        "end)",
        budget_seconds=20,
    )
    assert p.call("t", 200_000) == expected


def test_untranslatable_runaway_is_stopped_by_the_budget(load):
    p = load(
        "kumo.on('t', function()\n"
        "  local s = string.rep('a', 5000)\n"
        "  local i = s:find('(a*)(a*)(a*)%1b')\n"
        "  return i\n"
        "end)\n"
        "kumo.on('ok', function() return ('abc'):find('b') end)",
        budget_seconds=0.5,
    )
    with pytest.raises(BudgetExceeded) as info:
        p.call("t")
    assert info.value.line == 3
    assert p.call("ok") == 2


def test_catastrophic_pattern_on_a_tiny_subject_goes_to_re2(load):
    p = load(
        "kumo.on('t', function()\n"
        "  return (('a'):rep(40)):match(('a?'):rep(40) .. ('a'):rep(40))\n"
        "end)",
        budget_seconds=2,
    )
    assert p.call("t") == "a" * 40


def test_routing_limits():
    a = _patterns.analysis(b"^%s*(.-)%s*$")
    assert 100 < a.c_limit < 1000 and a.re2 is not None
    assert _patterns.analysis(b"hello").c_limit > 1_000_000
    assert _patterns.analysis(b"%s+").c_limit > 1_000_000
    assert _patterns.analysis(("a?" * 40).encode()).c_limit < 40
    b = _patterns.analysis(b"%b()")
    assert b.re2 is None and b.c_limit > 1000



def test_errors_in_tail_position_keep_the_policys_line(load):
    # `return s:match(...)`: a tail call, whose caller frame Lua keeps for a
    # C function; kumopy keeps it for its own string functions too
    p = load(
        "kumo.on('m', function(s)\n"
        "  local x = 1\n"
        "  return s:match('[a-')\n"
        "end)\n"
        "kumo.on('exit', function()\n"
        "  return os.exit(3)\n"
        "end)\n"
        "kumo.on('loop', function(n)\n"
        "  local function count(i, acc) if i == 0 then return acc end return count(i - 1, acc + 1) end\n"
        "  return count(n, 0)\n"
        "end)"
    )
    with pytest.raises(Exception, match=r"init\.lua:3: malformed pattern \(missing '\]'\)"):
        p.call("m", "abc")
    from kumopy import PolicyExit

    with pytest.raises(PolicyExit) as info:
        p.call("exit")
    assert info.value.line == 6
    # a policy's own tail recursion is still a proper tail call (no stack growth)
    assert p.call("loop", 300_000) == 300_000
