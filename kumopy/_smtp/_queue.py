"""`QueueName`: the `campaign:tenant@domain!routing_domain` grammar of
scheduled queue names (`crates/message/src/queue_name.rs`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueName:
    """The components of a scheduled queue name
    `campaign:tenant@domain!routing_domain`.

    `parse` and `format` are not exact inverses: `QueueName("c", None, "d",
    None).format()` is `"c:@d"`, which parses back with tenant `""`.
    `format(parse(s)) == s` holds for every string.
    """

    campaign: str | None
    tenant: str | None
    domain: str
    routing_domain: str | None = None

    def __post_init__(self) -> None:
        for name in ("campaign", "tenant", "routing_domain"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, got {value!r}")
        if not isinstance(self.domain, str):
            raise TypeError(f"domain must be a str, got {self.domain!r}")

    @classmethod
    def parse(cls, name: str) -> QueueName:
        """Split a queue name exactly as kumod does.

        At the first `@`: before it is the prefix, after it the domain part
        (no `@` -> no campaign, no tenant, all of it is the domain part).  The
        prefix splits at its first `:` into campaign and tenant (`"c:@d"` ->
        tenant `""`); without `:` all of it is the tenant.  The domain part
        splits at its first `!` into domain and routing domain.  Nothing is
        validated or lowercased; ports stay where they are.
        """
        if not isinstance(name, str):
            raise TypeError(f"QueueName.parse expects a str, got {type(name).__name__}")
        campaign: str | None = None
        tenant: str | None = None
        prefix, at, rest = name.partition("@")
        if at:
            campaign_part, colon, tenant_part = prefix.partition(":")
            if colon:
                campaign, tenant = campaign_part, tenant_part
            else:
                tenant = prefix
        else:
            rest = name
        domain, bang, routing = rest.partition("!")
        return cls(campaign, tenant, domain, routing if bang else None)

    def format(self) -> str:
        """`c:t@d`, `c:@d`, `t@d` or `d`, then `!routing_domain` if set."""
        routing = f"!{self.routing_domain}" if self.routing_domain is not None else ""
        if self.campaign is not None:
            return f"{self.campaign}:{self.tenant or ''}@{self.domain}{routing}"
        if self.tenant is not None:
            return f"{self.tenant}@{self.domain}{routing}"
        return f"{self.domain}{routing}"

    def __str__(self) -> str:
        return self.format()

    def rewrite_event_args(self) -> tuple[str, str | None, str | None, str]:
        """Arguments 2-5 of `smtp_client_rewrite_delivery_status`: domain,
        tenant, campaign, and the routing domain or, when there is none, the
        domain (never None)."""
        routing = self.routing_domain if self.routing_domain is not None else self.domain
        return (self.domain, self.tenant, self.campaign, routing)
