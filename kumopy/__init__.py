"""kumopy: run and test KumoMTA Lua policies from Python.

The public API is small:

* `Policy` loads a policy file into an embedded Lua 5.4 and dispatches
  events to its handlers with kumod's rules;
* `PolicyError` (and `BudgetExceeded`, `PolicyMemoryError`) report Lua
  failures with file, line and traceback;
* `FakeClock` (also in `kumopy.testing`) drives memoize TTLs in tests.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._clock import Clock, FakeClock, SystemClock
from ._errors import BudgetExceeded, PolicyError, PolicyMemoryError
from ._policy import CallResult, LogEntry, Policy

__all__ = [
    "BudgetExceeded",
    "CallResult",
    "Clock",
    "FakeClock",
    "LogEntry",
    "Policy",
    "PolicyError",
    "PolicyMemoryError",
    "SystemClock",
    "__version__",
]
