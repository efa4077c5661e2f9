"""The `kumo_smtp_server` fixture: `kumopy serve` on a free loopback port,
in a background thread, for tests that send real mail with smtplib."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._policy import Policy
from ..cli._serve import SmtpServer
from ._harness import PolicyFactory

__all__ = ["SmtpServerFactory"]


class SmtpServerFactory:
    """Call it to start a server: `kumo_smtp_server("policy/init.lua")` or
    `kumo_smtp_server(policy)` (a Policy already loaded, e.g. with
    `kumo_policy(...)`).  Returns the running `SmtpServer`: `server.port`,
    `server.messages` (recorded messages), `server.sessions` (each with
    its `events` and `transcript`), `server.record_dir`; the newest 1,000
    sessions and messages are kept.  Listener limits and timeouts come from
    the policy's listener or `params=` (e.g. `{"client_timeout": "2s"}`).
    Servers stop at the end of the test; an unexpected error inside kumopy
    fails it."""

    def __init__(self, policies: PolicyFactory, tmp_path: Path) -> None:
        self._policies = policies
        self._tmp_path = tmp_path
        self.servers: list[SmtpServer] = []

    def __call__(
        self,
        policy: Policy | str | os.PathLike[str] | None = None,
        *,
        hostname: str | None = None,
        params: Mapping[str, Any] | None = None,
        record_dir: str | os.PathLike[str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        **policy_options: Any,
    ) -> SmtpServer:
        loaded = policy if isinstance(policy, Policy) else self._policies(policy, **policy_options)
        if record_dir is None:
            record_dir = self._tmp_path / f"kumo-smtp-{len(self.servers) + 1}"
        server = SmtpServer(
            loaded,
            host="127.0.0.1",
            port=0,
            record_dir=record_dir,
            params=params,
            hostname=hostname,
            tls_context=tls_context,
        )
        server.start()
        self.servers.append(server)
        return server

    def close(self) -> list[BaseException]:
        errors: list[BaseException] = []
        for server in self.servers:
            server.stop()
            errors.extend(server.errors)
        self.servers.clear()
        return errors
