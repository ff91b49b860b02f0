"""MaskableREINFORCE: REINFORCE with invalid-action masks, built on sb3-contrib's maskable policies and distributions."""

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback, PyTorchObs
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer
from sb3_reinforce.common.maskable_buffers import MaskableEpisodeBatch, MaskableEpisodicRolloutBuffer, mask_dim
from sb3_reinforce.common.vec_env import AnyEnv
from sb3_reinforce.reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_mask.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfMaskableREINFORCE = TypeVar("SelfMaskableREINFORCE", bound="MaskableREINFORCE")


class MaskableREINFORCE(REINFORCE):
    """
    REINFORCE with invalid-action masking, as sb3-contrib's MaskablePPO has it: the env exposes
    ``action_masks()`` (or is wrapped in sb3-contrib's ``ActionMasker``), each action is sampled
    from the policy restricted to the valid choices, the mask is stored with the transition, and
    the update recomputes log-probabilities and entropies under the same masks. Masked actions get
    probability 0 and no gradient. Discrete, MultiDiscrete and MultiBinary action spaces; no gSDE.

    Takes the arguments of :class:`~sb3_reinforce.REINFORCE` (the same buffer, baselines,
    truncation rules and Monte-Carlo returns); the policies are sb3-contrib's
    ``MaskableActorCriticPolicy`` family. Evaluate with sb3-contrib's maskable ``evaluate_policy``
    or ``MaskableEvalCallback``, which pass the masks to ``predict``.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param kwargs: REINFORCE's other arguments
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    policy_base: ClassVar[type[BasePolicy]] = MaskableActorCriticPolicy
    action_space_types: ClassVar[tuple[type[spaces.Space], ...]] = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    default_rollout_buffer_class: ClassVar[type[EpisodicRolloutBuffer]] = MaskableEpisodicRolloutBuffer

    def __init__(self, policy: str | type[MaskableActorCriticPolicy], env: AnyEnv | str, **kwargs: Any):
        if kwargs.get("use_sde"):
            raise ValueError("use_sde=True: sb3-contrib's maskable policies have no gSDE")
        # sb3-contrib's maskable policies are no ActorCriticPolicy, the type SB3's annotation names (as for MaskablePPO)
        super().__init__(policy, env, **kwargs)  # type: ignore[arg-type]
        self.use_masking = True

    def _excluded_save_params(self) -> list[str]:
        # A setting of each learn() call, as in MaskablePPO
        return [*super()._excluded_save_params(), "use_masking"]

    def _make_policy(self) -> ActorCriticPolicy:
        return self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs)  # type: ignore[return-value]

    def _sample_actions(self, env: VecEnv, observations: PyTorchObs) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        masks = (
            self._action_masks(env) if self.use_masking else np.ones((env.num_envs, mask_dim(self.action_space)), dtype=bool)
        )
        with th.no_grad():
            distribution = self.policy.get_distribution(observations, action_masks=masks)  # type: ignore[call-arg]
            actions = distribution.get_actions().cpu().numpy()
        return actions, {"action_masks": masks}

    def _evaluate_actions(self, batch: EpisodeBatch) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        assert isinstance(batch, MaskableEpisodeBatch)
        if self.uses_critic:
            return self.policy.evaluate_actions(batch.observations, batch.actions, action_masks=batch.action_masks)  # type: ignore[call-arg]
        distribution = self.policy.get_distribution(batch.observations, action_masks=batch.action_masks)  # type: ignore[call-arg]
        return None, distribution.log_prob(batch.actions), distribution.entropy()

    def _action_masks(self, env: VecEnv) -> np.ndarray:
        """The envs' current action masks, checked: the right shape, and a valid choice for every (sub-)action."""
        masks = np.asarray(get_action_masks(env))
        expected = (env.num_envs, mask_dim(self.action_space))
        # Any shape that holds one value per choice for each env, e.g. (1, n) per env, as MaskablePPO takes
        if masks.size != np.prod(expected):
            raise ValueError(
                f"action_masks() returned masks of shape {masks.shape[1:]} per env; {self.action_space} needs {expected[1]} "
                "values per env (one per choice: n for Discrete(n), sum(nvec) for MultiDiscrete, 2 * n for MultiBinary)"
            )
        masks = masks.reshape(expected).astype(bool)
        # Each sub-action (a Discrete, one of MultiDiscrete's, one bit of MultiBinary's) needs a valid choice
        has_choice = np.logical_or.reduceat(masks, self._mask_block_starts(), axis=1).all(axis=1)
        if not has_choice.all():
            raise ValueError(
                f"env {int(np.flatnonzero(~has_choice)[0])} masked every choice of an action at timestep "
                f"{self.num_timesteps}: there is no valid action to take (check its action_masks())"
            )
        return masks

    def _mask_block_starts(self) -> np.ndarray:
        """Where each sub-action's block of choices starts in a mask row."""
        if isinstance(self.action_space, spaces.MultiDiscrete):
            sizes = self.action_space.nvec.ravel()
        elif isinstance(self.action_space, spaces.MultiBinary):
            sizes = np.full(int(np.prod(self.action_space.n)), 2)
        else:
            sizes = np.array([mask_dim(self.action_space)])
        return np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def learn(  # type: ignore[override]
        self: SelfMaskableREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "MaskableREINFORCE",
        reset_num_timesteps: bool = True,
        use_masking: bool = True,
        progress_bar: bool = False,
    ) -> SelfMaskableREINFORCE:
        """
        REINFORCE's ``learn``, sampling under the env's action masks.

        :param total_timesteps: The total number of samples (env steps) to train on (a lower bound:
            rollouts end on episode ends)
        :param callback: callback(s) called at every step with state of the algorithm
        :param log_interval: The number of rollouts (training iterations) between two logs
        :param tb_log_name: the name of the run for TensorBoard logging
        :param reset_num_timesteps: whether or not to reset the current timestep number (used in logging)
        :param use_masking: Whether to fetch and apply the env's action masks (MaskablePPO's
            switch); without them every action is allowed.
        :param progress_bar: Display a progress bar using tqdm and rich
        :return: the trained model
        """
        if use_masking and self.env is not None and not is_masking_supported(self.env):
            raise ValueError(
                "env: it has no action_masks() method; wrap it in sb3_contrib.common.wrappers.ActionMasker, "
                "or learn(use_masking=False) to train without masks"
            )
        self.use_masking = use_masking
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        The policy's action for ``observation``, restricted to ``action_masks`` when given (as
        MaskablePPO's ``predict``: it never fetches masks itself).

        :param observation: the input observation
        :param state: The last hidden states (unused: the policy is not recurrent)
        :param episode_start: The last episode starts (unused: the policy is not recurrent)
        :param deterministic: Whether or not to return deterministic actions
        :param action_masks: The valid choices, one bool per choice (``mask_dim(action_space)`` per
            env, as the env's ``action_masks()`` gives them); None: every action is allowed
        :return: the model's action, and ``state`` as given
        """
        return self.policy.predict(observation, state, episode_start, deterministic, action_masks=action_masks)  # type: ignore[call-arg]
