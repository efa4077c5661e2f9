"""The `kumopy` command line.

A representative subset runs the real entry point (`python -m kumopy.cli`)
in a subprocess; the rest goes through click's CliRunner.  Every test
writes its own small policy and data under tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import kumopy
from kumopy.cli import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, cli

REPO = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(kumopy.__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def one_error_line(self) -> str:
        """stderr is exactly one line and no traceback."""
        assert "Traceback" not in self.stderr
        assert len(self.err_lines) == 1, self.stderr
        return self.err_lines[0]


Write = Callable[[str, str], Path]


def line_of(path: Path, needle: str) -> int:
    """The number of the first line of `path` containing `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lua shortens chunk names longer than 60 bytes in its messages
    # ("...t_name0/init.lua:3:"), so the tests work with short relative paths
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a (dedented) file under tmp_path, the current directory; return
    its relative path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return Path(name)

    return _write


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()


def invoke(args: Sequence[str | os.PathLike[str]], input: str | bytes | None = None) -> Run:
    result = _runner().invoke(cli, [str(a) for a in args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def run_main(
    args: Sequence[str | os.PathLike[str]], *, cwd: Path, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The real entry point, in a new interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.pop("KUMOPY_SHARE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "kumopy.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        input=input if input is not None else b"",
        capture_output=True,
        timeout=120,
    )


REWRITE_POLICY = """
    local kumo = require 'kumo'
    kumo.on('smtp_client_rewrite_delivery_status',
      function(response, domain, tenant, campaign, routing_domain)
        if string.find(response, 'over quota', 1, true) then
          return 552
        end
        if string.find(response, 'explode', 1, true) then
          error('handler exploded')
        end
        if string.find(response, 'badpattern', 1, true) then
          return string.find(response, '[unclosed')
        end
        if string.find(response, 'queue', 1, true) then
          if domain == 'd.example' and tenant == 't' and campaign == 'c'
              and routing_domain == 'r.example' then
            return 599
          end
          if domain == 'example.com' and tenant == nil and campaign == nil
              and routing_domain == 'example.com' then
            return 598
          end
        end
        if string.find(response, 'noisy', 1, true) then
          print('noise from print')
          kumo.log_warn('noise from log_warn')
          return 553
        end
        return nil
      end)
"""


@pytest.fixture
def rewrite_policy(write: Write) -> Path:
    return write("rewrite.lua", REWRITE_POLICY)


# ---------------------------------------------------------------------------
# the real entry point (subprocess)
# ---------------------------------------------------------------------------


def test_main_help_lists_every_command(tmp_path: Path) -> None:
    proc = run_main(["--help"], cwd=tmp_path)
    assert proc.returncode == EXIT_OK
    out = proc.stdout.decode()
    for command in ("validate", "call", "rewrite", "script", "events"):
        assert command in out


def test_every_command_has_help() -> None:
    for command in ("validate", "call", "rewrite", "script", "events"):
        result = invoke([command, "--help"])
        assert result.code == EXIT_OK
        assert "--map" in result.stdout and "--debug" in result.stdout


def test_main_version(tmp_path: Path) -> None:
    proc = run_main(["--version"], cwd=tmp_path)
    assert proc.returncode == EXIT_OK
    assert kumopy.__version__ in proc.stdout.decode()


def test_main_validate_ok(tmp_path: Path, write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('init', function() end)
        kumo.on('validate_config', function() end)
    """,
    )
    proc = run_main(["validate", policy], cwd=tmp_path)
    assert proc.returncode == EXIT_OK
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == ["init", "Single", f"{policy}:2"]
    assert lines[1].split() == ["validate_config", "Multiple", f"{policy}:3"]
    assert "valid (2 events, 0 warnings, 0 errors)" in proc.stderr.decode()


def test_main_syntax_error_is_one_line(tmp_path: Path, write: Write) -> None:
    policy = write("init.lua", "local kumo = require 'kumo'\nkumo.on('init', function(\n")
    commands: list[list[str | Path]] = [
        ["validate", policy],
        ["call", policy, "init"],
        ["script", policy],
        ["rewrite", policy, "450 x"],
    ]
    for command in commands:
        proc = run_main(command, cwd=tmp_path)
        assert proc.returncode == EXIT_FAILURE, command
        stderr = proc.stderr.decode()
        assert "Traceback" not in stderr
        assert len(stderr.splitlines()) == 1, stderr
        assert stderr.startswith(f"kumopy: error: {policy}:")
        assert proc.stdout == b""


def test_main_debug_shows_tracebacks(tmp_path: Path, write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('boom', function() error('kaboom') end)
    """,
    )
    proc = run_main(["call", policy, "boom", "--debug"], cwd=tmp_path)
    assert proc.returncode == EXIT_FAILURE
    stderr = proc.stderr.decode()
    assert "Traceback (most recent call last)" in stderr  # Python
    assert "stack traceback:" in stderr  # Lua
    assert stderr.splitlines()[-1] == f"kumopy: error: {policy}:2: kaboom (in event 'boom')"


def test_main_rewrite_stdin_with_skipped_line(tmp_path: Path, rewrite_policy: Path) -> None:
    data = b"452 4.2.2 Mailbox over quota\n\nnot a response\r\n451 4.3.0 try later\r\n"
    proc = run_main(
        ["rewrite", rewrite_policy, "--input", "-", "--summary"], cwd=tmp_path, input=data
    )
    assert proc.returncode == EXIT_PARTIAL
    assert proc.stdout.decode().splitlines() == [
        "552 4.2.2 Mailbox over quota (kumomta: status was rewritten from 452 -> 552)",
        "451 4.3.0 try later",
    ]
    err = proc.stderr.decode().splitlines()
    assert err[0].startswith("<stdin>:3: not an SMTP response")
    assert "'not a response'" in err[0]
    assert err[1] == (
        "kumopy: 3 inputs: 1 rewritten, 1 unchanged (0 with a handler error), "
        "1 not an SMTP response"
    )


def test_main_rewrite_keeps_8bit_bytes(tmp_path: Path, rewrite_policy: Path) -> None:
    data = b"450 4.2.2 caf\xe9 over quota\n450 4.2.2 na\xc3\xafve\n"
    proc = run_main(["rewrite", rewrite_policy, "-i", "-"], cwd=tmp_path, input=data)
    assert proc.returncode == EXIT_OK, proc.stderr
    # kumod never offers a reply line that is not UTF-8 to the rewrite
    # event (its SMTP client treats it as a protocol error): the 8-bit line
    # passes through byte for byte, with a warning
    assert proc.stdout.splitlines() == [
        b"450 4.2.2 caf\xe9 over quota",
        b"450 4.2.2 na\xc3\xafve",
    ]
    assert b"not valid UTF-8" in proc.stderr


def test_main_script(tmp_path: Path, write: Write) -> None:
    policy = write(
        "script.lua",
        """
        local kumo = require 'kumo'
        kumo.on('init', function() print('init must not run') end)
        kumo.on('main', function(...)
          print('args', select('#', ...), ...)
        end)
    """,
    )
    proc = run_main(["script", policy, "--", "a", "-b", "c d"], cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout.decode() == "args\t3\ta\t-b\tc d\n"
    assert proc.stderr == b""


def test_main_bad_json_argument(tmp_path: Path, write: Write) -> None:
    policy = write("init.lua", "local kumo = require 'kumo'\nkumo.on('x', function() end)\n")
    proc = run_main(["call", policy, "x", "1", "{bad"], cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "argument 2 '{bad' is not JSON" in errors[0]


# ---------------------------------------------------------------------------
# common options and error classes
# ---------------------------------------------------------------------------


def test_missing_policy_is_a_usage_error(tmp_path: Path) -> None:
    for command in ("validate", "call", "script", "rewrite"):
        result = invoke([command, tmp_path / "nope.lua", "x"])
        assert result.code == EXIT_USAGE
        assert "does not exist" in result.stderr
        assert "Traceback" not in result.stderr


def test_policy_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(["validate", tmp_path])
    assert result.code == EXIT_USAGE
    assert "is a directory" in result.stderr


def test_error_at_load_names_file_and_line(write: Write) -> None:
    policy = write("init.lua", "local kumo = require 'kumo'\n\nerror('no config for you')\n")
    result = invoke(["validate", policy])
    assert result.code == EXIT_FAILURE
    assert result.one_error_line() == f"kumopy: error: {policy}:3: no config for you"
    assert result.stdout == ""


def test_unreadable_data_file_names_the_path(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        local data = kumo.json_load('/opt/kumomta/etc/policy/nothing-here.json')
    """,
    )
    result = invoke(["call", policy, "init"])
    assert result.code == EXIT_FAILURE
    line = result.one_error_line()
    assert line.startswith(f"kumopy: error: {policy}:2: ")
    assert "/opt/kumomta/etc/policy/nothing-here.json" in line


def test_bad_lua_pattern_names_file_line_and_event(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('match', function(s) return string.find(s, '[a-') end)
    """,
    )
    result = invoke(["call", policy, "match", '"abc"'])
    assert result.code == EXIT_FAILURE
    line = result.one_error_line()
    assert line.startswith(f"kumopy: error: {policy}:2: ")
    assert "malformed pattern" in line
    assert line.endswith("(in event 'match')")


def test_map_file_and_directory_prefix(tmp_path: Path, write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        local codes = kumo.json_load('/opt/kumomta/etc/policy/codes.json')
        local extra = kumo.json_load('/opt/kumomta/etc/extra/more.json')
        kumo.on('lookup', function(k) return codes[k] or extra[k] end)
    """,
    )
    write("local/codes.json", '{"quota": 552}')
    write("etc-extra/more.json", '{"gone": 550}')
    maps = [
        "--map",
        f"/opt/kumomta/etc/policy/codes.json={tmp_path / 'local/codes.json'}",
        "--map",
        f"/opt/kumomta/etc/extra={tmp_path / 'etc-extra'}",
    ]
    assert invoke(["call", policy, "lookup", '"quota"', *maps]).stdout.strip() == "552"
    assert invoke(["call", policy, "lookup", '"gone"', *maps]).stdout.strip() == "550"
    # the same options before the command name
    assert invoke([*maps, "call", policy, "lookup", '"gone"']).stdout.strip() == "550"
    # without the map the absolute path is read, and does not exist
    result = invoke(["call", policy, "lookup", '"quota"'])
    assert result.code == EXIT_FAILURE
    assert "/opt/kumomta/etc/policy/codes.json" in result.one_error_line()


def test_map_relative_target_and_missing_target_warning(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        local codes = kumo.json_load('/etc/codes.json')
        kumo.on('lookup', function(k) return codes[k] end)
    """,
    )
    write("codes.json", '{"a": 1}')
    result = invoke(["call", policy, "lookup", '"a"', "--map", "/etc/codes.json=codes.json"])
    assert (result.code, result.stdout.strip(), result.stderr) == (0, "1", "")
    result = invoke(["call", policy, "lookup", '"a"', "--map", "/etc/codes.json=missing.json"])
    assert result.code == EXIT_FAILURE
    assert result.err_lines[0] == (
        "kumopy: warning: --map /etc/codes.json=missing.json: missing.json does not exist"
    )


@pytest.mark.parametrize("bad", ["no-equals-sign", "=dst", "src="])
def test_bad_map_is_a_usage_error(write: Write, bad: str) -> None:
    policy = write("init.lua", "")
    result = invoke(["validate", policy, "--map", bad])
    assert result.code == EXIT_USAGE
    assert "is not SRC=DST" in result.stderr


def test_strict_refuses_the_global_kumo(write: Write) -> None:
    policy = write("init.lua", "kumo.on('init', function() end)\n")
    relaxed = invoke(["validate", policy])
    assert relaxed.code == EXIT_OK
    assert any("uses the global `kumo`" in line for line in relaxed.err_lines)
    variants: list[list[str | Path]] = [
        ["validate", policy, "--strict"],
        ["--strict", "validate", policy],
    ]
    for args in variants:
        strict = invoke(args)
        assert strict.code == EXIT_FAILURE
        line = strict.one_error_line()
        assert line.startswith(f"kumopy: error: {policy}:1: ")
        assert "kumo" in line


def test_share_dir_is_searched_by_require(tmp_path: Path, write: Write) -> None:
    write("share/policy-extras/helper.lua", "return { answer = 42 }\n")
    policy = write(
        "p/init.lua",
        """
        local kumo = require 'kumo'
        local helper = require 'policy-extras.helper'
        kumo.on('answer', function() return helper.answer end)
    """,
    )
    result = invoke(["call", policy, "answer", "--share", tmp_path / "share"])
    assert (result.code, result.stdout.strip()) == (0, "42")
    assert invoke(["call", policy, "answer"]).code == EXIT_FAILURE


def test_budget_stops_a_runaway_handler(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('spin', function() while true do end end)
    """,
    )
    result = invoke(["call", policy, "spin", "--budget", "0.2"])
    assert result.code == EXIT_FAILURE
    assert "CPU budget" in result.one_error_line()


def test_log_lines_reach_stderr_at_the_chosen_level(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('talk', function()
          kumo.log_info('hello info')
          kumo.log_error('hello error')
          return true
        end)
    """,
    )
    result = invoke(["call", policy, "talk"])
    assert result.code == EXIT_OK
    assert result.err_lines == [f"ERROR {policy}:4: hello error"]
    verbose = invoke(["call", policy, "talk", "--log-level", "info"])
    assert verbose.err_lines == [f"INFO {policy}:3: hello info", f"ERROR {policy}:4: hello error"]


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------


def test_validate_lists_events_and_warnings(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('get_queue_config', function() end)
        kumo.on('get_queue_config', function() end)
        kumo.on('smtp_server_mesage_received', function() end)
        kumo.on('init', function()
          print('validating', _VALIDATING_CONFIG)
        end)
    """,
    )
    result = invoke(["validate", policy])
    assert result.code == EXIT_OK
    rows = [line.split(None, 2) for line in result.stdout.splitlines()]
    assert rows == [
        ["get_queue_config", "Multiple", f"{policy}:2, {policy}:3"],
        ["smtp_server_mesage_received", "Single", f"{policy}:4"],
        ["init", "Single", f"{policy}:5"],
    ]
    assert "validating\ttrue" in result.err_lines  # print goes to stderr, not stdout
    assert any("did you mean 'smtp_server_message_received'" in line for line in result.err_lines)
    assert result.err_lines[-1] == f"kumopy: {policy}: valid (3 events, 1 warning, 0 errors)"


def test_validate_fails_on_validation_failed(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('validate_config', function() kumo.validation_failed() end)
    """,
    )
    result = invoke(["validate", policy])
    assert result.code == EXIT_FAILURE
    assert any(line.startswith("kumopy: error: Validation failed") for line in result.err_lines)
    assert "validation failed (1 event, 0 warnings, 1 error)" in result.err_lines[-1]


def test_validate_fails_when_init_raises(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('init', function() error('bad listener') end)
    """,
    )
    result = invoke(["validate", policy])
    assert result.code == EXIT_FAILURE
    assert f"kumopy: error: {policy}:2: bad listener (in event 'init')" in result.err_lines
    assert "Traceback" not in result.stderr


def test_validate_json(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        kumo.on('pre_init', function() end)
    """,
    )
    result = invoke(["validate", policy, "--json"])
    assert result.code == EXIT_OK
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["events"] == [
        {"name": "pre_init", "kind": "Multiple", "known": True, "handlers": [f"{policy}:1"]}
    ]
    assert len(report["warnings"]) == 1 and report["errors"] == []
    assert result.stderr == ""


def test_validate_json_on_load_error(write: Write) -> None:
    policy = write("init.lua", "error('nope')\n")
    result = invoke(["validate", policy, "--json"])
    assert result.code == EXIT_FAILURE
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["errors"] == [f"{policy}:1: nope"]
    assert result.one_error_line() == f"kumopy: error: {policy}:1: nope"


def test_validate_fail_on_warning(write: Write) -> None:
    policy = write("init.lua", "kumo.on('init', function() end)\n")
    assert invoke(["validate", policy]).code == EXIT_OK
    result = invoke(["validate", policy, "--fail-on-warning"])
    assert result.code == EXIT_FAILURE
    assert "validation failed" in result.err_lines[-1]


# ---------------------------------------------------------------------------
# call
# ---------------------------------------------------------------------------


CALL_POLICY = """
    local kumo = require 'kumo'
    kumo.on('describe', function(s, n, f, b, z, t, a)
      return {
        s = s, n = n, n_type = math.type(n), f = f, f_type = math.type(f),
        b = b, z_is_nil = z == nil, t_a = t.a, a_len = #a, a_2 = a[2],
      }
    end)
    kumo.on('many', function() return 1, 'two', nil, false end)
    kumo.on('nothing', function() end)
    kumo.on('odd', function()
      return { fn = function() end, [1.5] = 'float key', [true] = 'bool key',
               inf = math.huge, ninf = -math.huge }
    end)
    kumo.on('echo', function(...) return {...} end)
    kumo.on('should_enqueue_log_record', function() end)
    kumo.on('should_enqueue_log_record', function() return true end)
    kumo.on('throttle_insert_ready_queue', function() end)
    kumo.on('boom', function() error('kaboom') end)
"""


@pytest.fixture
def call_policy(write: Write) -> Path:
    return write("call.lua", CALL_POLICY)


def test_call_json_arguments_become_lua_values(call_policy: Path) -> None:
    result = invoke(
        [
            "call",
            call_policy,
            "describe",
            '"text"',
            "42",
            "1.5",
            "true",
            "null",
            '{"a": "x"}',
            "[10, 20, 30]",
        ]
    )
    assert result.code == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == {
        "s": "text",
        "n": 42,
        "n_type": "integer",
        "f": 1.5,
        "f_type": "float",
        "b": True,
        "z_is_nil": True,
        "t_a": "x",
        "a_len": 3,
        "a_2": 20,
    }
    assert result.stderr == ""


def test_call_first_value_and_all(call_policy: Path) -> None:
    assert json.loads(invoke(["call", call_policy, "many"]).stdout) == 1
    result = invoke(["call", call_policy, "many", "--all", "--compact"])
    assert result.stdout == '[1, "two", null, false]\n'


def test_call_values_json_cannot_express(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "odd"])
    assert result.code == EXIT_OK
    assert json.loads(result.stdout) == {
        "fn": "<function>",
        "1.5": "float key",
        "true": "bool key",
        "inf": "inf",
        "ninf": "-inf",
    }


def test_call_strings_option(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "echo", "--strings", "--compact", "a b", "42", "{"])
    assert result.stdout == '["a b", "42", "{"]\n'


def test_call_integer_out_of_range_is_a_usage_error(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "echo", str(2**70)])
    assert result.code == EXIT_USAGE
    assert "outside Lua's 64-bit range" in result.stderr


def test_call_of_a_misspelt_event_is_an_error_not_null(call_policy: Path) -> None:
    # was: null on stdout, a note, exit 0 (a false green)
    result = invoke(["call", call_policy, "smtp_server_message_recieved"])
    assert result.code == EXIT_USAGE
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert (
        "'smtp_server_message_recieved' is not an event KumoMTA fires and the policy "
        "registers no handler for it (did you mean 'smtp_server_message_received'?)"
    ) in result.stderr
    assert invoke(["call", call_policy, "nope", "--all"]).code == EXIT_USAGE


def test_call_of_a_known_event_without_handler_is_null(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "smtp_server_message_received"])
    assert result.code == EXIT_OK
    assert result.stdout.strip() == "null"
    assert result.one_error_line() == (
        "kumopy: note: no handler registered for 'smtp_server_message_received'"
    )
    assert invoke(["call", call_policy, "init", "--all"]).stdout.strip() == "[]"


def test_call_of_a_custom_event_the_policy_registers(call_policy: Path) -> None:
    # any name kumo.on accepts can be fired by kumod (kumo.spawn_task, log
    # hooks, custom_lua constructors, keysource events): registered is enough
    result = invoke(["call", call_policy, "echo", "--compact", "1"])
    assert (result.code, result.stdout.strip()) == (EXIT_OK, "[1]")


def test_call_multiple_event_chain(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "should_enqueue_log_record", "null", '"hook"'])
    assert (result.code, result.stdout.strip(), result.stderr) == (0, "true", "")
    # every handler returned nothing: no result
    result = invoke(["call", call_policy, "throttle_insert_ready_queue", "null"])
    assert result.stdout.strip() == "null"
    assert result.one_error_line() == (
        "kumopy: note: no handler of 'throttle_insert_ready_queue' returned a value"
    )


def test_call_single_event_returning_nothing_is_handled(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "nothing"])
    assert (result.code, result.stdout.strip(), result.stderr) == (0, "null", "")


def test_call_handler_error(call_policy: Path) -> None:
    result = invoke(["call", call_policy, "boom"])
    assert result.code == EXIT_FAILURE
    number = line_of(call_policy, "kaboom")
    assert result.one_error_line() == (
        f"kumopy: error: {call_policy}:{number}: kaboom (in event 'boom')"
    )
    assert result.stdout == ""


def test_call_prints_go_to_stderr(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        print('top level')
        kumo.on('x', function() print('in handler') return 'result' end)
    """,
    )
    result = invoke(["call", policy, "x"])
    assert json.loads(result.stdout) == "result"
    assert result.err_lines == ["top level", "in handler"]


# ---------------------------------------------------------------------------
# script
# ---------------------------------------------------------------------------


def test_script_failure_is_one_line(write: Write) -> None:
    policy = write(
        "script.lua",
        """
        local kumo = require 'kumo'
        kumo.on('main', function(name)
          print('hello ' .. name)
          error('failed for ' .. name)
        end)
    """,
    )
    result = invoke(["script", policy, "world"])
    assert result.code == EXIT_FAILURE
    assert result.stdout == "hello world\n"
    assert result.one_error_line() == (
        f"kumopy: error: {policy}:4: failed for world (in event 'main')"
    )


def test_script_without_main(write: Write) -> None:
    policy = write("script.lua", "local kumo = require 'kumo'\n")
    result = invoke(["script", policy])
    assert result.code == EXIT_FAILURE
    assert "no 'main' handler registered" in result.one_error_line()


def test_script_has_no_cpu_budget_by_default(write: Write) -> None:
    policy = write(
        "script.lua",
        """
        local kumo = require 'kumo'
        kumo.on('main', function()
          local t = os.clock()
          while os.clock() - t < 0.3 do end
          print('done')
        end)
    """,
    )
    assert invoke(["script", policy]).stdout == "done\n"
    result = invoke(["script", policy, "--budget", "0.1"])
    assert result.code == EXIT_FAILURE
    assert "CPU budget" in result.one_error_line()


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


def test_events_lists_the_catalogue() -> None:
    result = invoke(["events"])
    assert result.code == EXIT_OK
    lines = result.stdout.splitlines()
    assert (
        "smtp_client_rewrite_delivery_status(response, domain, tenant, campaign, "
        "routing_domain) -> integer SMTP code or nil  [Single]"
    ) in lines
    assert any(
        line.startswith("get_queue_config(") and line.endswith("[Multiple]") for line in lines
    )
    assert lines == sorted(lines)


def test_events_json_and_names() -> None:
    result = invoke(["events", "--json"])
    data = json.loads(result.stdout)
    by_name = {e["name"]: e for e in data}
    assert by_name["get_queue_config"]["kind"] == "Multiple"
    assert by_name["get_queue_config"]["args"] == ["domain", "tenant", "campaign", "routing_domain"]
    assert by_name["init"]["kind"] == "Single"
    one = invoke(["events", "requeue_message"])
    assert one.stdout.splitlines()[0].startswith("requeue_message(message, smtp_response")
    assert len(one.stdout.splitlines()) == 2  # the line and the summary


def test_events_unknown_name() -> None:
    result = invoke(["events", "get_queue_confg"])
    assert result.code == EXIT_USAGE
    assert "did you mean 'get_queue_config'" in result.stderr


# ---------------------------------------------------------------------------
# rewrite
# ---------------------------------------------------------------------------


def test_rewrite_arguments(rewrite_policy: Path) -> None:
    result = invoke(
        [
            "rewrite",
            rewrite_policy,
            "452 4.2.2 Mailbox over quota",
            "451 4.3.0 try later",
            "250 2.0.0 over quota but fine",
        ]
    )
    assert result.code == EXIT_OK
    assert result.stdout.splitlines() == [
        "552 4.2.2 Mailbox over quota (kumomta: status was rewritten from 452 -> 552)",
        "451 4.3.0 try later",
        "250 2.0.0 over quota but fine",  # a 250 is never offered
    ]
    assert result.stderr == ""


def test_rewrite_multiline_argument(rewrite_policy: Path) -> None:
    reply = "452-4.2.2 The account is\r\n452-4.2.2 over quota\r\n452 4.2.2 try later\r\n"
    result = invoke(["rewrite", rewrite_policy, reply])
    assert result.stdout == (
        "552 4.2.2 The account is over quota try later "
        "(kumomta: status was rewritten from 452 -> 552)\n"
    )


def test_rewrite_input_file_json_and_summary(tmp_path: Path, rewrite_policy: Path) -> None:
    responses = tmp_path / "responses.txt"
    responses.write_text("452 4.2.2 over quota\n\n   \nhello\n450 fine\n")
    result = invoke(["rewrite", rewrite_policy, "--input", responses, "--json", "--summary"])
    assert result.code == EXIT_PARTIAL
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert objects == [
        {
            "line": 1,
            "input": "452 4.2.2 over quota",
            "output": "552 4.2.2 over quota (kumomta: status was rewritten from 452 -> 552)",
            "changed": True,
            "code": 552,
            "original_code": 452,
            "error": None,
        },
        {
            "line": 5,
            "input": "450 fine",
            "output": "450 fine",
            "changed": False,
            "code": 450,
            "original_code": 450,
            "error": None,
        },
    ]
    assert result.err_lines == [
        f"{responses}:4: not an SMTP response "
        "(expected a 3-digit code followed by ' ' or '-'): 'hello'",
        "kumopy: 3 inputs: 1 rewritten, 1 unchanged (0 with a handler error), "
        "1 not an SMTP response",
    ]


def test_rewrite_stdin(rewrite_policy: Path) -> None:
    result = invoke(
        ["rewrite", rewrite_policy, "-i", "-"], input="450 4.2.2 over quota\n451 later\n"
    )
    assert result.code == EXIT_OK
    assert result.stdout.splitlines() == [
        "552 4.2.2 over quota (kumomta: status was rewritten from 450 -> 552)",
        "451 later",
    ]


def test_rewrite_handler_error_is_logged_and_original_kept(rewrite_policy: Path) -> None:
    result = invoke(
        [
            "rewrite",
            rewrite_policy,
            "450 4.2.2 over quota",
            "451 explode now",
            "452 4.2.2 over quota",
            "--summary",
        ]
    )
    assert result.code == EXIT_PARTIAL
    assert result.stdout.splitlines()[1] == "451 explode now"
    assert len(result.stdout.splitlines()) == 3
    assert "Traceback" not in result.stderr
    assert result.err_lines[0] == (
        "'451 explode now': ERROR smtp_client_rewrite_delivery_status event failed: "
        f"{rewrite_policy}:{line_of(rewrite_policy, 'handler exploded')}: handler exploded "
        "(in event 'smtp_client_rewrite_delivery_status'). Preserving original DSN"
    )
    assert result.err_lines[1] == (
        "kumopy: 3 inputs: 2 rewritten, 1 unchanged "
        "(1 with a handler error), 0 not an SMTP response"
    )


def test_rewrite_handler_error_in_json(rewrite_policy: Path) -> None:
    result = invoke(["rewrite", rewrite_policy, "451 explode", "--json"])
    assert result.code == EXIT_PARTIAL
    obj = json.loads(result.stdout)
    assert obj["changed"] is False and obj["output"] == "451 explode"
    assert "handler exploded" in obj["error"]


def test_rewrite_raise_errors_stops_at_first_error(rewrite_policy: Path) -> None:
    result = invoke(
        [
            "rewrite",
            rewrite_policy,
            "450 4.2.2 over quota",
            "451 explode",
            "452 4.2.2 over quota",
            "--raise-errors",
        ]
    )
    assert result.code == EXIT_FAILURE
    assert result.stdout.splitlines() == [
        "552 4.2.2 over quota (kumomta: status was rewritten from 450 -> 552)"
    ]
    # one position, the policy's line; the input is named after it
    assert result.one_error_line() == (
        f"kumopy: error: {rewrite_policy}:{line_of(rewrite_policy, 'exploded')}: "
        "handler exploded "
        "(in event 'smtp_client_rewrite_delivery_status') while rewriting '451 explode'"
    )


def test_rewrite_raise_errors_names_the_input_line_after_the_policy_line(
    rewrite_policy: Path, write: Write
) -> None:
    responses = write("responses.txt", "450 4.2.2 over quota\n451 explode\n")
    result = invoke(["rewrite", rewrite_policy, "-i", responses, "--raise-errors"])
    assert result.code == EXIT_FAILURE
    assert result.one_error_line() == (
        f"kumopy: error: {rewrite_policy}:{line_of(rewrite_policy, 'exploded')}: "
        "handler exploded (in event 'smtp_client_rewrite_delivery_status') "
        f"while rewriting {responses}:2"
    )


def test_rewrite_malformed_argument_is_quoted_not_numbered(rewrite_policy: Path) -> None:
    result = invoke(["rewrite", rewrite_policy, "450 fine", "hello"])
    assert result.code == EXIT_PARTIAL
    assert result.one_error_line() == (
        "not an SMTP response (expected a 3-digit code followed by ' ' or '-'): 'hello'"
    )


def test_rewrite_bad_pattern_names_file_line_and_event(rewrite_policy: Path) -> None:
    result = invoke(["rewrite", rewrite_policy, "450 badpattern", "--raise-errors"])
    assert result.code == EXIT_FAILURE
    line = result.one_error_line()
    number = line_of(rewrite_policy, "[unclosed")
    assert line.startswith(f"kumopy: error: {rewrite_policy}:{number}: ")
    assert "argument" not in line
    assert "malformed pattern" in line


def test_rewrite_conversion_error_is_a_handler_error(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('smtp_client_rewrite_delivery_status', function() return true end)
    """,
    )
    result = invoke(["rewrite", policy, "450 x"])
    assert result.code == EXIT_PARTIAL
    assert result.stdout == "450 x\n"
    assert "Preserving original DSN" in result.one_error_line()


def test_rewrite_queue_supplies_the_handler_arguments(rewrite_policy: Path) -> None:
    default = invoke(["rewrite", rewrite_policy, "450 queue"])
    assert default.stdout.startswith("598 queue")
    custom = invoke(["rewrite", rewrite_policy, "450 queue", "--queue", "c:t@d.example!r.example"])
    assert custom.stdout.startswith("599 queue")


def test_rewrite_prints_and_logs_go_to_stderr(rewrite_policy: Path) -> None:
    result = invoke(["rewrite", rewrite_policy, "450 noisy"])
    assert result.code == EXIT_OK
    assert result.stdout == "553 noisy (kumomta: status was rewritten from 450 -> 553)\n"
    assert result.err_lines == [
        "noise from print",
        f"'450 noisy': WARNING {rewrite_policy}:"
        f"{line_of(rewrite_policy, 'log_warn')}: noise from log_warn",
    ]


def test_rewrite_without_handler_warns(write: Write) -> None:
    policy = write("init.lua", "local kumo = require 'kumo'\n")
    result = invoke(["rewrite", policy, "450 x"])
    assert result.code == EXIT_OK
    assert result.stdout == "450 x\n"
    assert "registers no smtp_client_rewrite_delivery_status handler" in result.one_error_line()


def test_rewrite_needs_exactly_one_source(rewrite_policy: Path, tmp_path: Path) -> None:
    nothing = invoke(["rewrite", rewrite_policy])
    assert nothing.code == EXIT_USAGE
    assert "nothing to rewrite" in nothing.stderr
    both = invoke(["rewrite", rewrite_policy, "450 x", "--input", "-"])
    assert both.code == EXIT_USAGE
    missing = invoke(["rewrite", rewrite_policy, "--input", tmp_path / "missing.txt"])
    assert missing.code == EXIT_USAGE
    assert "does not exist" in missing.stderr


def test_rewrite_the_repository_example(tmp_path: Path) -> None:
    pytest.importorskip("kumopy._regex")
    from kumopy._kumo import catalogue

    if not catalogue()["regex_set_map.new"].supported:
        pytest.skip("kumo.regex_set_map is not implemented yet")
    example = REPO / "policies" / "dsn-rewrite"
    proc = run_main(
        [
            "rewrite",
            example / "init.lua",
            "--map",
            f"/opt/kumomta/etc/policy/dsn_rewrite.json={example / 'dsn_rewrite.json'}",
            "--input",
            example / "responses.txt",
            "--summary",
            "--json",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == EXIT_OK, proc.stderr.decode()
    objects = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    inputs = [line for line in (example / "responses.txt").read_text().splitlines() if line.strip()]
    assert [o["input"] for o in objects] == inputs
    by_input = {o["input"]: o for o in objects}
    assert by_input["452 4.2.2 Mailbox full"]["code"] == 552
    assert by_input["452 Insufficient system storage"]["code"] == 552
    assert by_input["450 4.2.1 The account has been disabled or is inactive"]["code"] == 550
    for o in objects:
        if o["original_code"] >= 500 or o["input"].startswith("421"):
            assert not o["changed"], o
    assert [o["code"] for o in objects if o["changed"]] == [552, 552, 550, 550, 550, 552]
    assert proc.stderr.decode().splitlines() == [
        f"kumopy: {len(inputs)} inputs: 6 rewritten, 6 unchanged (0 with a handler error), "
        "0 not an SMTP response"
    ]


def test_unexpected_failure_is_one_line_without_debug(write: Write) -> None:
    policy = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.on('loop', function() local t = {} t.t = t return t end)
    """,
    )
    result = invoke(["call", policy, "loop"])
    assert result.code == EXIT_FAILURE
    line = result.one_error_line()
    assert line.startswith("kumopy: error: ")
    # a result Python cannot represent is a PolicyError naming the handler
    assert "cannot convert the value returned by the handler" in line
    assert line.endswith("(in event 'loop')")
    debug = invoke(["call", policy, "loop", "--debug"])
    assert debug.code == EXIT_FAILURE
    assert "Traceback (most recent call last)" in debug.stderr
