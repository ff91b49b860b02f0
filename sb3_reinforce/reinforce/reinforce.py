"""REINFORCE: its constructor, its update and its baselines, on the episodic loop of ``EpisodicOnPolicyAlgorithm``."""

import warnings
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance
from torch import nn
from torch.nn import functional as F

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer
from sb3_reinforce.common.episodic_algorithm import CarriedEpisodes, EpisodicOnPolicyAlgorithm
from sb3_reinforce.common.serialization import SavedEntry, boolean, integer, number, one_of, optional
from sb3_reinforce.common.torch_utils import approx_kl_divergence, standardize
from sb3_reinforce.common.validation import finite_number, learning_rate_number, positive_int
from sb3_reinforce.common.vec_env import AnyEnv
from sb3_reinforce.reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")

Baseline = Literal["none", "mean", "critic", "leave_one_out"]
BASELINES: tuple[str, ...] = ("none", "mean", "critic", "leave_one_out")
# Weight of the newest batch in the running mean of returns used by ``baseline="mean"``
MEAN_BASELINE_UPDATE_RATE = 0.1
# Weight of the newest batch in the running mean and standard deviation of the critic's targets
CRITIC_TARGET_UPDATE_RATE = 0.1
# Floor of that standard deviation: a batch of equal returns (all 0 before a sparse reward) is not divided by 0
MIN_CRITIC_TARGET_STD = 1e-2
DEFAULT_VF_COEF = 0.5


class REINFORCE(EpisodicOnPolicyAlgorithm):
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
        stably of the three, see the docs), ``"critic"`` or ``"leave_one_out"`` (with ``group_size``:
        the mean reward-to-go of the other episodes of the group at the same step). Without a
        critic, no value network is evaluated or trained, and a truncated episode's return is the
        sum of the rewards it collected (bootstrap 0).
    :param group_size: With ``baseline="leave_one_out"``: envs per group whose episodes share their
        starts (``n_envs`` a multiple of it; make the envs with
        ``sb3_reinforce.make_grouped_vec_env``). A group's k-th episodes are trained in the same batch
        (an episode that ends first waits, carried, for the others), and the algorithm refuses a
        group whose episodes did not start from the same observation.
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
    :param normalize_critic_targets: With ``baseline="critic"``: the critic learns returns
        standardized by a running mean and standard deviation, and each update of these statistics
        rescales its output layer so that its values in return units stay the same (PopArt, van
        Hasselt et al. 2016). Its targets then have the same scale on every task, so one learning
        rate and gradient clip fit them whether returns are 1 or 1000: without it, the critic's gradient
        on CartPole-v1 was 100-1000 times the policy's, and the shared clip shrank the policy's
        steps. The baseline stays a function of the state, so the gradient stays unbiased.
    :param target_kl: With ``batch_size``: limit on how far the minibatch steps of one batch move the
        policy. Later minibatches are not corrected for the steps before them, so once the
        approximate KL divergence between the policy before the batch's first step (the one that
        collected it) and the current one, measured on the next minibatch, exceeds
        ``1.5 * target_kl`` (SB3's PPO rule), the batch's remaining minibatches are skipped.
        None (default): no limit.
    :param chunk_size: Most transitions that the networks evaluate at once in training. A larger
        batch or minibatch is evaluated in chunks, and a gradient step on it accumulates the
        chunks' gradients: the same update (up to float rounding), with working memory that does not grow
        with the batch. None (default): as many as hold 16 MiB of observations as float32 (148
        frames of 84x84x4), at most 8192.
    :param carried_episodes: How an episode that one rollout starts and the next one finishes (an
        env still running its episode when the others are done) is trained, its first part having
        been collected by the policy before the update: ``"importance_weighted"`` (default) weights
        each term by the ratio of the current to the collecting policy's probabilities of the
        episode's earlier actions (per-decision importance sampling), so the gradient stays the
        current policy's; ``"uncorrected"`` trains on it as if the current policy had collected it
        (the behaviour before 0.1.0, biased); ``"discarded"`` does not train on it. With one env
        nothing is carried. See "Episodes that span two rollouts" in the docs (docs/guide/episodes.md).
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
    # The action spaces it trains on
    action_space_types: ClassVar[tuple[type[spaces.Space], ...]] = (
        spaces.Box,
        spaces.Discrete,
        spaces.MultiDiscrete,
        spaces.MultiBinary,
    )

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: AnyEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_steps: int = 1,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = DEFAULT_VF_COEF,
        max_grad_norm: float = 0.5,
        rms_prop_eps: float = 1e-5,
        use_rms_prop: bool = False,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[EpisodicRolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        normalize_advantage: bool = True,
        baseline: Baseline = "mean",
        group_size: int | None = None,
        gamma_t_weighting: bool = False,
        batch_size: int | None = None,
        critic_gradient_steps: int = 1,
        normalize_critic_targets: bool = True,
        target_kl: float | None = None,
        chunk_size: int | None = None,
        carried_episodes: CarriedEpisodes = "importance_weighted",
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        # Numbers as Python numbers (numpy scalars included), each bad one named before any env is made
        n_steps = positive_int("n_steps", n_steps)
        critic_gradient_steps = positive_int("critic_gradient_steps", critic_gradient_steps)
        batch_size = None if batch_size is None else positive_int("batch_size", batch_size)
        chunk_size = None if chunk_size is None else positive_int("chunk_size", chunk_size)
        target_kl = None if target_kl is None else finite_number("target_kl", target_kl)
        gamma, gae_lambda, ent_coef, vf_coef, max_grad_norm, rms_prop_eps = (
            finite_number(name, value)
            for name, value in (
                ("gamma", gamma),
                ("gae_lambda", gae_lambda),
                ("ent_coef", ent_coef),
                ("vf_coef", vf_coef),
                ("max_grad_norm", max_grad_norm),
                ("rms_prop_eps", rms_prop_eps),
            )
        )
        if not callable(learning_rate):
            learning_rate = learning_rate_number(learning_rate)
        _check_arguments(
            gamma=gamma,
            gae_lambda=gae_lambda,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            baseline=baseline,
            group_size=group_size,
            carried_episodes=carried_episodes,
            rollout_buffer_class=rollout_buffer_class,
            required_buffer_class=self.default_rollout_buffer_class,
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
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device=device,
            seed=seed,
            chunk_size=chunk_size,
            carried_episodes=carried_episodes,
            _init_setup_model=False,
        )
        action_space = getattr(self, "action_space", None)  # unset when loading without an env
        if action_space is not None and not isinstance(action_space, self.action_space_types):
            names = ", ".join(space.__name__ for space in self.action_space_types)
            raise ValueError(
                f"env: {type(self).__name__} does not support the action space {action_space}; supported: {names}"
            )

        self.normalize_advantage = normalize_advantage
        self.baseline = baseline
        self.group_size = group_size
        self.gamma_t_weighting = gamma_t_weighting
        self.batch_size = batch_size
        self.critic_gradient_steps = critic_gradient_steps
        self.normalize_critic_targets = normalize_critic_targets
        self.target_kl = target_kl
        self.return_mean: float | None = None
        # The statistics that the critic's outputs are in units of (None: not fitted yet, outputs in return units)
        self.critic_target_mean: float | None = None
        self.critic_target_std = 1.0

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
        normalization = self.get_vec_normalize_env()
        if self.baseline == "leave_one_out" and normalization is not None and normalization.norm_obs:
            raise ValueError(
                "baseline='leave_one_out' compares the first observations of a group's episodes, which VecNormalize's "
                "observation normalization changes as it runs: use VecNormalize(norm_obs=False)"
            )
        super()._setup_model()
        if (
            self.uses_critic
            and self.normalize_critic_targets
            and not isinstance(getattr(self.policy, "value_net", None), nn.Linear)
        ):
            raise ValueError(
                f"normalize_critic_targets=True rescales the critic's output layer, and {type(self.policy).__name__} "
                "has no nn.Linear value_net: pass normalize_critic_targets=False"
            )

    def train(self) -> None:
        """
        Update the policy (and the critic) on the complete episodes of the last rollout: one
        gradient step on the whole batch, or one per minibatch of ``batch_size`` transitions until
        ``target_kl`` stops them; the critic then takes ``critic_gradient_steps - 1`` more steps on
        its value loss. The networks see at most ``chunk_size`` transitions at once: a larger
        (mini)batch's gradient is accumulated over chunks.
        """
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        buffer = self.rollout_buffer
        self.logger.record("train/n_episodes", buffer.n_episodes)
        self.logger.record("train/n_cut_segments", buffer.n_cut_segments)
        self.logger.record("train/n_transitions", buffer.n_transitions)
        if buffer.n_transitions == 0:
            # No episode finished in this rollout (e.g. the budget ran out): nothing to learn from
            return

        batch = buffer.get()

        values_np, returns_np, advantages_np = self._values_returns_and_advantages(batch)
        if self.uses_critic and self.normalize_critic_targets:
            self._update_critic_target_statistics(returns_np)
        # The critic's targets, in the units of its outputs
        value_targets = th.as_tensor(
            (returns_np - (self.critic_target_mean or 0.0)) / self.critic_target_std, dtype=th.float32, device=self.device
        )
        # Standardized in float64: a baseline far from the returns (after an outlier batch) loses no precision
        advantages = th.as_tensor(advantages_np, dtype=th.float64, device=self.device)
        if self.normalize_advantage:
            advantages = standardize(advantages)
        advantages = advantages.float()
        if self.gamma_t_weighting:
            advantages = advantages * self.gamma ** batch.episode_steps.to(advantages.dtype)

        minibatches = self._minibatches(batch)
        behaviour_log_prob = self._behaviour_log_prob(batch, len(minibatches))
        policy_losses, entropy_losses = [], []
        value_loss = None
        for indices in minibatches:
            log_probs: list[th.Tensor] = []
            self.policy.optimizer.zero_grad()
            losses = self._accumulate_gradient(
                indices, len(advantages), self._policy_losses(batch, advantages, value_targets, log_probs)
            )
            if behaviour_log_prob is not None and self._moved_too_far(behaviour_log_prob[indices], th.cat(log_probs)):
                break
            if not np.isfinite(losses["loss"]):
                raise FloatingPointError(
                    f"REINFORCE loss is {losses['loss']} at timestep {self.num_timesteps}; that gradient step was "
                    "skipped (lower learning_rate or check the rewards' scale)"
                )
            self._optimizer_step()
            self._n_updates += 1
            policy_losses.append(losses["policy"])
            entropy_losses.append(losses["entropy"])
            value_loss = losses.get("value")

        if self.uses_critic:
            for _ in range(self.critic_gradient_steps - 1):
                self.policy.optimizer.zero_grad()
                value_loss = self._accumulate_gradient(
                    slice(None), len(value_targets), self._value_losses(batch, value_targets)
                )["value"]
                self._optimizer_step()
            # The value loss of the critic's last gradient step
            if value_loss is not None:
                self.logger.record("train/value_loss", value_loss)
            assert values_np is not None
            self.logger.record("train/explained_variance", explained_variance(values_np, returns_np))
            self.logger.record("train/critic_target_std", self.critic_target_std)
        elif self.baseline == "mean":
            self.logger.record("train/baseline", self.return_mean or 0.0)
            self._update_mean_baseline(returns_np)

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/policy_steps", len(policy_losses))
        self.logger.record("train/entropy_loss", float(np.mean(entropy_losses)))
        self.logger.record("train/policy_loss", float(np.mean(policy_losses)))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    def _policy_losses(
        self,
        batch: EpisodeBatch,
        advantages: th.Tensor,
        value_targets: th.Tensor,
        log_probs: list[th.Tensor],
    ) -> Callable[[slice | th.Tensor], dict[str, th.Tensor]]:
        """
        The losses of a policy gradient step on a chunk of the batch, for ``_accumulate_gradient``;
        the chunk's log-probabilities are appended to ``log_probs`` (for ``target_kl``).
        """

        def policy_losses(chunk: slice | th.Tensor) -> dict[str, th.Tensor]:
            values, log_prob, entropy = self._evaluate_actions(batch.select(chunk))
            log_probs.append(log_prob.detach())
            # REINFORCE: grad J = E[sum_t grad log pi(a_t|s_t) * Phi_t], Phi_t the (standardized) advantage
            policy_loss = -(advantages[chunk] * log_prob).mean()
            # Without an analytical entropy, -log_prob estimates it
            entropy_loss = -th.mean(-log_prob) if entropy is None else -th.mean(entropy)
            losses = {"loss": policy_loss + self.ent_coef * entropy_loss, "policy": policy_loss, "entropy": entropy_loss}
            if values is not None:
                losses["value"] = F.mse_loss(value_targets[chunk], values.flatten())
                losses["loss"] = losses["loss"] + self.vf_coef * losses["value"]
            return losses

        return policy_losses

    def _value_losses(
        self, batch: EpisodeBatch, value_targets: th.Tensor
    ) -> Callable[[slice | th.Tensor], dict[str, th.Tensor]]:
        """The critic's value loss on a chunk of the batch, for ``_accumulate_gradient``."""

        def value_losses(chunk: slice | th.Tensor) -> dict[str, th.Tensor]:
            values = self._evaluate_values(batch.select(chunk))
            value_loss = F.mse_loss(value_targets[chunk], values.flatten())
            return {"loss": self.vf_coef * value_loss, "value": value_loss}

        return value_losses

    def _values_returns_and_advantages(self, batch: EpisodeBatch) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """
        The critic's values of the batch (None without a critic), its returns and its advantages
        (returns minus the baseline, or GAE with the critic), before any gradient step.
        """
        buffer = self.rollout_buffer
        weights = self._importance_weights(batch)
        self.logger.record("train/n_carried", int(batch.carried.sum()))
        if weights is not None:
            self.logger.record("train/max_importance_weight", float(weights.max()))
        if not self.uses_critic:
            returns, advantages = buffer.compute_returns_and_advantages(weights=weights)
            # A baseline term counts as its transition's reward does: times its importance weight
            if self.baseline == "mean":
                advantages = advantages - (1.0 if weights is None else weights) * (self.return_mean or 0.0)
            elif self.baseline == "leave_one_out":
                advantages = advantages - (1.0 if weights is None else weights) * buffer.leave_one_out_baselines(returns)
            return None, returns, advantages
        if self.normalize_critic_targets and self.critic_target_mean is None:
            # The first batch sets the statistics (from its returns without bootstrap) before the untrained
            # critic's outputs are read in their units, so that its first values scale with the returns too
            self._update_critic_target_statistics(buffer.compute_returns_and_advantages(weights=weights)[0])
        values, bootstrap_values = (
            None if outputs is None else outputs * self.critic_target_std + (self.critic_target_mean or 0.0)
            for outputs in self._critic_values(batch)
        )
        assert values is not None
        return values, *buffer.compute_returns_and_advantages(values, bootstrap_values, weights)

    def _behaviour_log_prob(self, batch: EpisodeBatch, n_minibatches: int) -> th.Tensor | None:
        """
        Log-probabilities of the batch's actions under the policy before any step on the batch,
        when ``target_kl`` has later minibatches to check.
        """
        if self.target_kl is None or n_minibatches == 1:
            return None
        return self._log_probs(batch)

    def _moved_too_far(self, behaviour_log_prob: th.Tensor, log_prob: th.Tensor) -> bool:
        """Whether the policy has moved more than ``1.5 * target_kl`` from where the batch's update started."""
        assert self.target_kl is not None
        approx_kl = approx_kl_divergence(behaviour_log_prob, log_prob)
        self.logger.record("train/approx_kl", approx_kl)
        return approx_kl > 1.5 * self.target_kl

    def _minibatches(self, batch: EpisodeBatch) -> list[slice] | list[th.Tensor]:
        """Indices of each gradient step's transitions: all of them, or a shuffled split into ``batch_size`` chunks."""
        n_transitions = len(batch.actions)
        if self.batch_size is None or self.batch_size >= n_transitions:
            return [slice(None)]
        order = th.as_tensor(np.random.permutation(n_transitions), device=self.device)
        return list(th.split(order, self.batch_size))

    def _update_mean_baseline(self, returns: np.ndarray) -> None:
        """Move the running mean of returns towards this batch's mean."""
        # Updated after the step, so the baseline never depends on the batch it is applied to
        batch_mean = float(returns.mean())
        if self.return_mean is None:
            self.return_mean = batch_mean
        else:
            self.return_mean += MEAN_BASELINE_UPDATE_RATE * (batch_mean - self.return_mean)

    def _update_critic_target_statistics(self, returns: np.ndarray) -> None:
        """
        Move the critic targets' running mean and standard deviation towards this batch's (the
        first batch sets them), and rescale the critic's output layer so that its values, in
        return units, are unchanged (PopArt's "preserving outputs precisely").
        """
        batch_mean, batch_second_moment = float(returns.mean()), float(np.mean(returns**2))
        if self.critic_target_mean is None:
            # The untrained critic's values are not worth preserving
            self.critic_target_mean = batch_mean
            self.critic_target_std = max(float(returns.std()), MIN_CRITIC_TARGET_STD)
            return
        old_mean, old_std = self.critic_target_mean, self.critic_target_std
        second_moment = old_std**2 + old_mean**2
        new_mean = old_mean + CRITIC_TARGET_UPDATE_RATE * (batch_mean - old_mean)
        second_moment += CRITIC_TARGET_UPDATE_RATE * (batch_second_moment - second_moment)
        new_std = max(float(np.sqrt(max(second_moment - new_mean**2, 0.0))), MIN_CRITIC_TARGET_STD)
        output_layer = self.policy.value_net
        with th.no_grad():
            output_layer.weight.mul_(old_std / new_std)
            output_layer.bias.mul_(old_std).add_(old_mean - new_mean).div_(new_std)
        self.critic_target_mean, self.critic_target_std = new_mean, new_std

    @classmethod
    def saved_data_schema(cls) -> dict[str, SavedEntry]:
        return {
            **super().saved_data_schema(),
            "baseline": SavedEntry(plain=one_of(*BASELINES), required=True),
            "group_size": SavedEntry(plain=optional(integer(2))),
            "normalize_advantage": SavedEntry(plain=boolean),
            "gamma_t_weighting": SavedEntry(plain=boolean),
            "batch_size": SavedEntry(plain=optional(integer(1))),
            "critic_gradient_steps": SavedEntry(plain=integer(1)),
            "normalize_critic_targets": SavedEntry(plain=boolean),
            "critic_target_mean": SavedEntry(plain=optional(number())),
            "critic_target_std": SavedEntry(plain=number(0.0, above=True)),
            "target_kl": SavedEntry(plain=optional(number(0.0, above=True))),
            # A finite running mean: one at inf would make every later update NaN
            "return_mean": SavedEntry(plain=optional(number())),
        }

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


def _check_arguments(
    *,
    gamma: float,
    gae_lambda: float,
    vf_coef: float,
    max_grad_norm: float,
    baseline: str,
    group_size: int | None,
    carried_episodes: str,
    rollout_buffer_class: type | None,
    required_buffer_class: type[EpisodicRolloutBuffer],
    batch_size: int | None,
    critic_gradient_steps: int,
    target_kl: float | None,
) -> None:
    """Raise ``ValueError`` naming an argument out of its range or an impossible combination; warn for ineffective ones."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline={baseline!r} is not one of {', '.join(map(repr, BASELINES))}")
    _check_group_arguments(baseline, group_size, carried_episodes)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r} must be in [0, 1]")
    if not 0.0 <= gae_lambda <= 1.0:
        raise ValueError(f"gae_lambda={gae_lambda!r} must be in [0, 1]")
    # Not errors: A2C scripts and RL Zoo configs set these, and must run unchanged
    if baseline != "critic" and gae_lambda != 1.0:
        warnings.warn(f"gae_lambda={gae_lambda!r} has no effect with baseline={baseline!r}: GAE needs baseline='critic'")
    if baseline != "critic" and vf_coef != DEFAULT_VF_COEF:
        warnings.warn(f"vf_coef={vf_coef!r} has no effect with baseline={baseline!r}: there is no value loss without a critic")
    if baseline == "critic" and not vf_coef > 0:
        raise ValueError(f"vf_coef={vf_coef!r} must be > 0 with baseline='critic', or the critic never learns")
    if not max_grad_norm > 0:
        raise ValueError(f"max_grad_norm={max_grad_norm!r} must be > 0")
    if baseline != "critic" and critic_gradient_steps != 1:
        raise ValueError(f"critic_gradient_steps={critic_gradient_steps!r} needs baseline='critic' (got {baseline!r})")
    if target_kl is not None:
        if not target_kl > 0:
            raise ValueError(f"target_kl={target_kl!r} must be > 0, or None for no limit")
        if batch_size is None:
            warnings.warn(f"target_kl={target_kl!r} has no effect without batch_size: one step per batch is always on-policy")
    if rollout_buffer_class is not None and not (
        isinstance(rollout_buffer_class, type) and issubclass(rollout_buffer_class, required_buffer_class)
    ):
        raise ValueError(
            f"rollout_buffer_class={rollout_buffer_class!r} must be {required_buffer_class.__name__} or a subclass: "
            "the algorithm needs whole episodes and what it stores with them"
        )


def _check_group_arguments(baseline: str, group_size: int | None, carried_episodes: str) -> None:
    """Raise ``ValueError`` unless ``group_size`` comes with ``baseline="leave_one_out"`` and fits it."""
    if (baseline == "leave_one_out") != (group_size is not None):
        raise ValueError(
            f"baseline={baseline!r} with group_size={group_size!r}: baseline='leave_one_out' takes group_size "
            "(the envs per group of shared starts), and no other baseline does"
        )
    if group_size is None:
        return
    if not (isinstance(group_size, int) and group_size >= 2):
        raise ValueError(f"group_size={group_size!r} must be an integer of at least 2: the others of a group are the baseline")
    if carried_episodes == "discarded":
        raise ValueError(
            "carried_episodes='discarded' with baseline='leave_one_out': a group's episodes that end first wait, "
            "carried, for the others; use 'importance_weighted'"
        )
