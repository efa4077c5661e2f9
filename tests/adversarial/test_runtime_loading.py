"""Forged binary chunks, through every loader and as the policy file itself:
refused with one clear line, never a crash (docs/security.md, "Lua runtime")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

FORGE = """
local kumo = require 'kumo'
local function f(a) return a * 2 end
local d = string.dump(f)
local bad = d:sub(1, 30) .. string.char((d:byte(31) + 7) % 256) .. d:sub(32)
local PATH = {path!r}
local fh = io.open(PATH, 'wb') fh:write(bad) fh:close()
package.path = {folder!r} .. '/?.lua;' .. package.path
kumo.on('main', function()
  {body}
end)
"""

LOADERS = {
    "load": "assert(load(bad))()",
    "load_reader": "local i = 0 assert(load(function() i = i + 1 return i == 1 and bad or nil end))()",
    "loadfile": "assert(loadfile(PATH))()",
    "dofile": "dofile(PATH)",
    "require": "require 'forged'",
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_forged_binary_chunk_through_each_loader(tmp_path: Path, loader: str) -> None:
    forged = tmp_path / "forged.lua"
    policy = write_policy(
        tmp_path,
        FORGE.format(path=str(forged), folder=str(tmp_path), body=LOADERS[loader]),
    )
    out = run_kumopy("script", "--budget", str(BUDGET), policy)
    assert_clear_failure(out, "init.lua:", "attempt to load a binary chunk")


def test_a_policy_file_that_is_bytecode(tmp_path: Path) -> None:
    from lupa import lua54

    rt = lua54.LuaRuntime(encoding=None)
    chunk = rt.eval("string.dump(function() local kumo = require 'kumo' end)")
    policy = tmp_path / "init.lua"
    policy.write_bytes(chunk[:40] + bytes([chunk[40] ^ 0x5A]) + chunk[41:])
    for verb in ("validate", "call"):
        args = [verb, policy] + (["init"] if verb == "call" else [])
        out = run_kumopy(*args)
        assert_clear_failure(out, "init.lua", "stream did not contain valid UTF-8")
