"""
Episodes that span two rollouts, with a policy change in between: the sampled gradient against the
exact gradient of the current policy (``carried_episodes``).
"""

from typing import Any

import numpy as np
import pytest
import torch as th
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import REINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.episodic_algorithm import CarriedEpisodes
from sb3_reinforce.reinforce.reinforce import Baseline
from tests.envs import AlternatingChainEnv, LoggedEpisodesEnv, TwoStateChainEnv

N_ENVS = 64
N_BATCHES = 200
SHORT, LONG = AlternatingChainEnv.HORIZONS


def make_model(baseline: Baseline, carried_episodes: CarriedEpisodes) -> REINFORCE:
    """
    REINFORCE with a linear softmax policy in the one-hot state that only ``set_policy`` changes.
    With ``baseline="leave_one_out"``, envs 2g and 2g+1 (of either phase) form a group whose episodes
    end at different steps, so the episode that ends first waits, carried, for the other.
    """
    venv = DummyVecEnv([lambda phase=env % 2: AlternatingChainEnv(phase) for env in range(N_ENVS)])  # type: ignore[misc]
    venv.seed(0)
    return REINFORCE(
        "MlpPolicy",
        venv,
        learning_rate=0.0,
        n_steps=2,
        gamma=1.0,
        baseline=baseline,
        normalize_advantage=False,
        max_grad_norm=1e9,
        carried_episodes=carried_episodes,
        group_size=2 if baseline == "leave_one_out" else None,
        policy_kwargs=dict(net_arch=dict(pi=[], vf=[])),
        seed=0,
    )


def set_policy(model: REINFORCE, weight: th.Tensor) -> None:
    action_net = model.policy.action_net
    assert isinstance(action_net, th.nn.Linear)
    with th.no_grad():
        action_net.weight.copy_(weight)
        action_net.bias.zero_()


def exact_episode_gradient(model: REINFORCE, horizon: int) -> np.ndarray:
    """The gradient of the expected return of an episode of ``horizon`` steps, by backward induction."""
    distribution = model.policy.get_distribution(th.arange(2 * LONG))
    assert isinstance(distribution, CategoricalDistribution)
    probs = distribution.distribution.probs.reshape(LONG, 2, 2)
    env = TwoStateChainEnv()
    rewards = th.as_tensor(env.reward_table(), dtype=probs.dtype)
    transitions = th.as_tensor(env.transition_table(), dtype=probs.dtype)
    values = th.zeros(2, dtype=probs.dtype)
    for t in reversed(range(horizon)):
        values = (probs[t] * (rewards + transitions @ values)).sum(dim=1)
    parameters = list(model.policy.action_net.parameters())
    return th.cat([g.flatten() for g in th.autograd.grad(values[0], parameters)]).numpy()


def gradient_errors(model: REINFORCE, policy_change: float, n_batches: int = N_BATCHES) -> tuple[np.ndarray, np.ndarray, int]:
    """
    Over ``n_batches`` pairs of rollouts, the first collected by a policy ``policy_change`` away from the
    second's: the sampled gradient of each second rollout's batch (summed over its episodes) minus
    the exact gradient at the second policy of the episodes the batch trains on, the largest
    importance weight seen, and the number of carried transitions trained on.
    """
    generator = th.Generator().manual_seed(0)
    current = th.randn((2, 2 * LONG), generator=generator)
    exact: dict[int, np.ndarray] | None = None
    _, callback = model._setup_learn(10**7)
    assert model.env is not None
    errors, max_weights, n_carried = [], [], 0
    for _ in range(n_batches):
        set_policy(model, current + policy_change * th.randn(current.shape, generator=generator))
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        set_policy(model, current)
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        batch = model.rollout_buffer.get()
        n_carried += int(batch.carried.sum())
        model.train()
        gradient = th.cat(
            [th.zeros_like(p).flatten() if p.grad is None else p.grad.flatten() for p in model.policy.action_net.parameters()]
        )
        sampled = -gradient.numpy() * len(batch.actions)
        # Every trained episode has one first step; only the long ones have a step LONG - 1
        n_long = int((batch.episode_steps == LONG - 1).sum())
        n_short = int((batch.episode_steps == 0).sum()) - n_long
        if exact is None:
            exact = {horizon: exact_episode_gradient(model, horizon) for horizon in (SHORT, LONG)}
        errors.append(sampled - n_short * exact[SHORT] - n_long * exact[LONG])
        weights = model._importance_weights(batch) if model.carried_episodes == "importance_weighted" else None
        max_weights.append(1.0 if weights is None else float(weights.max()))
    return np.array(errors), np.array(max_weights), n_carried


def z_scores(errors: np.ndarray) -> np.ndarray:
    return errors.mean(axis=0) / (errors.std(axis=0, ddof=1) / np.sqrt(len(errors)) + 1e-12)


@pytest.mark.parametrize(
    "baseline, carried_episodes",
    [
        *((baseline, carried) for baseline in ("none", "mean", "critic") for carried in ("importance_weighted", "discarded")),
        ("leave_one_out", "importance_weighted"),
    ],
)
def test_gradient_is_exact_with_a_policy_change_between_rollouts(
    baseline: Baseline, carried_episodes: CarriedEpisodes
) -> None:
    errors, _, n_carried = gradient_errors(make_model(baseline, carried_episodes), policy_change=2.0)
    assert (n_carried > 0) == (carried_episodes == "importance_weighted")
    assert np.abs(z_scores(errors)).max() < 4.5


@pytest.mark.parametrize("baseline", ["none", "mean", "critic"])
def test_uncorrected_carried_episodes_fail_the_same_test(baseline: Baseline) -> None:
    """Shows the test has power: training on the earlier policy's steps as if the current one took them is biased."""
    # Twice the batches: the critic's normalized targets make it a running mean of returns even at learning rate 0, a
    # baseline that shrinks the bias (z 5.9 at N_BATCHES)
    errors, _, n_carried = gradient_errors(make_model(baseline, "uncorrected"), policy_change=2.0, n_batches=2 * N_BATCHES)
    assert n_carried > 0
    assert np.abs(z_scores(errors)).max() > 6


def test_weights_are_one_when_the_policy_did_not_change() -> None:
    errors, max_weights, n_carried = gradient_errors(make_model("none", "importance_weighted"), policy_change=0.0)
    assert n_carried > 0
    np.testing.assert_allclose(max_weights, 1.0, atol=1e-6)
    assert np.abs(z_scores(errors)).max() < 4.5


def _logged_env(env_id: int) -> Any:
    """LoggedEpisodesEnv (random episode lengths: envs drift out of step), with masks that forbid action 1 on odd steps."""
    env = LoggedEpisodesEnv(env_id)
    return ActionMasker(env, lambda _: np.array([True, env.step_id % 2 == 0]))


@pytest.mark.parametrize(
    "algorithm, policy", [(REINFORCE, "MlpPolicy"), (MaskableREINFORCE, "MlpPolicy"), (RecurrentREINFORCE, "MlpLstmPolicy")]
)
def test_stored_behaviour_log_probs_are_the_collecting_policys(algorithm: type[REINFORCE], policy: str) -> None:
    """With the policy unchanged (learning rate 0), every carried transition weighs 1, however the variant stores them."""
    venv = DummyVecEnv([lambda env_id=env_id: _logged_env(env_id) for env_id in range(4)])  # type: ignore[misc]
    model = algorithm(policy, venv, learning_rate=0.0, n_steps=3, seed=0)
    weights: list[float] = []
    carried: list[int] = []
    importance_weights = model._importance_weights

    def recording(batch: Any) -> Any:
        result = importance_weights(batch)
        carried.append(int(batch.carried.sum()))
        if result is not None:
            weights.extend(result.tolist())
        return result

    model._importance_weights = recording  # type: ignore[method-assign]
    model.learn(600)
    assert sum(carried) > 20
    np.testing.assert_allclose(weights, 1.0, atol=1e-5)
