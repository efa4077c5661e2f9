"""Which KumoMTA kumopy follows.

kumopy was written and checked against KumoMTA's source at commit
`KUMOMTA_COMMIT` of its main branch (`KUMOMTA_COMMIT_DATE`); the newest
release at that commit is `KUMOMTA_RELEASE` (tagged `KUMOMTA_RELEASE_DATE`).
Behaviour KumoMTA changed on main after that release is followed as of the
commit.  The `kumo` catalogue (`kumopy/_kumo/names.py`) lists the names at
that commit.  `kumopy --version`, docs/index.md and docs/api-coverage.md
show these; tests/test_names_versions.py compares them with a KumoMTA
checkout when `KUMOMTA_SRC` is set.
"""

from __future__ import annotations

__all__ = [
    "KUMOMTA_COMMIT",
    "KUMOMTA_COMMIT_DATE",
    "KUMOMTA_RELEASE",
    "KUMOMTA_RELEASE_DATE",
    "follows",
]

#: the newest KumoMTA release tag at the checked commit, and its date
KUMOMTA_RELEASE = "2026.06.23-f3af1cd0"
KUMOMTA_RELEASE_DATE = "2026-06-23"
#: the KumoMTA commit (main branch) kumopy's catalogue was checked against
KUMOMTA_COMMIT = "3ebc1e85"
KUMOMTA_COMMIT_DATE = "2026-08-04"


def follows() -> str:
    """One sentence naming what kumopy follows."""
    return (
        f"follows KumoMTA {KUMOMTA_RELEASE} (released {KUMOMTA_RELEASE_DATE}); "
        f"checked against KumoMTA main at commit {KUMOMTA_COMMIT} ({KUMOMTA_COMMIT_DATE})"
    )
