"""
Throughput of ``learn()`` on CartPole-v1 by vector-env engine: SB3's DummyVecEnv, gymnasium's own
vectorized CartPole (``gym.make_vec(..., vectorization_mode="vector_entry_point")``) and EnvPool, at
8, 64 and 256 envs, for REINFORCE (defaults) and A2C (defaults; gymnasium's own engine resets on the
next step only, which A2C cannot take), each beside its engine's collection limit (the policy sampling
actions plus the engine's step), measured in one process, interleaved, ``--repeats`` times (medians).

    python -m benchmarks.engines --repeats 3 --out docs/benchmarks/engines
"""

import argparse
import shlex
import statistics
import sys
from pathlib import Path

import torch
from stable_baselines3 import A2C

from benchmarks.common import ENGINES, comma_separated, machine_line, write_json
from benchmarks.throughput import collection_limit_speed, learn_speed
from sb3_reinforce import REINFORCE

N_ENVS = (8, 64, 256)
# What each engine is measured with: A2C would train on the steps the native engine spends resetting
MEASURED = {"dummy": ("limit", "REINFORCE", "A2C"), "native": ("limit", "REINFORCE"), "envpool": ("limit", "REINFORCE", "A2C")}


def speed(name: str, engine: str, n_envs: int, steps: int, seed: int) -> float:
    if name == "limit":
        return collection_limit_speed(n_envs, steps, seed, engine)
    return learn_speed(REINFORCE if name == "REINFORCE" else A2C, n_envs, steps, seed, engine)


def report(samples: dict[str, list[float]], command: str) -> str:
    median = {key: statistics.median(values) for key, values in samples.items()}
    lines = [
        "# Throughput by vector-env engine, CartPole-v1 (env steps per second of `learn()`, medians)",
        "",
        machine_line(command, " (1 torch thread)"),
        "- limit: an SB3 `MlpPolicy` sampling actions (`policy._predict`) plus the engine's own step, no learning. "
        'native: `gym.make_vec("CartPole-v1", n, vectorization_mode="vector_entry_point")`; '
        'envpool: `envpool.make_gymnasium("CartPole-v1", num_envs=n)`; both through `VectorEnvAdapter`.',
        "",
        "| n_envs | engine | limit | REINFORCE | REINFORCE / limit | A2C | REINFORCE / A2C on DummyVecEnv, 8 envs |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    a2c_dummy_8 = median.get("8/dummy/A2C")
    for n_envs in N_ENVS:
        for engine in ENGINES:
            limit, reinforce, a2c = (median.get(f"{n_envs}/{engine}/{name}") for name in ("limit", "REINFORCE", "A2C"))
            if reinforce is None or limit is None:
                continue
            lines.append(
                f"| {n_envs} | {engine} | {limit:,.0f} | {reinforce:,.0f} | {reinforce / limit:.2f} | "
                f"{'-' if a2c is None else f'{a2c:,.0f}'} | "
                f"{'-' if a2c_dummy_8 is None else f'{reinforce / a2c_dummy_8:.1f}x'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per measurement (default 50k)")
    parser.add_argument(
        "--engines", type=comma_separated(ENGINES), default=list(ENGINES), help="comma-separated, from " + ",".join(ENGINES)
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engines"))
    args = parser.parse_args(argv)
    engines = args.engines
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        for n_envs in N_ENVS:
            for engine in engines:
                for name in MEASURED[engine]:
                    key = f"{n_envs}/{engine}/{name}"
                    samples.setdefault(key, []).append(speed(name, engine, n_envs, args.steps, repeat))
                    print(f"repeat {repeat} {key}: {samples[key][-1]:,.0f} steps/s", flush=True)
        write_json(args.out / "engines.json", samples)
    command = shlex.join(["python", "-m", "benchmarks.engines", *argv])
    (args.out / "results.md").write_text(report(samples, command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
