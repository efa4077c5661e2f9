"""Checks for `regex_set_map` rule sets used by
`smtp_client_rewrite_delivery_status` (`kumopy lint`, `kumopy validate`)."""

from __future__ import annotations

from ._rules import (
    Finding,
    MapObservation,
    lint_policy_maps,
    lint_rules,
    load_rules,
    probe_policy_maps,
)

__all__ = [
    "Finding",
    "MapObservation",
    "lint_policy_maps",
    "lint_rules",
    "load_rules",
    "probe_policy_maps",
]
