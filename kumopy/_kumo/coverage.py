"""Renders docs/api-coverage.md from the live catalogue, so the page can
never drift from what kumopy really implements (a test compares them).

Regenerate with: `python -m kumopy._kumo.coverage > docs/api-coverage.md`
"""

from __future__ import annotations

from .._events import EVENTS
from .._version import KUMOMTA_COMMIT, KUMOMTA_COMMIT_DATE, KUMOMTA_RELEASE, KUMOMTA_RELEASE_DATE
from . import catalogue
from .modules import module_catalogue
from .names import OTHER_MODULES

_RECEPTION = (
    "full host support: `Reception` sessions, `kumopy inject` and `kumopy serve` fire it "
    "at kumod's point in the SMTP conversation, with kumod's arguments and reply"
)
_RESOLVE = (
    "full host support: `Policy.{method}()`{cli} dispatch it with kumod's arguments and check "
    "the returned object's type"
)
_EVENT_NOTES = {
    "smtp_client_rewrite_delivery_status": (
        "full host support: `Policy.rewrite_delivery_status()`, `kumopy rewrite` and "
        "`kumopy replay` build the arguments and apply the result exactly as kumod's SMTP "
        "dispatcher does"
    ),
    "main": "`Policy.run_script()` / `kumopy script` (like `kumod --script`)",
    "pre_init": "run by `Policy.validate()` / `kumopy validate`",
    "init": "run by `Policy.validate()` / `kumopy validate`",
    "validate_config": "run by `Policy.validate()` / `kumopy validate`",
    "get_queue_config": _RESOLVE.format(
        method="resolve_queue_config", cli=" and `kumopy resolve-queue-config`"
    )
    + "; also fired by `Reception` for each accepted message",
    "get_egress_path_config": _RESOLVE.format(
        method="resolve_egress_path", cli=" and `kumopy resolve-egress-path`"
    ),
    "get_egress_source": _RESOLVE.format(method="resolve_egress_source", cli=""),
    "get_egress_pool": _RESOLVE.format(method="resolve_egress_pool", cli=""),
    "get_listener_domain": _RESOLVE.format(method="listener_domain", cli="")
    + "; `Reception` uses it for relay decisions as kumod does",
    "smtp_server_connection_accepted": _RECEPTION,
    "smtp_server_get_dynamic_parameters": _RECEPTION,
    "smtp_server_ehlo": _RECEPTION,
    "smtp_server_auth_plain": _RECEPTION,
    "smtp_server_mail_from": _RECEPTION,
    "smtp_server_rcpt_to": _RECEPTION,
    "smtp_server_data": _RECEPTION,
    "smtp_server_split_transaction": _RECEPTION,
    "smtp_server_message_received": _RECEPTION,
    "smtp_server_rewrite_response": _RECEPTION,
    "smtp_server_message_deferred_inject": (
        "full host support: `Reception.deferred_inject()`"
    ),
    "http_message_generated": (
        "full host support: `Reception.http_inject()` and `kumopy inject --http`"
    ),
    "requeue_message": "full host support: `Reception.requeue()`",
    "should_enqueue_log_record": "full host support: `Reception.should_enqueue_log_record()`",
}

_MESSAGE_EVENT_NOTE = (
    "registers and dispatches with `Policy.call()`; pass a `kumopy.Message` / "
    "`kumopy.ConnectionMeta` where kumod passes a message or connection metadata"
)

HEADER = f"""# kumo API coverage

Generated from kumopy's own catalogue by `python -m kumopy._kumo.coverage`;
`tests/test_api_coverage.py` fails when this page and the code disagree.

kumopy follows KumoMTA {KUMOMTA_RELEASE} (released {KUMOMTA_RELEASE_DATE}); the
names below are those of KumoMTA's main branch at commit {KUMOMTA_COMMIT}
({KUMOMTA_COMMIT_DATE}), which the catalogue was checked against.

Every name KumoMTA puts in the `kumo` module exists in kumopy's `kumo`
table. A name marked **no** is a function that raises
`kumopy: kumo.NAME is not supported` when called (a Lua error the policy can
`pcall`), so a policy that only mentions it still loads.

"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def render() -> str:
    entries = catalogue()
    supported = sum(1 for e in entries.values() if e.supported)
    out = [HEADER]
    out.append(
        f"Checked against KumoMTA commit {KUMOMTA_COMMIT} ({KUMOMTA_COMMIT_DATE}): "
        "the name list, and KumoMTA's own Lua tests run through kumopy by `make conformance` "
        "(docs/testing.md).\n"
    )
    out.append(
        f"Summary: **{supported}** of {len(entries)} `kumo` names are implemented; "
        f"all {len(EVENTS)} events can be registered and dispatched.\n"
    )
    out.append("## Events\n")
    out.append("| event | handlers | arguments | kumopy |")
    out.append("|---|---|---|---|")
    for name, spec in sorted(EVENTS.items()):
        kind = "Multiple" if spec.multiple else "Single"
        args = ", ".join(spec.args) or "-"
        if name in _EVENT_NOTES:
            note = _EVENT_NOTES[name]
        elif any(a in ("message", "conn_meta", "sender", "recipient") for a in spec.args):
            note = _MESSAGE_EVENT_NOTE
        else:
            note = "registers and dispatches with `Policy.call()`"
        doc = "" if spec.documented else " (no reference page)"
        out.append(f"| `{name}`{doc} | {kind} | {args} | {_cell(note)} |")
    out.append("")
    out.append("## `kumo` functions\n")
    groups: dict[str, list[str]] = {}
    for name in entries:
        group = "kumo." + name.rsplit(".", 1)[0] if "." in name else "kumo"
        groups.setdefault(group, []).append(name)
    for group in sorted(groups):
        names = groups[group]
        done = sum(1 for n in names if entries[n].supported)
        out.append(f"### `{group}` ({done}/{len(names)})\n")
        out.append("| name | supported | differences from kumod |")
        out.append("|---|---|---|")
        for n in names:
            e = entries[n]
            status = "yes" if e.supported else "**no**"
            out.append(f"| `kumo.{n}` | {status} | {_cell(e.notes)} |")
        out.append("")
    out.append("## Other modules\n")
    out.append(
        "kumod's daemons also register `require`-able modules outside `kumo` (`sqlite` and "
        "`redis` in kumod, `tsa` in tsa-daemon, `proxy` in KumoProxy). kumopy provides all "
        "of them in every policy; a function marked **no** raises "
        "`kumopy: MODULE.NAME is not supported`.\n"
    )
    modules = module_catalogue()
    for module in sorted(set(OTHER_MODULES) | set(modules)):
        entries = modules.get(module, {})
        out.append(f"### `{module}`\n")
        out.append("| name | supported | differences from kumod |")
        out.append("|---|---|---|")
        for n, e in entries.items():
            status = "yes" if e.supported else "**no**"
            out.append(f"| `{module}.{n}` | {status} | {_cell(e.notes)} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
