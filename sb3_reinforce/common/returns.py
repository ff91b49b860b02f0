"""Monte-Carlo returns and GAE(lambda) advantages over time-major ``(n_rows, n_envs)`` grids."""

import numpy as np


def discounted_returns(
    rewards: np.ndarray,
    episode_ends: np.ndarray,
    bootstrap_values: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """
    Reward-to-go ``G_t = r_t + gamma * G_{t+1}`` within each episode, computed backwards in one
    pass over the rows (O(T)), vectorized over the envs (columns).

    At a row where an episode (or a cut segment of one) ends, the recursion restarts from
    ``bootstrap_values`` instead of the next row, so returns never leak across episodes.

    :param rewards: Rewards, shape ``(n_rows, n_envs)``.
    :param episode_ends: True where the transition of that row ends its episode or segment.
    :param bootstrap_values: Value of the state after an ending row: 0 for a termination,
        ``V(s_{t+1})`` for a time-limit truncation or a cut when a critic estimates it.
        Ignored on rows that do not end an episode.
    :param gamma: Discount factor.
    :return: The returns, float64, same shape as ``rewards``. Rows after the last episode end
        of a column hold partial sums and must not be used.
    """
    returns = np.zeros(rewards.shape, dtype=np.float64)
    next_return = np.zeros(rewards.shape[1], dtype=np.float64)
    for row in range(rewards.shape[0] - 1, -1, -1):
        next_return = rewards[row] + gamma * np.where(episode_ends[row], bootstrap_values[row], next_return)
        returns[row] = next_return
    return returns


def gae_advantages(
    rewards: np.ndarray,
    values: np.ndarray,
    episode_ends: np.ndarray,
    bootstrap_values: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """
    Generalized Advantage Estimation (Schulman et al. 2015) within each episode:
    ``delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)`` and ``A_t = delta_t + gamma * lambda * A_{t+1}``.
    With ``gae_lambda=1`` this equals ``discounted_returns(...) - values``.

    :param rewards: Rewards, shape ``(n_rows, n_envs)``.
    :param values: Critic values ``V(s_t)`` of the same rows.
    :param episode_ends: True where the transition of that row ends its episode or segment.
    :param bootstrap_values: ``V(s_{t+1})`` to use after an ending row (0 for a termination).
    :param gamma: Discount factor.
    :param gae_lambda: Bias/variance trade-off of GAE, in [0, 1].
    :return: The advantages, float64, same shape as ``rewards``.
    """
    advantages = np.zeros(rewards.shape, dtype=np.float64)
    next_advantage = np.zeros(rewards.shape[1], dtype=np.float64)
    next_values = np.zeros(rewards.shape[1], dtype=np.float64)
    for row in range(rewards.shape[0] - 1, -1, -1):
        ends = episode_ends[row]
        delta = rewards[row] + gamma * np.where(ends, bootstrap_values[row], next_values) - values[row]
        next_advantage = delta + gamma * gae_lambda * np.where(ends, 0.0, next_advantage)
        advantages[row] = next_advantage
        next_values = values[row]
    return advantages
