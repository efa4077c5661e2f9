"""Defaults of a simulated kumod process, in a module of their own so that
the command line can show them without importing the whole runtime."""

from __future__ import annotations

__all__ = ["DEFAULT_BUDGET_SECONDS", "DEFAULT_MAX_MEMORY", "DEFAULT_SHARE_DIR", "POLICY_DIR"]

DEFAULT_SHARE_DIR = "/opt/kumomta/share"
#: the second package.path root of kumod
POLICY_DIR = "/opt/kumomta/etc/policy"
DEFAULT_BUDGET_SECONDS = 5.0
DEFAULT_MAX_MEMORY = 512 * 1024 * 1024
