"""kumopy's Lua runtime is several chunks (kumopy/_runtime/*.lua, described
in sandbox.lua), all loaded under one chunk name: that name is how `error`'s
levels, kumo.traceback and reports tell kumopy's frames from the policy's
(docs/security.md, "Lua runtime").  The levels themselves are compared with
stock Lua in test_runtime_error_levels.py."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from kumopy import Policy, PolicyError, PolicyExit
from kumopy._runtime import _chunks


def test_every_lua_file_of_the_runtime_is_one_of_its_chunks() -> None:
    files = [p.name for p in resources.files("kumopy._runtime").iterdir()]
    assert sorted(f for f in files if f.endswith(".lua")) == sorted(_chunks.RUNTIME_CHUNKS)
    assert _chunks.RUNTIME_CHUNKS[0] == "sandbox.lua"


# Lua functions the runtime puts in the policy's reach, from each chunk
STAND_INS = {
    "sandbox.lua": ["error"],
    "calls.lua": ["setmetatable", "collectgarbage"],
    "standins.lua": ["pcall", "xpcall", "coroutine.create", "coroutine.wrap", "os.exit"],
    "osio.lua": ["print", "os.tmpname", "io.popen"],
    "module.lua": ["kumo.on"],
    "loaders.lua": ["load", "loadfile", "dofile", "string.dump"],
    "patterns.lua": ["string.find", "string.gsub"],
}


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "init.lua"
    path.write_text("local kumo = require 'kumo'\n")
    return Policy.load(path)


@pytest.mark.parametrize("chunk", sorted(STAND_INS))
def test_each_chunks_functions_carry_the_runtimes_chunk_name(policy: Policy, chunk: str) -> None:
    state = policy.state
    own = _chunks.RUNTIME_NAME.decode()[1:]
    for name in STAND_INS[chunk]:
        value = state.globals
        for part in name.split("."):
            value = value[part.encode()]
        assert state.funcinfo(value)[0] == own, name


def test_a_chunk_loaded_under_another_name_is_refused(policy: Policy) -> None:
    state = policy.state
    source = _chunks.runtime_source("osio.lua")
    with pytest.raises(Exception, match="osio.lua must be loaded under the runtime's chunk name"):
        state.rt.execute(source, None, state.api, name=b"=[other]")


def _load(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "init.lua"
    path.write_text(text)
    return Policy.load(path)


def test_an_error_level_through_stand_ins_of_several_chunks_is_the_policys_line(
    tmp_path: Path,
) -> None:
    # __tostring <- print (osio.lua) <- the body of coroutine.wrap
    # (standins.lua) <- pcall: level 3 is the policy line that called print
    p = _load(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "local obj = setmetatable({}, {__tostring = function() error('x', 3) end})\n"
        "kumo.on('t', function()\n"
        "  local co = coroutine.wrap(function()\n"
        "    print(obj)\n"
        "  end)\n"
        "  return select(2, pcall(co))\n"
        "end)\n",
    )
    # (Lua shortens a long chunk name in a message: `...end/init.lua:5: x`)
    assert p.call("t").endswith("/init.lua:5: x")


def test_an_uncaught_error_through_stand_ins_names_the_policys_line(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "local obj = setmetatable({}, {__tostring = function() error('x', 3) end})\n"
        "kumo.on('t', function()\n"
        "  print(obj)\n"
        "end)\n",
    )
    with pytest.raises(PolicyError) as e:
        p.call("t")
    assert e.value.message == f"{tmp_path / 'init.lua'}:4: x"
    assert "[kumopy]" not in e.value.traceback


def test_os_exit_as_a_message_handler_stops_at_the_policys_line(tmp_path: Path) -> None:
    # os.exit (standins.lua) is called by xpcall's handler (standins.lua)
    # under Lua's error and xpcall: its walk passes them all
    p = _load(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('t', function()\n"
        "  local ok = xpcall(error, os.exit, 4)\n"
        "  return 'went on'\n"
        "end)\n",
    )
    with pytest.raises(PolicyExit) as info:
        p.call("t")
    assert info.value.status == 4 and info.value.line == 3
