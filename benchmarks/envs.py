"""A tiny env for the memory suite: episodes of a fixed, possibly very long, length."""

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class FixedLengthEnv(gym.Env):
    """
    Random observations in ``[-1, 1]^obs_dim``, two actions, reward 1 per step; every episode
    terminates after exactly ``episode_length`` steps. It has no ``TimeLimit``: the length is the env's own.

    :param episode_length: Number of steps of every episode
    :param obs_dim: Size of the observation vector
    """

    def __init__(self, episode_length: int, obs_dim: int = 8):
        if episode_length < 1:
            raise ValueError(f"episode_length={episode_length} must be >= 1")
        self.episode_length = episode_length
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(obs_dim,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return self.np_random.uniform(-1.0, 1.0, self.observation_space.shape).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return self._obs(), 1.0, self.t >= self.episode_length, False, {}
