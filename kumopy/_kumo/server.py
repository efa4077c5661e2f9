"""Process-level functions of kumo-server-common that a policy can use
without a running server: the config epoch, the validation flag and the
version string."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace


def register(kumo: Namespace) -> None:
    kumo.function(
        "bump_config_epoch",
        bump_config_epoch,
        notes="re-keys `invalidate_with_epoch` memoize caches; there is no state pool to "
        "flush (use `fresh_state_per_event`)",
    )
    kumo.function(
        "validation_failed",
        validation_failed,
        notes="makes `Policy.validate()` / `kumopy validate` fail",
    )
    kumo.value("version", f"kumopy-{__version__}", notes="`kumopy-<version>`, not a kumod version")


def bump_config_epoch(state: LuaState, *_: Any) -> None:
    state.process.bump_config_epoch()


def validation_failed(state: LuaState, *_: Any) -> None:
    state.process.validation_failed = True
