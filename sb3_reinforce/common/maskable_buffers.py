"""Episodic rollout storage with invalid-action masks stored beside each transition."""

import dataclasses

import numpy as np
import torch as th
from gymnasium import spaces

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer


@dataclasses.dataclass(frozen=True)
class MaskableEpisodeBatch(EpisodeBatch):
    """
    An ``EpisodeBatch`` with the action mask each action was sampled under.

    :param observations: As in :class:`~sb3_reinforce.common.buffers.EpisodeBatch`
    :param actions: As in ``EpisodeBatch``
    :param episode_steps: As in ``EpisodeBatch``
    :param behaviour_log_probs: As in ``EpisodeBatch``
    :param carried: As in ``EpisodeBatch``
    :param n_episodes: As in ``EpisodeBatch``
    :param action_masks: The mask of each transition, bool ``(n_transitions, mask_dim(action_space))``:
        True for each choice that was allowed (all True when ``learn(use_masking=False)`` sampled it)
    """

    action_masks: th.Tensor


def mask_dim(action_space: spaces.Space) -> int:
    """
    The length of an action mask, as sb3-contrib's masked distributions take it: one entry per
    choice (``Discrete(n)``: n; ``MultiDiscrete(nvec)``: ``sum(nvec)``; ``MultiBinary(n)``: ``2 * n``).

    :param action_space: A ``Discrete``, ``MultiDiscrete`` or ``MultiBinary`` action space
    :raises ValueError: For an action space that cannot be masked
    """
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    if isinstance(action_space, spaces.MultiBinary):
        return 2 * int(np.prod(action_space.n))
    raise ValueError(f"action space {action_space} cannot be masked (Discrete, MultiDiscrete and MultiBinary can)")


class MaskableEpisodicRolloutBuffer(EpisodicRolloutBuffer):
    """
    :class:`~sb3_reinforce.common.buffers.EpisodicRolloutBuffer` that also stores the action mask
    of every transition (``add(..., action_masks=...)``), so that carried episodes keep theirs and
    the update recomputes log-probabilities under the masks the actions were sampled with.

    Takes the arguments of ``EpisodicRolloutBuffer``.
    """

    batch_class = MaskableEpisodeBatch

    def transition_arrays(self) -> dict[str, tuple[tuple[int, ...], type]]:
        return {**super().transition_arrays(), "action_masks": ((mask_dim(self.action_space),), np.bool_)}
