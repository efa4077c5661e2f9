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
    kumo.function("bump_config_epoch", bump_config_epoch)
    kumo.function("validation_failed", validation_failed)
    kumo.value("version", f"kumopy-{__version__}")


def bump_config_epoch(state: LuaState, *_: Any) -> None:
    state.process.bump_config_epoch()


def validation_failed(state: LuaState, *_: Any) -> None:
    state.process.validation_failed = True
