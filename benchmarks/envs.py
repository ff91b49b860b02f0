"""Tiny envs for the memory suite: episodes of a fixed, possibly very long, length."""

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


class FixedLengthImageEnv(FixedLengthEnv):
    """
    ``FixedLengthEnv`` with image observations: uint8 frames in ``[0, 255]``, channel-last like
    Atari's after frame stacking (SB3 wraps the env in ``VecTransposeImage`` for ``CnnPolicy``).
    The frames cycle through a fixed, read-only bank of ``n_frames`` random images, so a step costs
    an index, not a new image.

    :param episode_length: Number of steps of every episode
    :param shape: Shape of a frame, ``(height, width, channels)``
    :param n_frames: Number of distinct frames an episode cycles through
    """

    def __init__(self, episode_length: int, shape: tuple[int, int, int] = (84, 84, 4), n_frames: int = 16):
        super().__init__(episode_length)
        if n_frames < 1:
            raise ValueError(f"n_frames={n_frames} must be >= 1")
        self.observation_space = spaces.Box(0, 255, shape=shape, dtype=np.uint8)
        self.frames = np.random.default_rng(0).integers(0, 256, (n_frames, *shape), dtype=np.uint8)
        self.frames.flags.writeable = False

    def _obs(self) -> np.ndarray:
        return self.frames[self.t % len(self.frames)]
