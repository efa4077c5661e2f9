"""A Policy's `kumo` table holds every function from the start, but the
namespace modules outside `EAGER` are imported when one of their functions
is first called: the names kept for them are the ones they register, and a
function called through its stand-in behaves as the module's own (results,
argument errors, the line an error names)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kumopy import Policy, PolicyError
from kumopy._kumo import EAGER, NAMESPACE_MODULES, catalogue, module_entries, policy_catalogue
from kumopy._kumo._lazy import LAZY, LazyFunction, manifest


def test_the_names_kept_for_each_lazy_module_are_the_ones_it_registers() -> None:
    # (after adding or renaming a kumo function: python -m kumopy._kumo._lazy)
    assert manifest() == LAZY
    assert set(LAZY) == set(NAMESPACE_MODULES) - set(EAGER)


def test_the_policy_catalogue_is_the_catalogue_with_stand_ins() -> None:
    full, lazy = catalogue(), policy_catalogue()
    assert list(full) == list(lazy)
    for name, entry in full.items():
        other = lazy[name]
        assert (other.module, other.supported) == (entry.module, entry.supported), name
        if entry.module in LAZY:
            assert isinstance(other.value, LazyFunction), name
            assert (other.value.module, other.value.name) == (entry.module, name)
        elif entry.supported:
            assert other.value is entry.value, name


def test_a_stand_in_calls_the_function_its_module_registered(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kumopy._kumo._registry import Entry

    (tmp_path / "init.lua").write_text("")
    state = Policy.load(str(tmp_path / "init.lua")).state
    calls = []
    impl = module_entries("string")["string.replace"].value

    def spy(state: object, *args: object) -> object:
        calls.append(args)
        return impl(state, *args)

    monkeypatch.setitem(module_entries("string"), "string.replace",
                        Entry("string.replace", spy, "string"))
    stand_in = LazyFunction("string", "string.replace")
    assert stand_in(state, b"a-b", b"-", b"+") == impl(state, b"a-b", b"-", b"+")
    assert stand_in(state, b"c-d", b"-", b"+") == impl(state, b"c-d", b"-", b"+")
    assert calls == [(b"a-b", b"-", b"+"), (b"c-d", b"-", b"+")]
    assert "kumopy._kumo.string" in repr(stand_in)


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_loading_a_policy_imports_no_lazy_module_until_a_function_of_it_runs(
        tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text(textwrap.dedent("""
        local kumo = require 'kumo'
        local n = 0
        for _, f in ipairs { kumo.dkim.rsa_sha256_signer, kumo.string.replace,
                             kumo.digest.sha256, kumo.make_queue_config } do
          assert(type(f) == 'function')
          n = n + 1
        end
        assert(n == 4)
        kumo.on('smtp_client_rewrite_delivery_status', function(response)
          assert(kumo.string.replace(response, 'a', 'b') == '450 b')
        end)
    """))
    loaded = _modules_after(f"""
        from kumopy import Policy
        Policy.load({str(policy)!r})
    """)
    assert "kumopy._policy" in loaded
    for module in LAZY:
        assert f"kumopy._kumo.{module}" not in loaded, module
    for name in ("kumopy._message._message", "kumopy._message._address", "email.headerregistry",
                 "kumopy._filetype"):
        assert name not in loaded, name
    called = _modules_after(f"""
        from kumopy import Policy
        p = Policy.load({str(policy)!r})
        r = p.rewrite_delivery_status('450 a', raise_errors=True)
        assert r.code == 450, r
    """)
    assert "kumopy._kumo.string" in called
    assert "kumopy._kumo.dkim" not in called


@pytest.mark.parametrize("call, error", [
    ("kumo.string.replace({}, 'a', 'b')", "bad argument #1"),
    ("kumo.encode.base64_decode('!!!')", "invalid symbol"),
    ("kumo.regex.compile('(')", "missing )"),
])
def test_a_failure_in_a_lazy_function_names_the_policys_line(
        tmp_path: Path, call: str, error: str) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text(f"local kumo = require 'kumo'\nlocal x = 1\n{call}\n")
    with pytest.raises(PolicyError) as info:
        Policy.load(str(policy))
    text = str(info.value)
    assert "init.lua:3:" in text, text
    assert error in text, text


def test_a_lazy_function_gives_what_the_eager_one_gives(tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text(textwrap.dedent("""
        local kumo = require 'kumo'
        RESULT = {
          kumo.string.replace('a-b-c', '-', '+'),
          kumo.digest.sha256('abc').hex,
          kumo.encode.base64_encode('hi'),
          tostring(kumo.regex.compile('b+'):find('abbc')),
        }
    """))
    p = Policy.load(str(policy))
    got = p.state.get_global("RESULT")
    assert got == ["a+b+c", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                   "aGk=", "bb"]


def test_the_message_package_imports_its_model_when_first_asked() -> None:
    loaded = _modules_after("import kumopy._message._serde")
    assert "kumopy._message._message" not in loaded
    import kumopy._message as pkg

    assert pkg.Message.__module__ == "kumopy._message._message"
    assert pkg.EnvelopeAddress.__module__ == "kumopy._message._address"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pkg.Nope  # noqa: B018
    namespace: dict[str, object] = {}
    exec("from kumopy._message import *", namespace)
    assert set(pkg.__all__) <= set(namespace)
