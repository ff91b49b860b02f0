"""VectorEnvAdapter: SB3's VecEnv semantics over gymnasium's vector envs and EnvPool, for every SB3 algorithm."""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecFrameStack, VecNormalize

from sb3_reinforce import REINFORCE, EpisodicRolloutBuffer, MaskableREINFORCE, RecurrentREINFORCE, VectorEnvAdapter
from sb3_reinforce.common.vec_env import RESET_STEP_KEY

N_ENVS = 4
MAX_STEPS = 20  # short enough that both terminations and truncations happen
N_STEPS = 150


def cartpole(max_episode_steps: int = MAX_STEPS) -> gym.Env:
    return gym.make("CartPole-v1", max_episode_steps=max_episode_steps)


def gymnasium_vector_env(mode: str, autoreset_mode: AutoresetMode) -> gym.vector.VectorEnv:
    return gym.make_vec(
        "CartPole-v1",
        N_ENVS,
        vectorization_mode=mode,
        vector_kwargs={"autoreset_mode": autoreset_mode},
        max_episode_steps=MAX_STEPS,
    )


def rollout(venv: VecEnv, seed: int = 0) -> list[tuple[Any, ...]]:
    """Every step's outputs for a fixed sequence of random actions."""
    venv.seed(seed)
    steps: list[tuple[Any, ...]] = [(venv.reset(),)]
    actions = np.random.default_rng(seed).integers(0, 2, size=(N_STEPS, N_ENVS))
    for step_actions in actions:
        steps.append(venv.step(step_actions))
    return steps


def sb3_view(infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The infos' entries that SB3's algorithms read, with Monitor's episode time left out."""
    view = []
    for info in infos:
        entries: dict[str, Any] = {key: info[key] for key in ("terminal_observation", "TimeLimit.truncated") if key in info}
        if "episode" in info:
            entries["episode"] = {key: info["episode"][key] for key in ("r", "l")}
        view.append(entries)
    return view


def assert_same_steps(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    np.testing.assert_array_equal(actual[0][0], expected[0][0])
    n_ends = n_truncations = 0
    for (obs, rewards, dones, infos), (obs_ref, rewards_ref, dones_ref, infos_ref) in zip(
        actual[1:], expected[1:], strict=True
    ):
        np.testing.assert_array_equal(obs, obs_ref)
        np.testing.assert_array_equal(rewards, rewards_ref)
        np.testing.assert_array_equal(dones, dones_ref)
        for info, info_ref in zip(sb3_view(infos), sb3_view(infos_ref), strict=True):
            assert info.keys() == info_ref.keys()
            if "terminal_observation" in info:
                np.testing.assert_array_equal(info.pop("terminal_observation"), info_ref.pop("terminal_observation"))
            assert info == info_ref
        n_ends += int(dones.sum())
        n_truncations += sum(info.get("TimeLimit.truncated", False) for info in infos)
    # The comparison covered both kinds of episode end
    assert 0 < n_truncations < n_ends


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_gymnasium_vector_envs_step_as_dummy_vec_env(mode: str, autoreset_mode: AutoresetMode) -> None:
    expected = rollout(DummyVecEnv([lambda: Monitor(cartpole())] * N_ENVS))
    adapter = VectorEnvAdapter(gymnasium_vector_env(mode, autoreset_mode))
    assert not adapter.flags_reset_steps
    assert_same_steps(rollout(adapter), expected)
    adapter.close()


def test_a_next_step_only_engine_is_refused_unless_reset_steps_are_flagged() -> None:
    engine = gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="only on the step after its episode ends"):
        VectorEnvAdapter(engine)
    with pytest.raises(ValueError, match="only on the step after its episode ends"):
        A2C("MlpPolicy", VectorEnvAdapter(engine))
    with pytest.raises(TypeError, match="gymnasium VectorEnv or an EnvPool env"):
        VectorEnvAdapter(cartpole())  # type: ignore[arg-type]


def test_flagged_reset_steps_carry_no_transition() -> None:
    """CartPoleVectorEnv resets on the next step: that step is flagged, and every other step is a real transition."""
    adapter = VectorEnvAdapter(
        gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode="vector_entry_point", max_episode_steps=MAX_STEPS),
        flag_reset_steps=True,
    )
    steps = rollout(adapter)
    real_steps = np.zeros(N_ENVS, dtype=int)
    episode_lengths = np.zeros(N_ENVS, dtype=int)
    ended = np.zeros(N_ENVS, dtype=bool)
    n_reset_steps = n_truncations = 0
    for obs, rewards, dones, infos in steps[1:]:
        for idx, info in enumerate(infos):
            if ended[idx]:
                # The step after an end: flagged, done, reward 0, a fresh start, no statistics
                assert info == {RESET_STEP_KEY: True, "TimeLimit.truncated": False} and dones[idx] and rewards[idx] == 0
                assert np.abs(obs[idx]).max() <= 0.05
                n_reset_steps += 1
            else:
                assert RESET_STEP_KEY not in info and rewards[idx] == 1
                real_steps[idx] += 1
                if dones[idx]:
                    episode_lengths[idx] += info["episode"]["l"]
                    assert (
                        info["episode"]["l"] == MAX_STEPS if info["TimeLimit.truncated"] else info["episode"]["l"] <= MAX_STEPS
                    )
                    n_truncations += info["TimeLimit.truncated"]
                    np.testing.assert_array_equal(info["terminal_observation"], obs[idx])
        ended = dones & np.array([RESET_STEP_KEY not in info for info in infos])
    assert n_reset_steps > 0 and n_truncations > 0
    # The finished episodes' lengths count every real step before each env's running episode
    assert np.all(episode_lengths <= real_steps) and np.all(real_steps - episode_lengths < MAX_STEPS)


def test_envpool_resets_in_the_ending_step() -> None:
    envpool = pytest.importorskip("envpool")
    raw = envpool.make_gymnasium("CartPole-v1", num_envs=N_ENVS, seed=3, max_episode_steps=MAX_STEPS)
    adapter = VectorEnvAdapter(envpool.make_gymnasium("CartPole-v1", num_envs=N_ENVS, seed=3, max_episode_steps=MAX_STEPS))
    assert not adapter.flags_reset_steps
    raw_obs, _ = raw.reset()
    np.testing.assert_array_equal(adapter.reset(), raw_obs)
    actions = np.random.default_rng(0).integers(0, 2, size=(N_STEPS, N_ENVS))
    lengths = np.zeros(N_ENVS, dtype=int)
    n_ends = 0
    for step, step_actions in enumerate(actions):
        obs, rewards, dones, infos = adapter.step(step_actions)
        assert isinstance(obs, np.ndarray) and np.all(rewards == 1)  # no step spent resetting
        lengths += 1
        if step < 8:  # before any episode can end, the same as EnvPool itself
            np.testing.assert_array_equal(obs, raw.step(step_actions)[0])
        for idx in np.flatnonzero(dones):
            info = infos[idx]
            assert info["episode"]["l"] == lengths[idx] == info["elapsed_step"]
            assert lengths[idx] == MAX_STEPS if info["TimeLimit.truncated"] else lengths[idx] <= MAX_STEPS
            assert np.abs(obs[idx]).max() <= 0.05 < np.abs(info["terminal_observation"]).max()
            lengths[idx] = 0
            n_ends += 1
    assert n_ends > N_ENVS


def make_env_for(engine: str) -> Callable[[], Any]:
    """A CartPole-v1 vector env of ``engine``, as a user would make it."""
    if engine == "envpool":
        envpool = pytest.importorskip("envpool")
        return lambda: envpool.make_gymnasium("CartPole-v1", num_envs=N_ENVS, seed=0)
    return lambda: gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode=engine)


class RolloutRecorder(BaseCallback):
    """Per rollout: episodes in the batch, whether the batch holds a reset step, and how many were stored."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[tuple[int, bool, int]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer  # type: ignore[attr-defined]
        assert isinstance(buffer, EpisodicRolloutBuffer)
        trained_reset_steps = buffer.reset_steps[buffer._batch_rows, buffer._batch_envs].any()
        self.rollouts.append((buffer.n_episodes, bool(trained_reset_steps), int(buffer.reset_steps[: buffer.pos].sum())))


@pytest.mark.parametrize("engine", ["sync", "vector_entry_point", "envpool"])
@pytest.mark.parametrize("algorithm", [REINFORCE, RecurrentREINFORCE])
def test_reinforce_takes_a_vector_env_directly(engine: str, algorithm: type[REINFORCE]) -> None:
    model = algorithm("MlpLstmPolicy" if algorithm is RecurrentREINFORCE else "MlpPolicy", make_env_for(engine)(), seed=0)
    assert isinstance(model.env, VectorEnvAdapter) and model.n_envs == N_ENVS
    recorder = RolloutRecorder()
    model.learn(600, callback=recorder)
    # Monitor's statistics, without a Monitor; a reset step is neither an episode nor a transition
    assert model.ep_info_buffer and all(info["l"] == info["r"] > 0 for info in model.ep_info_buffer)
    n_episodes, trained_reset_steps, stored_reset_steps = (np.array(values) for values in zip(*recorder.rollouts, strict=True))
    assert n_episodes.sum() > 0 and not trained_reset_steps.any()
    # Only the engine that cannot reset in the ending step spends steps resetting
    assert (stored_reset_steps.sum() > 0) == (engine == "vector_entry_point")


@pytest.mark.parametrize("algorithm", [A2C, PPO, REINFORCE])
@pytest.mark.parametrize("engine", ["sync", "envpool"])
def test_sb3_pipelines_run_through_the_adapter(algorithm: type[A2C | PPO | REINFORCE], engine: str, tmp_path: Any) -> None:
    """VecNormalize, VecFrameStack and EvalCallback over the adapter, for SB3's algorithms and REINFORCE."""
    make_env = make_env_for(engine)
    env = VecNormalize(VecFrameStack(VectorEnvAdapter(make_env()), n_stack=2))
    eval_env = VecNormalize(VecFrameStack(VectorEnvAdapter(make_env()), n_stack=2), training=False, norm_reward=False)
    kwargs: dict[str, Any] = {"n_steps": 16, "batch_size": 32} if algorithm is PPO else {}
    model = algorithm("MlpPolicy", env, seed=0, **kwargs)
    evaluation = EvalCallback(eval_env, eval_freq=100, n_eval_episodes=3, log_path=str(tmp_path))
    model.learn(800, callback=evaluation)
    results = np.load(tmp_path / "evaluations.npz")
    assert len(results["timesteps"]) > 0 and np.all(results["ep_lengths"] > 0)
    assert model.ep_info_buffer and env.obs_rms.count > 800  # type: ignore[attr-defined]


class MaskedCartPole(gym.Wrapper):
    """CartPole-v1 with a third action that is always masked out (taking it is an error)."""

    def __init__(self) -> None:
        super().__init__(gym.make("CartPole-v1"))
        self.action_space = gym.spaces.Discrete(3)

    def action_masks(self) -> np.ndarray:
        return np.array([True, True, False])

    def step(self, action: int) -> Any:
        assert action != 2, "a masked action was taken"
        return self.env.step(action)


@pytest.mark.parametrize("algorithm", [MaskableREINFORCE, MaskablePPO])
def test_action_masks_reach_the_algorithms_through_a_sync_vector_env(algorithm: type[MaskablePPO]) -> None:
    env = VectorEnvAdapter(gym.vector.SyncVectorEnv([MaskedCartPole] * N_ENVS))
    np.testing.assert_array_equal(np.stack(env.env_method("action_masks")), [[True, True, False]] * N_ENVS)
    kwargs: dict[str, Any] = {"n_steps": 32} if algorithm is MaskablePPO else {}
    model = algorithm("MlpPolicy", env, seed=0, **kwargs)
    model.learn(300)
    assert model.ep_info_buffer


def test_attributes_and_methods_of_the_envs() -> None:
    sync = VectorEnvAdapter(gym.vector.SyncVectorEnv([lambda: Monitor(cartpole())] * N_ENVS))
    assert sync.get_attr("spec", indices=[1])[0].id == "CartPole-v1"
    sync.set_attr("marker", 7, indices=[2])
    assert [hasattr(env, "marker") for env in sync.vector_env.unwrapped.envs] == [False, False, True, False]  # type: ignore[attr-defined]
    assert sync.env_is_wrapped(Monitor) == [True] * N_ENVS
    assert sync.env_is_wrapped(gym.wrappers.TimeLimit) == [True] * N_ENVS
    # An engine without envs of its own answers with its own attributes, and refuses per-env methods
    native = VectorEnvAdapter(
        gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode="vector_entry_point"), flag_reset_steps=True
    )
    assert native.get_attr("render_mode") == [None] * N_ENVS
    with pytest.raises(NotImplementedError, match="CartPoleVectorEnv gives no access to its envs"):
        native.env_method("action_masks")


def test_seeds_reach_the_engine() -> None:
    """seed() before reset() gives the same first observations as the engine seeded itself."""
    for mode in ("sync", "vector_entry_point"):
        engine = gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode=mode)
        expected, _ = engine.reset(seed=5)
        adapter = VectorEnvAdapter(gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode=mode), flag_reset_steps=True)
        adapter.seed(5)
        np.testing.assert_array_equal(adapter.reset(), expected)


@pytest.mark.parametrize("mode", ["sync", "vector_entry_point"])
def test_render_tiles_the_engines_frames(mode: str) -> None:
    engine = gym.make_vec("CartPole-v1", N_ENVS, vectorization_mode=mode, render_mode="rgb_array")
    adapter = VectorEnvAdapter(engine, flag_reset_steps=True)
    adapter.reset()
    frames = adapter.get_images()
    assert len(frames) == N_ENVS and all(frame is not None and frame.shape == (400, 600, 3) for frame in frames)
    tiled = adapter.render()
    # SB3 tiles 4 frames 2 x 2
    assert tiled is not None and tiled.shape == (800, 1200, 3)


def dict_cartpole() -> gym.Env:
    """CartPole-v1 with a Dict observation: the cart's and the pole's halves of the state."""
    env = cartpole()
    assert isinstance(env.observation_space, gym.spaces.Box)
    low, high = env.observation_space.low, env.observation_space.high
    space = gym.spaces.Dict({"cart": gym.spaces.Box(low[:2], high[:2]), "pole": gym.spaces.Box(low[2:], high[2:])})
    return gym.wrappers.TransformObservation(env, lambda obs: {"cart": obs[:2], "pole": obs[2:]}, space)


@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_dict_observations_step_as_dummy_vec_env(autoreset_mode: AutoresetMode) -> None:
    expected = rollout(DummyVecEnv([lambda: Monitor(dict_cartpole())] * N_ENVS))
    actual = rollout(VectorEnvAdapter(gym.vector.SyncVectorEnv([dict_cartpole] * N_ENVS, autoreset_mode=autoreset_mode)))
    n_ends = 0
    for step, step_ref in zip(actual, expected, strict=True):
        for key in ("cart", "pole"):
            np.testing.assert_array_equal(step[0][key], step_ref[0][key])
        if len(step) > 1:
            np.testing.assert_array_equal(step[2], step_ref[2])
            for info, info_ref in zip(step[3], step_ref[3], strict=True):
                if "terminal_observation" in info_ref:
                    n_ends += 1
                    for key in ("cart", "pole"):
                        np.testing.assert_array_equal(info["terminal_observation"][key], info_ref["terminal_observation"][key])
    assert n_ends > N_ENVS
