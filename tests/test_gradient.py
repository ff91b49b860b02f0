"""The sampled REINFORCE gradient against the exact policy gradient of a small MDP."""

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import REINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline
from tests.envs import TwoStateChainEnv

N_ENVS = 32
N_BATCHES = 200
H = TwoStateChainEnv.HORIZON


def make_model(baseline: Baseline, gamma: float, gamma_t_weighting: bool, reward_offset: float = 0.0) -> REINFORCE:
    venv = DummyVecEnv([lambda: TwoStateChainEnv(reward_offset)] * N_ENVS)
    venv.seed(0)
    return REINFORCE(
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
        seed=0,
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


def state_values(model: REINFORCE, gamma: float, reward_offset: float = 0.0) -> th.Tensor:
    """Exact ``V(t, x)`` of the current policy, differentiable in its parameters, by backward induction."""
    env = TwoStateChainEnv(reward_offset)
    distribution = model.policy.get_distribution(th.arange(2 * H))
    assert isinstance(distribution, CategoricalDistribution)
    probs = distribution.distribution.probs.reshape(H, 2, 2)
    rewards = th.as_tensor(env.REWARDS, dtype=probs.dtype) + reward_offset
    # moves[a, x'] = P(x' | a)
    moves = th.tensor([[env.STAY, 1 - env.STAY], [1 - env.STAY, env.STAY]], dtype=probs.dtype)
    next_values = th.zeros(2, dtype=probs.dtype)
    values = []
    for t in reversed(range(H)):
        q = rewards + gamma * (moves @ next_values)[None, :]
        next_values = (probs[t] * q).sum(dim=1)
        values.append(next_values)
    return th.stack(values[::-1])  # (H, 2)


def exact_gradient(model: REINFORCE, gamma: float) -> np.ndarray:
    objective = state_values(model, gamma)[0, 0]
    grads = th.autograd.grad(objective, actor_parameters(model))
    return th.cat([g.flatten() for g in grads]).numpy()


def sampled_gradients(model: REINFORCE) -> np.ndarray:
    """One gradient of ``-loss`` per batch of N_ENVS episodes, through REINFORCE's own train()."""
    total, callback = model._setup_learn(N_BATCHES * N_ENVS * H)
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
        samples = sampled_gradients(model)
        # Still unbiased with a reward offset (the objective's gradient does not change)
        assert np.abs(z_scores(samples, exact_gradient(make_model(baseline, 1.0, False), 1.0))).max() < 4.5
        variances[baseline] = samples.var(axis=0, ddof=1).sum()
    assert variances["mean"] < 0.5 * variances["none"]
    assert variances["critic"] < variances["mean"]
