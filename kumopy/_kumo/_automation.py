"""Traffic shaping automation rules (kumod: kumo-api-types shaping.rs
`Rule`, `Action`, `Trigger`), as `kumo.shaping.load` checks them and
`Shaping:match_rules(record)` applies them.

A rule is `{regex = PATTERN | {PATTERN, ...}, action = ACTION | {ACTION, ...},
trigger = "Immediate" | {Threshold = "10/h"}, duration = "4h",
match_internal = false}`; an action is one of `Suspend`, `SuspendTenant`,
`SuspendCampaign`, `Bounce`, `BounceTenant`, `BounceCampaign`,
`{SetConfig = {name=, value=}}`, `{SetDomainConfig = {name=, value=}}` (the
name/value must be a valid egress path setting).  Patterns are fancy-regex
(kumo.regex's engine), matched against the response's single-line text;
responses kumod generated itself (`KumoMTA internal: ...`) only match rules
with `match_internal = true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import KumoError
from . import _schema as s

__all__ = ["AutomationError", "Rule", "parse_rules"]

SIMPLE_ACTIONS = (
    "Suspend",
    "SuspendTenant",
    "SuspendCampaign",
    "Bounce",
    "BounceTenant",
    "BounceCampaign",
)
VALUE_ACTIONS = ("SetConfig", "SetDomainConfig")


class AutomationError(ValueError):
    """A rule that kumod would refuse to load."""


@dataclass
class Rule:
    patterns: list[str]
    compiled: list[Any]
    actions: list[Any]
    trigger: Any
    duration: int  # nanoseconds
    match_internal: bool = False
    was_rollup: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, is_internal: bool, response: str) -> bool:
        if is_internal and not self.match_internal:
            return False
        return any(p.search(response) is not None for p in self.compiled)

    def with_rollup(self) -> Rule:
        return Rule(
            self.patterns, self.compiled, self.actions, self.trigger, self.duration,
            self.match_internal, True,
        )

    def to_data(self) -> dict[str, Any]:
        """What kumod's serializer gives Lua (was_rollup is not serialized)."""
        return {
            "regex": list(self.patterns),
            "action": [a if isinstance(a, str) else dict(a) for a in self.actions],
            "trigger": self.trigger,
            "duration": s.Duration().ser(self.duration),
            "match_internal": self.match_internal,
        }


def _action(value: Any) -> Any:
    from .constructors import EGRESS_PATH

    if isinstance(value, str):
        if value in SIMPLE_ACTIONS:
            return value
        raise AutomationError(
            f"unknown variant `{value}`, expected one of "
            + ", ".join(f"`{v}`" for v in (*SIMPLE_ACTIONS[:1], "SetConfig", *SIMPLE_ACTIONS[1:3],
                                            "SetDomainConfig", *SIMPLE_ACTIONS[3:]))
        )
    if isinstance(value, dict) and len(value) == 1:
        ((variant, inner),) = value.items()
        if variant in VALUE_ACTIONS:
            if not isinstance(inner, dict) or "name" not in inner or "value" not in inner:
                raise AutomationError(f"{variant}: expected {{name = ..., value = ...}}")
            try:
                EGRESS_PATH.de({str(inner["name"]): inner["value"]})
            except s.DeError as e:
                raise AutomationError(f"{variant} {inner['name']}: {e}") from None
            return {variant: {"name": inner["name"], "value": inner["value"]}}
        raise AutomationError(f"unknown variant `{variant}`")
    raise AutomationError(f"invalid type: {s.unexpected(value)}, expected enum Action")


def _trigger(value: Any) -> Any:
    if value is None or value == "Immediate":
        return "Immediate"
    if isinstance(value, dict) and set(value) == {"Threshold"}:
        try:
            spec = s.throttle_spec(str(value["Threshold"]))
        except ValueError as e:
            raise AutomationError(f"Threshold: {e}") from None
        return {"Threshold": s.throttle_text(spec)}
    raise AutomationError(
        f"invalid trigger {value!r}: expected \"Immediate\" or {{Threshold = \"N/period\"}}"
    )


def parse_rule(raw: Any) -> Rule:
    from .regex import compile_fancy

    if not isinstance(raw, dict):
        raise AutomationError(f"invalid type: {s.unexpected(raw)}, expected struct Rule")
    unknown = set(raw) - {"regex", "action", "trigger", "duration", "match_internal"}
    if unknown:
        raise AutomationError(f"unknown field `{sorted(unknown)[0]}`")
    for name in ("regex", "action", "duration"):
        if name not in raw:
            raise AutomationError(f"missing field `{name}`")
    patterns = raw["regex"] if isinstance(raw["regex"], list) else [raw["regex"]]
    compiled = []
    for p in patterns:
        if not isinstance(p, str):
            raise AutomationError(f"invalid type: {s.unexpected(p)}, expected a regex string")
        try:
            compiled.append(compile_fancy(p))
        except KumoError as e:
            raise AutomationError(f"regex {p!r}: {e}") from None
    actions_raw = raw["action"] if isinstance(raw["action"], list) else [raw["action"]]
    actions = [_action(a) for a in actions_raw]
    try:
        duration = s.Duration().de(raw["duration"])
    except s.DeError as e:
        raise AutomationError(f"duration: {e}") from None
    match_internal = raw.get("match_internal", False)
    if not isinstance(match_internal, bool):
        raise AutomationError("match_internal: expected a boolean")
    return Rule(patterns, compiled, actions, _trigger(raw.get("trigger")), duration,
                match_internal)


def parse_rules(raw: Any, where: str) -> list[Rule]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    rules = []
    for i, item in enumerate(items):
        try:
            rules.append(parse_rule(item))
        except AutomationError as e:
            raise KumoError(f"{where}: automation rule {i + 1}: {e}") from None
    return rules
