"""kumo.fs / glob / read_dir (through the path map), kumo.secrets.load,
kumo.spawn_task, kumo.traceback, kumo.get_event_registrars,
kumo.bump_config_epoch with memoize, and fakes for network clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kumopy import FakeClock, PolicyError
from kumopy._kumo.fakes import FakeObject
from kumopy._kumo.tasks import run_spawned_tasks, spawned_tasks


def lua(load: Any, body: str, **options: Any) -> tuple[Any, ...]:
    p = load("local kumo = require 'kumo'\n" + body, **options)
    return tuple(p.state.to_python(v, serialize=True) for v in p.state.chunk_values)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    root = tmp_path / "etc"
    (root / "dkim" / "sub").mkdir(parents=True)
    for name in ("a.example.key", "b.example.key", "notes.txt", "sub/c.example.key"):
        (root / "dkim" / name).write_text(name)
    return root


def test_glob_and_read_dir_through_the_path_map(load: Any, etc: Path) -> None:
    got = lua(
        load,
        """
        return kumo.glob('/opt/kumomta/etc/dkim/*.key'),
          kumo.fs.uncached_glob('/opt/kumomta/etc/dkim/**/*.key'),
          kumo.fs.glob('*.{txt,key}', '/opt/kumomta/etc/dkim'),
          kumo.read_dir('/opt/kumomta/etc/dkim'),
          kumo.glob('/opt/kumomta/etc/missing/*')
        """,
        path_map={"/opt/kumomta/etc": etc},
    )
    base = "/opt/kumomta/etc/dkim"
    assert got[0] == [f"{base}/a.example.key", f"{base}/b.example.key"]
    assert got[1] == [f"{base}/a.example.key", f"{base}/b.example.key", f"{base}/sub/c.example.key"]
    assert got[2] == ["a.example.key", "b.example.key", "notes.txt"]
    assert got[3] == [
        f"{base}/a.example.key",
        f"{base}/b.example.key",
        f"{base}/notes.txt",
        f"{base}/sub",
    ]
    assert got[4] == []


def test_glob_results_are_cached_on_the_policy_clock(load: Any, etc: Path) -> None:
    clock = FakeClock()
    p = load(
        "local kumo = require 'kumo'\nfunction g() return #kumo.glob('/x/dkim/*.key', nil, 10) end",
        path_map={"/x": etc},
        clock=clock,
    )
    g = p.state.globals[b"g"]
    assert p.state.invoke(g) == (2,)
    (etc / "dkim" / "z.example.key").write_text("z")
    assert p.state.invoke(g) == (2,)
    clock.advance(11)
    assert p.state.invoke(g) == (3,)


def test_metadata(load: Any, etc: Path) -> None:
    got = lua(
        load,
        """
        local m = kumo.fs.metadata_for_path('/x/dkim/notes.txt')
        return m.is_file, m.is_dir, m.len, m.mtime.year > 2000
        """,
        path_map={"/x": etc},
    )
    assert got == (True, False, len("notes.txt"), True)
    with pytest.raises(PolicyError, match=r"No such file or directory \(os error 2\)"):
        lua(load, "return kumo.fs.metadata_for_path('/x/nope')", path_map={"/x": etc})


def test_fs_open_through_the_path_map(load: Any, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.txt").write_text("0123456789")
    got = lua(
        load,
        """
        local f = kumo.fs.open('/data/f.txt', 'r+')
        local head = f:read(4)
        f:seek('set', 2)
        f:write('AB')
        local pos = f:seek()
        f:seek('set')
        local all = f:read()
        f:close()
        local ok, err = pcall(f.read, f)
        local w = kumo.fs.open('/data/new.txt', 'w')
        w:write('xyz')
        w:close()
        return head, pos, all, err
        """,
        path_map={"/data": tmp_path / "out"},
    )
    assert got[:3] == ("0123", 4, "01AB456789")
    assert "closed file handle" in got[3]
    assert (tmp_path / "out" / "new.txt").read_text() == "xyz"
    with pytest.raises(PolicyError, match="unsupported file mode `x`"):
        lua(load, "kumo.fs.open('/data/f.txt', 'x')", path_map={"/data": tmp_path / "out"})
    with pytest.raises(PolicyError, match="failed to open /data/none/f with mode r: No such file"):
        lua(load, "kumo.fs.open('/data/none/f')", path_map={"/data": tmp_path / "out"})


def test_secrets_load_sources(load: Any, etc: Path) -> None:
    got = lua(
        load,
        """
        kumo.on('get_key', function(name) return 'from-event-' .. name end)
        return kumo.secrets.load('/x/dkim/notes.txt'), kumo.secrets.load { key_data = 'inline' },
          kumo.secrets.load { key_data = { 104, 105 } },
          kumo.secrets.load { event_name = 'get_key', event_args = { 'k1' } }
        """,
        path_map={"/x": etc},
    )
    assert got == ("notes.txt", "inline", "hi", "from-event-k1")
    with pytest.raises(PolicyError, match="KeySource failed to load data from file `/x/none`"):
        lua(load, "return kumo.secrets.load('/x/none')", path_map={"/x": etc})
    with pytest.raises(PolicyError, match="untagged enum KeySource"):
        lua(load, "return kumo.secrets.load { nope = 1 }")
    with pytest.raises(PolicyError, match="Vault KeySource is not supported"):
        lua(load, "return kumo.secrets.load { vault_mount = 'm', vault_path = 'p' }")


def test_spawn_task_is_recorded_then_run_with_one_argument(load: Any) -> None:
    p = load(
        """
        local kumo = require 'kumo'
        kumo.on('work', function(args) kumo.log_info('work', #args, args[1], args[2].x) end)
        kumo.spawn_task { event_name = 'work', args = { 'a', { x = 1 } } }
        """
    )
    (task,) = spawned_tasks(p)
    assert (task.event_name, task.args, task.done) == ("work", ["a", {"x": 1}], False)
    assert not any("work" in e.message for e in p.output)
    run_spawned_tasks(p)
    assert any(e.message.endswith("work 2 a 1") for e in p.output)
    assert run_spawned_tasks(p) == []
    with pytest.raises(PolicyError, match="missing field `event_name`"):
        load("local kumo = require 'kumo'\nkumo.spawn_task { args = {} }")
    validating = load(
        "local kumo = require 'kumo'\nkumo.spawn_task { event_name = 'x', args = {} }",
        validating=True,
    )
    assert spawned_tasks(validating) == []


def test_traceback_and_event_registrars(load: Any) -> None:
    p = load(
        """
        local kumo = require 'kumo'
        local function inner() local t = kumo.traceback(1) return t end
        local function outer() local t = inner() return t end
        kumo.on('custom', function() end)
        TB = outer()
        REG = kumo.get_event_registrars('custom')
        """
    )
    tb = p.state.get_global("TB")
    assert [f["curr_line"] for f in tb][:2] == [2, 3]
    assert tb[0]["short_src"].endswith("init.lua") and tb[0]["what"] == "Lua"
    reg = p.state.get_global("REG")
    assert len(reg) == 1 and reg[0][0].endswith("init.lua:4")
    assert p.state.get_global("NOPE") is None


def test_bump_config_epoch_invalidates_epoch_memoize(load: Any) -> None:
    p = load(
        """
        local kumo = require 'kumo'
        local n = 0
        local get = kumo.memoize(function() n = n + 1 return n end,
          { name = 'epoch', ttl = '1h', capacity = 2, invalidate_with_epoch = true })
        local plain = kumo.memoize(function() n = n + 1 return n end,
          { name = 'plain', ttl = '1h', capacity = 2 })
        function values() return get(), plain() end
        function bump() kumo.bump_config_epoch() end
        """
    )
    values, bump = p.state.globals[b"values"], p.state.globals[b"bump"]
    first = p.state.invoke(values)
    assert p.state.invoke(values) == first
    p.state.invoke(bump)
    after = p.state.invoke(values)
    assert after[0] != first[0] and after[1] == first[1]


def test_network_clients_need_a_fake(load: Any) -> None:
    with pytest.raises(PolicyError, match="kumopy: kumo.amqp.build_client is not supported"):
        lua(load, "return kumo.amqp.build_client('amqp://x')")
    sent: list[tuple[str, Any]] = []

    def build_client(params: dict[str, Any]) -> FakeObject:
        def post(url: str) -> FakeObject:
            return FakeObject(
                body=lambda text: (
                    sent.append((url, text))
                    or FakeObject(
                        send=lambda: FakeObject(status_code=202, status_is_success=lambda: True)
                    )
                )
            )

        return FakeObject(post=post, user_agent=params.get("user_agent"))

    got = lua(
        load,
        """
        local client = kumo.http.build_client { user_agent = 'kumo' }
        local response = client:post('https://hook.example/x'):body('{}'):send()
        return client.user_agent, response.status_code, response:status_is_success()
        """,
        fakes={"http.build_client": build_client},
    )
    assert got == ("kumo", 202, True)
    assert sent == [("https://hook.example/x", "{}")]

    def failing(*args: Any) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(PolicyError, match="ConnectionError: broker down"):
        lua(load, "return kumo.amqp.build_client('amqp://x')", fakes={"amqp.build_client": failing})
