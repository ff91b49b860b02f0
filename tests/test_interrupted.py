"""A learn() that an exception stops mid-rollout leaves the model so that the next learn() trains on exact data."""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sb3_reinforce import REINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from tests.envs import LoggedEpisodesEnv
from tests.test_reinforce_recurrent import _key, _model, _record_collection

INTERRUPTED_AT_STEP = 40


class Interruption(Exception):
    """What stops learn() in these tests (as Ctrl-C, an env error or a callback's error would)."""


class InterruptingCallback(BaseCallback):
    """Raises :class:`Interruption` at its ``at``-th step."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        if self.n_calls == self.at:
            raise Interruption
        return True


class InterruptingEnv(gym.Wrapper):
    """Raises :class:`Interruption` from its ``at``-th step, once: the vectorized step stops between envs."""

    def __init__(self, env: gym.Env, at: int) -> None:
        super().__init__(env)
        self.at, self.n_steps = at, 0

    def step(self, action: Any) -> Any:
        self.n_steps += 1
        if self.n_steps == self.at:
            raise Interruption
        return super().step(action)


def _masked(env: gym.Env) -> gym.Env:
    return ActionMasker(env, lambda _: np.array([True, True]))


def _vec_env(interrupting_env: bool, masked: bool) -> VecEnv:
    def make(env_id: int) -> gym.Env:
        env: gym.Env = LoggedEpisodesEnv(env_id)
        if interrupting_env and env_id == 2:
            env = InterruptingEnv(env, INTERRUPTED_AT_STEP)
        return _masked(env) if masked else env

    return DummyVecEnv([lambda env_id=env_id: make(env_id) for env_id in range(4)])  # type: ignore[misc]


def _record_trained(model: REINFORCE) -> tuple[list[float], list[tuple[int, int, int]]]:
    """
    The importance weights of every trained transition, and each one's (env, step id, step index in
    its episode as the buffer counts it), from the next learn() on.
    """
    weights: list[float] = []
    trained: list[tuple[int, int, int]] = []
    importance_weights = model._importance_weights

    def recording(batch: Any) -> Any:
        result = importance_weights(batch)
        if result is not None:
            weights.extend(result.tolist())
        observations = batch.observations.numpy()
        for observation, episode_step in zip(observations, batch.episode_steps.numpy(), strict=True):
            trained.append((round(float(observation[0])), round(float(observation[1])), int(episode_step)))
        return result

    model._importance_weights = recording  # type: ignore[method-assign]
    return weights, trained


@pytest.mark.parametrize(
    "algorithm, policy", [(REINFORCE, "MlpPolicy"), (MaskableREINFORCE, "MlpPolicy"), (RecurrentREINFORCE, "MlpLstmPolicy")]
)
@pytest.mark.parametrize("interrupted_by", ["callback", "env"])
def test_learning_on_after_an_interruption_trains_on_exact_data(
    algorithm: type[REINFORCE], policy: str, interrupted_by: str
) -> None:
    venv = _vec_env(interrupted_by == "env", masked=algorithm is MaskableREINFORCE)
    # Learning rate 0: the policy never changes, so every importance weight must be exactly 1
    model = algorithm(policy, venv, learning_rate=0.0, n_steps=3, seed=0)
    callback = InterruptingCallback(INTERRUPTED_AT_STEP) if interrupted_by == "callback" else None
    with pytest.raises(Interruption):
        model.learn(10_000, callback=callback)
    assert 0 < model.num_timesteps < 10_000
    weights, trained = _record_trained(model)
    model.learn(600, reset_num_timesteps=False)
    assert len(weights) > 20, "no episode was carried: the test has no power"
    # Exactly 1; a recurrent replay (one LSTM call per sequence) may differ from collection's step-by-step
    # calls by float32 rounding
    np.testing.assert_allclose(weights, 1.0, rtol=0, atol=1e-6 if algorithm is RecurrentREINFORCE else 0)
    logs = [env.unwrapped.log for env in venv.envs]  # type: ignore[attr-defined]
    for env_id, step_id, episode_step in trained:
        # The env's own account: a step starts an episode iff no step was taken at the id before it
        starts_episode = step_id - 1 not in logs[env_id]
        assert (episode_step == 0) == starts_episode, (env_id, step_id, episode_step)


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_recurrent_replay_after_an_interruption_reproduces_collection(baseline: str) -> None:
    model = _model(n_envs=3, baseline=baseline, learning_rate=0.0)
    collected = _record_collection(model)
    with pytest.raises(Interruption):
        model.learn(10_000, callback=InterruptingCallback(25))
    collected.clear()
    replayed: dict[tuple[int, int], float] = {}
    evaluate_actions = model._evaluate_actions

    def recording(batch: Any) -> Any:
        values, log_prob, entropy = evaluate_actions(batch)
        observations = batch.observations[batch.selected].numpy()
        for observation, value in zip(observations, log_prob.detach().numpy(), strict=True):
            replayed.setdefault(_key(observation), float(value))
        return values, log_prob, entropy

    model._evaluate_actions = recording  # type: ignore[method-assign]
    model.learn(300, reset_num_timesteps=False)
    assert len(replayed) > 30
    for key, value in replayed.items():
        # Every replayed action was collected after the interruption, from its episode's start
        assert key in collected, key
        assert value == pytest.approx(collected[key], abs=1e-5), key
