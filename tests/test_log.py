"""kumo.log_* goes to Python logging (logger kumopy.lua) with file:line."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize(
    "fn, level",
    [("log_debug", logging.DEBUG), ("log_info", logging.INFO),
     ("log_warn", logging.WARNING), ("log_error", logging.ERROR)],
)
def test_levels_and_caller_position(load, caplog, fn, level):
    p = load(f"kumo.on('t', function()\n  kumo.{fn}('hello', 42, 1.5, true, nil)\nend)",
             capture_output=False)
    with caplog.at_level(logging.DEBUG, logger="kumopy.lua"):
        p.call("t")
    (record,) = [r for r in caplog.records if r.name == "kumopy.lua"]
    assert record.levelno == level
    assert record.lua_line == 2 and record.lua_file.endswith("init.lua")
    assert record.getMessage().endswith("init.lua:2: hello 42 1.5 true nil")


def test_tables_render_like_tostring(load, caplog):
    p = load("kumo.on('t', function() kumo.log_info({}) end)", capture_output=False)
    with caplog.at_level(logging.INFO, logger="kumopy.lua"):
        p.call("t")
    assert "table: 0x" in caplog.text


def test_disabled_level_is_cheap_and_silent(load, caplog):
    p = load("kumo.on('t', function() kumo.log_debug('quiet') end)", capture_output=False)
    with caplog.at_level(logging.INFO, logger="kumopy.lua"):
        p.call("t")
    assert "quiet" not in caplog.text
