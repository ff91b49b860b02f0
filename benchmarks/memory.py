"""
Memory suite: peak RSS of REINFORCE training on episodes of 1k to 100k steps, each case in a fresh
process so that its peak is its own. The rollout buffer stores at most ``max_steps_per_env``
transitions per env; longer episodes are cut into segments. Observations are large (4 KiB) so that
the buffer, not the interpreter, dominates the growth.
"""

import dataclasses
import functools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.common import peak_rss_mib
from benchmarks.envs import FixedLengthEnv
from sb3_reinforce import REINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline

BASELINES: tuple[Baseline, ...] = ("none", "critic")
EPISODE_LENGTHS = {"full": (1_000, 10_000, 100_000), "quick": (1_000, 10_000)}
# Training budget, in episodes
EPISODES_PER_CASE = 2
# float32 observations of 4 KiB: 10k stored transitions take 40 MiB
OBS_DIM = 1024
MIB = 2**20


@dataclasses.dataclass(frozen=True)
class MemoryCase:
    """REINFORCE with ``baseline`` on episodes of ``episode_length`` steps."""

    baseline: Baseline
    episode_length: int

    @property
    def budget(self) -> int:
        """Env steps of training: ``EPISODES_PER_CASE`` full episodes."""
        return EPISODES_PER_CASE * self.episode_length


def measure_case(case: MemoryCase) -> dict[str, Any]:
    """Train REINFORCE (defaults, one env) on the case; its peak RSS before and after ``learn()``."""
    torch.set_num_threads(1)
    env_factory = functools.partial(FixedLengthEnv, episode_length=case.episode_length, obs_dim=OBS_DIM)
    env = make_vec_env(env_factory, n_envs=1, seed=0)
    model = REINFORCE("MlpPolicy", env, baseline=case.baseline, seed=0, device="cpu")
    buffer = model.rollout_buffer
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    model.learn(case.budget)
    return {
        **dataclasses.asdict(case),
        "obs_dim": OBS_DIM,
        "budget": case.budget,
        "timesteps": model.num_timesteps,
        "max_steps_per_env": buffer.max_steps_per_env,
        "buffer_mib": buffer.nbytes / MIB,
        "episode_mib": buffer.nbytes / buffer.max_steps_per_env * case.episode_length / MIB,
        "peak_rss_before_learn_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "wall_time_s": time.perf_counter() - start,
    }


def measure_in_fresh_process(case: MemoryCase) -> dict[str, Any]:
    """``measure_case`` in a new (spawned) interpreter."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure_case, case).result()


def run_suite(quick: bool, meta: dict[str, Any]) -> dict[str, Any]:
    """Measure every case, one at a time, and return the suite's JSON content."""
    results = []
    for episode_length in EPISODE_LENGTHS["quick" if quick else "full"]:
        for baseline in BASELINES:
            results.append(measure_in_fresh_process(MemoryCase(baseline, episode_length)))
            print(f"memory: {results[-1]}", flush=True)
    return {"results": results, "meta": meta}


def memory_section(data: dict[str, Any] | None) -> list[str]:
    """The markdown section of the suite."""
    lines = ["## Memory", ""]
    if data is None:
        return [*lines, "Not run: no `memory.json`.", ""]
    lines += [
        "REINFORCE with its defaults (one env, n_steps=1) on an env whose episodes last a fixed number of steps "
        f"({OBS_DIM}-dim float32 Box observations, 2 actions, no TimeLimit), trained for {EPISODES_PER_CASE} episodes; "
        "each case in a fresh process. Peak RSS from `resource.getrusage` (`ru_maxrss`): before `learn()` (after "
        "imports and model construction; the buffer's arrays are allocated but not yet touched) and at the end. "
        "Growth is what training added. Buffer bound: `EpisodicRolloutBuffer.nbytes`, the storage of "
        "`max_steps_per_env` transitions; one episode: what storing a whole episode would take. Training works on a "
        "copy of the batch, plus the forward and backward passes' working memory, so growth of 2-3 times the "
        "bound is expected; what matters is that it stops growing with the episode length. "
        f"Measured {data['meta']['date']} with `{data['meta']['command']}`.",
        "",
        "| baseline | episode length | budget | max_steps_per_env | buffer bound (MiB) | one episode (MiB) "
        "| peak RSS before learn (MiB) | peak RSS (MiB) | growth (MiB) | time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["results"]:
        growth = row["peak_rss_mib"] - row["peak_rss_before_learn_mib"]
        lines.append(
            f"| {row['baseline']} | {row['episode_length']:,} | {row['budget']:,} | {row['max_steps_per_env']:,} "
            f"| {row['buffer_mib']:.0f} | {row['episode_mib']:.0f} | {row['peak_rss_before_learn_mib']:.0f} "
            f"| {row['peak_rss_mib']:.0f} | {growth:.0f} | {row['wall_time_s']:.1f} |"
        )
    return [*lines, ""]
