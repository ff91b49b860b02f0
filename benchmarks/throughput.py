"""
Throughput suite on CartPole-v1: env steps per second of ``learn()`` for REINFORCE (its defaults, and
each other ``carried_episodes``) and A2C (its defaults), and of the "collection limit", a loop that only
samples the policy's actions and runs ``env.step``. All are measured in the same process, interleaved,
several times each.
"""

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from benchmarks.common import make_engine_env, make_engine_vec_env
from sb3_reinforce import REINFORCE

ENV_ID = "CartPole-v1"
N_ENVS = (1, 8, 32)
SETTINGS = {"full": {"repeats": 5, "steps": 20_000}, "quick": {"repeats": 1, "steps": 5_000}}


def _engine(engine: str, n_envs: int, seed: int) -> Any:
    return make_engine_env(ENV_ID, engine, n_envs, seed)


def _env(n_envs: int, seed: int, engine: str = "dummy") -> VecEnv:
    return make_engine_vec_env(ENV_ID, engine, n_envs, seed)


def learn_speed(
    algo_class: type[REINFORCE] | type[A2C], n_envs: int, steps: int, seed: int, engine: str = "dummy", **kwargs: Any
) -> float:
    """Env steps per second of ``learn(steps)`` for a new model with ``kwargs`` (its construction is not timed)."""
    model = algo_class("MlpPolicy", _env(n_envs, seed, engine), seed=seed, device="cpu", **kwargs)
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def collection_limit_speed(n_envs: int, steps: int, seed: int, engine: str = "dummy") -> float:
    """
    Env steps per second of the collection limit: a loop of an SB3 ``MlpPolicy`` sampling every
    action (``policy._predict``, the actor alone) and ``env.step``, with no learning; a gymnasium
    vector env is stepped directly (its own autoreset), without the adapter.
    """
    env = _engine(engine, n_envs, seed)
    model = A2C("MlpPolicy", _env(1, seed), seed=seed, device="cpu")
    obs = env.reset() if isinstance(env, VecEnv) else env.reset(seed=seed)[0]
    iterations = max(steps // n_envs, 1)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(iterations):
            actions = model.policy._predict(obs_as_tensor(np.asarray(obs), model.device), deterministic=False)
            obs = env.step(actions.cpu().numpy())[0]
    return iterations * n_envs / (time.perf_counter() - start)


# Each measure takes (n_envs, steps, seed) and returns env steps per second
MEASURES: dict[str, Callable[[int, int, int], float]] = {
    "REINFORCE": functools.partial(learn_speed, REINFORCE),
    "REINFORCE-uncorrected": functools.partial(learn_speed, REINFORCE, carried_episodes="uncorrected"),
    "REINFORCE-discarded": functools.partial(learn_speed, REINFORCE, carried_episodes="discarded"),
    "A2C": functools.partial(learn_speed, A2C),
    "limit": collection_limit_speed,
}


def measure(n_envs: int, repeats: int, steps: int) -> dict[str, Any]:
    """Steps per second of each measure (all samples and their median) and the ratios of the medians."""
    samples: dict[str, list[float]] = {name: [] for name in MEASURES}
    for repeat in range(repeats):
        for name, measure_speed in MEASURES.items():
            samples[name].append(measure_speed(n_envs, steps, repeat))
    medians = {name: float(np.median(values)) for name, values in samples.items()}
    return {
        "n_envs": n_envs,
        "samples": samples,
        "median": medians,
        "reinforce_over_a2c": medians["REINFORCE"] / medians["A2C"],
        "reinforce_over_limit": medians["REINFORCE"] / medians["limit"],
    }


def run_suite(quick: bool, meta: dict[str, Any]) -> dict[str, Any]:
    """Measure every ``N_ENVS`` (one thread) and return the suite's JSON content."""
    torch.set_num_threads(1)
    settings = SETTINGS["quick" if quick else "full"]
    results = []
    for n_envs in N_ENVS:
        results.append(measure(n_envs, settings["repeats"], settings["steps"]))
        print(f"throughput: n_envs {n_envs}: {results[-1]['median']}", flush=True)
    return {"env_id": ENV_ID, **settings, "results": results, "meta": meta}


def throughput_section(data: dict[str, Any] | None) -> list[str]:
    """The markdown section of the suite."""
    lines = ["## Throughput", ""]
    if data is None:
        return [*lines, "Not run: no `throughput.json`.", ""]
    lines += [
        f"{data['env_id']}, `DummyVecEnv`, one torch thread; median env steps per second over {data['repeats']} repeat(s) "
        f"of {data['steps']} steps, the measures interleaved in one process. REINFORCE and A2C: `learn()` with "
        "their defaults (REINFORCE: n_steps=1, Adam, carried episodes importance-weighted; A2C: n_steps=5, "
        "RMSprop), a new model each time; REINFORCE's other `carried_episodes` beside it. Limit: "
        "`model.policy(obs)` of SB3's A2C MlpPolicy under `torch.no_grad()` and `env.step`, no learning. "
        f"Measured {data['meta']['date']} with `{data['meta']['command']}`.",
        "",
        "| n_envs | REINFORCE steps/s | uncorrected | discarded | A2C steps/s | limit steps/s | REINFORCE / A2C "
        "| REINFORCE / limit | REINFORCE / uncorrected |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["results"]:
        median = row["median"]
        # Files from before carried_episodes have no variants
        variants = [median.get(name) for name in ("REINFORCE-uncorrected", "REINFORCE-discarded")]
        cells = ["—" if value is None else f"{value:,.0f}" for value in variants]
        weighting_cost = "—" if variants[0] is None else f"{median['REINFORCE'] / variants[0]:.2f}"
        lines.append(
            f"| {row['n_envs']} | {median['REINFORCE']:,.0f} | {cells[0]} | {cells[1]} | {median['A2C']:,.0f} "
            f"| {median['limit']:,.0f} | {row['reinforce_over_a2c']:.2f} | {row['reinforce_over_limit']:.2f} "
            f"| {weighting_cost} |"
        )
    return [*lines, ""]
