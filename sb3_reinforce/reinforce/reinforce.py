import os
import pathlib
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, Schedule
from stable_baselines3.common.utils import explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from sb3_reinforce.common.buffers import EpisodicRolloutBuffer
from sb3_reinforce.reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")

Baseline = Literal["none", "mean", "critic"]
BASELINES: tuple[str, ...] = ("none", "mean", "critic")
SUPPORTED_ACTION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
# Weight of the newest batch in the running mean of returns used by ``baseline="mean"``
MEAN_BASELINE_UPDATE_RATE = 0.1


class REINFORCE(OnPolicyAlgorithm):
    """
    REINFORCE: Monte-Carlo policy gradient (Williams 1992), trained on complete episodes,
    with an optional baseline.

    The policy gradient is ``E[sum_t grad log pi(a_t|s_t) * Phi_t]`` where ``Phi_t`` is the
    discounted reward-to-go ``G_t`` minus a baseline: nothing (``"none"``), a running mean of
    returns (``"mean"``) or a learned state value ``V(s_t)`` (``"critic"``).

    Rollouts collect at least ``n_steps`` transitions per env, then keep stepping until each env
    has finished the episode it was in; an episode that starts in an env after its last episode end
    is carried into the next rollout (see :class:`~sb3_reinforce.common.buffers.EpisodicRolloutBuffer`).
    ``n_steps=1`` with one env is the textbook one-episode-per-update REINFORCE. Each rollout
    gives one gradient step, or one per minibatch of ``batch_size`` transitions.

    The constructor takes every keyword of SB3's ``A2C`` with the same meaning, except where noted.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: Minimum number of transitions collected per env in each rollout. Unlike A2C,
        a rollout then continues until each env finishes its current episode, so a batch holds
        complete episodes (more than ``n_steps * n_envs`` transitions).
    :param gamma: Discount factor, in [0, 1]
    :param gae_lambda: With ``baseline="critic"``: factor of the Generalized Advantage Estimator;
        1.0 (default) gives the Monte-Carlo advantage ``G_t - V(s_t)``, lower values trade variance
        for bias as in Spinning Up's VPG. Ignored (with a warning) by the other baselines.
    :param ent_coef: Entropy coefficient for the loss calculation
    :param vf_coef: Value function coefficient for the loss calculation (critic only; must be
        positive with ``baseline="critic"``)
    :param max_grad_norm: The maximum value for the gradient clipping
    :param rms_prop_eps: RMSProp epsilon, used when ``use_rms_prop=True``
    :param use_rms_prop: Whether to use RMSprop (A2C's default) or Adam (REINFORCE's default)
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use: ``EpisodicRolloutBuffer`` (default)
        or a subclass of it. SB3's fixed-size ``RolloutBuffer`` cannot hold whole episodes.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation,
        e.g. ``max_steps_per_env`` (the memory bound, see ``EpisodicRolloutBuffer``).
    :param normalize_advantage: Whether to standardize ``Phi_t`` over the batch. A batch whose
        ``Phi_t`` are all equal (or has a single step) gives zero policy gradient, not NaN.
    :param baseline: ``"none"``, ``"mean"`` (default: it learned CartPole-v1 fastest and most
        stably of the three, see the docs) or ``"critic"``. Without a critic, no value network is
        evaluated or trained, and a truncated episode's return is the sum of the rewards it
        collected (bootstrap 0).
    :param gamma_t_weighting: Weight each step's gradient by ``gamma**t``, ``t`` being the step's
        index in its episode, as in the textbook pseudo-algorithm
        (``theta <- theta + alpha * gamma**t * G_t * grad log pi``). Off by default: it is the exact
        gradient of the discounted objective from the start state, but starves late steps of signal.
    :param batch_size: Transitions per policy gradient step. None (default): one step on the whole
        batch of episodes. Otherwise the batch is shuffled and split into minibatches of this size,
        one gradient step each, every transition used once; the returns, advantages and their
        standardization are computed on the whole batch first. Sutton and Barto's pseudo-code steps
        after every transition of the episode (``batch_size=1``). More steps per batch help when
        episodes are long: LunarLander-v3's last up to 1000 steps.
    :param critic_gradient_steps: With ``baseline="critic"``: gradient steps on each batch's value
        loss. The first is taken together with the policy's step; the others on the value loss
        alone, so the critic fits returns of a large scale without reward normalization (Spinning
        Up's VPG takes 80). The actor is unchanged by them unless it shares layers with the critic.
    :param target_kl: With ``batch_size``: limit on how far the minibatch steps of one batch move the
        policy. Later minibatches are not corrected for the steps before them, so once the
        approximate KL divergence between the policy before the batch's first step (the one that
        collected it) and the current one, measured on the next minibatch, exceeds
        ``1.5 * target_kl`` (SB3's PPO rule), the batch's remaining minibatches are skipped.
        None (default): no limit.
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    rollout_buffer: EpisodicRolloutBuffer  # type: ignore[assignment]

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_steps: int = 1,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        rms_prop_eps: float = 1e-5,
        use_rms_prop: bool = False,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[EpisodicRolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        normalize_advantage: bool = True,
        baseline: Baseline = "mean",
        gamma_t_weighting: bool = False,
        batch_size: int | None = None,
        critic_gradient_steps: int = 1,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        _check_arguments(
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            baseline=baseline,
            rollout_buffer_class=rollout_buffer_class,
            batch_size=batch_size,
            critic_gradient_steps=critic_gradient_steps,
            target_kl=target_kl,
        )
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,  # type: ignore[arg-type]
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device=device,
            seed=seed,
            _init_setup_model=False,
        )
        action_space = getattr(self, "action_space", None)  # unset when loading without an env
        if action_space is not None and not isinstance(action_space, SUPPORTED_ACTION_SPACES):
            names = ", ".join(space.__name__ for space in SUPPORTED_ACTION_SPACES)
            raise ValueError(f"env: REINFORCE does not support the action space {action_space}; supported: {names}")

        self.normalize_advantage = normalize_advantage
        self.baseline = baseline
        self.gamma_t_weighting = gamma_t_weighting
        self.batch_size = batch_size
        self.critic_gradient_steps = critic_gradient_steps
        self.target_kl = target_kl
        self.return_mean: float | None = None

        if use_rms_prop and "optimizer_class" not in self.policy_kwargs:
            self.policy_kwargs["optimizer_class"] = th.optim.RMSprop
            self.policy_kwargs["optimizer_kwargs"] = dict(alpha=0.99, eps=rms_prop_eps, weight_decay=0)

        if _init_setup_model:
            self._setup_model()

    @property
    def uses_critic(self) -> bool:
        """Whether a value network is trained and used as the baseline."""
        return self.baseline == "critic"

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        buffer_class: type[EpisodicRolloutBuffer] = self.rollout_buffer_class or EpisodicRolloutBuffer  # type: ignore[assignment]
        self.rollout_buffer = buffer_class(
            self.n_steps,
            self.observation_space,
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            store_bootstrap_observations=self.uses_critic,
            **self.rollout_buffer_kwargs,
        )
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, use_sde=self.use_sde, **self.policy_kwargs
        )
        self.policy = self.policy.to(self.device)
        self._maybe_recommend_cpu()

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
            # Episodes carried from before the reset never finish: drop them
            self.rollout_buffer.reset()
            _check_finite(self._last_obs, None, step=self.num_timesteps)  # type: ignore[arg-type]
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
        rollout_buffer.start_rollout()
        if self.use_sde:
            self.policy.reset_noise(env.num_envs)

        callback.on_rollout_start()

        with _without_distribution_validation():
            continue_training = self._collect_steps(env, callback, rollout_buffer, n_rollout_steps)
        # Also when a callback stopped training: the unfinished episodes stay carried for a later learn()
        rollout_buffer.finish_rollout(self._last_obs)
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
        # Envs still running the episode they were in once n_rollout_steps were collected
        unfinished = np.ones(env.num_envs, dtype=bool)
        while unfinished.any() and not rollout_buffer.full and self.num_timesteps < self._total_timesteps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)

            with th.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                actions = self.policy.get_distribution(obs_tensor).get_actions().cpu().numpy()

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            new_obs, rewards, dones, infos = env.step(clipped_actions)
            try:
                _check_finite(new_obs, rewards, step=self.num_timesteps)  # type: ignore[arg-type]
            except ValueError:
                # The envs are in an unknown state: reset them (and drop carried episodes) next time
                self._last_obs = None
                raise

            self.num_timesteps += env.num_envs
            n_steps += 1
            truncation_observations = {
                int(idx): infos[idx]["terminal_observation"]
                for idx in np.flatnonzero(dones)
                if infos[idx].get("TimeLimit.truncated", False) and "terminal_observation" in infos[idx]
            }
            # Stored before the callbacks run, so that a callback stopping training leaves
            # the buffer and the last observation consistent with the envs
            rollout_buffer.add(self._last_obs, actions, rewards, dones, truncation_observations)  # type: ignore[arg-type]
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

            callback.update_locals(locals())
            continue_training = callback.on_step()
            self._update_info_buffer(infos, dones)
            if not continue_training:
                return False
            if n_steps >= n_rollout_steps:
                unfinished &= ~dones
        return True

    def train(self) -> None:
        """
        Update the policy (and the critic) on the complete episodes of the last rollout: one
        gradient step on the whole batch, or one per minibatch of ``batch_size`` transitions until
        ``target_kl`` stops them; the critic then takes ``critic_gradient_steps - 1`` more steps on
        its value loss.
        """
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        buffer = self.rollout_buffer
        self.logger.record("train/n_episodes", buffer.n_episodes)
        self.logger.record("train/batch_size", buffer.n_transitions)
        if buffer.n_transitions == 0:
            # No episode finished in this rollout (e.g. the budget ran out): nothing to learn from
            return

        batch = buffer.get()
        actions = batch.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.flatten()

        values_np, returns_np, advantages_np = self._values_returns_and_advantages(batch.observations)
        returns = th.as_tensor(returns_np, dtype=th.float32, device=self.device)
        advantages = th.as_tensor(advantages_np, dtype=th.float32, device=self.device)
        if self.normalize_advantage:
            advantages = _standardize(advantages)
        if self.gamma_t_weighting:
            advantages = advantages * self.gamma ** batch.episode_steps.to(advantages.dtype)

        minibatches = self._minibatches(len(advantages))
        behaviour_log_prob = self._behaviour_log_prob(batch.observations, actions, len(minibatches))
        policy_losses, entropy_losses = [], []
        for indices in minibatches:
            observations = _select(batch.observations, indices)
            if self.uses_critic:
                values, log_prob, entropy = self.policy.evaluate_actions(observations, actions[indices])
                value_loss = F.mse_loss(returns[indices], values.flatten())
            else:
                distribution = self.policy.get_distribution(observations)
                log_prob, entropy = distribution.log_prob(actions[indices]), distribution.entropy()
            if behaviour_log_prob is not None and self._moved_too_far(behaviour_log_prob[indices], log_prob):
                break
            policy_loss = -(advantages[indices] * log_prob).mean()
            # Without an analytical entropy, -log_prob estimates it
            entropy_loss = -th.mean(-log_prob) if entropy is None else -th.mean(entropy)
            loss = policy_loss + self.ent_coef * entropy_loss
            if self.uses_critic:
                loss = loss + self.vf_coef * value_loss
            if not th.isfinite(loss):
                raise FloatingPointError(
                    f"REINFORCE loss is {loss.item()} at timestep {self.num_timesteps}; that gradient step was "
                    "skipped (lower learning_rate or check the rewards' scale)"
                )
            self._gradient_step(loss)
            self._n_updates += 1
            policy_losses.append(policy_loss.item())
            entropy_losses.append(entropy_loss.item())

        if self.uses_critic:
            for _ in range(self.critic_gradient_steps - 1):
                value_loss = F.mse_loss(returns, self.policy.predict_values(batch.observations).flatten())
                self._gradient_step(self.vf_coef * value_loss)
            # The value loss of the critic's last gradient step
            self.logger.record("train/value_loss", value_loss.item())
            assert values_np is not None
            self.logger.record("train/explained_variance", explained_variance(values_np, returns_np))
        elif self.baseline == "mean":
            self._update_mean_baseline(returns_np)

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/policy_steps", len(policy_losses))
        self.logger.record("train/entropy_loss", float(np.mean(entropy_losses)))
        self.logger.record("train/policy_loss", float(np.mean(policy_losses)))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    def _values_returns_and_advantages(self, observations: PyTorchObs) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """
        The critic's values of the batch (None without a critic), its returns and its advantages
        (returns minus the baseline, or GAE with the critic), before any gradient step.
        """
        buffer = self.rollout_buffer
        if not self.uses_critic:
            returns, advantages = buffer.compute_returns_and_advantages()
            if self.baseline == "mean":
                advantages = advantages - (self.return_mean or 0.0)
            return None, returns, advantages
        with th.no_grad():
            values = self.policy.predict_values(observations).flatten().cpu().numpy()
            bootstrap_obs = buffer.bootstrap_observations()
            bootstrap_values = None
            if bootstrap_obs is not None:
                bootstrap_values = self.policy.predict_values(bootstrap_obs).flatten().cpu().numpy()
        return values, *buffer.compute_returns_and_advantages(values, bootstrap_values)

    def _behaviour_log_prob(self, observations: PyTorchObs, actions: th.Tensor, n_minibatches: int) -> th.Tensor | None:
        """
        Log-probabilities of the batch's actions under the policy before any step on the batch,
        when ``target_kl`` has later minibatches to check.
        """
        if self.target_kl is None or n_minibatches == 1:
            return None
        with th.no_grad():
            return self.policy.get_distribution(observations).log_prob(actions)

    def _moved_too_far(self, behaviour_log_prob: th.Tensor, log_prob: th.Tensor) -> bool:
        """Whether the policy has moved more than ``1.5 * target_kl`` from where the batch's update started."""
        assert self.target_kl is not None
        approx_kl = _approx_kl(behaviour_log_prob, log_prob.detach())
        self.logger.record("train/approx_kl", approx_kl)
        return approx_kl > 1.5 * self.target_kl

    def _minibatches(self, n_transitions: int) -> list[slice] | list[th.Tensor]:
        """Indices of each gradient step's transitions: all of them, or a shuffled split into ``batch_size`` chunks."""
        if self.batch_size is None or self.batch_size >= n_transitions:
            return [slice(None)]
        order = th.as_tensor(np.random.permutation(n_transitions), device=self.device)
        return list(th.split(order, self.batch_size))

    def _update_mean_baseline(self, returns: np.ndarray) -> None:
        """Log how well the running mean fitted this batch's returns, then move it towards them."""
        baseline_values = np.full_like(returns, self.return_mean or 0.0)
        self.logger.record("train/value_loss", float(np.mean((returns - baseline_values) ** 2)))
        self.logger.record("train/explained_variance", explained_variance(baseline_values, returns))
        # Updated after the step, so the baseline never depends on the batch it is applied to
        batch_mean = float(returns.mean())
        if self.return_mean is None:
            self.return_mean = batch_mean
        else:
            self.return_mean += MEAN_BASELINE_UPDATE_RATE * (batch_mean - self.return_mean)

    def _gradient_step(self, loss: th.Tensor) -> None:
        """One optimizer step on ``loss``, with the gradient norm clipped to ``max_grad_norm``."""
        self.policy.optimizer.zero_grad()
        loss.backward()
        th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.policy.optimizer.step()

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def save(
        self,
        path: str | pathlib.Path | Any,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """
        Save all the attributes of the object and the model parameters in a zip-file.
        Saving to a path is atomic: the file is written next to its destination and then renamed,
        so an interrupted save never leaves a corrupt or half-written model behind.

        :param path: path to the file where the rl agent should be saved
            (``.zip`` is added when it has no suffix), or a file-like object
        :param exclude: name of parameters that should be excluded in addition to the default ones
        :param include: name of parameters that might be excluded but should be included anyway
        """
        if not isinstance(path, (str, pathlib.Path)):
            super().save(path, exclude=exclude, include=include)
            return
        destination = pathlib.Path(path)
        if destination.suffix == "":
            destination = destination.with_suffix(".zip")
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".zip")
        os.close(fd)
        try:
            super().save(temporary, exclude=exclude, include=include)
            os.replace(temporary, destination)
        except BaseException:
            pathlib.Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls: type[SelfREINFORCE],
        path: str | pathlib.Path | Any,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfREINFORCE:
        """
        Load a REINFORCE model from a zip-file saved by :meth:`save`. Raises ``ValueError`` when
        the file is not a zip-file, is truncated, or was saved by another algorithm.

        See ``stable_baselines3.common.base_class.BaseAlgorithm.load`` for the parameters.
        """
        try:
            data, _, _ = load_from_zip_file(path, device="cpu", custom_objects=custom_objects, load_data=True)
        except (zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as error:
            raise ValueError(f"Cannot load {path}: not a complete REINFORCE save ({error})") from error
        if data is None:
            raise ValueError(f"Cannot load {path}: not a complete REINFORCE save (it holds no model data; truncated?)")
        if data.get("baseline") not in BASELINES:
            raise ValueError(
                f"Cannot load {path}: it is not a REINFORCE save (saved by another algorithm, "
                "load it with that algorithm's class)"
            )
        if hasattr(path, "seek"):
            path.seek(0)
        return super().load(
            path,
            env=env,
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )


@contextmanager
def _without_distribution_validation() -> Iterator[None]:
    """
    Skip torch.distributions' argument checks while sampling actions: they cost about a third of
    the policy's forward pass, and the policy's outputs are finite (losses are checked in train).
    """
    previous = th.distributions.Distribution._validate_args
    th.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        th.distributions.Distribution.set_default_validate_args(previous)


def _select(observations: PyTorchObs, indices: th.Tensor | slice) -> PyTorchObs:
    """The rows ``indices`` of a batch of (plain or ``Dict``) observations."""
    if isinstance(observations, dict):
        return {key: value[indices] for key, value in observations.items()}
    return observations[indices]


def _approx_kl(behaviour_log_prob: th.Tensor, log_prob: th.Tensor) -> float:
    """Low-variance estimate of KL(behaviour || current) from the log-probabilities of the taken actions."""
    log_ratio = log_prob - behaviour_log_prob
    return th.mean(th.exp(log_ratio) - 1 - log_ratio).item()


def _standardize(values: th.Tensor) -> th.Tensor:
    """Zero mean, unit std over the batch; all zeros when the std is 0 (or there is one value)."""
    centered = values - values.mean()
    std = values.std(unbiased=False)
    return centered / std if std > 1e-8 else th.zeros_like(values)


def _check_arguments(
    *,
    n_steps: int,
    gamma: float,
    gae_lambda: float,
    vf_coef: float,
    max_grad_norm: float,
    baseline: str,
    rollout_buffer_class: type | None,
    batch_size: int | None,
    critic_gradient_steps: int,
    target_kl: float | None,
) -> None:
    if baseline not in BASELINES:
        raise ValueError(f"baseline={baseline!r} is not one of {', '.join(map(repr, BASELINES))}")
    _check_positive_integer("n_steps", n_steps)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r} must be in [0, 1]")
    if not 0.0 <= gae_lambda <= 1.0:
        raise ValueError(f"gae_lambda={gae_lambda!r} must be in [0, 1]")
    if baseline != "critic" and gae_lambda != 1.0:
        # Not an error: A2C scripts and RL Zoo configs set gae_lambda, and must run unchanged
        warnings.warn(f"gae_lambda={gae_lambda!r} has no effect with baseline={baseline!r}: GAE needs baseline='critic'")
    if baseline == "critic" and not vf_coef > 0:
        raise ValueError(f"vf_coef={vf_coef!r} must be > 0 with baseline='critic', or the critic never learns")
    if not max_grad_norm > 0:
        raise ValueError(f"max_grad_norm={max_grad_norm!r} must be > 0")
    if batch_size is not None:
        _check_positive_integer("batch_size", batch_size)
    _check_positive_integer("critic_gradient_steps", critic_gradient_steps)
    if baseline != "critic" and critic_gradient_steps != 1:
        raise ValueError(f"critic_gradient_steps={critic_gradient_steps!r} needs baseline='critic' (got {baseline!r})")
    if target_kl is not None:
        if isinstance(target_kl, bool) or not isinstance(target_kl, (int, float)) or not target_kl > 0:
            raise ValueError(f"target_kl={target_kl!r} must be a number > 0, or None for no limit")
        if batch_size is None:
            warnings.warn(f"target_kl={target_kl!r} has no effect without batch_size: one step per batch is always on-policy")
    if rollout_buffer_class is not None and not (
        isinstance(rollout_buffer_class, type) and issubclass(rollout_buffer_class, EpisodicRolloutBuffer)
    ):
        raise ValueError(
            f"rollout_buffer_class={rollout_buffer_class!r} must be EpisodicRolloutBuffer or a subclass: "
            "REINFORCE needs whole episodes"
        )


def _check_positive_integer(name: str, value: object) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int (not a bool) >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")


def _check_finite(obs: np.ndarray | dict[str, np.ndarray], rewards: np.ndarray | None, step: int) -> None:
    """Raise ``ValueError`` naming the env and the step of the first NaN or inf in ``obs`` or ``rewards``."""
    arrays = {"reward": rewards} if rewards is not None else {}
    if isinstance(obs, dict):
        arrays.update({f"observation[{key!r}]": value for key, value in obs.items()})
    else:
        arrays["observation"] = obs
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            env_index = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(axis=1))[0])
            raise ValueError(
                f"env {env_index} returned a non-finite {name} at timestep {step}; "
                "REINFORCE does not train on it (check the env or its wrappers)"
            )
