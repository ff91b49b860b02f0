"""
Partially observable tasks for the recurrent-policy benchmark (``benchmarks/recurrent.py``): each
needs memory, so a feed-forward policy is capped (its best score is stated for each).

- ``CartPoleNoVel-v1``: CartPole-v1 with its two velocities zeroed by RL Zoo's ``MaskVelocityWrapper``,
  built as ``rl_zoo3/import_envs.py`` registers it (``gym.make("CartPole-v1")``, then the wrapper).
- POPGym's ``RepeatPreviousEasy``: output the suit of the card dealt 3 cards before the current one.
- ``CueRecallEnv``: a cue at the first step, a delay of uninformative steps, then the cue must be named.
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

# RepeatPreviousEasy: one deck of 52 cards, the first dealt at reset, one more per step (51 steps);
# from the 4th step on, each step rewards +-1/48 whether the action is the suit of the card dealt 3
# cards before the one shown (48 rewarded steps, so returns lie in [-1, 1])
REPEAT_PREVIOUS_STEPS = 51
REPEAT_PREVIOUS_REWARDED_STEPS = 48
# Its best memoryless policy names a suit other than the shown card's: the target card, another card of
# the same shuffled deck, has that suit with probability 13/51, so each rewarded step pays 2 * 13/51 - 1
# on average (-25/51 = -0.490); uniformly random actions pay 2 * 1/4 - 1 = -0.5
REPEAT_PREVIOUS_MEMORYLESS_BEST = 2 * 13 / 51 - 1
REPEAT_PREVIOUS_RANDOM = 2 * 1 / 4 - 1


class CueRecallEnv(gym.Env):
    """
    Remember a cue through a delay, then name it.

    An episode has ``delay + 2`` steps. Step 0 observes the cue (one of ``n_cues``, uniformly at
    random) one-hot, with the "cue" flag set; the next ``delay`` steps observe only the "waiting"
    flag (the same vector at every waiting step, whatever the cue); the last step observes only the
    "answer" flag. The actions of the cue and waiting steps earn 0; the action of the answer step earns
    +1 if it is the cue's index and -1 otherwise, and ends the episode (terminated, never truncated).
    So chance, and the best any memoryless policy can do, is an expected return of 0; a policy that
    remembers the cue gets 1.

    Observation: ``Box(0, 1, (n_cues + 3,))``: ``[one-hot cue | cue flag | waiting flag | answer flag]``.
    Actions: ``Discrete(n_cues)``.

    :param delay: Number of waiting steps between the cue and the answer (0 or more)
    :param n_cues: Number of cues (and actions), at least 2
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, delay: int, n_cues: int = 2):
        if delay < 0:
            raise ValueError(f"delay={delay} must be >= 0")
        if n_cues < 2:
            raise ValueError(f"n_cues={n_cues} must be >= 2")
        self.delay = delay
        self.n_cues = n_cues
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n_cues + 3,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_cues)
        self.cue = 0
        self.t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 3, dtype=np.float32)
        if self.t == 0:
            obs[self.cue] = 1.0
            obs[self.n_cues] = 1.0
        elif self.t <= self.delay:
            obs[self.n_cues + 1] = 1.0
        else:
            obs[self.n_cues + 2] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(self.n_cues))
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.t > self.delay:
            # The answer step
            reward = 1.0 if int(action) == self.cue else -1.0
            self.t += 1
            return np.zeros(self.n_cues + 3, dtype=np.float32), reward, True, False, {"cue": self.cue}
        self.t += 1
        return self._obs(), 0.0, False, False, {}


def make_cartpole_no_vel() -> gym.Env:
    """CartPole-v1 with the velocities zeroed, as RL Zoo's ``CartPoleNoVel-v1`` (500-step limit)."""
    # Imported here: rl_zoo3 is in the benchmarks extra, and its import_envs module would also try the
    # optional env packages it knows (Atari, PyBullet, MiniGrid, ...)
    from rl_zoo3.wrappers import MaskVelocityWrapper

    return MaskVelocityWrapper(gym.make("CartPole-v1"))


def make_repeat_previous_easy() -> gym.Env:
    """POPGym's RepeatPreviousEasy (``Discrete(4)`` observations and actions, 51 steps an episode)."""
    from popgym.envs.repeat_previous import RepeatPreviousEasy

    return RepeatPreviousEasy()


def cue_recall_factory(delay: int, n_cues: int = 2) -> Callable[[], gym.Env]:
    """A function that makes ``CueRecallEnv(delay, n_cues)`` (for ``make_vec_env``)."""

    def make() -> gym.Env:
        return CueRecallEnv(delay, n_cues)

    return make


def random_policy_return(make_env: Callable[[], gym.Env], episodes: int, seed: int = 0) -> float:
    """Mean return of uniformly random actions over ``episodes`` episodes."""
    env = make_env()
    env.action_space.seed(seed)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    env.close()
    return total / episodes
