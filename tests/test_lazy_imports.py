"""Each `kumopy` command imports what it needs (start-up time), and the lazy
imports change nothing that can be seen: the public names, the command
list and its help, the catalogue, the functions that import late."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import click
import pytest

import kumopy
from kumopy.cli import cli
from kumopy.cli._app import LAZY_COMMANDS

#: third-party libraries that only some kumo functions need
HEAVY = ("dkim", "nacl", "httpx", "yaml", "regex", "dns.resolver", "dns.zone", "dns.name",
         "tomllib", "redis", "sqlite3", "rich")


def _modules_after(code: str) -> set[str]:
    """sys.modules of a fresh interpreter after running `code`."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_version_imports_neither_the_runtime_nor_any_command():
    loaded = _modules_after("""
        from kumopy.cli import main
        try:
            main(["--version"])
        except SystemExit:
            pass
    """)
    assert "kumopy.cli._app" in loaded  # (it did run)
    for name in ("kumopy._policy", "kumopy._runtime", "lupa", "kumopy._kumo.memoize",
                 "kumopy.cli._serve", "kumopy.cli._replay", "kumopy._regex", *HEAVY):
        assert name not in loaded, name


def test_lint_needs_no_lua_runtime(tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"^451 ": 550}')
    loaded = _modules_after(f"""
        from kumopy.cli import main
        try:
            main(["lint", {str(rules)!r}])
        except SystemExit as e:
            assert e.code == 0, e.code
    """)
    assert "kumopy._lint" in loaded
    for name in ("kumopy._policy", "kumopy._runtime", "lupa", "kumopy.cli._serve", *HEAVY):
        assert name not in loaded, name


def test_loading_a_policy_leaves_the_heavy_libraries_alone(tmp_path):
    policy = tmp_path / "init.lua"
    # the kumo module is complete: the functions are there, not their libraries
    policy.write_text(textwrap.dedent("""
        for _, f in ipairs { kumo.dkim.rsa_sha256_signer, kumo.http.build_client,
                             kumo.serde.yaml_parse, kumo.regex.compile,
                             kumo.dns.lookup_mx, kumo.string.normalize_smtp_response } do
          assert(type(f) == 'function')
        end
        kumo.on('smtp_client_rewrite_delivery_status', function() end)
    """))
    loaded = _modules_after(f"""
        from kumopy import Policy
        Policy.load({str(policy)!r})
    """)
    assert "kumopy._policy" in loaded and "lupa" in loaded
    for name in HEAVY:
        assert name not in loaded, name


def test_late_imports_work_when_called(tmp_path):
    """A function whose library is imported on first call works in a fresh
    interpreter (the import is not left to another test)."""
    policy = tmp_path / "init.lua"
    policy.write_text(textwrap.dedent("""
        kumo.on('main', function()
          assert(kumo.serde.yaml_parse('a: [1, 2]').a[2] == 2)
          assert(kumo.regex.compile('(?<w>b+)'):find('abbc') == 'bb')
          local zone = '$ORIGIN example.com.\\n@ 600 MX 10 mx.example.com.\\n'
          kumo.dns.configure_test_resolver { zone }
          assert(kumo.dns.lookup_mx('example.com').by_pref[10][1] == 'mx.example.com.')
          local n = kumo.string.normalize_smtp_response('try again in 5m from 10.0.0.1')
          assert(n == 'try again in {duration} from {ipaddr}', n)
        end)
    """))
    words = tmp_path / "words"
    words.write_text("try\nagain\nin\nfrom\n")
    proc = subprocess.run([sys.executable, "-m", "kumopy.cli", "script", str(policy)],
                          capture_output=True, text=True,
                          env={**os.environ, "KUMOPY_DICT_WORDS": str(words)})
    assert proc.returncode == 0, proc.stderr


def test_public_names_resolve_lazily():
    for name in kumopy.__all__:
        assert getattr(kumopy, name) is not None
    assert set(kumopy.__all__) <= set(dir(kumopy))
    from kumopy import Policy
    from kumopy._policy import Policy as Defined

    assert Policy is Defined
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        kumopy.Nope  # noqa: B018
    namespace: dict[str, object] = {}
    exec("from kumopy import *", namespace)
    assert set(kumopy.__all__) <= set(namespace)


def test_lazy_commands_match_their_definitions():
    """The short help kept for `--help` and completion is the command's own."""
    runner_ctx = click.Context(cli)
    for name, (_module, _attr, short) in LAZY_COMMANDS.items():
        command = cli.get_command(runner_ctx, name)
        assert isinstance(command, click.Command), name
        assert command.name == name
        assert command.get_short_help_str(limit=200) == short, name


def test_help_lists_every_command_once():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:\n", 1)[1].splitlines()
              if line.strip()]
    for name in [*LAZY_COMMANDS, "validate", "call", "script", "events"]:
        assert listed.count(name) == 1, name
    assert "Replay KumoMTA logs through the rewrite handler." in result.output


def test_command_completion_names_lazy_commands():
    ctx = click.Context(cli)
    items = cli.shell_complete(ctx, "re")
    names = {item.value for item in items}
    assert {"replay", "rewrite", "resolve-egress-path", "resolve-queue-config"} <= names
    assert all(n.startswith("re") for n in names)
    help_of = {item.value: item.help for item in items}
    assert help_of["replay"] == LAZY_COMMANDS["replay"][2]


def test_record_type_numbers_are_dnspythons():
    import dns.rdatatype as rd

    from kumopy._kumo import dns

    assert (dns._A, dns._CNAME, dns._PTR, dns._MX, dns._TXT, dns._AAAA) == (
        rd.A, rd.CNAME, rd.PTR, rd.MX, rd.TXT, rd.AAAA)
