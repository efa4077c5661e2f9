"""The `kumo` module, implemented in Python, one module per namespace.

`catalogue()` collects every namespace module's registrations and fills
every other name KumoMTA defines with a function that raises
`kumopy: kumo.X is not supported`.
"""

from __future__ import annotations

from functools import cache

from . import (
    aaa,
    cidr,
    config,
    constructors,
    counter_series,
    crypto,
    digest,
    dkim,
    dmarc,
    dns,
    dns_config,
    domain_map,
    encode,
    events,
    fakes,
    file_type,
    fs,
    http,
    inject,
    log,
    machine,
    memoize,
    memory,
    message,
    metrics,
    mimepart,
    mpsc,
    normalize,
    proxy,
    psl,
    regex,
    regex_set_map,
    secrets,
    serde,
    server,
    shaping,
    smtp,
    spf,
    string,
    tasks,
    template,
    throttle,
    time,
    uuid,
)
from ._registry import Entry, Namespace
from .names import KUMO_NAMES

__all__ = ["Entry", "catalogue"]

NAMESPACE_MODULES = (
    events,
    log,
    memoize,
    regex_set_map,
    serde,
    server,
    smtp,
    config,
    memory,
    constructors,
    message,
    mimepart,
    metrics,
    inject,
    dkim,
    spf,
    dmarc,
    shaping,
    dns,
    dns_config,
    domain_map,
    cidr,
    regex,
    string,
    normalize,
    psl,
    template,
    encode,
    digest,
    crypto,
    counter_series,
    mpsc,
    uuid,
    time,
    secrets,
    throttle,
    fs,
    file_type,
    http,
    machine,
    tasks,
    proxy,
    aaa,
    fakes,
)


@cache
def catalogue() -> dict[str, Entry]:
    ns = Namespace()
    for module in NAMESPACE_MODULES:
        module.register(ns.for_module(module.__name__.rsplit(".", 1)[-1]))
    for name in KUMO_NAMES:
        if name not in ns.entries:
            ns.add_unsupported(name)
    return dict(sorted(ns.entries.items()))
