"""Training's memory does not grow with the batch: the networks see ``chunk_size`` transitions at a time, same update."""

import multiprocessing
import resource
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmarks.envs import FixedLengthEnv, FixedLengthImageEnv
from sb3_reinforce import REINFORCE, RecurrentREINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline
from tests.spies import record_policy_call_sizes

SETTINGS: dict[str, dict[str, Any]] = {
    "none": dict(baseline="none"),
    "mean-minibatches": dict(baseline="mean", batch_size=16, target_kl=1.0),
    "critic": dict(baseline="critic", critic_gradient_steps=3),
    "critic-gae-minibatches": dict(baseline="critic", gae_lambda=0.9, batch_size=16),
}


def _model(chunk_size: int | None, **kwargs: Any) -> REINFORCE:
    # Plain SGD: the parameters move by exactly the gradient, so two updates compare as their gradients do
    policy_kwargs = dict(optimizer_class=th.optim.SGD, optimizer_kwargs={})
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    return REINFORCE("MlpPolicy", env, n_steps=20, chunk_size=chunk_size, policy_kwargs=policy_kwargs, seed=0, **kwargs)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_networks_see_at_most_chunk_size_transitions_in_training(setting: str) -> None:
    model = _model(chunk_size=5, **SETTINGS[setting])
    seen = record_policy_call_sizes(model.policy)
    model.learn(200)
    assert model._n_updates > 0
    # Collection evaluates 2 envs at a time; training chunks of at most 5 transitions
    assert max(seen) == 5


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_chunked_training_gives_the_same_update(setting: str) -> None:
    whole = _model(chunk_size=None, **SETTINGS[setting]).learn(300)
    chunked = _model(chunk_size=7, **SETTINGS[setting]).learn(300)
    initial = _model(chunk_size=None, **SETTINGS[setting])
    assert chunked._n_updates == whole._n_updates > 1
    for name, tensor in whole.policy.state_dict().items():
        th.testing.assert_close(chunked.policy.state_dict()[name], tensor, rtol=1e-4, atol=1e-6)
    assert any(not th.equal(tensor, initial.policy.state_dict()[name]) for name, tensor in whole.policy.state_dict().items())


def test_default_chunk_size_follows_the_observation_size() -> None:
    image_model = REINFORCE("CnnPolicy", FixedLengthImageEnv(10), _init_setup_model=True)
    vector_model = REINFORCE("MlpPolicy", "CartPole-v1")
    # 16 MiB of float32 frames of 84x84x4; small observations are capped at 8192 transitions
    assert image_model._chunk_rows == 16 * 2**20 // (84 * 84 * 4 * 4) == 148
    assert vector_model._chunk_rows == 8192


# Images of 84x84x4 bytes, 1000-step episodes: the storage holds 27 MiB; unchunked, training took 638 MiB
EPISODE_LENGTH = 1_000
# Stated in the docs: training's peak memory grows by at most twice the storage plus this
WORKING_MEMORY_MIB = 384


def _peak_rss_growth_mib(baseline: Baseline) -> tuple[float, float]:
    """Train on two image episodes in this (fresh) process: the peak RSS growth and the storage bound, in MiB."""
    th.set_num_threads(1)
    env = make_vec_env(lambda: FixedLengthImageEnv(EPISODE_LENGTH), n_envs=1, seed=0)
    kwargs: dict[str, Any] = dict(rollout_buffer_kwargs=dict(max_steps_per_env=EPISODE_LENGTH))
    model = REINFORCE("CnnPolicy", env, baseline=baseline, seed=0, **kwargs)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.learn(2 * EPISODE_LENGTH)
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**10
    return growth, model.rollout_buffer.nbytes / 2**20


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_training_on_images_stays_within_the_stated_memory_bound(baseline: Baseline) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        growth, storage = pool.submit(_peak_rss_growth_mib, baseline).result()
    assert storage == pytest.approx(EPISODE_LENGTH * 84 * 84 * 4 / 2**20, rel=0.01)
    assert growth <= 2 * storage + WORKING_MEMORY_MIB


# Vector episodes as long as the default memory bound (max_steps_per_env): RecurrentREINFORCE replays each
# whole, with the gradient through all its steps
RECURRENT_EPISODE_LENGTH = 10_000


def _recurrent_peak_rss_growth_mib(baseline: Baseline) -> tuple[float, float]:
    """Train the default LSTM policy (256 units) on two long vector episodes in this (fresh) process."""
    th.set_num_threads(1)
    env = make_vec_env(lambda: FixedLengthEnv(RECURRENT_EPISODE_LENGTH), n_envs=1, seed=0)
    model = RecurrentREINFORCE("MlpLstmPolicy", env, baseline=baseline, seed=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.learn(2 * RECURRENT_EPISODE_LENGTH)
    assert model._n_updates == 2 and model.rollout_buffer.n_cut_segments == 0
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**10
    return growth, model.rollout_buffer.nbytes / 2**20


def test_recurrent_replay_of_long_vector_episodes_stays_within_the_stated_memory_bound() -> None:
    # The critic replays each episode a second time (its own LSTM): the larger of the two cases (194 and 288 MiB)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        growth, storage = pool.submit(_recurrent_peak_rss_growth_mib, "critic").result()
    assert growth <= 2 * storage + WORKING_MEMORY_MIB


class _ScheduledLengthEnv(FixedLengthEnv):
    """``FixedLengthEnv`` whose episodes take their lengths from ``lengths``, in turn."""

    def __init__(self, lengths: list[int]):
        super().__init__(lengths[0])
        self.lengths = lengths
        self.n_resets = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self.episode_length = self.lengths[self.n_resets % len(self.lengths)]
        self.n_resets += 1
        return super().reset(seed=seed, options=options)


# Per env, the lengths of the episodes it runs in one rollout of n_steps (the longest env's total)
MIXED_LENGTHS = {
    # One long episode among many short ones: padded to the longest, 701 x 1000 steps (11 GB in one LSTM call)
    "one-long-many-short": [[1_000]] + 7 * [[10] * 100],
    # Spread lengths: padded to the longest, 894 x 2730 steps (39 GB); grouped by padded area alone, 4 groups of
    # about 8192 steps each for 7394 transitions (631 MiB of growth)
    "spread": [[1] * 743 + [11] * 126 + [65] * 21 + [390] * 3 + [2_730]],
}


def _mixed_lengths_peak_rss_growth_mib(lengths: list[list[int]]) -> tuple[float, float]:
    """Train the default LSTM policy (256 units), with a critic, on one batch of these episodes in this (fresh) process."""
    th.set_num_threads(1)
    # Shuffled, so the batch's order (by length) is not the collection's
    schedules = [np.random.default_rng(0).permutation(env_lengths).tolist() for env_lengths in lengths]
    env = DummyVecEnv([lambda schedule=schedule: _ScheduledLengthEnv(schedule) for schedule in schedules])  # type: ignore[misc]
    n_steps = max(sum(env_lengths) for env_lengths in lengths)
    # Two critic steps: the value-only pass replays the batch too
    model = RecurrentREINFORCE("MlpLstmPolicy", env, n_steps=n_steps, baseline="critic", critic_gradient_steps=2, seed=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.learn(n_steps * env.num_envs)
    assert model._n_updates == 1 and model.rollout_buffer.n_episodes == sum(map(len, lengths))
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**10
    return growth, model.rollout_buffer.nbytes / 2**20


@pytest.mark.parametrize("mix", list(MIXED_LENGTHS))
def test_recurrent_replay_of_mixed_episode_lengths_stays_within_the_stated_memory_bound(mix: str) -> None:
    # The replay groups episodes of similar lengths, so padding stays a fraction of the chunk
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        growth, storage = pool.submit(_mixed_lengths_peak_rss_growth_mib, MIXED_LENGTHS[mix]).result()
    assert growth <= 2 * storage + WORKING_MEMORY_MIB
