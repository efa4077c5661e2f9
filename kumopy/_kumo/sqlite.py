"""`require 'sqlite'` (kumod: crates/mod-sqlite) on Python's sqlite3 and a
real database file.

`sqlite.open(path [, busy_timeout_ms])` opens (creating it if needed) the
database at `path` (the policy's path, through the path map) and returns a
connection with `execute(sql, ...)` and `close()`.

`execute` binds its parameters as kumod does: none; one table (an array
binds positionally, a map binds `:name` parameters); one scalar (bound to
`?1`); or several values (bound positionally).  Only numbers, strings and
nil can be bound.  It runs the first statement of `sql` and returns:

* for a statement without result columns (INSERT, UPDATE, CREATE, ...): the
  number of rows the most recent INSERT/UPDATE/DELETE changed (sqlite's
  `changes()`, as kumod's `change_count`);
* for a single-column query: an array of the values;
* otherwise: an array of `{column = value}` tables.

A query that returns no rows gives what kumod gives: one row whose columns
are all NULL (so `{}` for a single column, `{ {} }` for several).  The
statement is interrupted when the handler runs out of CPU budget.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .._errors import BudgetExceeded, KumoError
from .._runtime import decode
from .._runtime import lua_type as _lua_type
from .._text import json_debug
from ._lib import LibObject, int_arg, rust_string

if TYPE_CHECKING:
    import sqlite3

    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Connection", "register_module"]

DEFAULT_BUSY_TIMEOUT_MS = 500


def register_module(ns: Namespace) -> None:
    ns.function(
        "open",
        _open,
        notes="Python's sqlite3 on the real file (the path goes through the path map); "
        "execute binds and returns values as kumod does",
    )


def _open(state: LuaState, path: Any = None, busy_timeout: Any = None) -> Connection:
    name = rust_string(path)
    timeout = DEFAULT_BUSY_TIMEOUT_MS
    if busy_timeout is not None:
        timeout = int_arg(busy_timeout, "usize", 0, 2**63)
    local = state.process.map_path(name)
    import sqlite3  # (imported by the first open: every policy load installs the module)

    try:
        conn = sqlite3.connect(
            local, timeout=timeout / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as e:
        raise KumoError(f"{e} (opening {name})") from None
    return Connection(conn, name)


def _first_statement(sql: str) -> str:
    """The first complete statement of `sql` (kumod prepares only that one)."""
    import sqlite3

    start = 0
    while True:
        end = sql.find(";", start)
        if end < 0:
            return sql
        if sqlite3.complete_statement(sql[: end + 1]):
            return sql[: end + 1]
        start = end + 1


def _param_value(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str) and not isinstance(value, bool):
        return value
    raise ValueError("only numbers, strings and nil can be passed as parameter values")


class Connection(LibObject):
    """kumod's sqlite `Conn` userdata."""

    lua_type_name = "sqlite.Conn"

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn: sqlite3.Connection | None = conn
        self.path = path

    def _params(self, state: LuaState, args: tuple[Any, ...]) -> Any:
        def data(v: Any) -> Any:
            if _lua_type(v) in ("function", "thread"):
                raise KumoError(f"cannot serialize <{_lua_type(v)}>")
            return state.to_python(v, serialize=True)

        if not args:
            return None
        if len(args) == 1:
            return data(args[0])
        return [data(a) for a in args]

    def execute(self, state: LuaState, sql: Any = None, *args: Any) -> Any:
        query = rust_string(sql)
        params = self._params(state, args)
        conn = self.conn
        if conn is None:
            raise KumoError("connection was closed")
        bound: Any
        try:
            if isinstance(params, dict):
                bound = {}
                for k, v in params.items():
                    try:
                        bound[str(k)] = _param_value(v)
                    except ValueError as e:
                        raise ValueError(
                            f"binding parameter :{k} with value {json_debug(v)}: {e}"
                        ) from None
            elif isinstance(params, list):
                bound = []
                for i, v in enumerate(params, 1):
                    try:
                        bound.append(_param_value(v))
                    except ValueError as e:
                        raise ValueError(
                            f"binding parameter {i} with value {json_debug(v)}: {e}"
                        ) from None
            elif params is None:
                bound = ()
            else:
                try:
                    bound = (_param_value(params),)
                except ValueError as e:
                    raise ValueError(
                        f"binding sole parameter with value {json_debug(params)}: {e}"
                    ) from None
        except ValueError as e:
            raise KumoError(
                f"bind parameters {json_debug(params)} in query `{query}': {e}"
            ) from None
        return state.to_lua(self._run(state, conn, _first_statement(query), bound))

    def _run(self, state: LuaState, conn: sqlite3.Connection, sql: str, bound: Any) -> Any:
        import sqlite3

        stopped: list[BudgetExceeded] = []

        def progress() -> int:
            try:
                state.check_deadline()
            except BudgetExceeded as e:
                stopped.append(e)
                return 1
            return 0

        conn.set_progress_handler(progress, 10_000)
        try:
            cursor = self._execute(conn, sql, bound)
            if cursor.description is None:
                return conn.execute("SELECT changes()").fetchone()[0]
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.ProgrammingError as e:
            raise KumoError(str(e)) from None
        except sqlite3.Error as e:
            if stopped:
                raise stopped[0] from None
            code = getattr(e, "sqlite_errorcode", None)
            raise KumoError(f"{e} (code {code})" if code is not None else str(e)) from None
        finally:
            conn.set_progress_handler(None, 0)
        if not rows:
            # kumod reads the columns of the finished statement: all NULL
            rows = [tuple(None for _ in names)]
        if len(names) == 1:
            return [_column(r[0]) for r in rows]
        return [{n: _column(v) for n, v in zip(names, r, strict=True)} for r in rows]

    @staticmethod
    def _execute(conn: sqlite3.Connection, sql: str, bound: Any) -> sqlite3.Cursor:
        """conn.execute, leaving unbound parameters NULL as sqlite (and kumod)
        does; binding past the last parameter is sqlite's SQLITE_RANGE."""
        import sqlite3

        if isinstance(bound, dict):
            return conn.execute(sql, _NullDefault(bound))
        try:
            return conn.execute(sql, bound)
        except sqlite3.ProgrammingError as e:
            m = _COUNTS.search(str(e))
            if m is None:
                raise
            used, given = int(m.group(1)), int(m.group(2))
            if given > used:
                raise sqlite3.ProgrammingError(
                    f"binding parameter {used + 1}: column index out of range (code 25)"
                ) from None
            return conn.execute(sql, [*bound, *([None] * (used - given))])

    def close(self, state: LuaState, *_: Any) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    methods = {"execute": execute, "close": close}


class _NullDefault(dict[str, Any]):
    """Named parameters the policy did not give bind NULL."""

    def __missing__(self, key: str) -> None:
        return None


_COUNTS = re.compile(r"uses (\d+), and there are (\d+) supplied")


def _column(value: Any) -> Any:
    if isinstance(value, bytes):
        return decode(value)
    return value


