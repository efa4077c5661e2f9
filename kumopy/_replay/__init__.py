"""What-if replay of KumoMTA logs through a policy's
`smtp_client_rewrite_delivery_status` handler (`kumopy replay`)."""

from __future__ import annotations

from ._engine import Problem, ReplaySpec, Report, default_jobs, replay
from ._parallel import ReplayError
from ._reader import MAX_LINE, LogReadError, LongLine, iter_lines
from ._records import Eligible, NotEligible, examine

__all__ = [
    "Eligible",
    "LogReadError",
    "LongLine",
    "MAX_LINE",
    "NotEligible",
    "Problem",
    "ReplayError",
    "ReplaySpec",
    "Report",
    "default_jobs",
    "examine",
    "iter_lines",
    "replay",
]
