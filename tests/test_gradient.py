"""The sampled REINFORCE gradient against the exact policy gradient of a small MDP."""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from sb3_reinforce import REINFORCE, EpisodicRolloutBuffer, MaskableREINFORCE, make_grouped_vec_env
from sb3_reinforce.common.vec_env import RESET_STEP_KEY, AnyEnv
from sb3_reinforce.reinforce.reinforce import Baseline
from tests.envs import MaskedChainEnv, NextStepResetVectorEnv, RandomStartChainEnv, TwoStateChainEnv

N_ENVS = 32
N_BATCHES = 200
H = TwoStateChainEnv.HORIZON


def make_model(
    baseline: Baseline,
    gamma: float,
    gamma_t_weighting: bool,
    reward_offset: float = 0.0,
    masked: bool = False,
    vector_env: Callable[[list[Callable[[], gym.Env]]], AnyEnv] = DummyVecEnv,
    **kwargs: Any,
) -> REINFORCE:
    """
    REINFORCE (MaskableREINFORCE on ``MaskedChainEnv`` when ``masked``) with a fixed policy, linear
    in the one-hot state, on N_ENVS envs that ``vector_env`` vectorizes.
    """
    env_class = MaskedChainEnv if masked else TwoStateChainEnv
    venv = vector_env([lambda: env_class(reward_offset)] * N_ENVS)
    algorithm = MaskableREINFORCE if masked else REINFORCE
    return algorithm(
        "MlpPolicy",
        venv,
        learning_rate=0.0,  # keep the policy fixed: every batch samples the same gradient
        n_steps=1,
        gamma=gamma,
        baseline=baseline,
        gamma_t_weighting=gamma_t_weighting,
        normalize_advantage=False,
        max_grad_norm=1e9,
        policy_kwargs=dict(net_arch=dict(pi=[], vf=[])),
        seed=0,  # also seeds the envs
        **kwargs,
    )


def actor_parameters(model: REINFORCE) -> list[th.nn.Parameter]:
    return list(model.policy.action_net.parameters())


def actor_gradient(model: REINFORCE) -> th.Tensor:
    """The gradient of the last train()'s loss in the actor's parameters, flattened."""
    grads = []
    for parameter in actor_parameters(model):
        assert parameter.grad is not None
        grads.append(parameter.grad.flatten())
    return th.cat(grads)


def state_values(
    model: REINFORCE,
    gamma: float,
    reward_offset: float = 0.0,
    env_class: type[TwoStateChainEnv] = TwoStateChainEnv,
    masked: bool = False,
) -> th.Tensor:
    """
    Exact ``V(t, x)`` of the current policy on ``env_class``, differentiable in its parameters, by
    backward induction; with ``masked``, the policy is restricted by ``MaskedChainEnv``'s masks.
    """
    env = env_class(reward_offset)
    states = th.arange(2 * H)
    if masked:
        assert isinstance(env, MaskedChainEnv)
        distribution = model.policy.get_distribution(states, action_masks=np.tile(env.mask_table(), (H, 1)))  # type: ignore[call-arg]
    else:
        distribution = model.policy.get_distribution(states)
    assert isinstance(distribution, (CategoricalDistribution, MaskableCategoricalDistribution))
    probs = distribution.distribution.probs.reshape(H, 2, -1)
    rewards = th.as_tensor(env.reward_table(), dtype=probs.dtype)
    transitions = th.as_tensor(env.transition_table(), dtype=probs.dtype)  # P(x' | x, a)
    next_values = th.zeros(2, dtype=probs.dtype)
    values = []
    for t in reversed(range(H)):
        q = rewards + gamma * (transitions @ next_values)
        next_values = (probs[t] * q).sum(dim=1)
        values.append(next_values)
    return th.stack(values[::-1])  # (H, 2)


def exact_gradient(model: REINFORCE, gamma: float, **kwargs: Any) -> np.ndarray:
    """The gradient of ``V(0, 0)`` in the actor's parameters; ``kwargs`` go to ``state_values``."""
    objective = state_values(model, gamma, **kwargs)[0, 0]
    grads = th.autograd.grad(objective, actor_parameters(model))
    return th.cat([g.flatten() for g in grads]).numpy()


def sampled_gradients(model: REINFORCE) -> np.ndarray:
    """One gradient of ``-loss`` per batch of N_ENVS episodes, through REINFORCE's own train()."""
    # With room for a reset step per episode, which an env that resets on the next step takes
    total, callback = model._setup_learn(N_BATCHES * N_ENVS * (H + 1))
    callback.on_training_start(locals(), globals())
    assert model.env is not None
    samples = []
    for _ in range(N_BATCHES):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        assert model.rollout_buffer.n_episodes == N_ENVS
        model.train()
        samples.append(-actor_gradient(model).numpy())
    # The loss averages over the N_ENVS * H steps of a batch, the objective over episodes
    return np.array(samples) * H


def z_scores(samples: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return (samples.mean(axis=0) - exact) / (samples.std(axis=0, ddof=1) / np.sqrt(len(samples)) + 1e-12)


@pytest.mark.parametrize(
    "baseline,gamma,gamma_t_weighting",
    [("none", 1.0, False), ("mean", 1.0, False), ("critic", 1.0, False), ("none", 0.9, True), ("critic", 0.9, True)],
)
def test_sampled_gradient_is_unbiased(baseline: Baseline, gamma: float, gamma_t_weighting: bool) -> None:
    model = make_model(baseline, gamma, gamma_t_weighting)
    exact = exact_gradient(model, gamma)
    assert np.linalg.norm(exact) > 0.1
    samples = sampled_gradients(model)
    assert np.abs(z_scores(samples, exact)).max() < 4.5


class TrainsOnResetSteps(VecEnvWrapper):
    """A naive adapter: the steps that a next-step-reset engine spends resetting pass as transitions of the next episode."""

    flags_reset_steps = False

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        reset_steps = np.array([info.pop(RESET_STEP_KEY, False) for info in infos])
        return obs, rewards, dones & ~reset_steps, infos


def next_step_reset_engine(naive: bool) -> Callable[[list[Callable[[], gym.Env]]], AnyEnv]:
    def make(env_fns: list[Callable[[], gym.Env]]) -> AnyEnv:
        engine = NextStepResetVectorEnv(env_fns)
        return TrainsOnResetSteps(REINFORCE._wrap_env(engine)) if naive else engine

    return make


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_sampled_gradient_is_unbiased_through_a_next_step_reset_vector_env(baseline: Baseline) -> None:
    """REINFORCE given a gymnasium vector env that resets on the step after an episode ends leaves those steps out."""
    model = make_model(baseline, 0.9, gamma_t_weighting=True, vector_env=next_step_reset_engine(naive=False))
    assert type(model.env).__name__ == "VectorEnvAdapter"
    exact = exact_gradient(model, 0.9)
    assert np.abs(z_scores(sampled_gradients(model), exact)).max() < 4.5


def test_training_on_reset_steps_is_biased() -> None:
    """Shows the test above has power: a naive adapter's reset steps shift gamma**t and dilute the loss."""
    model = make_model("none", 0.9, gamma_t_weighting=True, vector_env=next_step_reset_engine(naive=True))
    exact = exact_gradient(model, 0.9)
    assert np.abs(z_scores(sampled_gradients(model), exact)).max() > 6


class SelfIncludingBaselines(EpisodicRolloutBuffer):
    """The group's mean reward-to-go with the episode's own included: a baseline its own actions move."""

    def leave_one_out_baselines(self, returns: np.ndarray) -> np.ndarray:
        assert self.group_size is not None
        others = super().leave_one_out_baselines(returns)
        return ((self.group_size - 1) * others + returns) / self.group_size


@pytest.mark.parametrize("group_size", [2, 4])
def test_leave_one_out_gradient_is_unbiased(group_size: int) -> None:
    """Every episode starts in state 0, so envs share their starts without SharedStarts."""
    model = make_model("leave_one_out", 0.9, gamma_t_weighting=True, group_size=group_size)
    exact = exact_gradient(model, 0.9)
    assert np.abs(z_scores(sampled_gradients(model), exact)).max() < 4.5


def test_leave_one_out_gradient_is_unbiased_with_random_shared_starts() -> None:
    """Episodes start in a random state, the same for a group's k-th episodes (make_grouped_vec_env's SharedStarts)."""
    group_size = 4

    def grouped(env_fns: list[Callable[[], gym.Env]]) -> AnyEnv:
        return make_grouped_vec_env(RandomStartChainEnv, len(env_fns) // group_size, group_size, seed=0)

    model = make_model("leave_one_out", 0.9, gamma_t_weighting=True, vector_env=grouped, group_size=group_size)
    # The objective: the mean over the two start states, each of probability 1/2
    objective = state_values(model, 0.9, env_class=RandomStartChainEnv)[0].mean()
    exact = th.cat([g.flatten() for g in th.autograd.grad(objective, actor_parameters(model))]).numpy()
    assert np.abs(exact - exact_gradient(model, 0.9)).max() > 0.1, "the start state matters to the gradient"
    assert np.abs(z_scores(sampled_gradients(model), exact)).max() < 4.5


def test_self_including_group_baseline_is_biased() -> None:
    """Shows the test above has power: including the episode's own return shrinks the gradient by (K - 1) / K."""
    model = make_model("leave_one_out", 0.9, gamma_t_weighting=True, group_size=2, rollout_buffer_class=SelfIncludingBaselines)
    exact = exact_gradient(model, 0.9)
    samples = sampled_gradients(model)
    assert np.abs(z_scores(samples, exact)).max() > 6
    # The sampled gradient is half the exact one
    assert np.abs(z_scores(samples, exact / 2)).max() < 4.5


def test_discounted_objective_needs_gamma_t_weighting() -> None:
    """Shows the test has power: without the gamma**t factor the estimator is biased for gamma < 1."""
    model = make_model("none", 0.5, gamma_t_weighting=False)
    exact = exact_gradient(model, 0.5)
    assert np.abs(z_scores(sampled_gradients(model), exact)).max() > 6


def test_baselines_lower_the_variance() -> None:
    offset = 5.0
    variances = {}
    for baseline in ("none", "mean", "critic"):
        model = make_model(baseline, 1.0, False, reward_offset=offset)
        if baseline == "critic":
            # The best state baseline: the exact V(s) of the policy, read by the linear value head
            with th.no_grad():
                model.policy.value_net.weight.copy_(state_values(model, 1.0, offset).reshape(1, -1))
                model.policy.value_net.bias.zero_()
            # Read in return units: the target statistics' updates then rescale the head without changing its values
            model.critic_target_mean, model.critic_target_std = 0.0, 1.0
        samples = sampled_gradients(model)
        # Still unbiased with a reward offset (the objective's gradient does not change)
        assert np.abs(z_scores(samples, exact_gradient(make_model(baseline, 1.0, False), 1.0))).max() < 4.5
        variances[baseline] = samples.var(axis=0, ddof=1).sum()
    assert variances["mean"] < 0.5 * variances["none"]
    assert variances["critic"] < variances["mean"]


@pytest.mark.parametrize("vector_env", [DummyVecEnv, gym.vector.SyncVectorEnv], ids=["DummyVecEnv", "SyncVectorEnv"])
@pytest.mark.parametrize("baseline", ["none", "mean", "critic"])
def test_masked_sampled_gradient_is_the_masked_objectives_gradient(
    baseline: Baseline, vector_env: Callable[[list[Callable[[], gym.Env]]], AnyEnv]
) -> None:
    """Masks read through VectorEnvAdapter's env_method from a gymnasium vector env, as from SB3's."""
    model = make_model(baseline, 1.0, False, masked=True, vector_env=vector_env)
    exact = exact_gradient(model, 1.0, env_class=MaskedChainEnv, masked=True)
    samples = sampled_gradients(model)
    # No gradient, exact or sampled, for the weights of "wait" (action 2) on the states that forbid it (x = 1,
    # odd state ids) and for those of state (t=0, x=1), which no episode visits; action_net's bias comes last
    action, state = np.divmod(np.arange(3 * 2 * H), 2 * H)
    frozen = np.concatenate([(state == 1) | ((action == 2) & (state % 2 == 1)), np.zeros(3, dtype=bool)])
    np.testing.assert_array_equal(samples.std(axis=0) < 1e-6, frozen)
    assert np.abs(samples[:, frozen]).max() < 1e-6 and np.abs(exact[frozen]).max() < 1e-6
    assert np.abs(z_scores(samples[:, ~frozen], exact[~frozen])).max() < 4.5
    # Power: the objective of the same policy without its masks ("wait" pays 3 in x = 1) has another gradient
    unmasked = exact_gradient(model, 1.0, env_class=MaskedChainEnv)
    assert np.abs(z_scores(samples, unmasked)).max() > 6
