"""The network switch shared by kumopy's network clients (HTTP, Redis, DNS).

kumopy never touches the network unless the user allows it: `--network`
on the command line, `Policy.load(network=True)`, or `kumo_network = true`
in the pytest ini.  A client that would reach a server asks
`require_network(state, what)` first; without permission the policy gets a
Lua error that says what was not sent and how to allow it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import KumoError

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["NetworkDisabled", "network_allowed", "require_network"]

HOW_TO_ALLOW = (
    "allow it with --network (kumopy CLI), Policy.load(..., network=True) or "
    "`kumo_network = true` in the pytest ini"
)


class NetworkDisabled(KumoError):
    """A policy tried to reach a server while the network is off."""


def network_allowed(state_or_policy: Any) -> bool:
    policy = getattr(state_or_policy, "process", state_or_policy)
    return bool(getattr(policy, "network", False))


def require_network(state: LuaState, what: str) -> None:
    if not network_allowed(state):
        raise NetworkDisabled(
            f"kumopy: network access is off, so {what} was not sent; {HOW_TO_ALLOW}"
        )
