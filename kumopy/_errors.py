"""Exceptions raised by kumopy.

`PolicyError` is the one exception a user of the Python API needs to catch:
every failure of Lua code (a syntax error in the policy, an error raised by a
handler, a runaway loop, an allocation beyond the memory limit) surfaces as a
`PolicyError` or one of its subclasses, carrying the Lua file, line and
traceback.  `KumoError` is internal: `kumo` functions implemented in Python
raise it to produce a Lua error in the calling policy.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BudgetExceeded",
    "GlobalLeakError",
    "KumoError",
    "PolicyError",
    "PolicyExit",
    "PolicyInterrupted",
    "PolicyMemoryError",
    "UnsupportedError",
]

# "path/init.lua:12: message" -> ("path/init.lua", 12, "message")
_POSITION = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+): (?P<msg>.*)$", re.DOTALL)


def split_position(message: str) -> tuple[str | None, int | None, str]:
    """Split Lua's `file:line: ` prefix off an error message."""
    m = _POSITION.match(message)
    if m is None:
        return None, None, message
    return m.group("file"), int(m.group("line")), m.group("msg")


def one_line(message: str) -> str:
    """A multi-line error (such as the regex crate's, with the pattern and a
    caret line) as one line: caret lines dropped, the rest joined with "; "
    (or a space after a line ending in a colon)."""
    lines = [ln.strip() for ln in message.splitlines()]
    lines = [ln for ln in lines if ln and set(ln) - set("^~ ")]
    if not lines:
        return message.strip()
    out = lines[0]
    for ln in lines[1:]:
        out += (" " if out.endswith(":") else "; ") + ln
    return out


class PolicyError(Exception):
    """Lua code of a policy failed.

    Attributes:
        message: the Lua error message, as Lua formats it (`init.lua:12: ...`).
        file, line: where the error was raised, when Lua reported a position.
        traceback: the Lua stack traceback (may be empty).
        event: the event being dispatched, or None while loading the policy.
    """

    def __init__(
        self,
        message: str,
        *,
        traceback: str = "",
        event: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        if file is None and line is None:
            file, line, _ = split_position(message)
        self.message = message
        self.traceback = traceback
        self.event = event
        self.file = file
        self.line = line
        #: "file:line" where the failing handler was defined (set by dispatch)
        self.handler: str | None = None
        super().__init__(message)

    def __str__(self) -> str:
        first = one_line(self.message) if self.message else "(empty error message)"
        if self.file is not None and not first.startswith(f"{self.file}:"):
            first = f"{self.file}:{self.line}: {first}"
        if self.event is not None:
            if self.file is None and self.handler is not None:
                # Lua reports no position for an error raised through a tail
                # call (`return kumo.x(...)`); point at the handler instead
                return f"{first} (in event '{self.event}', handler defined at {self.handler})"
            return f"{first} (in event '{self.event}')"
        return first

    def describe(self) -> str:
        """The one-line summary, the full (multi-line) message when it has
        more to say, and the Lua traceback, for reports."""
        parts = [str(self)]
        if "\n" in self.message.strip():
            parts.append(self.message.rstrip("\n"))
        if self.traceback.strip():
            parts.append(self.traceback.strip("\n"))
        return "\n".join(parts)


def hide_frames_of_policy_errors(excinfo: Any) -> bool:
    """pytest's `__tracebackhide__` for kumopy's own modules: a Lua error's
    Python frames inside kumopy are noise in a test report (the Lua
    traceback says where it happened); other exceptions keep them."""
    return isinstance(getattr(excinfo, "value", None), PolicyError)


class BudgetExceeded(PolicyError):
    """Lua code ran past its CPU budget and was stopped (or, after the
    budget and a grace period, could not be stopped and was abandoned)."""


class PolicyMemoryError(PolicyError):
    """Lua code allocated more memory than the state's limit allows."""


class PolicyExit(PolicyError):
    """The policy called `os.exit`.

    kumod would end its whole process there; kumopy stops the policy and
    reports it as an error at the line of the call.  `status` is the exit
    status the call asked for (what `kumopy script` exits with, as
    `kumod --script` would).
    """

    def __init__(
        self,
        status: int,
        *,
        file: str | None = None,
        line: int | None = None,
        traceback: str = "",
    ) -> None:
        where = f"{file}:{line}: " if file is not None else ""
        super().__init__(
            f"{where}os.exit({status}) called: kumod would end its whole process here "
            f"(exit status {status & 0xFF})",
            traceback=traceback,
            file=file,
            line=line,
        )
        self.status = status


class PolicyInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a running handler.

    A KeyboardInterrupt (so `except Exception` does not swallow it), with the
    event and the policy's file and line where it stopped.  The Policy stays
    usable: the interrupted Lua state is dropped.
    """

    def __init__(
        self,
        *,
        event: str | None = None,
        file: str | None = None,
        line: int | None = None,
        traceback: str = "",
    ) -> None:
        super().__init__("interrupted")
        self.event = event
        self.file = file
        self.line = line
        self.traceback = traceback

    def __str__(self) -> str:
        text = "interrupted (Ctrl-C)"
        if self.file is not None:
            text = f"{self.file}:{self.line}: {text}"
        if self.event is not None:
            text += f" (in event '{self.event}')"
        return text


class GlobalLeakError(PolicyError):
    """A handler created global variables while handling an event.

    kumod runs events in a pool of Lua states, so such a global exists in
    the state that ran the handler and not in the others.  Raised by
    `Policy.dispatch` when the policy was loaded with `check_globals=True`;
    `names` are the new globals, `file`/`line` where the first was assigned.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        *,
        event: str,
        handler: str,
        file: str | None,
        line: int | None,
    ) -> None:
        quoted = ", ".join(f"'{n}'" for n in names)
        plural = "s" if len(names) > 1 else ""
        where = f"{file}:{line}: " if file is not None else ""
        message = (
            f"{where}the handler for '{event}' (defined at {handler}) created the global "
            f"variable{plural} {quoted} while handling the event; kumod runs events in a "
            "pool of Lua states, so a global set by a handler exists only in the state that "
            "ran it: declare it `local` (at the top level of the policy to share it)"
        )
        super().__init__(message, event=event, file=file, line=line)
        self.names = names
        self.handler = handler

    def __str__(self) -> str:
        return self.message


class KumoError(Exception):
    """Raised by a Python implementation of a `kumo` function.

    The dispatcher turns it into a Lua error (a string) at the policy line
    that called the function, exactly like an mlua callback error in kumod.
    When `positioned` is true the message already starts with the Lua
    position of the real failure (an error of Lua code the function called
    back, such as a memoized loader), and no second position is added.
    """

    positioned: bool = False

    def __init__(self, message: str = "", *, positioned: bool = False) -> None:
        super().__init__(message)
        if positioned:
            self.positioned = True


class UnsupportedError(KumoError):
    """A `kumo` function that kumopy does not implement was called."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"kumopy: kumo.{name} is not supported")
