"""Bad input gets a clear error, before any work, and nothing is lost."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import REINFORCE


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(baseline="value"), "baseline='value' is not one of"),
        (dict(gamma=1.5), r"gamma=1.5 must be in \[0, 1\]"),
        (dict(gamma=-0.1), r"gamma=-0.1 must be in \[0, 1\]"),
        (dict(n_steps=0), "n_steps=0 must be an integer >= 1"),
        (dict(n_steps=2.5), "n_steps=2.5 must be an integer >= 1"),
        (dict(baseline="critic", vf_coef=0.0), "vf_coef=0.0 must be > 0 with baseline='critic'"),
        (dict(gae_lambda=1.2), r"gae_lambda=1.2 must be in \[0, 1\]"),
        (dict(max_grad_norm=0.0), "max_grad_norm=0.0 must be > 0"),
        (dict(baseline="critic", critic_gradient_steps=0), "critic_gradient_steps=0 must be an integer >= 1"),
        (dict(baseline="mean", critic_gradient_steps=5), "critic_gradient_steps=5 needs baseline='critic'"),
        (dict(batch_size=0), "batch_size=0 must be an integer >= 1"),
        (dict(batch_size=True), "batch_size=True must be an integer >= 1"),
        (dict(batch_size=64, target_kl=0.0), "target_kl=0.0 must be > 0, or None"),
        (dict(batch_size=64, target_kl="0.01"), "target_kl='0.01' must be a finite number"),
        (dict(rollout_buffer_class=RolloutBuffer), "rollout_buffer_class=.* must be EpisodicRolloutBuffer"),
        # Numbers given as strings (a config read without types) are named, not compared
        (dict(gamma="0.9"), "gamma='0.9' must be a finite number"),
        (dict(gae_lambda="0.95"), "gae_lambda='0.95' must be a finite number"),
        (dict(max_grad_norm="0.5"), "max_grad_norm='0.5' must be a finite number"),
        (dict(ent_coef="0.01"), "ent_coef='0.01' must be a finite number"),
        (dict(vf_coef=None), "vf_coef=None must be a finite number"),
        (dict(rms_prop_eps="1e-5"), "rms_prop_eps='1e-5' must be a finite number"),
        (dict(gamma=float("nan")), "gamma=nan must be a finite number"),
        (dict(n_steps="5"), "n_steps='5' must be an integer >= 1"),
        (dict(n_steps=np.float64(5.0)), r"n_steps=np.float64\(5.0\) must be an integer >= 1"),
        (dict(batch_size="64"), "batch_size='64' must be an integer >= 1"),
        (dict(chunk_size=0), "chunk_size=0 must be an integer >= 1"),
        (dict(learning_rate="lin_3e-4"), "learning_rate='lin_3e-4' must be a finite number or a schedule"),
    ],
)
def test_bad_arguments_are_named_before_the_env_is_made(kwargs: dict, message: str) -> None:
    # The env id does not exist: the argument error must come first
    with pytest.raises(ValueError, match=message):
        REINFORCE("MlpPolicy", "NoSuchEnv-v0", **kwargs)


def test_gae_lambda_without_critic_warns() -> None:
    with pytest.warns(UserWarning, match="gae_lambda=0.9 has no effect with baseline='mean'"):
        REINFORCE("MlpPolicy", "CartPole-v1", baseline="mean", gae_lambda=0.9)


def test_vf_coef_without_critic_warns() -> None:
    with pytest.warns(UserWarning, match="vf_coef=0.25 has no effect with baseline='none': there is no value loss"):
        REINFORCE("MlpPolicy", "CartPole-v1", baseline="none", vf_coef=0.25)


def test_default_vf_coef_without_critic_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    REINFORCE("MlpPolicy", "CartPole-v1", baseline="mean")
    assert not [w for w in recwarn if "vf_coef" in str(w.message)]


def test_target_kl_without_minibatches_warns() -> None:
    with pytest.warns(UserWarning, match="target_kl=0.01 has no effect without batch_size: one step"):
        REINFORCE("MlpPolicy", "CartPole-v1", target_kl=0.01)


def test_bad_buffer_kwargs_are_refused() -> None:
    with pytest.raises(ValueError, match="max_steps_per_env=3 must be at least n_steps=8"):
        REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8, rollout_buffer_kwargs=dict(max_steps_per_env=3))


class TupleActionEnv(gym.Env):
    observation_space = spaces.Box(-1, 1, (2,))
    action_space = spaces.Tuple([spaces.Discrete(2), spaces.Discrete(2)])


def test_unsupported_action_space_is_named() -> None:
    with pytest.raises(ValueError, match="env: REINFORCE does not support the action space Tuple"):
        REINFORCE("MlpPolicy", TupleActionEnv())


class NonFiniteEnv(gym.Env):
    """Gives a NaN (or inf) reward or observation at its ``bad_step``-th step (counted over episodes)."""

    def __init__(self, bad_step: int | None, what: str, value: float = np.nan) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.bad_step, self.what, self.value = bad_step, what, value
        self.steps_taken = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        self.steps_taken += 1
        obs, reward = np.full(2, self.t, dtype=np.float32), 1.0
        if self.steps_taken == self.bad_step:
            if self.what == "reward":
                reward = self.value
            else:
                obs[1] = self.value
            self.bad_step = None
        return obs, reward, False, self.t >= 10, {}


@pytest.mark.parametrize("what,value", [("reward", np.nan), ("observation", np.inf), ("observation", np.nan)])
def test_non_finite_env_output_is_named_and_not_trained_on(tmp_path: Path, what: str, value: float) -> None:
    env = make_vec_env(lambda: NonFiniteEnv(None, what, value), n_envs=3)
    model = REINFORCE("MlpPolicy", env, n_steps=2, seed=0)
    model.learn(60)  # first updates are fine
    assert model._n_updates > 0
    assert isinstance(env, DummyVecEnv)
    bad_env = env.envs[2].unwrapped
    assert isinstance(bad_env, NonFiniteEnv)
    bad_env.bad_step = bad_env.steps_taken + 3  # inside the next rollout
    model.save(tmp_path / "model.zip")
    saved = (tmp_path / "model.zip").read_bytes()
    parameters = {name: tensor.clone() for name, tensor in model.policy.state_dict().items()}

    with pytest.raises(ValueError, match=f"env 2 returned a non-finite {what} at timestep"):
        model.learn(200, reset_num_timesteps=False)

    # The bad rollout was not trained on, and the saved model is untouched
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(tensor, parameters[name]), name
    assert (tmp_path / "model.zip").read_bytes() == saved
    # The model stays usable: the next learn resets the envs and goes on
    model.learn(100)
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_non_finite_reset_observation_is_refused_before_training() -> None:
    class BadResetEnv(NonFiniteEnv):
        def reset(self, *, seed=None, options=None):
            obs, info = super().reset(seed=seed)
            obs[0] = np.nan
            return obs, info

    model = REINFORCE("MlpPolicy", BadResetEnv(None, "reward"), seed=0)
    with pytest.raises(ValueError, match="env 0 returned a non-finite observation at timestep 0"):
        model.learn(100)
    assert model._n_updates == 0
