"""Errors that explain themselves (issue 13 item 7).

Lua's own messages for the mistakes people make when they bring a
production policy over are terse: `attempt to call a nil value (field
'define_egress_source')`, `module 'policy-extras.shaping' not found`, a
missing `/opt/kumomta/...` file, an error deep inside a policy-extras
helper.  `explain(policy, message, traceback)` returns the message with one
sentence of help appended where kumopy can say more:

* a `kumo.X` that does not exist in KumoMTA: says so, with the name KumoMTA
  removed it in (where known) or a did-you-mean;
* a policy-extras module that is not found: where the helpers live and
  `--share`;
* a missing file under /opt/kumomta: `--map`;
* an error inside a policy-extras helper: the user's line that called it.

`watch_kumo(state)` makes the `kumo` table remember the last name a policy
looked up and did not find (the lookup still gives nil, as in kumod), so
the explanation names the full `kumo.dns.X` path.
"""

from __future__ import annotations

import difflib
import re
import weakref
from typing import TYPE_CHECKING, Any

from .names import KUMO_NAMES

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["REMOVED", "explain", "path_hint", "watch_kumo"]

#: kumo names KumoMTA had and removed: name -> (release, what to use instead)
REMOVED: dict[str, tuple[str, str]] = {
    "define_egress_source": (
        "2023.06.22-51b72a83",
        "return kumo.make_egress_source{...} from a get_egress_source handler",
    ),
    "define_egress_pool": (
        "2023.06.22-51b72a83",
        "return kumo.make_egress_pool{...} from a get_egress_pool handler",
    ),
}

#: names people reach for that KumoMTA spells differently
INSTEAD: dict[str, str] = {
    "define_signer": "DKIM signers are made per message with kumo.dkim.rsa_sha256_signer{...} "
    "or kumo.dkim.ed25519_signer{...} and msg:dkim_sign(signer)",
    "redis_pool": "Redis connections come from `local redis = require 'redis'` and "
    "redis.open{node = ...}",
}

_LAST_MISSING: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

_WATCH = b"""
local kumo, note = ...
local function watch(t, prefix, depth)
  for k, v in pairs(t) do
    if type(k) == 'string' and type(v) == 'table' and getmetatable(v) == nil and depth < 4 then
      watch(v, prefix .. k .. '.', depth + 1)
    end
  end
  if getmetatable(t) == nil then
    setmetatable(t, { __index = function(_, k)
      if type(k) == 'string' then note(prefix .. k) end
      return nil
    end })
  end
end
watch(kumo, '', 0)
"""


def watch_kumo(state: LuaState) -> None:
    """Remember the last missing `kumo.*` name the policy looked up."""

    def note(name: bytes) -> None:
        _LAST_MISSING[state] = name.decode("utf-8", "replace")

    state.rt.execute(_WATCH, state.kumo, note)


_NIL_FIELD = re.compile(r"attempt to (?:call|index) a nil value \(field '([^']+)'\)")
_MODULE = re.compile(r"module '([^']+)' not found")
_OPT_PATH = re.compile(r"(/opt/kumomta/[^\s'\":,)]+)")
_MISSING = ("No such file", "not found", "cannot open", "does not exist", "os error 2")
_FRAME = re.compile(r"^\s*(?P<file>[^\s:][^:]*):(?P<line>\d+):", re.MULTILINE)


def missing_kumo_name(name: str) -> str:
    """The sentence for a `kumo.<name>` that KumoMTA does not have."""
    removed = REMOVED.get(name)
    if removed is not None:
        release, instead = removed
        return (
            f"kumopy: kumo.{name} was removed from KumoMTA in {release}; {instead}"
        )
    family = [n for n in KUMO_NAMES if n.startswith(name + "_")]
    if family and "." not in name:
        shown = ", ".join(f"kumo.{n}" for n in family[:4])
        return f"kumopy: kumo.{name} does not exist in KumoMTA (it has {shown})"
    namespaces = sorted({n.split(".", 1)[0] for n in KUMO_NAMES if "." in n})
    if "." not in name:
        # a namespace (kumo.timer.after) or a top-level function
        close = difflib.get_close_matches(name, namespaces, n=1, cutoff=0.8)
        if close:
            return (
                f"kumopy: kumo.{name} does not exist in KumoMTA (did you mean the "
                f"kumo.{close[0]} module?)"
            )
    spelled = INSTEAD.get(name)
    if spelled is not None:
        return f"kumopy: kumo.{name} does not exist in KumoMTA; {spelled}"
    close = difflib.get_close_matches(name, KUMO_NAMES, n=1, cutoff=0.75)
    if not close:
        leaf = name.rsplit(".", 1)[-1]
        close = [n for n in KUMO_NAMES if n.rsplit(".", 1)[-1] == leaf][:1]
    hint = f" (did you mean kumo.{close[0]}?)" if close else ""
    return f"kumopy: kumo.{name} does not exist in KumoMTA{hint}"


def path_hint(text: str) -> str:
    """The `--map` suggestion for a missing /opt/kumomta path in `text`."""
    if not any(word in text for word in _MISSING):
        return ""
    m = _OPT_PATH.search(text)
    if m is None:
        return ""
    path = m.group(1)
    directory = path.rsplit("/", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    if directory.startswith("/opt/kumomta/share"):
        return (
            f"kumopy: {path} is part of KumoMTA's share directory; pass --share DIR "
            "(a KumoMTA install's /opt/kumomta/share, or a checkout's assets directory)"
        )
    return (
        f"kumopy: {path} is read from your machine; map it to your copy with "
        f"--map {directory}=LOCAL_DIR (or --map {path}=LOCAL_FILE)"
    )


def _module_hint(module: str, share_dir: str) -> str:
    if module.startswith("policy-extras."):
        return (
            f"kumopy: '{module}' is one of KumoMTA's policy-extras helpers, looked up in "
            f"{share_dir}/policy-extras; pass --share DIR (env KUMOPY_SHARE_DIR) naming a "
            "KumoMTA share directory: /opt/kumomta/share in an install, assets/ in a "
            "checkout of the KumoMTA repository"
        )
    return ""


def _caller(traceback: str, share_dir: str, error_file: str | None) -> str | None:
    """The first frame of `traceback` outside the share directory."""
    for m in _FRAME.finditer(traceback):
        file = m.group("file")
        if file.startswith("[") or _in_share(file, share_dir):
            continue
        return f"{file}:{m.group('line')}"
    return None


def _in_share(file: str, share_dir: str) -> bool:
    return file.startswith(share_dir.rstrip("/") + "/") or "/policy-extras/" in file


def explain(policy: Any, message: str, traceback: str = "", file: str | None = None,
            state: Any = None) -> str:
    """`message` with kumopy's explanation appended (or unchanged)."""
    hints: list[str] = []
    m = _NIL_FIELD.search(message)
    if m is not None and state is not None:
        field = m.group(1)
        missing = _LAST_MISSING.get(state)
        if missing is not None and (missing == field or missing.endswith("." + field)):
            hints.append(missing_kumo_name(missing))
    m = _MODULE.search(message)
    share_dir = str(getattr(policy, "share_dir", "/opt/kumomta/share"))
    module_hint = _module_hint(m.group(1), share_dir) if m is not None else ""
    if module_hint:
        hints.append(module_hint)
    hint = "" if module_hint else path_hint(message)
    if hint:
        hints.append(hint)
    if file is not None and _in_share(file, share_dir) and traceback:
        caller = _caller(traceback, share_dir, file)
        if caller is not None:
            hints.append(f"called from {caller}")
    if not hints:
        return message
    return message.rstrip() + " (" + "; ".join(hints) + ")"
