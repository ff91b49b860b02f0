"""Each action space learns its identity task (act = observe) to the reward threshold."""

from collections.abc import Callable

import gymnasium as gym
import pytest
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary, IdentityEnvMultiDiscrete
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline

EPISODE_LENGTH = 10
ENVS: dict[str, Callable[[], gym.Env]] = {
    "Discrete": lambda: IdentityEnv(2, ep_length=EPISODE_LENGTH),
    "Box": lambda: IdentityEnvBox(eps=0.5, ep_length=EPISODE_LENGTH),
    "MultiDiscrete": lambda: IdentityEnvMultiDiscrete(2, ep_length=EPISODE_LENGTH),
    "MultiBinary": lambda: IdentityEnvMultiBinary(2, ep_length=EPISODE_LENGTH),
}


CASES: list[tuple[str, Baseline]] = [(space, "critic") for space in ENVS] + [
    (space, baseline) for space in ("Discrete", "Box") for baseline in ("none", "mean")
]


@pytest.mark.parametrize("space,baseline", CASES)
def test_identity_reaches_threshold(space: str, baseline: Baseline) -> None:
    # The reward does not depend on later actions: a short horizon (gamma=0.5) keeps the return's noise low
    model = REINFORCE("MlpPolicy", ENVS[space](), learning_rate=3e-3, gamma=0.5, baseline=baseline, seed=0)
    model.learn(4_000)
    mean_reward, _ = evaluate_policy(model, ENVS[space](), n_eval_episodes=10, deterministic=True)
    assert isinstance(mean_reward, float)
    assert mean_reward >= 0.9 * EPISODE_LENGTH
