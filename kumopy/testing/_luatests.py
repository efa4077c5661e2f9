"""Tests written in Lua: `*_test.lua` files run as pytest items.

A Lua test file is loaded like a policy (so `require 'kumo'`, `kumo.on`
and the path map work, and it can load the real policy with `dofile` or
`require 'kumopy.testing'.load_policy()`).  Its items:

* every global function named `test_*`, in the order of definition;
* `mod:test` when the file returns a table with a `test` method (KumoMTA's
  own convention for policy-extras modules);
* `main` when the file registers a `main` handler (run like `kumod --script`);
* when there is none of these, one `script` item: the top level itself.

Every item runs in a fresh simulated kumod process: the file is loaded
again, then the test function is called.  A Lua error (a failed `assert`,
`error(...)`) fails the item with the Lua file, line, source and traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .._errors import KumoError, PolicyError
from .._events import UnknownEventError
from .._policy import Policy
from .._runtime import LuaState, decode, encode, lua_type
from ._asserts import same_value
from ._harness import PolicyFactory
from ._keys import COVERAGE_KEY, FACTORY_KEY, SETTINGS_KEY
from ._report import describe_error, diff_text, is_container, show
from ._settings import KumoSettings

__all__ = ["LuaTestFile", "LuaTestItem", "install_helpers"]

SKIP_MARK = "kumopy.testing.skip: "
MODULE_NAME = b"kumopy.testing"


def _text(value: Any) -> str:
    return decode(value) if isinstance(value, bytes) else str(value)


def install_helpers(state: LuaState, test_file: Path, settings: KumoSettings) -> None:
    """Make `require 'kumopy.testing'` return the Lua test helpers."""
    policy = state.process

    def load_policy(st: LuaState, path: Any = None) -> Any:
        if path is None:
            if settings.policy is None:
                raise KumoError(
                    "load_policy(): no path given and no kumo_policy ini option / --kumo-policy"
                )
            target = str(settings.policy)
        else:
            target = policy.map_path(_text(path))
            if not os.path.isabs(target):
                target = str((test_file.parent / target).resolve())
        folder = os.path.dirname(target)
        package = st.globals[b"package"]
        package[b"path"] = encode(f"{folder}/?.lua;{folder}/?/init.lua;") + package[b"path"]
        chunk = st.load_file(target)
        return st.invoke(chunk)

    def map_path(st: LuaState, src: Any, dst: Any) -> None:
        local = _text(dst)
        if not os.path.isabs(local):
            local = str((test_file.parent / local).resolve())
        policy.path_map[os.path.normpath(_text(src))] = local

    def fire(st: LuaState, event: Any, *args: Any) -> Any:
        try:
            result = policy.dispatch(_text(event), *args)
        except PolicyError:
            policy._state = st  # keep running the test in its own state
            raise
        except UnknownEventError as e:
            raise KumoError(str(e)) from None
        return tuple(st.to_lua(v) for v in result.values)

    def rewrite(st: LuaState, response: Any, queue: Any = None) -> Any:
        q = _text(queue) if queue is not None else "example.com"
        try:
            out = policy.rewrite_delivery_status(_text(response), q, raise_errors=True)
        except PolicyError:
            policy._state = st
            raise
        return out.code, encode(out.to_single_line())

    def advance(st: LuaState, amount: Any) -> None:
        clock = policy.clock
        if not hasattr(clock, "advance"):
            raise KumoError("advance(): the policy does not run on a fake clock")
        clock.advance(_text(amount) if isinstance(amount, bytes) else amount)

    def eq(st: LuaState, actual: Any, expected: Any, message: Any = None) -> None:
        got, want = st.to_python(actual), st.to_python(expected)
        if same_value(want, got):
            return
        lines = [_text(message)] if message is not None else []
        lines.append(f"expected {show(want)}, got {show(got)}")
        both_text = isinstance(want, str) and isinstance(got, str)
        if both_text or (is_container(want) and is_container(got)):
            diff = diff_text(want, got)
            lines += ["diff (- expected, + actual):", *("  " + d for d in diff)]
        raise KumoError("\n".join(lines))

    def logs(st: LuaState) -> Any:
        return st.to_lua(
            [
                {"level": e.levelname, "message": e.message, "file": e.file, "line": e.line}
                for e in policy.output
            ]
        )

    def skip(st: LuaState, reason: Any = None) -> None:
        raise KumoError(SKIP_MARK + (_text(reason) if reason is not None else "skipped"))

    functions: dict[str, Callable[..., Any]] = {
        "load_policy": load_policy,
        "map": map_path,
        "fire": fire,
        "rewrite": rewrite,
        "advance": advance,
        "eq": eq,
        "logs": logs,
        "skip": skip,
    }
    # modules next to the test file can be required too (after kumod's
    # share and policy directories)
    folder = str(test_file.parent)
    package = state.globals[b"package"]
    package[b"path"] = package[b"path"] + encode(f";{folder}/?.lua;{folder}/?/init.lua")
    table = state.table_from(
        {encode(name): state.lua_function(f"testing.{name}", fn) for name, fn in functions.items()}
    )
    loader = state.rt.eval("function(t) return function() return t end end")(table)
    state.globals[b"package"][b"preload"][MODULE_NAME] = loader


class LuaTestFile(pytest.File):
    """A `*_test.lua` file."""

    def _load(self, factory: PolicyFactory, *, record: bool) -> Policy:
        settings = factory.settings
        path = self.path
        # kumod puts the policy's directory on package.path: with a
        # configured policy, its modules can be required by name
        policy_dir = settings.policy.parent if settings.policy is not None else path.parent
        return factory.load(
            path,
            base=path.parent,
            policy_dir=policy_dir,
            setup=lambda state: install_helpers(state, path, settings),
            fresh_state_per_event=False,
            record=record,
        )

    def collect(self) -> Iterator[pytest.Item]:
        factory = PolicyFactory(self.config.stash[SETTINGS_KEY])
        try:
            policy = self._load(factory, record=False)
        except PolicyError:
            # reported by the item, with the Lua error
            yield LuaTestItem.from_parent(self, name="script", kind="script", lineno=1)
            return
        state = policy.state
        found: list[tuple[int, str]] = []
        for key, value in state.globals.items():
            is_test = isinstance(key, bytes) and key.startswith(b"test_")
            if is_test and lua_type(value) == "function":
                found.append((state.funcinfo(value)[1], decode(key)))
        for line, name in sorted(found):
            yield LuaTestItem.from_parent(self, name=name, kind="function", lineno=line)
        count = len(found)
        values = state.chunk_values
        if values and lua_type(values[0]) == "table" and lua_type(values[0][b"test"]) == "function":
            line = state.funcinfo(values[0][b"test"])[1]
            yield LuaTestItem.from_parent(self, name="mod:test", kind="module", lineno=line)
            count += 1
        # a `main` handler of the test file itself (not of a policy it loads)
        main = [h for h in policy.handlers("main") if h.source == str(self.path)]
        if main:
            yield LuaTestItem.from_parent(self, name="main", kind="main", lineno=main[0].line)
            count += 1
        if count == 0:
            yield LuaTestItem.from_parent(self, name="script", kind="script", lineno=1)
        factory.close()


class LuaTestItem(pytest.Item):
    """One Lua test: a `test_*` function, `mod:test`, `main` or the script."""

    def __init__(self, *, kind: str, lineno: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.lineno = lineno
        self._factory: PolicyFactory | None = None

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, LuaTestFile)
        factory = PolicyFactory(
            self.config.stash[SETTINGS_KEY], coverage=self.config.stash.get(COVERAGE_KEY, None)
        )
        self._factory = factory
        self.stash[FACTORY_KEY] = factory
        try:
            policy = parent._load(factory, record=True)
            state = policy.state
            if self.kind == "function":
                state.invoke(state.globals[encode(self.name)])
            elif self.kind == "module":
                module = state.chunk_values[0]
                state.invoke(module[b"test"], module)
            elif self.kind == "main":
                policy.run_script()
        except PolicyError as e:
            if SKIP_MARK in e.message:
                reason = e.message.split(SKIP_MARK, 1)[1]
                # reported at the Lua test, not at this line
                raise pytest.skip.Exception(reason, _use_item_location=True) from None
            raise

    def teardown(self) -> None:
        if self._factory is not None:
            self._factory.close()

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        error = excinfo.value
        if isinstance(error, PolicyError):
            return "\n".join(describe_error(error))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.lineno - 1 if self.lineno else None), self.name
