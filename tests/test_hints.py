"""Errors that explain themselves (issue 13 item 7), through the Python API;
tests/adversarial/test_realworld.py checks the same through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kumopy import Policy, PolicyError
from kumopy._kumo.hints import missing_kumo_name, path_hint


def test_removed_and_unknown_kumo_names(load: Any) -> None:
    with pytest.raises(PolicyError) as e:
        load("kumo.define_egress_source { name = 'x' }")
    assert "kumo.define_egress_source was removed from KumoMTA in 2023.06.22-51b72a83" in str(e.value)
    assert e.value.line == 1
    p = load("kumo.on('t', function() local x = kumo.string.splt('a b', ' ') return x end)")
    with pytest.raises(PolicyError, match=r"kumo.string.splt does not exist in KumoMTA "
                       r"\(did you mean kumo.string.split\?\)"):
        p.call("t")


def test_a_missing_field_that_is_not_kumo_is_left_alone(load: Any) -> None:
    p = load("kumo.on('t', function() local t = {} return t.nothing() end)")
    with pytest.raises(PolicyError) as e:
        p.call("t")
    assert "does not exist in KumoMTA" not in str(e.value)
    # looking a name up (feature detection) is not an error and still gives nil
    p = load("kumo.on('t', function() return kumo.no_such_thing == nil end)")
    assert p.call("t") is True


def test_helper_errors_name_the_callers_line(tmp_path: Path) -> None:
    share = tmp_path / "share"
    (share / "policy-extras").mkdir(parents=True)
    (share / "policy-extras" / "h.lua").write_text(
        "return { go = function(x) return x.missing.field end }\n")
    policy = tmp_path / "init.lua"
    policy.write_text("local h = require 'policy-extras.h'\n\nh.go({})\n")
    with pytest.raises(PolicyError) as e:
        Policy.load(policy, share_dir=share)
    assert e.value.file is not None and e.value.file.endswith("policy-extras/h.lua")
    assert f"called from {policy}:3" in str(e.value)


def test_path_and_share_hints() -> None:
    assert "--map /opt/kumomta/etc/policy=LOCAL_DIR" in path_hint(
        "reading file /opt/kumomta/etc/policy/x.json: No such file or directory")
    assert path_hint("reading file /opt/kumomta/etc/policy/x.json: permission denied") == ""
    assert "--share DIR" in path_hint("cannot open /opt/kumomta/share/policy-extras/a.toml: "
                                      "No such file or directory")
    assert "did you mean kumo.dns.lookup_mx" in missing_kumo_name("dns.lookup_mxx")


def test_missing_helper_module_names_share(load: Any) -> None:
    with pytest.raises(PolicyError, match=r"pass --share DIR \(env KUMOPY_SHARE_DIR\)"):
        load("local q = require 'policy-extras.queue'")


def test_namespaces_and_families_are_suggested() -> None:
    assert "kumo.log_info" in missing_kumo_name("log")
    assert "the kumo.time module" in missing_kumo_name("timer")
    assert "kumo.dkim.rsa_sha256_signer" in missing_kumo_name("define_signer")
    assert missing_kumo_name("metrics") == "kumopy: kumo.metrics does not exist in KumoMTA"
