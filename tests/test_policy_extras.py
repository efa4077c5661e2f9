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
    "policy_utils", "typing", "queue", "sources", "listener_domains", "dkim_sign",
    "log_hooks", "shaping", "rollup", "mail_auth", "docker_utils",
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
