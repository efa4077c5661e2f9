"""io.popen as kumod's Lua (LUA_USE_LINUX) provides it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy import PolicyError


def test_read_formats_and_exit_status(load) -> None:
    p = load(
        r"""
        kumo.on('t', function()
          local f = io.popen('printf "a\\nb\\n42 0x10 rest"')
          local l, L, n, m, a = f:read('l', 'L', 'n', 'n', 'a')
          local ok, how, code = f:close()
          local g = io.popen('exit 3')
          local ok2, how2, code2 = g:close()
          return l, L, n, m, a, ok, how, code, ok2, how2, code2
        end)
        """
    )
    assert p.dispatch("t").values == ("a", "b\n", 42, 16, " rest", True, "exit", 0, None, "exit", 3)


def test_lines_write_and_errors(load, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    p = load(
        r"""
        kumo.on('t', function(path)
          local seen = {}
          for line in io.popen('printf "x\\ny\\n"'):lines() do seen[#seen + 1] = line end
          local w = io.popen('cat > ' .. path, 'w')
          assert(w:write('hello ', 7, '\n') == w)
          w:close()
          local closed_ok, closed_err = pcall(w.write, w, 'more')
          return seen, closed_ok, closed_err, tostring(w)
        end)
        kumo.on('bad', function() local f = io.popen('true', 'rw') return f end)
        """
    )
    seen, ok, err, shown = p.dispatch("t", str(out)).values
    assert seen == ["x", "y"]
    assert (ok, shown) == (False, "file (closed)")
    assert "attempt to use a closed file" in err
    assert out.read_text() == "hello 7\n"
    with pytest.raises(PolicyError, match=r"init.lua:\d+: bad argument #2 to 'popen' \(invalid mode\)"):
        p.dispatch("bad")


def test_errors_name_the_policy_line_of_the_method_or_iterator(load) -> None:
    p = load(
        "kumo.on('method', function()\n"
        "  local f = io.popen('true')\n"
        "  f:close()\n"
        "  f:read('a')\n"
        "end)\n"
        "kumo.on('iterator', function()\n"
        "  local f = io.popen('printf x')\n"
        "  local next_line = f:lines()\n"
        "  f:close()\n"
        "  next_line()\n"
        "end)\n"
    )
    for event, line in (("method", 4), ("iterator", 10)):
        with pytest.raises(PolicyError) as info:
            p.dispatch(event)
        assert info.value.line == line, str(info.value)
        assert "closed file" in str(info.value)
