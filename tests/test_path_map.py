"""path_map redirects the absolute paths production policies name."""

from __future__ import annotations

import pytest

from kumopy import PolicyError


@pytest.fixture
def data(write):
    write("local/rules.json", '{"from": "rules.json"}')
    write("local/etc/policy/extra.json", '{"from": "directory map"}')
    write("local/etc/policy/helper.lua", "return {from = 'mapped require'}")
    write("local/etc/policy/run.lua", "ran_dofile = true\nreturn 'dofile result'")
    write("local/etc/policy/notes.txt", "line one\nline two\n")


def test_json_load_of_mapped_file(load, data, tmp_path):
    p = load(
        "kumo.on('t', function() return kumo.json_load('/tmp/dsn_rewrite.json').from end)",
        path_map={"/tmp/dsn_rewrite.json": tmp_path / "local/rules.json"},
    )
    assert p.call("t") == "rules.json"


def test_directory_prefix_maps_every_loader(load, data, tmp_path):
    p = load(
        """
        local helper = require 'helper'
        kumo.on('t', function()
          local f = assert(io.open('/opt/kumomta/etc/policy/notes.txt'))
          local first = f:read('l')
          f:close()
          local lines = {}
          for l in io.lines('/opt/kumomta/etc/policy/notes.txt') do lines[#lines + 1] = l end
          local chunk = loadfile('/opt/kumomta/etc/policy/run.lua')
          return helper.from,
                 kumo.serde.json_load('/opt/kumomta/etc/policy/extra.json').from,
                 first, #lines, dofile('/opt/kumomta/etc/policy/run.lua'), type(chunk)
        end)
        """,
        path_map={"/opt/kumomta/etc/policy": tmp_path / "local/etc/policy"},
        policy_dir="/opt/kumomta/etc/policy",
    )
    assert p.dispatch("t").values == (
        "mapped require", "directory map", "line one", 2, "dofile result", "function")


def test_exact_file_beats_directory_prefix(load, data, tmp_path):
    p = load(
        "kumo.on('t', function() return kumo.json_load('/etc/kumo/rules.json').from end)",
        path_map={
            "/etc/kumo": tmp_path / "local/etc/policy",
            "/etc/kumo/rules.json": tmp_path / "local/rules.json",
        },
    )
    assert p.call("t") == "rules.json"


def test_unmapped_missing_file_error_names_the_path(load):
    p = load("kumo.on('t', function() return kumo.json_load('/nonexistent/x.json') end)")
    with pytest.raises(PolicyError) as info:
        p.call("t")
    assert "reading file /nonexistent/x.json: No such file or directory (os error 2)" in str(info.value)
    # `return kumo.json_load(...)` is a tail call, which erases the
    # position; the error points at the handler instead
    assert str(info.value).endswith("(in event 't', handler defined at " + p.handlers("t")[0].location + ")")


def test_mapped_missing_file_error_names_both_paths(load, tmp_path):
    p = load(
        "kumo.on('t', function() return kumo.json_load('/tmp/x.json') end)",
        path_map={"/tmp/x.json": tmp_path / "nope.json"},
    )
    with pytest.raises(PolicyError, match=r"reading file /tmp/x\.json \(mapped to .*nope\.json\)"):
        p.call("t")


def test_paths_outside_the_map_are_untouched(load, data, tmp_path):
    p = load(
        f"kumo.on('t', function() return kumo.json_load('{tmp_path}/local/rules.json').from end)",
        path_map={"/tmp/elsewhere": tmp_path},
    )
    assert p.call("t") == "rules.json"
