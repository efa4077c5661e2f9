"""`kumopy resolve-queue-config` and `kumopy resolve-egress-path`: what
KumoMTA's `resolve-queue-config` and `resolve-shaping-domain` helper
scripts print, without a kumod binary."""

from __future__ import annotations

from typing import Any

import click

from .._errors import PolicyError
from .._kumo.formats import encode_json
from .._policy import Policy
from ._common import CliError, common_options, echo, load_policy, prints_to_stderr

__all__ = ["resolve_egress_path", "resolve_queue_config"]

POLICY = click.Path(exists=True, dir_okay=False, readable=True)
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

_FORMAT_OPTION = click.option(
    "--toml", "as_toml", is_flag=True, help="Print TOML instead of pretty JSON."
)


def _load(policy: str) -> Policy:
    """Load the policy with the common options (share directory and its
    /opt/kumomta/share mapping as every command has them)."""
    with prints_to_stderr():
        return load_policy(policy)


def _render(value: Any, as_toml: bool) -> str:
    if as_toml:
        import tomli_w

        return tomli_w.dumps(_drop_none(value)).rstrip("\n")
    return encode_json(value, pretty=True)


def _drop_none(value: Any) -> Any:
    """TOML has no null: unset fields are left out, as kumod's TOML
    formatter does."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


@click.command(
    "resolve-queue-config",
    context_settings=CONTEXT_SETTINGS,
    short_help="Print the queue config a queue name resolves to.",
)
@click.argument("policy", type=POLICY)
@click.argument("queue")
@_FORMAT_OPTION
@common_options
def resolve_queue_config(policy: str, queue: str, as_toml: bool) -> None:
    """Print the configuration POLICY gives the scheduled queue QUEUE, like
    KumoMTA's `resolve-queue-config` script.

    QUEUE is a queue name, `[campaign:][tenant@]domain[!routing_domain]`;
    get_queue_config is called with its parsed components (the built-in
    `null` queue is resolved without it).  Only the policy's top level
    runs first, as in the script (no init).  stdout: the QueueConfig with
    every default filled in, as pretty JSON with sorted keys (unset fields
    are null), or TOML with --toml (unset fields left out).

    Exit status: 0 resolved, 1 the policy or the handler failed.
    """
    loaded = _load(policy)
    with prints_to_stderr():
        try:
            config = loaded.resolve_queue_config(queue)
        except PolicyError:
            raise
        except ValueError as e:
            raise CliError(f"{queue!r}: {e}") from None
    echo(_render(config, as_toml))


@click.command(
    "resolve-egress-path",
    context_settings=CONTEXT_SETTINGS,
    short_help="Print the egress path config for a domain and source.",
)
@click.argument("policy", type=POLICY)
@click.argument("domain")
@click.argument("source", required=False, default="unspecified")
@click.option("--site-name", help="The site name to pass (default: the MX site name, else DOMAIN).")
@_FORMAT_OPTION
@common_options
def resolve_egress_path(
    policy: str, domain: str, source: str, site_name: str | None, as_toml: bool
) -> None:
    """Print the egress path configuration POLICY gives mail for DOMAIN
    sent from SOURCE (default `unspecified`), like KumoMTA's
    `resolve-shaping-domain --json-config` script.

    get_egress_path_config is called with (DOMAIN, SOURCE, site name).
    Like the script, the site name is the domain's MX site name when DNS
    answers and DOMAIN otherwise; kumopy only asks the fake resolver the
    policy configures (kumo.dns.configure_test_resolver), never real DNS.
    --site-name overrides it.  stdout: the EgressPathConfig with every default
    filled in, as pretty JSON with sorted keys (unset fields are null), or
    TOML with --toml.

    Exit status: 0 resolved, 1 the policy or the handler failed.
    """
    loaded = _load(policy)
    with prints_to_stderr():
        config = loaded.resolve_egress_path(domain, source, site_name)
    echo(_render(config, as_toml))
