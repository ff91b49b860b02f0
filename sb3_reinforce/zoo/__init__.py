"""
RL Zoo integration: ``python -m sb3_reinforce.zoo <command> --algo reinforce ...`` (or
``sb3-reinforce-zoo``) runs RL Zoo's commands with REINFORCE registered. See ``docs/zoo.md``.
"""

from sb3_reinforce.zoo.registration import register

__all__ = ["register"]
