"""Adversarial cases: hostile policies and inputs through the real CLI.

Each module holds one class of attack (see `docs/security.md`); every case
uses `_harness.run_kumopy` and `_harness.assert_clear_failure`.
"""
