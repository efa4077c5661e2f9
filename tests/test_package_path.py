"""package.path: kumod's roots, and the options that change them."""

from __future__ import annotations

from pathlib import Path

from kumopy import Policy

LUA_DEFAULTS = [
    "/usr/local/share/lua/5.4/?.lua",
    "/usr/local/share/lua/5.4/?/init.lua",
    "/usr/local/lib/lua/5.4/?.lua",
    "/usr/local/lib/lua/5.4/?/init.lua",
    "./?.lua",
    "./?/init.lua",
]


def _path(tmp_path: Path, **options: object) -> list[str]:
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\nkumo.on('t', function() return package.path end)\n"
    )
    p = Policy.load(policy, capture_output=True, **options)  # type: ignore[arg-type]
    return str(p.call("t")).split(";")


def test_strict_path_is_kumods(tmp_path: Path) -> None:
    assert _path(tmp_path, kumod_strict=True) == [
        "/opt/kumomta/share/?.lua",
        "/opt/kumomta/share/?/init.lua",
        "/opt/kumomta/etc/policy/?.lua",
        "/opt/kumomta/etc/policy/?/init.lua",
        *LUA_DEFAULTS,
    ]


def test_default_path_adds_the_policy_directory(tmp_path: Path) -> None:
    assert _path(tmp_path) == [
        "/opt/kumomta/share/?.lua",
        "/opt/kumomta/share/?/init.lua",
        f"{tmp_path}/?.lua",
        f"{tmp_path}/?/init.lua",
        "/opt/kumomta/etc/policy/?.lua",
        "/opt/kumomta/etc/policy/?/init.lua",
        *LUA_DEFAULTS,
    ]


def test_package_dirs_come_first(tmp_path: Path) -> None:
    parts = _path(tmp_path, kumod_strict=True, package_dirs=["assets"])
    assert parts[:4] == [
        "assets/?.lua",
        "assets/?/init.lua",
        "/opt/kumomta/share/?.lua",
        "/opt/kumomta/share/?/init.lua",
    ]


def test_strict_require_does_not_search_the_policy_directory(tmp_path: Path) -> None:
    (tmp_path / "helper.lua").write_text("return 1\n")
    policy = tmp_path / "init.lua"
    policy.write_text("local kumo = require 'kumo'\nlocal ok = pcall(require, 'helper')\n"
                      "kumo.on('t', function() return ok end)\n")
    assert Policy.load(policy, kumod_strict=True).call("t") is False
    assert Policy.load(policy).call("t") is True
    # a path map standing the directory in for /opt/kumomta/etc/policy finds it
    mapped = Policy.load(policy, kumod_strict=True,
                         path_map={"/opt/kumomta/etc/policy": str(tmp_path)})
    assert mapped.call("t") is True
