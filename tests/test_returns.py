"""Returns and advantages against brute-force references."""

import numpy as np
import pytest

from sb3_reinforce.common.returns import discounted_returns, gae_advantages


def random_grid(rng: np.random.Generator, n_rows: int, n_envs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rewards = rng.normal(size=(n_rows, n_envs))
    ends = rng.random((n_rows, n_envs)) < 0.2
    bootstrap = np.where(rng.random((n_rows, n_envs)) < 0.5, 0.0, rng.normal(size=(n_rows, n_envs)))
    return rewards, ends, bootstrap


def brute_force_return(
    rewards: np.ndarray, ends: np.ndarray, bootstrap: np.ndarray, gamma: float, row: int, env: int
) -> float:
    total, discount = 0.0, 1.0
    for later in range(row, len(rewards)):
        total += discount * rewards[later, env]
        discount *= gamma
        if ends[later, env]:
            return total + discount * bootstrap[later, env]
    return total


@pytest.mark.parametrize("gamma", [0.0, 0.9, 0.99, 1.0])
def test_returns_match_brute_force(gamma: float) -> None:
    rng = np.random.default_rng(0)
    rewards, ends, bootstrap = random_grid(rng, 60, 5)
    returns = discounted_returns(rewards, ends, bootstrap, gamma)
    for env in range(5):
        last_end = np.flatnonzero(ends[:, env]).max(initial=-1)
        for row in range(last_end + 1):
            expected = brute_force_return(rewards, ends, bootstrap, gamma, row, env)
            assert returns[row, env] == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_returns_do_not_leak_across_episodes() -> None:
    rewards = np.array([[1.0], [1.0], [100.0]])
    ends = np.array([[False], [True], [True]])
    returns = discounted_returns(rewards, ends, np.zeros((3, 1)), gamma=1.0)
    np.testing.assert_allclose(returns[:, 0], [2.0, 1.0, 100.0])


@pytest.mark.parametrize("gae_lambda", [0.0, 0.5, 0.95, 1.0])
def test_gae_matches_brute_force(gae_lambda: float) -> None:
    rng = np.random.default_rng(1)
    gamma = 0.97
    rewards, ends, bootstrap = random_grid(rng, 50, 4)
    values = rng.normal(size=rewards.shape)
    advantages = gae_advantages(rewards, values, ends, bootstrap, gamma, gae_lambda)
    for env in range(4):
        last_end = np.flatnonzero(ends[:, env]).max(initial=-1)
        deltas = []
        for row in range(last_end + 1):
            next_value = bootstrap[row, env] if ends[row, env] else values[row + 1, env]
            deltas.append(rewards[row, env] + gamma * next_value - values[row, env])
        for row in range(last_end + 1):
            expected, weight = 0.0, 1.0
            for later in range(row, last_end + 1):
                expected += weight * deltas[later]
                weight *= gamma * gae_lambda
                if ends[later, env]:
                    break
            assert advantages[row, env] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_gae_with_lambda_one_is_return_minus_value() -> None:
    rng = np.random.default_rng(2)
    rewards, ends, bootstrap = random_grid(rng, 40, 3)
    ends[-1] = True
    values = rng.normal(size=rewards.shape)
    advantages = gae_advantages(rewards, values, ends, bootstrap, 0.9, 1.0)
    np.testing.assert_allclose(advantages, discounted_returns(rewards, ends, bootstrap, 0.9) - values, atol=1e-10)
