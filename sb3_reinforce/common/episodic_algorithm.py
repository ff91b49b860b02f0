"""
The episodic loop that REINFORCE and its variants share: SB3's ``OnPolicyAlgorithm`` with rollouts
of complete episodes (:class:`~sb3_reinforce.common.buffers.EpisodicRolloutBuffer`), checks of what
the envs return, chunked evaluation for the update, and saves that load without unpickling.

A variant overrides the hooks, never the loop: ``_sample_actions`` (the policy call of each step and
the per-step extras it stores), ``_state_at_rollout_end`` (what the buffer keeps for an episode cut
there), ``_evaluate_actions``, ``_evaluate_values`` and ``_critic_values`` (the update's policy calls
on a batch), ``_on_envs_reset``, ``_make_policy`` and the buffer class (``default_rollout_buffer_class``).
"""

import io
import json
import os
import pathlib
import warnings
import zipfile
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.type_aliases import MaybeCallback, PyTorchObs
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer
from sb3_reinforce.common.save_util import read_model_file, write_atomically
from sb3_reinforce.common.serialization import (
    SavedEntry,
    UnsafeFileError,
    add_safe_data,
    boolean,
    callable_value,
    check_described_entries,
    check_plain_entries,
    check_spaces_fit_weights,
    instance_of,
    integer,
    is_none,
    json_object,
    number,
    one_of,
    optional,
    read_model_archive,
    safe_custom_objects,
    subclass_of,
)
from sb3_reinforce.common.torch_utils import chunk_slices, n_rows, select_rows, unvalidated_distributions
from sb3_reinforce.common.validation import check_finite, observation_dtypes
from sb3_reinforce.common.vec_env import RESET_STEP_KEY, AnyEnv, VectorEnvAdapter

SelfEpisodicOnPolicyAlgorithm = TypeVar("SelfEpisodicOnPolicyAlgorithm", bound="EpisodicOnPolicyAlgorithm")

CarriedEpisodes = Literal["importance_weighted", "uncorrected", "discarded"]
CARRIED_EPISODES: tuple[str, ...] = ("importance_weighted", "uncorrected", "discarded")

# Default chunk_size: as many transitions as hold this many bytes of observations as float32 (the
# networks' input; 148 Atari frames of 84x84x4), and at most DEFAULT_MAX_CHUNK_ROWS
DEFAULT_CHUNK_BYTES = 16 * 2**20
DEFAULT_MAX_CHUNK_ROWS = 8192
# The most envs and stored steps per env that load accepts from a file: what sizes its buffers
MAX_SAVED_ENVS = 2**16
MAX_SAVED_STEPS = 2**30


class EpisodicOnPolicyAlgorithm(OnPolicyAlgorithm):
    """
    SB3's on-policy algorithm, trained on complete episodes. Subclasses give the update (``train``)
    and say whether they train a critic (``uses_critic``); see the module's docstring for the hooks.

    :param policy: The policy model to use, or its alias
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param chunk_size: Most transitions that the networks evaluate at once in training (None:
        ``DEFAULT_CHUNK_BYTES`` of float32 observations, at most ``DEFAULT_MAX_CHUNK_ROWS``)
    :param carried_episodes: How an episode that a rollout starts and the next one finishes is
        trained: ``"importance_weighted"`` (its part collected by the earlier policy corrected by
        per-decision importance weights), ``"uncorrected"`` or ``"discarded"`` (not trained)
    :param kwargs: The other arguments of ``OnPolicyAlgorithm``
    """

    rollout_buffer: EpisodicRolloutBuffer  # type: ignore[assignment]
    # The policies it can train (their alias or class): the update calls their methods with its own arguments
    policy_base: ClassVar[type[BasePolicy]] = ActorCriticPolicy
    # The buffer class when rollout_buffer_class is None
    default_rollout_buffer_class: ClassVar[type[EpisodicRolloutBuffer]] = EpisodicRolloutBuffer
    # Envs per group of shared starts, whose episodes the buffer trains together (set by REINFORCE's
    # baseline="leave_one_out"); None: no groups
    group_size: int | None = None

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: AnyEnv | str,
        chunk_size: int | None = None,
        carried_episodes: CarriedEpisodes = "importance_weighted",
        **kwargs: Any,
    ):
        if carried_episodes not in CARRIED_EPISODES:
            raise ValueError(f"carried_episodes={carried_episodes!r} is not one of {', '.join(map(repr, CARRIED_EPISODES))}")
        policy_class = self.policy_aliases.get(policy, policy) if isinstance(policy, str) else policy
        if isinstance(policy_class, type) and not issubclass(policy_class, self.policy_base):
            raise ValueError(
                f"policy={policy_class.__name__}: {type(self).__name__} trains subclasses of "
                f"{self.policy_base.__module__}.{self.policy_base.__name__} (or one of {', '.join(self.policy_aliases)})"
            )
        super().__init__(policy, env, **kwargs)  # type: ignore[arg-type]  # our _wrap_env adapts vector envs
        self.chunk_size = chunk_size
        self.carried_episodes = carried_episodes
        self._warned_about_cuts = False
        # Until the first rollout in which episodes end: whether all of them hit the time limit is checked once
        self._time_limits_checked = False
        self._rollout_episode_ends = 0
        self._rollout_truncations = 0

    @staticmethod
    def _wrap_env(env: AnyEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        # A natively vectorized env (gymnasium's or EnvPool's) becomes an SB3 VecEnv; the steps it
        # spends resetting, where it cannot reset in the ending step, are flagged and not trained on
        if isinstance(env, gym.vector.VectorEnv):
            if verbose >= 1:
                print("Wrapping the vector env in a VectorEnvAdapter.")
            env = VectorEnvAdapter(env, flag_reset_steps=True)
        return OnPolicyAlgorithm._wrap_env(env, verbose, monitor_wrapper)

    @property
    def uses_critic(self) -> bool:
        """Whether a value network is trained and bootstraps truncated and cut episodes."""
        raise NotImplementedError

    def _excluded_save_params(self) -> list[str]:
        # Derived from the saved arguments by _setup_model
        return [
            *super()._excluded_save_params(),
            "_chunk_rows",
            "_stored_dtypes",
            "_warned_about_cuts",
            "_time_limits_checked",
            "_rollout_episode_ends",
            "_rollout_truncations",
        ]

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        buffer_class: type[EpisodicRolloutBuffer] = self.rollout_buffer_class or self.default_rollout_buffer_class  # type: ignore[assignment]
        self.rollout_buffer = buffer_class(
            self.n_steps,
            self.observation_space,
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            store_bootstrap_observations=self.uses_critic,
            discard_carried_episodes=self.carried_episodes == "discarded",
            # rollout_buffer_kwargs may give a group_size to a baseline that does not use groups
            **{"group_size": self.group_size, **self.rollout_buffer_kwargs},
        )
        self.policy = self._make_policy().to(self.device)
        self._maybe_recommend_cpu()
        self._chunk_rows = self.chunk_size or _default_chunk_rows(self.observation_space)
        # What env outputs are stored as: a value that overflows them is refused like a NaN
        self._stored_dtypes = {
            "reward": self.rollout_buffer.rewards.dtype,
            **observation_dtypes(self.observation_space),
            **observation_dtypes(self.observation_space, "terminal observation"),
        }

    def _on_envs_reset(self) -> None:
        """Hook: forget the episodes the envs were in when ``learn`` resets them."""
        # Episodes carried from before the reset never finish: drop them
        self.rollout_buffer.reset()
        if self.group_size is not None:
            self._align_shared_starts()

    def _align_shared_starts(self) -> None:
        """
        After ``learn`` reset grouped envs: a group's envs that had finished different numbers of
        episodes (a learn() that ended or stopped mid-rollout) count their shared starts from
        different indices, so their next episodes would start apart. Then they are reset again,
        from a new base seed that all of them share.
        """
        assert self.env is not None and self.group_size is not None
        try:
            next_starts = np.array(self.env.get_attr("next_start")).reshape(-1, self.group_size)
        except AttributeError:
            # Not SharedStarts: the update's check refuses groups whose starts differ
            return
        if (next_starts == next_starts[:, :1]).all():
            return
        self.env.seed(int(np.random.randint(2**31)))
        self._last_obs = self.env.reset()  # type: ignore[assignment]

    def _make_policy(self) -> ActorCriticPolicy:
        """Hook: the policy, built from ``policy_class`` and ``policy_kwargs``."""
        return self.policy_class(  # type: ignore[return-value]
            self.observation_space, self.action_space, self.lr_schedule, use_sde=self.use_sde, **self.policy_kwargs
        )

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        envs_will_reset = reset_num_timesteps or self._last_obs is None
        result = super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        if envs_will_reset:
            self._on_envs_reset()
            check_finite({"observation": self._last_obs}, self._stored_dtypes, step=self.num_timesteps)  # type: ignore[dict-item]
        return result

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: EpisodicRolloutBuffer,  # type: ignore[override]
        n_rollout_steps: int,
    ) -> bool:
        """
        Collect at least ``n_rollout_steps`` transitions per env, then step on until every env has
        finished the episode it was in (or the storage is full, or the training budget is spent),
        and select the complete episodes for training.

        :param env: The training environment
        :param callback: Callback that will be called at each step
            (and at the beginning and end of the rollout)
        :param rollout_buffer: Buffer to fill with rollouts
        :param n_rollout_steps: Minimum number of transitions to collect per env
        :return: True if the rollout finished, False if a callback stopped training (the episodes
            that rollout completed are then not trained on).
        """
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        try:
            rollout_buffer.start_rollout()
            if self.use_sde:
                self.policy.reset_noise(env.num_envs)

            callback.on_rollout_start()

            continue_training = self._collect_steps(env, callback, rollout_buffer, n_rollout_steps)
            # Also when a callback stopped training: the unfinished episodes stay carried for a later learn()
            rollout_buffer.finish_rollout(self._last_obs, **self._state_at_rollout_end())
            if self.carried_episodes == "importance_weighted":
                # Before the update that makes them stale
                self._store_behaviour_log_probs(rollout_buffer)
        except BaseException:
            # An env error, a callback's exception or Ctrl-C can stop any step half-way, between the
            # envs, the buffer and the policy's state: the next learn() resets the envs, and with
            # them the buffer (_on_envs_reset), rather than train on episodes that lost steps
            self._last_obs = None
            raise
        if rollout_buffer.n_cut_segments and not self._warned_about_cuts:
            self._warned_about_cuts = True
            warnings.warn(_cut_segments_warning(rollout_buffer.max_steps_per_env, self.uses_critic))
        if not self._time_limits_checked and self._rollout_episode_ends:
            self._time_limits_checked = True
            if self._rollout_truncations == self._rollout_episode_ends and not self.uses_critic:
                warnings.warn(_time_limit_warning(self._rollout_episode_ends))
        if not continue_training:
            return False

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _collect_steps(
        self, env: VecEnv, callback: BaseCallback, rollout_buffer: EpisodicRolloutBuffer, n_rollout_steps: int
    ) -> bool:
        """The stepping loop of ``collect_rollouts``; False if a callback stopped training."""
        n_steps = 0
        self._rollout_episode_ends = self._rollout_truncations = 0
        # Whether the env flags the steps it spends resetting (VectorEnvAdapter over a next-step-reset engine)
        flags_reset_steps = bool(getattr(env, "flags_reset_steps", False))
        # Envs still running the episode they were in once n_rollout_steps were collected
        unfinished = np.ones(env.num_envs, dtype=bool)
        while unfinished.any() and not rollout_buffer.full and self.num_timesteps < self._total_timesteps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)

            obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
            with unvalidated_distributions():
                actions, extras = self._sample_actions(env, obs_tensor)
            # In the space's shape, as SB3's policies return them: a Box of shape (3, 1) is clipped row by row
            actions = actions.reshape((-1, *self.action_space.shape))  # type: ignore[misc]

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            new_obs, rewards, dones, infos = env.step(clipped_actions)
            terminal_envs = [int(idx) for idx in np.flatnonzero(dones) if "terminal_observation" in infos[idx]]
            check_finite({"reward": rewards, "observation": new_obs}, self._stored_dtypes, step=self.num_timesteps)  # type: ignore[dict-item]
            if terminal_envs:
                # One check of all of them: with many envs, several episodes end in most steps
                terminal_observations = _stack_rows([infos[idx]["terminal_observation"] for idx in terminal_envs])
                check_finite(
                    {"terminal observation": terminal_observations},
                    self._stored_dtypes,
                    step=self.num_timesteps,
                    env_indices=terminal_envs,
                )

            self.num_timesteps += env.num_envs
            n_steps += 1
            truncation_observations = {
                idx: infos[idx]["terminal_observation"]
                for idx in terminal_envs
                if infos[idx].get("TimeLimit.truncated", False)
            }
            reset_steps = None
            episode_ends = dones
            if flags_reset_steps:
                # A reset step comes with done, but ends no episode: the env still has to finish the one it starts
                reset_steps = np.zeros(env.num_envs, dtype=bool)
                reset_steps[[idx for idx in np.flatnonzero(dones) if RESET_STEP_KEY in infos[idx]]] = True
                episode_ends = dones & ~reset_steps
            self._rollout_episode_ends += int(episode_ends.sum())
            self._rollout_truncations += len(truncation_observations)
            # Stored before the callbacks run, so that a callback stopping training leaves
            # the buffer and the last observation consistent with the envs
            rollout_buffer.add(self._last_obs, actions, rewards, dones, truncation_observations, reset_steps, **extras)  # type: ignore[arg-type]
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

            callback.update_locals(locals())
            continue_training = callback.on_step()
            self._update_info_buffer(infos, dones)
            if not continue_training:
                return False
            if n_steps >= n_rollout_steps:
                unfinished &= ~episode_ends
        return True

    def _update_info_buffer(self, infos: list[dict[str, Any]], dones: np.ndarray | None = None) -> None:
        if dones is None:
            super()._update_info_buffer(infos)
            return
        # SB3's, on the envs whose episode ended: Monitor, VecMonitor and VectorEnvAdapter put the
        # episode's statistics in its last step's info only, and with many envs most infos have none
        ended = np.flatnonzero(dones)
        super()._update_info_buffer([infos[idx] for idx in ended], np.ones(len(ended), dtype=bool))

    def _sample_actions(self, env: VecEnv, observations: PyTorchObs) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """
        Hook: the actions of one step of all envs (as sampled, before clipping), and the per-step
        extras that the buffer stores with them (by the name of its ``transition_arrays``).

        :param env: The training environment
        :param observations: The current observations, as tensors
        """
        with th.no_grad():
            actions = self.policy.get_distribution(observations).get_actions().cpu().numpy()
        return actions, {}

    def _store_behaviour_log_probs(self, rollout_buffer: EpisodicRolloutBuffer) -> None:
        """
        Hook: store the collecting policy's log-probabilities of the actions that the next rollout
        carries, which weight them there (``carried_episodes="importance_weighted"``): one batched
        evaluation of the buffer's ``tail_batch()``, ``chunk_size`` at a time, at the end of the
        rollout, rather than a log-probability at every step.
        """
        tail = rollout_buffer.tail_batch()
        if len(tail.actions) > 0:
            rollout_buffer.set_tail_behaviour_log_probs(self._log_probs(tail).cpu().numpy())

    def _state_at_rollout_end(self) -> dict[str, np.ndarray]:
        """
        Hook: the policy's per-env state at the end of a rollout, by the name of a keyword of the
        buffer's ``finish_rollout``, which keeps it for the rest of an episode cut there (a
        recurrent policy's hidden states). A feed-forward policy has none.
        """
        return {}

    def _evaluate_actions(self, batch: EpisodeBatch) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """
        Hook: the critic's values (None without a critic), the log-probabilities of the batch's
        actions and the entropies (None where the distribution has no analytical one) on a chunk
        of the batch.
        """
        if self.uses_critic:
            return self.policy.evaluate_actions(batch.observations, batch.actions)
        distribution = self.policy.get_distribution(batch.observations)
        return None, distribution.log_prob(batch.actions), distribution.entropy()

    def _evaluate_values(self, batch: EpisodeBatch) -> th.Tensor:
        """Hook: the critic's values on a chunk of the batch (with their gradient)."""
        return self.policy.predict_values(batch.observations)

    def _critic_values(self, batch: EpisodeBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """
        Hook: the critic's values of the batch's transitions, in order, and of the buffer's
        ``bootstrap_observations()`` (None when there is none), without gradient.
        """
        bootstrap_observations = self.rollout_buffer.bootstrap_observations()
        bootstrap_values = None if bootstrap_observations is None else self._predict_values(bootstrap_observations)
        return self._predict_values(batch.observations), bootstrap_values

    def _predict_values(self, observations: PyTorchObs) -> np.ndarray:
        """The critic's values of a batch of observations, evaluated ``chunk_size`` at a time."""
        with th.no_grad():
            values = [
                self.policy.predict_values(select_rows(observations, chunk)).flatten().cpu().numpy()
                for chunk in chunk_slices(n_rows(observations), self._chunk_rows)
            ]
        return np.concatenate(values)

    def _importance_weights(self, batch: EpisodeBatch) -> np.ndarray | None:
        """
        With ``carried_episodes="importance_weighted"``, the per-decision importance weights of the
        batch's transitions (see ``EpisodicRolloutBuffer.importance_weights``): the current policy's
        log-probabilities of the carried actions, evaluated ``chunk_size`` at a time, against those
        stored at collection. None when nothing is carried (or no weighting is asked for).
        """
        carried = th.nonzero(batch.carried).flatten()
        if self.carried_episodes != "importance_weighted" or len(carried) == 0:
            return None
        log_ratios = (self._log_probs(batch, carried).double() - batch.behaviour_log_probs[carried].double()).cpu().numpy()
        return self.rollout_buffer.importance_weights(log_ratios)

    def _log_probs(self, batch: EpisodeBatch, indices: th.Tensor | None = None) -> th.Tensor:
        """
        The current policy's log-probabilities of the batch's actions (or of those at ``indices``),
        evaluated ``chunk_size`` at a time, without gradient.
        """
        chunks = chunk_slices(len(batch.actions), self._chunk_rows) if indices is None else th.split(indices, self._chunk_rows)
        with th.no_grad():
            return th.cat([self._evaluate_actions(batch.select(chunk))[1] for chunk in chunks])

    def _accumulate_gradient(
        self,
        indices: slice | th.Tensor,
        n_transitions: int,
        chunk_losses: Callable[[slice | th.Tensor], dict[str, th.Tensor]],
    ) -> dict[str, float]:
        """
        Back-propagate the mean loss over the transitions ``indices`` of the batch, ``chunk_size``
        of them at a time: each chunk's mean losses, weighted by the chunk's share of the
        transitions, sum to the means over all of them, and so do their gradients.

        :param indices: ``slice(None)`` (the whole batch) or a tensor of indices
        :param n_transitions: Transitions in the batch
        :param chunk_losses: The mean losses over a chunk (given as a slice or indices), by name;
            ``"loss"`` is back-propagated
        :return: The mean of each loss over ``indices``
        """
        if isinstance(indices, slice):
            chunks: list[slice] | list[th.Tensor] = chunk_slices(n_transitions, self._chunk_rows)
            n_selected = n_transitions
        else:
            chunks = list(th.split(indices, self._chunk_rows))
            n_selected = len(indices)
        totals: dict[str, float] = {}
        for chunk in chunks:
            chunk_length = chunk.stop - chunk.start if isinstance(chunk, slice) else len(chunk)
            weight = chunk_length / n_selected
            losses = chunk_losses(chunk)
            (losses["loss"] * weight).backward()
            for name, loss in losses.items():
                totals[name] = totals.get(name, 0.0) + loss.item() * weight
        return totals

    def _optimizer_step(self) -> None:
        """One optimizer step on the accumulated gradient, its norm clipped to ``max_grad_norm``."""
        th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.policy.optimizer.step()

    def save(
        self,
        path: str | pathlib.Path | Any,
        exclude: Any = None,
        include: Any = None,
        keep_pickles: bool = True,
    ) -> None:
        """
        Save all the attributes of the object and the model parameters in a zip-file.

        The file is SB3's, plus ``safe_data.json``: every entry that SB3 pickles, described as
        data, so that :meth:`load` never has to unpickle it. SB3's pickles of those entries stay
        in the file by default, for SB3's own readers (``load_from_zip_file``, tools built on
        ``BaseAlgorithm.load``); :meth:`load` never reads them. Saving to a path is atomic: the file is
        written next to its destination and then renamed, so an interrupted save never leaves a
        corrupt or half-written model behind. Otherwise the file is what SB3's ``save`` writes: a
        new file's mode follows the umask, an overwritten file keeps its mode, and a symlink is
        written through.

        :param path: path to the file where the rl agent should be saved
            (``.zip`` is added when it has no suffix), or a file-like object
        :param exclude: name of parameters that should be excluded in addition to the default ones
        :param include: name of parameters that might be excluded but should be included anyway
            (:meth:`load` accepts only the entries of ``saved_data_schema``)
        :param keep_pickles: Keep SB3's pickles beside the safe descriptions. False writes a file
            that holds no pickle at all: only :meth:`load` reads it, and an entry that only pickle
            can store (a custom class) raises ``ValueError`` before anything is written.
        """
        buffer = io.BytesIO()
        super().save(buffer, exclude=exclude, include=include)
        content = add_safe_data(buffer.getvalue(), vars(self), self.policy_aliases, type(self).__name__, keep_pickles)
        if not isinstance(path, (str, os.PathLike)):
            path.write(content)
            return
        destination = pathlib.Path(path)
        if destination.suffix == "":
            destination = destination.with_suffix(".zip")
        write_atomically(destination, lambda temporary: temporary.write_bytes(content))

    @classmethod
    def load(
        cls: type[SelfEpisodicOnPolicyAlgorithm],
        path: str | pathlib.Path | Any,
        env: AnyEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        allow_pickle: bool = False,
        **kwargs: Any,
    ) -> SelfEpisodicOnPolicyAlgorithm:
        """
        Load a model from a zip-file saved by :meth:`save` of the same class, without unpickling
        anything, and checking everything the file declares before building anything from it.

        - ``data`` may hold only the entries that :meth:`save` writes, each of its type and in its
          range (``saved_data_schema``), so the file cannot choose the env, the device or anything
          else the constructor would act on.
        - The entries that SB3 pickles (spaces, policy class, schedules, classes in
          ``policy_kwargs``, episode-info buffers, last observations) are rebuilt from the file's
          ``safe_data.json``, importing only allow-listed classes (torch modules and optimizers,
          SB3's, sb3-contrib's and this package's) from where they are defined.
        - The weights are read with ``weights_only=True``, and the declared spaces are checked
          against their shapes before the policy is built.

        Every refusal is a ``ValueError`` that names the file and the entry: a damaged or truncated
        file, a save of another class (the message names the class to load it with), an entry out
        of its range, or one that only unpickling could load (a save by SB3 or an older version, a
        custom class).

        :param path: path to the file (or a file-like) where to load the agent from
        :param env: the new environment to run the loaded model on (can be None if you only need
            prediction from a trained model); a gymnasium ``VectorEnv`` is wrapped in
            :class:`~sb3_reinforce.VectorEnvAdapter`, as the constructor does
        :param device: Device on which the code should run
        :param custom_objects: Dictionary of objects to replace upon loading: an entry named here is
            neither rebuilt nor unpickled: the given value is used instead
        :param print_system_info: Whether to print system info from the saved model
            and the current system info (useful to debug loading issues)
        :param force_reset: Force call to ``reset()`` before training to avoid unexpected behavior
        :param allow_pickle: Trust the file: decode its pickled entries as SB3 does, which runs any
            code they hold. Only for files whose origin you trust; ``custom_objects`` replaces
            single entries instead.
        :param kwargs: extra arguments to change the model when loading
        :return: new model instance with loaded parameters
        """
        content = read_model_file(path)
        name = cls.__name__
        try:
            archive = read_model_archive(content, name)
            saved_by = archive.described.get("algorithm")
            if saved_by is not None and saved_by != name:
                raise ValueError(f"it is a {saved_by} save: load it with {saved_by}.load")
            schema = cls.saved_data_schema()
            check_plain_entries(archive.data, schema, name)
            objects = dict(custom_objects or {})
            if not allow_pickle:
                objects = safe_custom_objects(archive.data, archive.described, cls.policy_aliases, objects)
                check_described_entries(
                    {key: value for key, value in objects.items() if key not in (custom_objects or {})}, schema
                )
                cls._check_saved_model({**archive.data, **objects}, archive.policy_shapes)
        except (zipfile.BadZipFile, EOFError, json.JSONDecodeError) as error:
            raise ValueError(f"Cannot load {path}: not a complete {name} save ({error})") from error
        except UnsafeFileError as error:
            raise UnsafeFileError(error.refused, f"Cannot load {path}") from error
        except ValueError as error:
            raise ValueError(f"Cannot load {path}: {error}") from error
        try:
            return super().load(
                io.BytesIO(content),
                env=env,  # type: ignore[arg-type]  # our _wrap_env adapts vector envs
                device=device,
                custom_objects=objects,
                print_system_info=print_system_info,
                force_reset=force_reset,
                **kwargs,
            )
        except RuntimeError as error:
            if "state_dict" not in str(error):
                raise
            raise ValueError(f"Cannot load {path}: its weights do not fit the policy it declares ({error})") from error

    @classmethod
    def saved_data_schema(cls) -> dict[str, SavedEntry]:
        """
        The entries that :meth:`save` writes to a model file's ``data``, by name, with what
        :meth:`load` accepts for each; a subclass adds its own attributes.
        """
        count = SavedEntry(plain=integer(0))
        observations = SavedEntry(plain=is_none, described=instance_of(np.ndarray, dict))
        episode_infos = SavedEntry(plain=is_none, described=instance_of(deque))
        return {
            "policy_class": SavedEntry(described=subclass_of(cls.policy_base), required=True),
            "observation_space": SavedEntry(described=instance_of(spaces.Space), required=True),
            "action_space": SavedEntry(described=instance_of(spaces.Space), required=True),
            "lr_schedule": SavedEntry(described=callable_value),
            "learning_rate": SavedEntry(plain=number(), described=callable_value),
            "policy_kwargs": SavedEntry(plain=json_object, described=instance_of(dict)),
            "verbose": count,
            "num_timesteps": count,
            "_total_timesteps": count,
            "_num_timesteps_at_start": count,
            "_episode_num": count,
            "_n_updates": count,
            "start_time": SavedEntry(plain=number()),
            "seed": SavedEntry(plain=optional(integer())),
            "action_noise": SavedEntry(plain=is_none),
            "tensorboard_log": SavedEntry(plain=optional(instance_of(str))),
            "_last_obs": observations,
            "_last_original_obs": observations,
            "_last_episode_starts": SavedEntry(plain=is_none, described=instance_of(np.ndarray)),
            "ep_info_buffer": episode_infos,
            "ep_success_buffer": episode_infos,
            "use_sde": SavedEntry(plain=boolean),
            "sde_sample_freq": SavedEntry(plain=integer()),
            "_current_progress_remaining": SavedEntry(plain=number()),
            "_stats_window_size": SavedEntry(plain=integer(1)),
            "n_envs": SavedEntry(plain=integer(1, MAX_SAVED_ENVS)),
            "n_steps": SavedEntry(plain=integer(1, MAX_SAVED_STEPS)),
            "gamma": SavedEntry(plain=number(0.0, 1.0)),
            "gae_lambda": SavedEntry(plain=number(0.0, 1.0)),
            "ent_coef": SavedEntry(plain=number()),
            "vf_coef": SavedEntry(plain=number()),
            "max_grad_norm": SavedEntry(plain=number(0.0, above=True)),
            "rollout_buffer_class": SavedEntry(plain=is_none, described=subclass_of(cls.default_rollout_buffer_class)),
            "rollout_buffer_kwargs": SavedEntry(plain=_buffer_kwargs),
            "chunk_size": SavedEntry(plain=optional(integer(1))),
            "carried_episodes": SavedEntry(plain=one_of(*CARRIED_EPISODES)),
        }

    @classmethod
    def _check_saved_model(cls, entries: dict[str, Any], policy_shapes: dict[str, tuple[int, ...]]) -> None:
        """
        Hook: raise ``ValueError`` naming an entry of a save that its other entries or its weights
        contradict, once each entry has passed its own check (``saved_data_schema``).

        :param entries: The save's entries, the pickled ones rebuilt
        :param policy_shapes: The shape of each tensor of its ``policy.pth``
        """
        last_obs = entries.get("_last_obs")
        if last_obs is not None and "n_envs" in entries:
            rows = n_rows(last_obs)
            if rows != entries["n_envs"]:
                raise ValueError(f"entry 'n_envs': {entries['n_envs']}, but '_last_obs' holds the observations of {rows} envs")
        check_spaces_fit_weights(entries["observation_space"], entries["action_space"], policy_shapes)


def _buffer_kwargs(value: Any) -> None:
    """What ``load`` accepts as ``rollout_buffer_kwargs``: the buffer's memory bound, nothing that builds anything."""
    json_object(value)
    if not set(value) <= {"max_steps_per_env"}:
        raise ValueError(f"{value!r} holds keys other than 'max_steps_per_env'")
    optional(integer(1, MAX_SAVED_STEPS))(value.get("max_steps_per_env"))


def _cut_segments_warning(max_steps_per_env: int, uses_critic: bool) -> str:
    """What to change when episodes are cut at the memory bound."""
    bootstrap = "V(s) of the critic" if uses_critic else "0 (no critic)"
    return (
        f"An episode ran past max_steps_per_env={max_steps_per_env} stored transitions and was cut: each cut segment is "
        f"trained as if truncated there, bootstrapped with {bootstrap}, and an env whose episodes never end gives one "
        f"update per {max_steps_per_env} steps. Give the env a time limit (gymnasium's TimeLimit wrapper or "
        "max_episode_steps), or lower rollout_buffer_kwargs=dict(max_steps_per_env=...) (down to n_steps, which cuts "
        "like A2C's fixed-length rollouts) for more frequent updates. train/n_cut_segments counts the cuts per batch."
    )


def _time_limit_warning(n_episodes: int) -> str:
    """Why a first rollout whose episodes all hit the time limit is a bad start without a critic."""
    return (
        f"Every episode that ended in the first rollout ({n_episodes} of {n_episodes}) was truncated by a time limit, "
        "and without a critic nothing bootstraps them: their returns end at the limit, so they tell how many steps "
        "were left rather than how well the policy did. Tasks whose episodes rarely end before the limit (Acrobot-v1, "
        "MountainCar-v0) do not learn this way at the defaults (measured: Acrobot-v1 stayed at -500): use "
        "baseline='critic' with VecNormalize, as the Acrobot-v1 preset of the zoo (docs/guide/recipes.md)."
    )


def _default_chunk_rows(observation_space: spaces.Space) -> int:
    """``chunk_size``'s default: the transitions whose float32 observations fit ``DEFAULT_CHUNK_BYTES``."""
    spaces_ = observation_space.spaces.values() if isinstance(observation_space, spaces.Dict) else [observation_space]
    # The networks' input: one-hot for discrete spaces, as SB3 preprocesses them
    float_bytes = 4 * sum(get_flattened_obs_dim(space) for space in spaces_)
    return max(1, min(DEFAULT_MAX_CHUNK_ROWS, DEFAULT_CHUNK_BYTES // float_bytes))


def _stack_rows(rows: list[np.ndarray | dict[str, np.ndarray]]) -> np.ndarray | dict[str, np.ndarray]:
    """Envs' (plain or ``Dict``) observations as one batch."""
    first = rows[0]
    if isinstance(first, dict):
        return {key: np.stack([np.asarray(row[key]) for row in rows]) for key in first}
    return np.stack([np.asarray(row) for row in rows])
