"""
RL Zoo integration: ``python -m sb3_reinforce.zoo <command> --algo reinforce ...`` (or
``sb3-reinforce-zoo``) runs RL Zoo's commands with REINFORCE registered. See ``docs/zoo.md``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sb3_reinforce.zoo.registration import register

__all__ = ["register"]


def __getattr__(name: str) -> Any:
    # register imports RL Zoo (the zoo extra): imported on first use, so that the command line
    # (sb3_reinforce.zoo.cli) loads without it and says what to install
    if name == "register":
        from sb3_reinforce.zoo.registration import register

        return register
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
