"""require 'sqlite' (kumod: crates/mod-sqlite) on a real database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kumopy import PolicyError


def run(load: Any, body: str, **options: Any) -> Any:
    p = load("local sqlite = require 'sqlite'\nkumo.on('t', function(...)\n" + body + "\nend)",
             **options)
    return p.dispatch("t").values


def test_execute_returns_kumods_shapes(load: Any, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    got = run(load, f"""
        local db = sqlite.open('{db}')
        local created = db:execute('CREATE TABLE t (id INTEGER, name TEXT, score REAL)')
        local n1 = db:execute('INSERT INTO t VALUES (?, ?, ?)', 1, 'ann', 1.5)
        local n2 = db:execute('INSERT INTO t VALUES (:id, :name, :score)', {{id=2, name='bob', score=2}})
        local n3 = db:execute('INSERT INTO t VALUES (?, ?, ?)', {{3, 'cy', nil}})
        local names = db:execute('SELECT name FROM t ORDER BY id')
        local rows = db:execute('SELECT id, name, score FROM t WHERE id >= ? ORDER BY id', 2)
        local updated = db:execute('UPDATE t SET score = 0')
        return created, n1, n2, n3, names, rows, updated
    """)
    created, n1, n2, n3, names, rows, updated = got
    assert (created, n1, n2, n3, updated) == (0, 1, 1, 1, 3)
    assert names == ["ann", "bob", "cy"]
    assert rows == [{"id": 2, "name": "bob", "score": 2.0}, {"id": 3, "name": "cy"}]
    # a real file, readable by anything else
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_a_query_without_rows_gives_one_row_of_nulls_as_kumod_does(load: Any, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    single, multi = run(load, f"""
        local db = sqlite.open('{db}', 1000)
        db:execute('CREATE TABLE t (a, b)')
        local single = db:execute('SELECT a FROM t')
        local multi = db:execute('SELECT a, b FROM t')
        return #single, #multi
    """)
    assert (single, multi) == (0, 1)


def test_changes_count_is_sqlites_last_dml_count(load: Any, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    got = run(load, f"""
        local db = sqlite.open('{db}')
        db:execute('CREATE TABLE t (a)')
        db:execute('INSERT INTO t VALUES (1), (2)')
        return db:execute('CREATE TABLE u (a)')
    """)
    assert got == (2,)  # kumod reports sqlite3_changes(), which DDL leaves alone


def test_bad_parameters_and_sql_are_lua_errors(load: Any, tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    with pytest.raises(PolicyError, match=r"binding sole parameter with value Bool\(true\): "
                       "only numbers, strings and nil can be passed as parameter values"):
        run(load, f"sqlite.open('{db}'):execute('SELECT ?', true)")
    with pytest.raises(PolicyError, match=r"init.lua:\d+: .*no such table: nope"):
        run(load, f"sqlite.open('{db}'):execute('SELECT * FROM nope')")
    with pytest.raises(PolicyError, match="connection was closed"):
        run(load, f"local db = sqlite.open('{db}') db:close() db:execute('SELECT 1')")


def test_open_goes_through_the_path_map(load: Any, tmp_path: Path) -> None:
    local = tmp_path / "mapped.db"
    got = run(load, """
        local db = sqlite.open('/opt/kumomta/etc/policy/data.db')
        db:execute('CREATE TABLE t (a)')
        return db:execute('INSERT INTO t VALUES (1)')
    """, path_map={"/opt/kumomta/etc/policy/data.db": str(local)})
    assert got == (1,) and local.exists()


def test_a_runaway_query_is_stopped_by_the_budget(load: Any, tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    with pytest.raises(PolicyError, match="exceeded its CPU budget"):
        run(load, f"""
            return sqlite.open('{db}'):execute(
              'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c')
        """, budget_seconds=0.2)


def test_sqlite_from_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kumopy.cli import cli

    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\nlocal sqlite = require 'sqlite'\n"
        "kumo.on('main', function(path)\n"
        "  local db = sqlite.open(path)\n"
        "  db:execute('CREATE TABLE IF NOT EXISTS seen (d TEXT)')\n"
        "  db:execute('INSERT INTO seen VALUES (?)', 'example.com')\n"
        "  print(#db:execute('SELECT d FROM seen'))\nend)\n"
    )
    result = CliRunner().invoke(cli, ["script", str(policy), str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
