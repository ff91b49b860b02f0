"""Groups of shared starts (SharedStarts, make_grouped_vec_env) and the checks of baseline='leave_one_out'."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv, VecNormalize

from examples import routing
from sb3_reinforce import REINFORCE, RecurrentREINFORCE, make_grouped_vec_env
from sb3_reinforce.common.groups import SharedStarts, episode_seed

GROUP_SIZE = 3
N_GROUPS = 2


def first_observations(env: Any, n_steps: int) -> dict[tuple[int, int], np.ndarray]:
    """Each env's first observation of each of its episodes, by (env, episode index), stepping random actions."""
    obs = env.reset()
    starts = {(index, 0): obs[index].copy() for index in range(env.num_envs)}
    episodes = np.zeros(env.num_envs, dtype=int)
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        obs, _, dones, _ = env.step(rng.integers(0, 2, size=env.num_envs))
        for index in np.flatnonzero(dones):
            episodes[index] += 1
            starts[(int(index), int(episodes[index]))] = obs[index].copy()
    return starts


@pytest.mark.parametrize("vec_env_cls", ["dummy", "subproc"])
def test_a_groups_episodes_of_one_index_start_alike(vec_env_cls: str) -> None:
    kwargs: dict[str, Any] = {"vec_env_cls": SubprocVecEnv} if vec_env_cls == "subproc" else {}
    env = make_grouped_vec_env("CartPole-v1", N_GROUPS, GROUP_SIZE, seed=3, **kwargs)
    starts = first_observations(env, 200)
    env.close()
    n_compared = 0
    for (index, episode), observation in starts.items():
        group_start = starts.get((index - index % GROUP_SIZE, episode))
        if group_start is not None:
            np.testing.assert_array_equal(observation, group_start)
            n_compared += index % GROUP_SIZE != 0
        other_group = starts.get(((index + GROUP_SIZE) % (N_GROUPS * GROUP_SIZE), episode))
        if other_group is not None:
            # Another group draws another instance
            assert not np.array_equal(observation, other_group)
    # Episodes of different lengths: members reached the same indices at different steps
    assert n_compared > 10 * N_GROUPS


def test_a_seeded_reset_rebases_the_groups_seeds() -> None:
    """SB3 seeds env i with seed + i; the wrapper turns that back into one base seed for all envs."""
    env = make_grouped_vec_env("CartPole-v1", N_GROUPS, GROUP_SIZE, seed=3)
    env.seed(11)
    env.reset()
    wrappers = [env.envs[index] for index in range(env.num_envs)]  # type: ignore[attr-defined]
    assert all(isinstance(wrapper, SharedStarts) and wrapper.base_seed == 11 for wrapper in wrappers)
    assert all(wrapper.next_start == 1 for wrapper in wrappers)
    assert episode_seed(11, 0, 0) != episode_seed(11, 1, 0) != episode_seed(11, 0, 1)


def test_maskable_reinforce_trains_groups_on_shared_routing_instances() -> None:
    """The routing example's tours: a group solves the same instance, and masks reach the algorithm through the wrappers."""
    model = routing.train(1_200, seed=0, n_cities=5, n_envs=4, group_size=2)
    assert (model.baseline, model.group_size) == ("leave_one_out", 2)
    assert model.ep_info_buffer and all(info["l"] == 4 for info in model.ep_info_buffer)
    assert routing.evaluate(model, masked=True, n_instances=3, n_cities=5).invalid_action_rate == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"baseline": "leave_one_out"}, "baseline='leave_one_out' takes group_size"),
        ({"baseline": "mean", "group_size": 2}, "baseline='leave_one_out' takes group_size"),
        ({"baseline": "leave_one_out", "group_size": 1}, "group_size=1 must be an integer of at least 2"),
        ({"baseline": "leave_one_out", "group_size": 4}, "group_size=4 must be at least 2 and divide n_envs=6"),
        (
            {"baseline": "leave_one_out", "group_size": 2, "carried_episodes": "discarded"},
            "carried_episodes='discarded' with baseline='leave_one_out'",
        ),
    ],
)
def test_bad_group_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        REINFORCE("MlpPolicy", make_grouped_vec_env("CartPole-v1", 3, 2, seed=0), **kwargs)


def test_envs_without_shared_starts_are_refused_before_any_update() -> None:
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", 4, seed=0), baseline="leave_one_out", group_size=2)
    parameters = [parameter.detach().clone() for parameter in model.policy.parameters()]
    with pytest.raises(ValueError, match="envs 0 and 1 of group 0 started their episode 0 from different first observations"):
        model.learn(2_000)
    assert all((before == after).all() for before, after in zip(parameters, model.policy.parameters(), strict=True))


def test_observation_normalization_and_recurrent_policies_are_refused() -> None:
    env = VecNormalize(make_grouped_vec_env("CartPole-v1", 2, 2, seed=0))
    with pytest.raises(ValueError, match="VecNormalize's observation normalization"):
        REINFORCE("MlpPolicy", env, baseline="leave_one_out", group_size=2)
    REINFORCE("MlpPolicy", VecNormalize(env.venv, norm_obs=False), baseline="leave_one_out", group_size=2)
    with pytest.raises(ValueError, match="RecurrentREINFORCE does not take baseline='leave_one_out'"):
        RecurrentREINFORCE("MlpLstmPolicy", env.venv, baseline="leave_one_out", group_size=2)


def test_group_size_is_saved_and_loaded(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", make_grouped_vec_env("CartPole-v1", 2, 2, seed=0), baseline="leave_one_out", group_size=2)
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_grouped_vec_env("CartPole-v1", 2, 2, seed=1))
    assert (loaded.baseline, loaded.group_size, loaded.rollout_buffer.group_size) == ("leave_one_out", 2, 2)
    loaded.learn(500)


def test_groups_start_alike_again_after_learn_resets_the_envs() -> None:
    """A second learn() resets the envs when their groups had finished different numbers of episodes."""
    env = make_grouped_vec_env("CartPole-v1", 2, 2, seed=0)
    model = REINFORCE("MlpPolicy", env, baseline="leave_one_out", group_size=2, seed=0)
    model.learn(1_000)
    n_updates = model._n_updates
    next_starts = np.array(env.get_attr("next_start")).reshape(-1, 2)
    assert not (next_starts == next_starts[:, :1]).all(), "the groups' envs count their starts alike: no test"
    # reset_num_timesteps=True: learn() resets the envs; every update checks that the groups' starts are shared
    model.learn(1_000)
    assert model.num_timesteps >= 1_000 and model._n_updates > n_updates
