"""KumoMTA's own policy-extras modules load unmodified.

The modules are KumoMTA's, not ours: point KUMOMTA_POLICY_EXTRAS at a
checkout's `assets/policy-extras` directory to run these tests; they are
skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kumopy import Policy

EXTRAS = os.environ.get("KUMOMTA_POLICY_EXTRAS")

pytestmark = pytest.mark.skipif(
    not EXTRAS, reason="set KUMOMTA_POLICY_EXTRAS to KumoMTA's assets/policy-extras directory"
)

MODULES = [
    "policy_utils",
    "typing",
    "queue",
    "sources",
    "listener_domains",
    "dkim_sign",
    "log_hooks",
    "shaping",
    "rollup",
    "mail_auth",
    "docker_utils",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_loads_with_require(tmp_path, module):
    extras = Path(str(EXTRAS))
    if not (extras / f"{module}.lua").exists():
        pytest.skip(f"{module}.lua not in {extras}")
    policy = tmp_path / "init.lua"
    policy.write_text(
        f"local kumo = require 'kumo'\n"
        f"local m = require 'policy-extras.{module}'\n"
        f"kumo.on('t', function() return type(m) end)\n"
    )
    # share_dir is the parent of policy-extras, as /opt/kumomta/share is in kumod
    p = Policy.load(policy, share_dir=extras.parent, kumod_strict=True)
    assert p.call("t") == "table"


# -- issue 6: the helpers' own self-tests, shaping and the full example -------------

REPO = Path(__file__).resolve().parent.parent
FULL_EXAMPLE = REPO / "policies" / "full-example"
# modules with a `mod:test()` self-test that kumopy runs unmodified; mail_auth's
# also needs kumo.spf and kumo.dmarc, which kumopy does not implement
SELF_TESTED = ["queue", "sources", "listener_domains", "typing"]


@pytest.mark.parametrize("module", SELF_TESTED)
def test_module_self_test_passes(tmp_path, module):
    extras = Path(str(EXTRAS))
    policy = tmp_path / "run.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        f"kumo.on('main', function() require('policy-extras.{module}'):test() end)\n"
    )
    p = Policy.load(policy, share_dir=extras.parent, kumod_strict=True, capture_output=True)
    p.run_script()


def test_shaping_helper_resolves_from_its_toml(tmp_path):
    extras = Path(str(EXTRAS))
    data = tmp_path / "etc"
    data.mkdir()
    (data / "shaping.toml").write_text(
        '["example.com"]\nmx_rollup = false\nconnection_limit = 3\n'
        '["example.com".sources."ip-1"]\nconnection_limit = 1\n'
    )
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "local shaping = require 'policy-extras.shaping'\n"
        "local shaper = shaping:setup_with_automation "
        "{ extra_files = { '/opt/kumomta/etc/shaping.toml' } }\n"
        "kumo.on('get_egress_path_config', shaper.get_egress_path_config)\n"
    )
    p = Policy.load(
        policy,
        share_dir=extras.parent,
        kumod_strict=True,
        capture_output=True,
        path_map={"/opt/kumomta/share": extras.parent, "/opt/kumomta/etc": data},
    )
    path = p.resolve_egress_path("example.com", "ip-1")
    assert path["connection_limit"]["limit"] == 1
    assert path["refresh_strategy"] == "Epoch"  # the helper always adds it
    # values from KumoMTA's default shaping.toml [default] block
    assert p.resolve_egress_path("example.org")["connection_limit"]["limit"] == 10


def test_full_example_validates(tmp_path):
    extras = Path(str(EXTRAS))
    p = Policy.load(
        FULL_EXAMPLE / "init.lua",
        share_dir=extras.parent,
        kumod_strict=True,
        validating=True,
        capture_output=True,
        path_map={
            "/opt/kumomta/share": extras.parent,
            "/opt/kumomta/etc/policy": FULL_EXAMPLE / "data",
        },
    )
    report = p.validate()
    assert report.ok, report.errors
    assert [entry["params"]["listen"] for entry in report.server["listeners"]] == [
        "0.0.0.0:8000",
        "0.0.0.0:25",
    ]
    assert p.resolve_queue_config("receipts@example.org")["egress_pool"] == "transactional"


def test_log_hooks_configures_hook_and_queue(tmp_path):
    extras = Path(str(EXTRAS))
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "local log_hooks = require 'policy-extras.log_hooks'\n"
        "log_hooks:new_json { name = 'webhook', url = 'http://10.0.0.1:4242/log',\n"
        "  log_parameters = { headers = { 'Subject' } } }\n"
    )
    p = Policy.load(
        policy, share_dir=extras.parent, kumod_strict=True, validating=True, capture_output=True
    )
    report = p.validate()
    assert report.ok, report.errors
    (hook,) = report.server["log_hooks"]
    assert hook["params"]["name"] == "webhook"
    assert hook["params"]["headers"] == ["Subject"]
    assert hook["params"]["back_pressure"] == 128_000  # kumod's default
    queue = p.resolve_queue_config("webhook.log_hook")
    assert queue["protocol"]["custom_lua"]["constructor"] == "make.webhook.log_hook"


def test_kumomta_minimal_init_lua_validates():
    """KumoMTA's own assets/init.lua (next to policy-extras in a checkout)."""
    init = Path(str(EXTRAS)).parent / "init.lua"
    if not init.exists():
        pytest.skip(f"no {init}")
    p = Policy.load(init, kumod_strict=True, validating=True, capture_output=True)
    report = p.validate()
    assert report.ok, report.errors
    assert [s["params"]["name"] for s in report.server["spools"]] == ["data", "meta"]
    assert report.server["listeners"][0]["params"]["listen"] == "0.0.0.0:25"


def test_kumomta_documented_full_example_validates(tmp_path):
    """KumoMTA's docs/userguide/configuration/example.md policy, unmodified,
    with our full-example data files mapped where it expects its own (read
    from a KumoMTA checkout next to policy-extras; skipped otherwise)."""
    extras = Path(str(EXTRAS))
    doc = extras.parent.parent / "docs" / "userguide" / "configuration" / "example.md"
    if not doc.exists():
        pytest.skip(f"no {doc}")
    import re

    block = re.search(r"```lua\n(.*?)```", doc.read_text(), re.S)
    assert block is not None
    policy = tmp_path / "init.lua"
    policy.write_text(block.group(1))
    data = FULL_EXAMPLE / "data"
    p = Policy.load(
        policy,
        share_dir=extras.parent,
        kumod_strict=True,
        validating=True,
        capture_output=True,
        path_map={
            "/opt/kumomta/share": extras.parent,
            "/opt/kumomta/etc/policy/dkim_data.toml": data / "dkim.toml",
            "/opt/kumomta/etc/policy": data,
        },
    )
    report = p.validate()
    assert report.ok, report.errors
    assert len(report.server["listeners"]) == 4
