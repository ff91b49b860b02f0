"""
SB3's identity envs (``stable_baselines3.common.envs``: act as you observe, reward 1 per match) with
100-step episodes, at gamma 0.99 and 20k steps on one env: what a new user gets from the defaults,
beside SB3's A2C. Each run trains in its own process with one torch thread and evaluates the
deterministic policy on 10 episodes (100 is the most). Results go to ``<out>/identity.json``
(one entry per finished run, so an interrupted command resumes) and ``<out>/results.md``.

    python -m benchmarks.identity --seeds 3 --out docs/benchmarks/identity
"""

import argparse
import contextlib
import json
import shlex
import statistics
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary, IdentityEnvMultiDiscrete
from stable_baselines3.common.evaluation import evaluate_policy

from benchmarks.common import comma_separated, machine_line, read_json, write_json
from sb3_reinforce import REINFORCE

EPISODE_LENGTH = 100
BUDGET = 20_000
GAMMA = 0.99
# SB3's tests/test_identity.py uses 4 choices per dimension
DIM = 4
ENVS: dict[str, Callable[[], gym.Env]] = {
    "Discrete": lambda: IdentityEnv(DIM, ep_length=EPISODE_LENGTH),
    "MultiDiscrete": lambda: IdentityEnvMultiDiscrete(DIM, ep_length=EPISODE_LENGTH),
    "MultiBinary": lambda: IdentityEnvMultiBinary(DIM, ep_length=EPISODE_LENGTH),
    "Box": lambda: IdentityEnvBox(eps=0.5, ep_length=EPISODE_LENGTH),
}
# Every algorithm with its defaults but gamma (and the REINFORCE keywords of --reinforce-kwargs);
# the critic row is the only keyword a user would try first
ALGOS: dict[str, Callable[[gym.Env, int, dict[str, Any]], BaseAlgorithm]] = {
    "REINFORCE": lambda env, seed, kwargs: REINFORCE("MlpPolicy", env, gamma=GAMMA, seed=seed, **kwargs),
    "REINFORCE-critic": lambda env, seed, kwargs: REINFORCE(
        "MlpPolicy", env, gamma=GAMMA, seed=seed, **{"baseline": "critic", **kwargs}
    ),
    "A2C": lambda env, seed, kwargs: A2C("MlpPolicy", env, gamma=GAMMA, seed=seed),
}


def run_one(space: str, algo: str, seed: int, reinforce_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Train one algorithm on one identity env and evaluate its deterministic policy."""
    torch.set_num_threads(1)
    model = ALGOS[algo](ENVS[space](), seed, reinforce_kwargs)
    model.learn(BUDGET)
    mean_reward, _ = evaluate_policy(model, ENVS[space](), n_eval_episodes=10, deterministic=True)
    assert isinstance(mean_reward, float)
    return {"space": space, "algo": algo, "seed": seed, "reward": mean_reward}


def report(runs: list[dict[str, Any]], command: str) -> str:
    """The results table: per space and algorithm, each seed's score and the median."""
    lines = [
        "# SB3's identity envs at gamma 0.99, 20k steps, one env, defaults",
        "",
        machine_line(command),
        f"- {EPISODE_LENGTH}-step episodes (truncated), {DIM} choices per dimension (Box: IdentityEnvBox, eps 0.5); "
        "score: mean return of 10 deterministic episodes, 100 at most. Target: at least 90.",
        "",
        "| space | algorithm | score per seed | median |",
        "|---|---|---|---:|",
    ]
    for space in ENVS:
        for algo in ALGOS:
            scores = {run["seed"]: run["reward"] for run in runs if run["space"] == space and run["algo"] == algo}
            if scores:
                per_seed = ", ".join(f"{seed}: {score:.1f}" for seed, score in sorted(scores.items()))
                lines.append(f"| {space} | {algo} | {per_seed} | {statistics.median(scores.values()):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity", description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 to N-1 (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (default 2)")
    parser.add_argument("--spaces", type=comma_separated(ENVS), default=list(ENVS), help="comma-separated (default: all)")
    parser.add_argument("--algos", type=comma_separated(ALGOS), default=list(ALGOS), help="comma-separated (default: all)")
    parser.add_argument(
        "--reinforce-kwargs",
        type=json.loads,
        default={},
        help="JSON keywords for the REINFORCE rows, e.g. '{\"critic_gradient_steps\": 5}' (default: none)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/identity"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "identity.json"
    runs: list[dict[str, Any]] = read_json(path) if path.exists() else []
    done = {(run["space"], run["algo"], run["seed"]) for run in runs}
    todo = [(space, algo, seed) for seed in range(args.seeds) for space in args.spaces for algo in args.algos]
    todo = [key for key in todo if key not in done]
    kwargs = [args.reinforce_kwargs] * len(todo)
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(args.workers))
            results: Iterator[dict[str, Any]] = pool.map(run_one, *zip(*todo, strict=True), kwargs) if todo else iter([])
        else:
            # One worker runs in this process: no pool to start
            results = map(run_one, *zip(*todo, strict=True), kwargs) if todo else iter([])
        for run in results:
            runs.append(run)
            write_json(path, runs)
            print(f"{run['space']} {run['algo']} seed {run['seed']}: {run['reward']:.1f}", flush=True)
    (args.out / "results.md").write_text(report(runs, shlex.join(["python", "-m", "benchmarks.identity", *argv])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
