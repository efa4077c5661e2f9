"""kumopy: run and test KumoMTA Lua policies from Python.

The public API is small:

* `Policy` loads a policy file into an embedded Lua 5.4 and dispatches
  events to its handlers with kumod's rules;
* `PolicyError` (and `BudgetExceeded`, `PolicyMemoryError`, `PolicyExit`)
  report Lua failures with file, line and traceback; `PolicyInterrupted`
  (a KeyboardInterrupt) a handler stopped by Ctrl-C; `UnknownEventError`
  an event name that neither kumod nor the policy knows (a misspelling);
* `FakeClock` (also in `kumopy.testing`) drives memoize TTLs in tests;
* `Response` and `QueueName` are the SMTP response and queue name of the
  rewrite event; `RegexSetMap` is the engine of `kumo.regex_set_map`;
* `Message`, `ConnectionMeta` and `EnvelopeAddress` are the message,
  connection metadata and address objects kumod hands to SMTP events;
  `Reception` drives a policy's SMTP server events one `Session` at a time
  and answers each command with the `Reply` kumod would send.
"""

from __future__ import annotations

import logging as _logging
from typing import TYPE_CHECKING

from ._lazyattr import lazy_attributes

__version__ = "0.1.0"

if TYPE_CHECKING:  # type checkers and editors see the names as usual
    from ._clock import Clock, FakeClock, SystemClock
    from ._errors import (
        BudgetExceeded,
        GlobalLeakError,
        PolicyError,
        PolicyExit,
        PolicyInterrupted,
        PolicyMemoryError,
    )
    from ._events import UnknownEventError
    from ._message import ConnectionMeta, EnvelopeAddress, Message, MessageError
    from ._policy import CallResult, LogEntry, Policy, ProbeCall, ValidationReport
    from ._reception import Reception, Reply, Session
    from ._regex import RegexSetError, RegexSetMap
    from ._smtp import EnhancedStatusCode, QueueName, Response

# The public names are imported on first use (PEP 562), so that a command
# that needs only part of kumopy (`kumopy --version`, `kumopy lint`) does
# not pay for importing all of it: name -> the module defining it.
_PUBLIC = {
    "BudgetExceeded": "_errors",
    "CallResult": "_policy",
    "Clock": "_clock",
    "ConnectionMeta": "_message",
    "EnhancedStatusCode": "_smtp",
    "EnvelopeAddress": "_message",
    "FakeClock": "_clock",
    "GlobalLeakError": "_errors",
    "LogEntry": "_policy",
    "Message": "_message",
    "MessageError": "_message",
    "Policy": "_policy",
    "PolicyError": "_errors",
    "PolicyExit": "_errors",
    "PolicyInterrupted": "_errors",
    "PolicyMemoryError": "_errors",
    "ProbeCall": "_policy",
    "QueueName": "_smtp",
    "Reception": "_reception",
    "RegexSetError": "_regex",
    "RegexSetMap": "_regex",
    "Reply": "_reception",
    "Response": "_smtp",
    "Session": "_reception",
    "SystemClock": "_clock",
    "UnknownEventError": "_events",
    "ValidationReport": "_policy",
}


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())


# kumopy logs through the "kumopy" loggers (kumo.log_* under "kumopy.lua")
# and leaves output to the program: no handler but this one, which keeps
# Python's last-resort handler from printing kumopy's records to stderr
# when the program has not configured logging.  The CLI configures its own.
_logging.getLogger("kumopy").addHandler(_logging.NullHandler())

__all__ = [
    "BudgetExceeded",
    "CallResult",
    "Clock",
    "ConnectionMeta",
    "EnhancedStatusCode",
    "EnvelopeAddress",
    "FakeClock",
    "GlobalLeakError",
    "LogEntry",
    "Message",
    "MessageError",
    "Policy",
    "PolicyError",
    "PolicyExit",
    "PolicyInterrupted",
    "PolicyMemoryError",
    "ProbeCall",
    "QueueName",
    "Reception",
    "RegexSetError",
    "RegexSetMap",
    "Reply",
    "Response",
    "Session",
    "SystemClock",
    "UnknownEventError",
    "ValidationReport",
    "__version__",
]
