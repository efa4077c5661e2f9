"""kumo.fs.open buffers like kumod's tokio BufStream; os.tmpname creates
its file as kumod's Lua does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kumopy import PolicyError


def test_writes_are_visible_after_flush_seek_or_close(load, tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    p = load(
        """
        kumo.on('t', function(path)
          local w = kumo.fs.open(path, 'w+')
          local r = kumo.fs.open(path, 'r')
          local seen = {}
          w:write 'hello'
          seen[#seen + 1] = r:read()          -- nothing yet
          w:flush()
          seen[#seen + 1] = r:read()          -- hello
          w:write ' world'
          seen[#seen + 1] = r:read()          -- still nothing new
          w:seek 'cur'                        -- a seek flushes
          seen[#seen + 1] = r:read()
          w:write '!'
          w:close()                           -- so does close
          seen[#seen + 1] = r:read()
          return seen
        end)
        """
    )
    assert p.call("t", str(target)) == ["", "hello", "", " world", "!"]
    assert target.read_bytes() == b"hello world!"


def test_big_writes_go_straight_through(load, tmp_path: Path) -> None:
    target = tmp_path / "big"
    p = load(
        """
        kumo.on('t', function(path)
          local w = kumo.fs.open(path, 'w')
          w:write(string.rep('a', 8000))
          local before = #kumo.fs.open(path):read()
          w:write(string.rep('b', 500))       -- would overflow: the 8000 go out first
          local middle = #kumo.fs.open(path):read()
          w:write(string.rep('c', 9000))      -- larger than the buffer: written at once
          local after = #kumo.fs.open(path):read()
          return before, middle, after
        end)
        """
    )
    assert p.dispatch("t", str(target)).values == (0, 8000, 8000 + 500 + 9000)


def test_read_ahead_and_relative_seek(load, tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"0123456789")
    p = load(
        """
        kumo.on('t', function(path)
          local r = kumo.fs.open(path)
          local a = r:read(3)
          local b = r:seek('cur', 2)      -- relative to what the policy has read
          local c = r:read(2)
          local d = r:seek('end', -1)
          return a, b, c, d, r:read()
        end)
        """
    )
    assert p.dispatch("t", str(target)).values == ("012", 5, "56", 9, "9")


def test_closed_handle_errors(load, tmp_path: Path) -> None:
    p = load(
        """
        kumo.on('t', function(path)
          local f = kumo.fs.open(path, 'w')
          f:close()
          f:close()  -- closing twice is fine
          return f:write 'x'
        end)
        """
    )
    with pytest.raises(PolicyError, match="attempt to flush a closed file handle"):
        p.call("t", str(tmp_path / "c"))


def test_os_tmpname_creates_the_file(load) -> None:
    p = load("kumo.on('t', function() return os.tmpname(), os.tmpname() end)")
    a, b = p.dispatch("t").values
    try:
        assert a != b
        for name in (a, b):
            assert name.startswith("/tmp/lua_")
            assert os.path.isfile(name) and os.path.getsize(name) == 0
    finally:
        for name in (a, b):
            os.unlink(name)
