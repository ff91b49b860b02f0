"""A2C drop-in fidelity: the action shapes, files, numbers and process state that SB3 pipelines rely on."""

import os
import stat
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from sb3_reinforce import REINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline


class RecordingBoxEnv(gym.Env):
    """A ``Box`` action space of any shape; records every action the env receives. Episodes last 4 steps."""

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.observation_space = spaces.Box(-1, 1, (3,), dtype=np.float32)
        self.action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        self.received: list[np.ndarray] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.received.append(np.array(action))
        self.t += 1
        return np.full(3, self.t / 4, dtype=np.float32), float(np.sum(action)), self.t >= 4, False, {}


# Per-row bounds whose scales differ by 100x: actions clipped with another row's bounds fall outside
ROW_SCALES = np.array([0.1, 1.0, 10.0])
BOX_BOUNDS = {
    "(1,)": np.ones(1),
    "(3,)": ROW_SCALES,
    "(2, 2)": np.array([[0.1, 1.0], [10.0, 0.5]]),
    "(3, 1)": ROW_SCALES[:, None],
    "(2, 3, 1)": np.stack([ROW_SCALES, ROW_SCALES[::-1]])[..., None],
}


@pytest.mark.parametrize("use_sde", [False, True])
@pytest.mark.parametrize("shape", list(BOX_BOUNDS))
def test_box_actions_reach_the_env_in_the_space_shape_and_bounds(shape: str, use_sde: bool) -> None:
    bound = BOX_BOUNDS[shape]
    env = make_vec_env(lambda: RecordingBoxEnv(-bound, bound), n_envs=3, seed=0)
    # gSDE with squash_output unscales tanh-squashed actions instead of clipping them
    policy_kwargs = dict(squash_output=True) if use_sde else None
    model = REINFORCE("MlpPolicy", env, n_steps=4, use_sde=use_sde, policy_kwargs=policy_kwargs, seed=0)
    model.learn(48)
    assert model._n_updates > 0
    received = np.stack([action for wrapped in env.envs for action in wrapped.unwrapped.received])  # type: ignore[attr-defined]
    assert received.shape == (48, *bound.shape)
    # Each element within its own bounds: the scales differ by 100x, so another element's bounds would show
    assert (np.abs(received) <= bound + 1e-6).all()


def test_box_training_and_prediction_agree_on_shapes() -> None:
    bound = BOX_BOUNDS["(3, 1)"]
    model = REINFORCE("MlpPolicy", RecordingBoxEnv(-bound, bound), seed=0).learn(8)
    action, _ = model.predict(np.zeros(3, dtype=np.float32))
    received = model.get_env().envs[0].unwrapped.received  # type: ignore[union-attr]
    assert action.shape == received[0].shape == (3, 1)


@pytest.fixture
def umask_022() -> Any:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_save_gets_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1")
    previous = os.umask(umask)
    try:
        model.save(tmp_path / "model.zip")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "model.zip") == 0o666 & ~umask == _mode(tmp_path / "plain")


def test_overwriting_a_save_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1")
    path = tmp_path / "model.zip"
    model.save(path)
    path.chmod(0o640)
    model.save(path)
    assert _mode(path) == 0o640
    assert REINFORCE.load(path).baseline == model.baseline


def test_checkpoints_are_readable_by_others_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8)
    model.learn(64, callback=CheckpointCallback(save_freq=32, save_path=str(tmp_path)))
    checkpoints = list(tmp_path.glob("*.zip"))
    assert checkpoints and all(_mode(path) == 0o644 for path in checkpoints)


def test_save_writes_through_a_symlink(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    target = tmp_path / "models" / "v1.zip"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "latest.zip"
    link.symlink_to(target)
    model.save(link)
    assert link.is_symlink() and link.resolve() == target
    assert REINFORCE.load(target).seed == 0
    assert sorted(path.name for path in target.parent.iterdir()) == ["v1.zip"]


def test_save_errors_name_the_path_asked_for(tmp_path: Path) -> None:
    (tmp_path / "model.zip").mkdir()
    with pytest.raises(IsADirectoryError) as error:
        REINFORCE("MlpPolicy", "CartPole-v1").save(tmp_path / "model.zip")
    assert error.value.filename == str(tmp_path / "model.zip")
    assert str(tmp_path / "model.zip") in str(error.value) and ".tmp" not in str(error.value)
    assert [path.name for path in tmp_path.iterdir()] == ["model.zip"]


def test_numpy_numbers_are_accepted_as_python_numbers() -> None:
    model = REINFORCE(
        "MlpPolicy",
        "CartPole-v1",
        n_steps=np.int64(5),
        batch_size=np.int32(16),
        critic_gradient_steps=np.int64(2),
        baseline="critic",
        gamma=np.float32(0.5),
        gae_lambda=np.float64(0.9),
        learning_rate=np.float32(1e-3),
        target_kl=np.float64(0.05),
        chunk_size=np.uint8(7),
    )
    for name, kind in [("n_steps", int), ("batch_size", int), ("critic_gradient_steps", int), ("chunk_size", int)]:
        assert type(getattr(model, name)) is kind, name
    for name in ["gamma", "gae_lambda", "target_kl"]:
        assert type(getattr(model, name)) is float, name
    assert model.n_steps == 5 and model.gamma == pytest.approx(0.5)
    model.learn(100)
    assert model._n_updates > 0


class ValidationProbe(BaseCallback):
    """Builds an invalid distribution at every step, as a user's callback might by mistake."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0
        self.calls = 0

    def _on_step(self) -> bool:
        self.calls += 1
        try:
            th.distributions.Normal(th.tensor(0.0), th.tensor(-1.0))
        except ValueError:
            self.refused += 1
        return True


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_torch_argument_checks_stay_on_during_learn(env_id: str) -> None:
    probe = ValidationProbe()
    REINFORCE("MlpPolicy", env_id, n_steps=8).learn(200, callback=probe)
    assert probe.calls > 0 and probe.refused == probe.calls
    assert th.distributions.Distribution._validate_args


def test_training_in_threads_leaves_torch_argument_checks_on() -> None:
    def train() -> None:
        REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8).learn(300)

    threads = [threading.Thread(target=train) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pytest.raises(ValueError):
        th.distributions.Normal(th.tensor(0.0), th.tensor(-1.0))


class Float64Outputs(VecEnvWrapper):
    """
    Rewards and observations as float64, as a ``SubprocVecEnv`` returns them (it stacks what the
    envs return), with ``value`` written into env 1's ``what`` at the step numbered ``at``.
    """

    def __init__(self, venv: VecEnv, what: str, value: float, at: int) -> None:
        super().__init__(venv)
        self.what, self.value, self.at, self.steps = what, value, at, 0

    def reset(self) -> np.ndarray:
        return self.venv.reset().astype(np.float64)  # type: ignore[union-attr]

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        obs, rewards = obs.astype(np.float64), rewards.astype(np.float64)  # type: ignore[union-attr]
        self.steps += 1
        if self.steps == self.at:
            if self.what == "reward":
                rewards[1] = self.value
            else:
                obs[1, 0] = self.value
        return obs, rewards, dones, infos


@pytest.mark.parametrize("what", ["reward", "observation"])
def test_values_that_overflow_float32_storage_are_refused(what: str) -> None:
    env = Float64Outputs(make_vec_env("CartPole-v1", n_envs=2, seed=0), what, 1e39, at=30)
    model = REINFORCE("MlpPolicy", env, n_steps=4, seed=0)
    with pytest.raises(ValueError, match=f"env 1 returned a non-finite {what} at timestep 58 .*overflows float32"):
        model.learn(500)
    assert model.return_mean is None or np.isfinite(model.return_mean)


def test_a_far_away_mean_baseline_loses_no_precision() -> None:
    """After an outlier batch, the running mean can sit far from the returns; standardized advantages must not care."""

    def first_update(return_mean: float | None) -> dict[str, th.Tensor]:
        model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=64, seed=0)
        model.return_mean = return_mean
        return model.learn(64).policy.state_dict()

    reference, after_outlier = first_update(None), first_update(1e12)
    initial = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=64, seed=0).policy.state_dict()
    for name, tensor in reference.items():
        th.testing.assert_close(after_outlier[name], tensor)
    assert any(not th.equal(reference[name], initial[name]) for name in reference)


def test_a_save_with_a_non_finite_mean_baseline_is_refused(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1")
    model.return_mean = float("nan")
    model.save(tmp_path / "model.zip")
    with pytest.raises(ValueError, match="entry 'return_mean': nan is not a finite number"):
        REINFORCE.load(tmp_path / "model.zip")


class NaNTerminalObservationEnv(gym.Env):
    """Episodes truncated after 5 steps; the terminal observation of the ``bad_episode``-th holds a NaN."""

    def __init__(self, bad_episode: int | None) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.bad_episode, self.episodes = bad_episode, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        obs = np.full(2, self.t, dtype=np.float32)
        truncated = self.t >= 5
        if truncated:
            self.episodes += 1
            if self.episodes == self.bad_episode:
                obs[0] = np.nan
        return obs, 1.0, False, truncated, {}


@pytest.mark.parametrize("baseline", ["none", "mean", "critic"])
def test_a_non_finite_terminal_observation_is_named(baseline: Baseline) -> None:
    env = make_vec_env(lambda: NaNTerminalObservationEnv(None), n_envs=2)
    env.envs[1].unwrapped.bad_episode = 3  # type: ignore[attr-defined]
    model = REINFORCE("MlpPolicy", env, baseline=baseline, seed=0)
    with pytest.raises(ValueError, match="env 1 returned a non-finite terminal observation at timestep 28"):
        model.learn(200)


class EndlessEnv(gym.Env):
    """An env whose episodes never end."""

    observation_space = spaces.Box(-1, 1, (2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return np.zeros(2, dtype=np.float32), float(action), False, False, {}


def test_cut_episodes_warn_once_and_are_counted(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", EndlessEnv(), n_steps=5, rollout_buffer_kwargs=dict(max_steps_per_env=20))
    model.set_logger(configure(str(tmp_path), ["csv"]))
    with pytest.warns(UserWarning, match="max_steps_per_env=20 stored transitions and was cut") as warned:
        model.learn(200, log_interval=1)
    assert len([w for w in warned if "was cut" in str(w.message)]) == 1
    header, *rows = (tmp_path / "progress.csv").read_text().splitlines()
    column = header.split(",").index("train/n_cut_segments")
    # SB3 logs before each update: the first row has no train/ keys yet
    counts = [float(value) for row in rows if (value := row.split(",")[column])]
    assert counts == [1.0] * len(counts) and len(counts) >= 5


def test_complete_episodes_do_not_warn_about_cuts(recwarn: pytest.WarningsRecorder) -> None:
    REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8).learn(500)
    assert not [w for w in recwarn if "was cut" in str(w.message)]
