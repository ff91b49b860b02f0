"""The episodic rollout buffer, driven by REINFORCE's own collection loop, against brute force."""

from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, cast

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import REINFORCE, EpisodicRolloutBuffer, VectorEnvAdapter
from sb3_reinforce.common.buffers import EpisodeBatch
from sb3_reinforce.reinforce.reinforce import Baseline
from tests.envs import LoggedEpisodesEnv, NextStepResetVectorEnv, bootstrap_value, reference_returns


def make_model(
    n_envs: int, n_steps: int, baseline: Baseline, max_episode_length: int = 12, engine: str = "dummy", **buffer_kwargs: Any
) -> REINFORCE:
    """
    REINFORCE on ``LoggedEpisodesEnv``s that ``engine`` steps: SB3's DummyVecEnv, or (``"next_step"``)
    a gymnasium vector env that resets on the step after an episode's end.
    """
    env_fns: list[Callable[[], gym.Env]] = [partial(LoggedEpisodesEnv, i, max_episode_length) for i in range(n_envs)]
    venv = DummyVecEnv(env_fns) if engine == "dummy" else NextStepResetVectorEnv(env_fns)
    return REINFORCE(
        "MlpPolicy", venv, n_steps=n_steps, gamma=0.9, baseline=baseline, rollout_buffer_kwargs=buffer_kwargs, seed=0
    )


def logged_envs(model: REINFORCE) -> list[LoggedEpisodesEnv]:
    """The envs of a model from ``make_model``, whose logs hold every transition."""
    if isinstance(model.env, VectorEnvAdapter):
        assert isinstance(model.env.vector_env, NextStepResetVectorEnv)
        return [cast(LoggedEpisodesEnv, env) for env in model.env.vector_env.envs]
    assert isinstance(model.env, DummyVecEnv)
    return [cast(LoggedEpisodesEnv, env) for env in model.env.envs]


def transition_ids(batch: EpisodeBatch) -> np.ndarray:
    """The observations ``[env_id, step_id]`` of a batch of ``LoggedEpisodesEnv`` transitions, as integers."""
    assert isinstance(batch.observations, th.Tensor)
    return batch.observations.long().numpy()


class StopEvery(BaseCallback):
    """Stops training at every ``period``-th step, as a user's callback may."""

    def __init__(self, period: int) -> None:
        super().__init__()
        self.period = period

    def _on_step(self) -> bool:
        return self.n_calls % self.period != 0


def rollouts(
    model: REINFORCE, total_timesteps: int, callback: BaseCallback | None = None, reset: bool = True
) -> Iterator[tuple[EpisodeBatch, np.ndarray]]:
    """Run the real collection loop and yield, per rollout, what train() would see."""
    total, callback = model._setup_learn(total_timesteps, callback, reset_num_timesteps=reset)
    callback.on_training_start(locals(), globals())
    assert model.env is not None
    buffer = model.rollout_buffer
    while model.num_timesteps < total:
        if not model.collect_rollouts(model.env, callback, buffer, model.n_steps):
            continue  # learn() would return here; a later learn(reset_num_timesteps=False) goes on
        batch = buffer.get()
        bootstrap_obs = buffer.bootstrap_observations()
        bootstrap_values = None
        if model.uses_critic and bootstrap_obs is not None:
            assert isinstance(bootstrap_obs, th.Tensor)  # LoggedEpisodesEnv's observations are arrays
            bootstrap_values = bootstrap_value(bootstrap_obs[:, 1].numpy())
        values = np.zeros(buffer.n_transitions) if model.uses_critic else None
        returns, _ = buffer.compute_returns_and_advantages(values, bootstrap_values)
        yield batch, returns


# A vector env that resets on the next step spends a step per episode that is no transition
ENGINES = ["dummy", "next_step"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("baseline", ["none", "critic"])
@pytest.mark.parametrize("n_envs,n_steps", [(1, 1), (1, 7), (4, 1), (4, 5), (3, 16)])
def test_trains_every_finished_episode_once_with_exact_returns(
    baseline: Baseline, n_envs: int, n_steps: int, engine: str
) -> None:
    model = make_model(n_envs, n_steps, baseline, engine=engine)
    trained: dict[int, dict[int, float]] = defaultdict(dict)
    for batch, returns in rollouts(model, 600):
        env_ids, step_ids = transition_ids(batch).T
        for env_id, step_id, value in zip(env_ids, step_ids, returns, strict=True):
            assert step_id not in trained[env_id], "a transition was trained twice"
            trained[env_id][step_id] = value

    for env_id, env in enumerate(logged_envs(model)):
        reference = reference_returns(env.log, model.gamma, with_critic=baseline == "critic")
        # Every finished episode is trained, with its exact return; unfinished ones are not trained
        assert set(trained[env_id]) == set(reference)
        for step_id, value in trained[env_id].items():
            assert value == pytest.approx(reference[step_id], abs=1e-5)


def budget_chunks(model: REINFORCE) -> Iterator[tuple[EpisodeBatch, np.ndarray]]:
    """learn() in small chunks: the budget ends most rollouts inside episodes."""
    for chunk in range(30):
        yield from rollouts(model, 31, reset=chunk == 0)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("baseline", ["none", "critic"])
@pytest.mark.parametrize("interruption", ["callback", "budget"])
def test_returns_stay_exact_when_rollouts_are_interrupted(baseline: Baseline, interruption: str, engine: str) -> None:
    model = make_model(n_envs=3, n_steps=4, baseline=baseline, engine=engine)
    trained: dict[int, dict[int, float]] = defaultdict(dict)
    batches = rollouts(model, 900, StopEvery(40)) if interruption == "callback" else budget_chunks(model)
    for batch, returns in batches:
        for (env_id, step_id), value in zip(transition_ids(batch).tolist(), returns, strict=True):
            assert step_id not in trained[env_id], "a transition was trained twice"
            trained[env_id][step_id] = value
    for env_id, env in enumerate(logged_envs(model)):
        reference = reference_returns(env.log, model.gamma, with_critic=baseline == "critic")
        if interruption == "budget":
            # Episodes carried across learn() calls are all finished and trained
            assert set(trained[env_id]) == set(reference)
        else:
            # Episodes completed by a stopped rollout are not trained; all others are
            assert 0.5 * len(reference) < len(trained[env_id]) < len(reference)
        for step_id, value in trained[env_id].items():
            assert value == pytest.approx(reference[step_id], abs=1e-5)


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_groups_train_their_episodes_of_one_index_together_with_exact_returns(baseline: Baseline) -> None:
    """Groups of 2 envs whose episodes differ in length: an episode that ends first waits, carried, for its groupmate's."""
    model = make_model(n_envs=4, n_steps=3, baseline=baseline, group_size=2)
    trained: dict[int, dict[int, float]] = defaultdict(dict)
    n_waited = 0
    for batch, returns in rollouts(model, 900):
        buffer = model.rollout_buffer
        envs, indices = buffer._batch_envs, buffer.episode_indices[buffer._batch_rows, buffer._batch_envs]
        # A group trains the same episode indices of both of its envs
        for group in range(2):
            first, second = (set(indices[envs == env].tolist()) for env in (2 * group, 2 * group + 1))
            assert first == second
        # Ends that an earlier rollout stored: episodes that finished there and waited
        n_waited += int((buffer.episode_ends[buffer._batch_rows, envs] & batch.carried.numpy()).sum())
        for (env_id, step_id), value in zip(transition_ids(batch).tolist(), returns, strict=True):
            assert step_id not in trained[env_id], "a transition was trained twice"
            trained[env_id][step_id] = value
    assert n_waited > 0
    for env_id, env in enumerate(logged_envs(model)):
        reference = reference_returns(env.log, model.gamma, with_critic=baseline == "critic")
        assert 0.5 * len(reference) < len(trained[env_id]) <= len(reference)
        for step_id, value in trained[env_id].items():
            assert value == pytest.approx(reference[step_id], abs=1e-5)


def test_batches_hold_at_least_n_steps_per_env_and_whole_episodes() -> None:
    model = make_model(n_envs=3, n_steps=10, baseline="none")
    for batch, _ in rollouts(model, 900):
        env_ids, step_ids = transition_ids(batch).T
        for env_id, env in enumerate(logged_envs(model)):
            mine = np.sort(step_ids[env_ids == env_id])
            assert len(mine) > 0
            last = env.log[int(mine[-1])]
            assert last[1] or last[2], "the batch ends inside an episode"
        assert batch.n_episodes >= 3


def test_one_env_one_step_is_one_episode_per_update() -> None:
    model = make_model(n_envs=1, n_steps=1, baseline="none")
    batches = [(batch.n_episodes, len(batch.actions), model.rollout_buffer.pos) for batch, _ in rollouts(model, 300)]
    # The last rollout stops when the budget is spent, possibly inside an episode
    for n_episodes, n_transitions, stored in batches[:-1]:
        assert n_episodes == 1
        assert stored == n_transitions, "nothing should be carried over"
    assert len(batches) > 20


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_never_ending_episode_is_cut_and_bootstrapped(baseline: Baseline) -> None:
    max_steps = 20
    model = make_model(n_envs=2, n_steps=5, baseline=baseline, max_episode_length=0, max_steps_per_env=max_steps)
    log = logged_envs(model)[0].log
    seen: set[int] = set()
    n_batches = 0
    for batch, returns in rollouts(model, 400):
        n_batches += 1
        assert model.rollout_buffer.pos <= max_steps
        assert batch.n_episodes == 2  # one cut segment per env
        env_ids, all_step_ids = transition_ids(batch).T
        mine = env_ids == 0
        step_ids = all_step_ids[mine]
        segment_end = int(step_ids.max())
        assert not seen.intersection(step_ids)
        seen.update(step_ids)
        tail = bootstrap_value(np.array(segment_end + 1)).item() if baseline == "critic" else 0.0
        for step_id, value in zip(step_ids, returns[mine], strict=True):
            later = range(step_id, segment_end + 1)
            expected = sum(0.9 ** (s - step_id) * log[s][0] for s in later) + 0.9 ** len(later) * tail
            assert value == pytest.approx(expected, abs=1e-5)
    assert n_batches >= 10
    # The episode goes on across cuts: the step index within the episode keeps counting
    assert int(batch.episode_steps.max()) > max_steps


def test_buffer_storage_is_bounded() -> None:
    max_steps = 20
    model = make_model(n_envs=2, n_steps=5, baseline="none", max_episode_length=0, max_steps_per_env=max_steps)
    buffer = model.rollout_buffer
    arrays = [*buffer.observations.values(), buffer.actions, buffer.rewards, buffer.episode_ends, buffer.episode_steps]
    n_batches = 0
    for batch, _ in rollouts(model, 1000):
        n_batches += 1
        assert model.rollout_buffer is buffer
        assert buffer.pos <= max_steps
        # Rows are reused, never reallocated or grown
        stored = [*buffer.observations.values(), buffer.actions, buffer.rewards, buffer.episode_ends, buffer.episode_steps]
        assert all(now is before for now, before in zip(stored, arrays, strict=True))
        assert all(array.shape[:2] == (max_steps, 2) for array in stored)
        # The env never ends its episode: the full storage cuts it, so every rollout trains on something
        assert len(batch.actions) > 0
    assert n_batches >= 1000 // (2 * max_steps)


def test_learn_resets_carried_episodes_with_the_env() -> None:
    model = make_model(n_envs=2, n_steps=3, baseline="none", max_episode_length=40)
    model.learn(50)
    buffer = model.rollout_buffer
    assert buffer.pos > buffer._tail_start.min(), "the test needs an episode carried over"
    step_ids_before_reset = [env.step_id for env in logged_envs(model)]
    model.learn(10, reset_num_timesteps=True)
    # After the reset, the buffer holds only steps taken after it
    for env_id, first_id in enumerate(step_ids_before_reset):
        stored = buffer.observations[""][buffer.first_row[env_id] : buffer.pos, env_id, 1]
        assert len(stored) > 0 and stored.min() > first_id


@pytest.mark.parametrize(
    "observation_space",
    [
        spaces.Box(-1, 1, (3,), dtype=np.float32),
        spaces.Box(0, 255, (8, 8, 1), dtype=np.uint8),
        spaces.Discrete(4),
        spaces.MultiBinary(3),
        spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "b": spaces.Discrete(3)}),
    ],
)
@pytest.mark.parametrize(
    "action_space", [spaces.Box(-1, 1, (2,)), spaces.Discrete(3), spaces.MultiDiscrete([2, 3]), spaces.MultiBinary(2)]
)
def test_buffer_round_trips_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    n_envs = 2
    buffer = EpisodicRolloutBuffer(2, observation_space, action_space, n_envs=n_envs, max_steps_per_env=8)
    buffer.start_rollout()
    stored = []
    for step in range(3):
        obs = (
            {k: np.stack([s.sample() for _ in range(n_envs)]) for k, s in observation_space.spaces.items()}
            if isinstance(observation_space, spaces.Dict)
            else np.stack([observation_space.sample() for _ in range(n_envs)])
        )
        actions = np.stack([action_space.sample() for _ in range(n_envs)])
        buffer.add(obs, actions, np.ones(n_envs), np.array([step == 2] * n_envs), {})
        stored.append((obs, actions))
    buffer.finish_rollout(stored[-1][0])
    batch = buffer.get()
    assert buffer.n_transitions == 6 and batch.n_episodes == 2
    first_obs, first_actions = stored[0]
    if isinstance(observation_space, spaces.Dict):
        assert isinstance(batch.observations, dict) and isinstance(first_obs, dict)
        assert set(batch.observations) == {"a", "b"}
        np.testing.assert_allclose(batch.observations["a"][0].numpy(), first_obs["a"][0])
    else:
        assert isinstance(batch.observations, th.Tensor) and isinstance(first_obs, np.ndarray)
        assert batch.observations.dtype == th.as_tensor(np.zeros(1, dtype=observation_space.dtype)).dtype
        np.testing.assert_array_equal(batch.observations[0].numpy().ravel(), np.asarray(first_obs[0]).ravel())
    np.testing.assert_allclose(batch.actions[0].numpy().ravel(), np.asarray(first_actions[0], dtype=np.float64).ravel())


def test_max_steps_per_env_below_n_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="max_steps_per_env"):
        EpisodicRolloutBuffer(10, spaces.Box(-1, 1, (2,)), spaces.Discrete(2), max_steps_per_env=5)


def test_nbytes_is_the_storage_of_max_steps_per_env_transitions() -> None:
    observation_space = spaces.Dict(
        {"image": spaces.Box(0, 255, (4, 4, 3), dtype=np.uint8), "vector": spaces.Box(-1, 1, (5,))}
    )
    buffer = EpisodicRolloutBuffer(4, observation_space, spaces.Box(-1, 1, (2,)), n_envs=3, max_steps_per_env=10)
    # Per transition: uint8 image, float32 vector, float32 actions, float32 reward, bool end, int64 episode step,
    # float32 behaviour log-probability, bool reset step, int64 episode index
    per_transition = 4 * 4 * 3 + 5 * 4 + 2 * 4 + 4 + 1 + 8 + 4 + 1 + 8
    assert buffer.nbytes == 10 * 3 * per_transition
