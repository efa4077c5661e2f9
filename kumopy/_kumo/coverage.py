"""Renders docs/api-coverage.md from the live catalogue, so the page can
never drift from what kumopy really implements (a test compares them).

Regenerate with: `python -m kumopy._kumo.coverage > docs/api-coverage.md`
"""

from __future__ import annotations

from .._events import EVENTS
from . import catalogue
from .names import OTHER_MODULES

_EVENT_NOTES = {
    "smtp_client_rewrite_delivery_status": (
        "full host support: `Policy.rewrite_delivery_status()` and `kumopy rewrite` build the "
        "arguments and apply the result exactly as kumod's SMTP dispatcher does"
    ),
    "main": "`Policy.run_script()` / `kumopy script` (like `kumod --script`)",
    "pre_init": "run by `Policy.validate()` / `kumopy validate`",
    "init": "run by `Policy.validate()` / `kumopy validate`",
    "validate_config": "run by `Policy.validate()` / `kumopy validate`",
}

_MESSAGE_EVENT_NOTE = (
    "registers and dispatches with `Policy.call()`; kumopy has no Message or "
    "connection-metadata objects yet, so pass plain values"
)

HEADER = """# kumo API coverage

Generated from kumopy's own catalogue by `python -m kumopy._kumo.coverage`;
`tests/test_api_coverage.py` fails when this page and the code disagree.

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
        "kumod also registers `require`-able modules outside `kumo`; kumopy does not provide "
        "them, so `require` fails with Lua's usual 'module not found' message.\n"
    )
    out.append("| module | functions | supported |")
    out.append("|---|---|---|")
    for module, funcs in sorted(OTHER_MODULES.items()):
        out.append(f"| `{module}` | {', '.join(f'`{f}`' for f in funcs)} | **no** |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
