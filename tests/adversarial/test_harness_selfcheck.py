"""The harness itself: it must notice a failure that is not clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._harness import Outcome, assert_clear_failure, run_kumopy, write_policy


def test_a_plain_handler_error_is_one_clear_line(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function() error('boom') end)\n",
    )
    out = run_kumopy("script", "--strict", policy)
    line = assert_clear_failure(out, "init.lua:2:", "boom")
    assert line.startswith("kumopy: error:")


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(("x",), 0, "", "kumopy: error: a:1: b\n", 0.1),
        Outcome(("x",), -11, "", "kumopy: error: a:1: b\n", 0.1),
        Outcome(("x",), 1, "", "Traceback (most recent call last):\nkumopy: error: a:1: b\n", 0.1),
        Outcome(("x",), 1, "", "kumopy: error: a:1: b\nkumopy: error: a:1: c\n", 0.1),
        Outcome(("x",), 1, "", "", 0.1),
    ],
)
def test_unclear_failures_are_caught(outcome: Outcome) -> None:
    with pytest.raises(AssertionError):
        assert_clear_failure(outcome)
