"""`kumopy stubs DIR`: lua-language-server definitions of the kumo API.

The generated files must be valid Lua 5.4 (they are loaded here, in the
same Lua kumopy embeds), declare every name of the catalogue and of the
other modules, and give every event's handler signature."""

from __future__ import annotations

import re
from pathlib import Path

import lupa.lua54 as lupa
import pytest
from click.testing import CliRunner

from kumopy._events import EVENTS
from kumopy._kumo import catalogue
from kumopy._kumo.names import OTHER_MODULES
from kumopy.cli import EXIT_FAILURE, EXIT_OK, cli


def invoke(*args: str) -> tuple[int, str, str]:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stubs") / "kumo-stubs"
    code, out, err = invoke("stubs", str(directory))
    assert code == EXIT_OK, err
    assert out.split() == [str(directory / f) for f in
                           ("kumo.lua", "proxy.lua", "redis.lua", "sqlite.lua", "tsa.lua")]
    return directory


def load(path: Path) -> object:
    """Run a definition file in a bare Lua 5.4 and return what it returns."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    chunk = lua.eval("load")(path.read_text(), "=" + path.name)
    assert chunk is not None, lua.eval("select(2, load(...))")(path.read_text())
    return chunk()


def lookup(table: object, dotted: str) -> object:
    value = table
    for part in dotted.split("."):
        value = value[part]  # type: ignore[index]
    return value


def test_every_catalogue_name_is_defined(stubs: Path) -> None:
    kumo = load(stubs / "kumo.lua")
    missing = [n for n in catalogue() if lookup(kumo, n) is None]
    assert missing == []
    for name, entry in catalogue().items():
        value = lookup(kumo, name)
        if callable(entry.value):
            assert lupa.lua_type(value) == "function", name
        else:
            assert isinstance(value, (str, bytes)), name


def test_every_event_has_a_handler_signature(stubs: Path) -> None:
    text = (stubs / "kumo.lua").read_text()
    overloads = set(re.findall(r'^---@overload fun\(event: "([^"]+)", handler: fun\(',
                               text, re.M))
    assert overloads == set(EVENTS)
    assert ('---@overload fun(event: "smtp_client_rewrite_delivery_status", handler: '
            "fun(response: string, domain: string, tenant: string?, campaign: string?, "
            "routing_domain: string): integer?)") in text
    assert ('handler: fun(message: kumo.Message, conn_meta: kumo.ConnectionMeta)' in text)


def test_signatures_and_support_notes(stubs: Path) -> None:
    text = (stubs / "kumo.lua").read_text()
    assert "---@param path string\n---@return any\nfunction kumo.json_load(path) end" in text
    assert "function kumo.glob(pattern, relative_to, ttl_seconds) end" in text
    assert "---@param relative_to? string" in text
    assert "---@return kumo.RegexSetMap\nfunction kumo.regex_set_map.new(map) end" in text
    assert "---@generic F: function" in text and "function kumo.memoize(func, params) end" in text
    # a name kumopy lacks says so where the editor shows it
    assert "---kumopy: not supported; calling it raises `kumopy: kumo.generate_rfc3464_message" in text
    assert text.startswith("---@meta kumo\n")


@pytest.mark.parametrize("module", sorted(OTHER_MODULES))
def test_other_modules_are_declared(stubs: Path, module: str) -> None:
    table = load(stubs / f"{module}.lua")
    for function in OTHER_MODULES[module]:
        assert lookup(table, function) is not None
    assert (stubs / f"{module}.lua").read_text().startswith(f"---@meta {module}\n")


def test_stubs_replaces_its_own_files_only(tmp_path: Path) -> None:
    assert invoke("stubs", str(tmp_path))[0] == EXIT_OK
    assert invoke("stubs", str(tmp_path))[0] == EXIT_OK  # again: its own files
    (tmp_path / "redis.lua").write_text("-- my own redis module\n")
    code, out, err = invoke("stubs", str(tmp_path))
    assert code == EXIT_FAILURE and out == ""
    assert f"kumopy: error: {tmp_path / 'redis.lua'} exists and was not written by kumopy stubs" \
        in err
    assert (tmp_path / "redis.lua").read_text() == "-- my own redis module\n"
