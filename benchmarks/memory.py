"""
Memory suite: peak RSS of training on episodes of a fixed length, each case in a fresh process so
that its peak is its own. REINFORCE's rollout buffer stores at most ``max_steps_per_env``
transitions per env; longer episodes are cut into segments. Two kinds of observations:

- vector: 1024-dim float32 (4 KiB), so that the buffer, not the interpreter, dominates the growth;
  REINFORCE on episodes of 1k to 100k steps.
- image: 84x84x4 uint8 frames (28 KiB, channel-last like Atari's after frame stacking) through
  ``CnnPolicy``, where training's forward and backward passes, in float32, can dwarf the uint8 storage;
  REINFORCE and, beside it, SB3's A2C on episodes of 10k steps and more.
"""

import dataclasses
import functools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from benchmarks.common import peak_rss_mib
from benchmarks.envs import FixedLengthEnv, FixedLengthImageEnv
from sb3_reinforce import REINFORCE
from sb3_reinforce.common.buffers import EpisodicRolloutBuffer
from sb3_reinforce.reinforce.reinforce import Baseline

Algorithm = Literal["REINFORCE", "A2C"]
Observation = Literal["vector", "image"]

BASELINES: tuple[Baseline, ...] = ("none", "critic")
# Episode lengths of each observation kind, in full and in quick mode
EPISODE_LENGTHS: dict[Observation, dict[str, tuple[int, ...]]] = {
    "vector": {"full": (1_000, 10_000, 100_000), "quick": (1_000, 10_000)},
    "image": {"full": (10_000, 30_000), "quick": (2_000,)},
}
# Training budget, in episodes
EPISODES_PER_CASE = 2
# float32 observations of 4 KiB: 10k stored transitions take 40 MiB
OBS_DIM = 1024
# uint8 frames of 28 KiB, channel-last: 10k stored transitions take 269 MiB
IMAGE_SHAPE = (84, 84, 4)
POLICIES: dict[Observation, str] = {"vector": "MlpPolicy", "image": "CnnPolicy"}
MIB = 2**20


@dataclasses.dataclass(frozen=True)
class MemoryCase:
    """
    ``algorithm`` (with its defaults and one env) on ``observation`` episodes of ``episode_length`` steps.

    :param algorithm: ``"REINFORCE"`` or SB3's ``"A2C"``
    :param observation: ``"vector"`` (``FixedLengthEnv``, ``MlpPolicy``) or ``"image"``
        (``FixedLengthImageEnv``, ``CnnPolicy``)
    :param episode_length: Number of steps of every episode
    :param baseline: REINFORCE's baseline; None for A2C
    """

    algorithm: Algorithm
    observation: Observation
    episode_length: int
    baseline: Baseline | None = None

    def __post_init__(self) -> None:
        if (self.baseline is None) != (self.algorithm == "A2C"):
            raise ValueError(f"{self}: REINFORCE needs a baseline, A2C takes none")

    @property
    def budget(self) -> int:
        """Env steps of training: ``EPISODES_PER_CASE`` full episodes."""
        return EPISODES_PER_CASE * self.episode_length

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of the env's observations (channel-last frames for images, before SB3 transposes them)."""
        return IMAGE_SHAPE if self.observation == "image" else (OBS_DIM,)

    def env_factory(self) -> Callable[[], gym.Env]:
        """A function that makes one env of the case."""
        if self.observation == "image":
            return functools.partial(FixedLengthImageEnv, episode_length=self.episode_length, shape=IMAGE_SHAPE)
        return functools.partial(FixedLengthEnv, episode_length=self.episode_length, obs_dim=OBS_DIM)

    def make_model(self) -> OnPolicyAlgorithm:
        """The case's algorithm with its defaults, on one env (seed 0, CPU)."""
        env = make_vec_env(self.env_factory(), n_envs=1, seed=0)
        policy = POLICIES[self.observation]
        if self.algorithm == "A2C":
            return A2C(policy, env, seed=0, device="cpu")
        assert self.baseline is not None
        return REINFORCE(policy, env, baseline=self.baseline, seed=0, device="cpu")


def plan_cases(quick: bool, observations: tuple[Observation, ...] = ("vector", "image")) -> list[MemoryCase]:
    """
    The suite's cases, in the order they run: REINFORCE with each baseline on vector observations;
    REINFORCE with each baseline, then A2C, on image observations.

    :param quick: The short episodes of quick mode
    :param observations: Only the cases of these observation kinds
    """
    mode = "quick" if quick else "full"
    cases = []
    for observation in observations:
        algorithms: list[tuple[Algorithm, Baseline | None]] = [("REINFORCE", baseline) for baseline in BASELINES]
        if observation == "image":
            algorithms.append(("A2C", None))
        for episode_length in EPISODE_LENGTHS[observation][mode]:
            cases += [MemoryCase(algorithm, observation, episode_length, baseline) for algorithm, baseline in algorithms]
    return cases


def buffer_bound(model: OnPolicyAlgorithm) -> tuple[int, int]:
    """
    The bytes of the model's transition storage and the transitions it stores per env:
    ``EpisodicRolloutBuffer.nbytes`` and ``max_steps_per_env`` for REINFORCE; for SB3's
    ``RolloutBuffer`` (A2C), the ``nbytes`` of its arrays and ``n_steps``.

    :param model: The algorithm, before ``learn()``
    """
    buffer = model.rollout_buffer
    if isinstance(buffer, EpisodicRolloutBuffer):
        return buffer.nbytes, buffer.max_steps_per_env
    assert isinstance(buffer, RolloutBuffer)
    return sum(value.nbytes for value in vars(buffer).values() if isinstance(value, np.ndarray)), buffer.buffer_size


def measure_case(case: MemoryCase) -> dict[str, Any]:
    """
    Train the case's model; its peak RSS before and after ``learn()``, its buffer bound and the wall time of ``learn()``.

    :param case: What to train
    """
    torch.set_num_threads(1)
    model = case.make_model()
    nbytes, stored_steps = buffer_bound(model)
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    model.learn(case.budget)
    return {
        **dataclasses.asdict(case),
        "policy": POLICIES[case.observation],
        "obs_shape": list(case.obs_shape),
        "obs_dim": int(np.prod(case.obs_shape)),
        "budget": case.budget,
        "timesteps": model.num_timesteps,
        "max_steps_per_env": stored_steps,
        "buffer_mib": nbytes / MIB,
        # A2C never stores an episode: it trains on every n_steps transitions
        "episode_mib": nbytes / stored_steps * case.episode_length / MIB if case.algorithm == "REINFORCE" else None,
        "peak_rss_before_learn_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "wall_time_s": time.perf_counter() - start,
    }


def measure_in_fresh_process(case: MemoryCase) -> dict[str, Any]:
    """
    ``measure_case`` in a new (spawned) interpreter.

    :param case: What to train
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure_case, case).result()


def run_cases(cases: list[MemoryCase], meta: dict[str, Any]) -> dict[str, Any]:
    """
    Measure ``cases``, one at a time, and return the suite's JSON content.

    :param cases: What to measure (see ``plan_cases``)
    :param meta: The run's metadata (``benchmarks.common.run_metadata``)
    """
    results = []
    for case in cases:
        results.append(measure_in_fresh_process(case))
        print(f"memory: {results[-1]}", flush=True)
    return {"results": results, "meta": meta}


def run_suite(quick: bool, meta: dict[str, Any]) -> dict[str, Any]:
    """
    Measure every case, one at a time, and return the suite's JSON content.

    :param quick: Quick mode's shorter episodes
    :param meta: The run's metadata (``benchmarks.common.run_metadata``)
    """
    return run_cases(plan_cases(quick), meta)


def _row(result: dict[str, Any]) -> str:
    """One table row; results written before the image cases existed are REINFORCE on vector observations."""
    growth = result["peak_rss_mib"] - result["peak_rss_before_learn_mib"]
    episode_mib = result.get("episode_mib")
    cells = [
        result.get("algorithm", "REINFORCE"),
        result.get("observation", "vector"),
        result.get("baseline") or "-",
        f"{result['episode_length']:,}",
        f"{result['budget']:,}",
        f"{result['max_steps_per_env']:,}",
        f"{result['buffer_mib']:.2f}",
        "-" if episode_mib is None else f"{episode_mib:.0f}",
        f"{result['peak_rss_before_learn_mib']:.0f}",
        f"{result['peak_rss_mib']:.0f}",
        f"{growth:.0f}",
        f"{growth / result['buffer_mib']:.1f}",
        f"{result['wall_time_s']:.1f}",
    ]
    return f"| {' | '.join(cells)} |"


def memory_section(data: dict[str, Any] | None) -> list[str]:
    """
    The markdown section of the suite.

    :param data: The content of ``memory.json``, or None when it was not run
    """
    lines = ["## Memory", ""]
    if data is None:
        return [*lines, "Not run: no `memory.json`.", ""]
    height, width, channels = IMAGE_SHAPE
    lines += [
        "Peak RSS of training with one env on an env whose episodes last a fixed number of steps (2 actions, no "
        f"TimeLimit), for {EPISODES_PER_CASE} episodes; each case in a fresh process. Observations: vector, "
        f"{OBS_DIM}-dim float32 Box with `MlpPolicy`; image, {height}x{width}x{channels} uint8 Box frames, channel-last "
        "like Atari's after frame stacking, with `CnnPolicy` (SB3 wraps the env in `VecTransposeImage`). REINFORCE "
        "with its defaults (n_steps=1) and the baseline shown; A2C: SB3's, with its defaults (n_steps=5). "
        "Peak RSS from `resource.getrusage` (`ru_maxrss`): before `learn()` (after imports and model construction; "
        "the buffer's arrays are allocated but not yet touched) and at the end. Growth is what training added. "
        "Buffer bound: REINFORCE's `EpisodicRolloutBuffer.nbytes`, the storage of `max_steps_per_env` transitions "
        "(stored steps); A2C's: the `nbytes` of its `RolloutBuffer`'s arrays, n_steps transitions. One episode: "
        "what storing a whole episode would take in REINFORCE's buffer. Training works on a copy of the batch, plus "
        "the forward and backward passes' working memory (in float32, whatever the observations' dtype), so the "
        "growth exceeds the bound; growth / bound is the factor to plan for, and what matters is that growth stops "
        "growing with the episode length. A2C's bound is a few transitions, so compare its growth, not its ratio. "
        f"Measured {data['meta']['date']} with `{data['meta']['command']}`.",
        "",
        "| algorithm | observation | baseline | episode length | budget | stored steps | buffer bound (MiB) "
        "| one episode (MiB) | peak RSS before learn (MiB) | peak RSS (MiB) | growth (MiB) | growth / bound | time (s) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(result) for result in data["results"]]
    return [*lines, ""]
