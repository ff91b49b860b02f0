"""Small envs whose every transition is logged, so tests can rebuild returns by brute force."""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class LoggedEpisodesEnv(gym.Env):
    """
    Random rewards and random episode lengths; each episode ends by termination or by a
    time-limit truncation. The observation ``[env_id, step_id]`` names the transition: ``step_id``
    counts every step and reset of this env, so each (env, step) pair is unique.

    ``log[step_id] = (reward, terminated, truncated, next_step_id)`` for the action taken at
    ``step_id``; ``next_step_id`` is the id of the observation the step returned (the terminal
    observation when the episode ended).

    :param env_id: Index of this env in its vectorized env
    :param max_episode_length: Episodes last 1 to this many steps; 0 means they never end
    :param truncation_probability: Probability that an ending episode is truncated, not terminated
    """

    def __init__(self, env_id: int = 0, max_episode_length: int = 12, truncation_probability: float = 0.4) -> None:
        self.env_id = env_id
        self.max_episode_length = max_episode_length
        self.truncation_probability = truncation_probability
        self.observation_space = spaces.Box(0, np.inf, shape=(2,), dtype=np.float64)
        self.action_space = spaces.Discrete(2)
        self.rng = np.random.default_rng(1000 + env_id)
        self.step_id = -1
        self.log: dict[int, tuple[float, bool, bool, int]] = {}

    def _obs(self) -> np.ndarray:
        return np.array([self.env_id, self.step_id], dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.step_id += 1
        self.remaining = int(self.rng.integers(1, self.max_episode_length + 1)) if self.max_episode_length else -1
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        taken_at = self.step_id
        self.step_id += 1
        self.remaining -= 1
        reward = float(self.rng.normal())
        ends = self.remaining == 0
        truncated = bool(ends and self.rng.random() < self.truncation_probability)
        terminated = bool(ends and not truncated)
        self.log[taken_at] = (reward, terminated, truncated, self.step_id)
        return self._obs(), reward, terminated, truncated, {}


def bootstrap_value(step_ids: np.ndarray) -> np.ndarray:
    """A made-up critic for the tests: any fixed function of the state will do."""
    return 0.25 * step_ids + 1.0


def reference_returns(log: dict[int, tuple[float, bool, bool, int]], gamma: float, with_critic: bool) -> dict[int, float]:
    """Brute force, O(T^2): the discounted reward-to-go of every step of every finished episode."""
    episodes: list[list[int]] = [[]]
    for step_id in sorted(log):
        episodes[-1].append(step_id)
        if log[step_id][1] or log[step_id][2]:
            episodes.append([])
    returns = {}
    for episode in episodes[:-1]:
        last = log[episode[-1]]
        tail_value = bootstrap_value(np.array(last[3])).item() if (last[2] and with_critic) else 0.0
        for index, step_id in enumerate(episode):
            later = episode[index:]
            value = sum(gamma**k * log[s][0] for k, s in enumerate(later))
            returns[step_id] = value + gamma ** len(later) * tail_value
    return returns


class TwoStateChainEnv(gym.Env):
    """
    A finite-horizon MDP for the exact policy-gradient test: states ``(t, x)`` with ``x`` in {0, 1}
    encoded as ``2 * t + x``; every episode lasts exactly ``HORIZON`` steps (terminated).
    Action ``a`` moves to ``x' = a`` with probability ``STAY`` and to ``1 - a`` otherwise; the reward
    is ``REWARDS[x, a] + reward_offset``.
    """

    HORIZON = 3
    STAY = 0.8
    REWARDS = np.array([[1.0, 0.0], [-0.5, 2.0]])

    def __init__(self, reward_offset: float = 0.0) -> None:
        self.observation_space = spaces.Discrete(2 * self.HORIZON)
        self.action_space = spaces.Discrete(2)
        self.reward_offset = reward_offset

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.t, self.x = 0, 0
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        reward = float(self.REWARDS[self.x, int(action)]) + self.reward_offset
        self.x = int(action) if self.np_random.random() < self.STAY else 1 - int(action)
        return self._advance(reward)

    def _advance(self, reward: float) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return 2 * min(self.t, self.HORIZON - 1) + self.x, reward, self.t >= self.HORIZON, False, {}

    def reward_table(self) -> np.ndarray:
        """``r(x, a)``, shape ``(2, n_actions)``."""
        return self.REWARDS + self.reward_offset

    def transition_table(self) -> np.ndarray:
        """``P(x' | x, a)``, shape ``(2, n_actions, 2)``."""
        moves = np.array([[self.STAY, 1 - self.STAY], [1 - self.STAY, self.STAY]])  # moves[a, x']
        return np.stack([moves, moves])


class RandomStartChainEnv(TwoStateChainEnv):
    """``TwoStateChainEnv`` that starts in ``x = 0`` or ``x = 1`` with probability 1/2 each, drawn from the reset's seed."""

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed, options=options)
        self.x = int(self.np_random.integers(2))
        return self.x, {}


class MaskedChainEnv(TwoStateChainEnv):
    """
    ``TwoStateChainEnv`` with a third action, "wait" (``x`` stays, reward ``WAIT_REWARDS[x]``),
    which ``action_masks()`` forbids in ``x = 1``, where it would pay the most.
    """

    WAIT_REWARDS = np.array([0.5, 3.0])

    def __init__(self, reward_offset: float = 0.0) -> None:
        super().__init__(reward_offset)
        self.action_space = spaces.Discrete(3)

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if int(action) != 2:
            return super().step(action)
        return self._advance(float(self.WAIT_REWARDS[self.x]) + self.reward_offset)

    def action_masks(self) -> np.ndarray:
        return self.mask_table()[self.x]

    def mask_table(self) -> np.ndarray:
        """The action mask of each ``x``, shape ``(2, 3)``."""
        return np.array([[True, True, True], [True, True, False]])

    def reward_table(self) -> np.ndarray:
        return np.concatenate([super().reward_table(), self.WAIT_REWARDS[:, None] + self.reward_offset], axis=1)

    def transition_table(self) -> np.ndarray:
        return np.concatenate([super().transition_table(), np.eye(2)[:, None, :]], axis=1)


class AlternatingChainEnv(TwoStateChainEnv):
    """
    ``TwoStateChainEnv`` whose episodes last ``HORIZONS[0]`` and ``HORIZONS[1]`` steps in turn,
    starting with ``HORIZONS[phase]``: vectorized copies of different phases drift out of step, so
    rollouts end inside episodes that the next rollout finishes. States ``2 * t + x`` for ``t`` up
    to the longer horizon.

    :param phase: Index in ``HORIZONS`` of the first episode's length
    """

    HORIZONS = (3, 5)

    def __init__(self, phase: int = 0) -> None:
        super().__init__()
        self.observation_space = spaces.Discrete(2 * max(self.HORIZONS))
        self.episode = phase - 1

    @property
    def horizon(self) -> int:
        return self.HORIZONS[self.episode % 2]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict[str, Any]]:
        self.episode += 1
        return super().reset(seed=seed, options=options)

    def _advance(self, reward: float) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return 2 * min(self.t, self.horizon - 1) + self.x, reward, self.t >= self.horizon, False, {}


class NextStepResetVectorEnv(gym.vector.VectorEnv):
    """
    Envs stepped together that reset only on the step after an episode's end, ignoring that step's
    action (reward 0, not done), and all at once on ``reset()``: the engine of gymnasium's own
    vectorized envs (``CartPoleVectorEnv``), which has no partial reset, over any envs.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, env_fns: list[Callable[[], gym.Env]]) -> None:
        self.envs = [env_fn() for env_fn in env_fns]
        self.num_envs = len(self.envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._ended = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        seeds = [None if seed is None else seed + idx for idx in range(self.num_envs)]
        self._ended[:] = False
        return np.array([env.reset(seed=env_seed)[0] for env, env_seed in zip(self.envs, seeds, strict=True)]), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        results = []
        for env, action, ended in zip(self.envs, actions, self._ended, strict=True):
            results.append((env.reset()[0], 0.0, False, False) if ended else env.step(action)[:4])
        obs, rewards, terminated, truncated = (np.array(values) for values in zip(*results, strict=True))
        self._ended = terminated | truncated
        return obs, rewards, terminated, truncated, {}
