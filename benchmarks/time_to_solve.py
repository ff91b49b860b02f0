"""
Wall-clock time to solve, evaluation included: REINFORCE on its fastest engine beside A2C and PPO
(RL Zoo's presets) on SB3's DummyVecEnv and on EnvPool. Each run trains on one core (one process,
one torch thread), evaluates the deterministic policy on ``EVAL_EPISODES`` episodes every
``EVAL_EVERY`` steps (the sample suite's spacing), and stops at the first evaluation that reaches
the task's threshold (or at its budget). The report gives, per task and configuration, the median
seconds and env steps to solve and how many seeds solved. One JSON file per run, so an
interrupted command resumes.

    python -m benchmarks.time_to_solve --seeds 5 --out docs/benchmarks/time-to-solve
"""

import argparse
import dataclasses
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import comma_separated, machine_line, read_json, write_json
from benchmarks.hyperparams import load_hyperparams, make_env, make_model
from benchmarks.sample import PeriodicEvaluation

EVAL_EVERY = 5_000
EVAL_EPISODES = 10
EVAL_ENVS = 5
EVAL_SEED_OFFSET = 10_000


@dataclasses.dataclass(frozen=True)
class Config:
    """An algorithm (as the sample suite names it, for its hyperparameters) on an engine."""

    algo: str
    engine: str

    @property
    def name(self) -> str:
        return f"{self.algo}@{self.engine}"


# Per task: threshold, budget, and the configurations. REINFORCE runs on the fastest engine that
# has the task (gymnasium has its own vectorized CartPole, not Acrobot; EnvPool has both); A2C and
# PPO cannot take gymnasium's own engine (it resets on the next step only)
TASKS: dict[str, tuple[float, int, tuple[Config, ...]]] = {
    "CartPole-v1": (
        475.0,
        200_000,
        (
            Config("REINFORCE-mean", "native"),
            Config("A2C", "dummy"),
            Config("A2C", "envpool"),
            Config("PPO", "dummy"),
            Config("PPO", "envpool"),
        ),
    ),
    "Acrobot-v1": (
        -100.0,
        500_000,
        (
            Config("REINFORCE-critic", "envpool"),
            Config("A2C", "dummy"),
            Config("A2C", "envpool"),
            Config("PPO", "dummy"),
            Config("PPO", "envpool"),
        ),
    ),
}


class StopWhenSolved(PeriodicEvaluation):
    """The sample suite's evaluation every ``EVAL_EVERY`` steps, timed since training started; stops once solved."""

    def __init__(self, eval_env: Any, threshold: float, budget: int) -> None:
        super().__init__(eval_env, list(range(EVAL_EVERY, budget + 1, EVAL_EVERY)), EVAL_EPISODES)
        self.threshold = threshold
        self.start = time.perf_counter()
        # (env steps, mean return, seconds since training started) of each evaluation
        self.evaluations: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        n_evaluations = len(self.means)
        super()._on_step()
        if len(self.means) == n_evaluations:
            return True
        self.evaluations.append((self.num_timesteps, self.means[-1], time.perf_counter() - self.start))
        return self.means[-1] < self.threshold


def run_one(env_id: str, config: Config, seed: int) -> dict[str, Any]:
    """Train until solved (or the budget), evaluating as it goes."""
    torch.set_num_threads(1)
    threshold, budget, _ = TASKS[env_id]
    hyperparams = load_hyperparams(config.algo, env_id)
    env = make_env(env_id, hyperparams, seed=seed, engine=config.engine)
    eval_env = make_env(env_id, hyperparams, seed=seed + EVAL_SEED_OFFSET, n_envs=EVAL_ENVS, training=False)
    model = make_model(config.algo, hyperparams, env, seed=seed)
    callback = StopWhenSolved(eval_env, threshold, budget)
    model.learn(budget, callback=callback)
    solved = bool(callback.evaluations and callback.evaluations[-1][1] >= threshold)
    return {
        "env_id": env_id,
        "config": config.name,
        "seed": seed,
        "hyperparams": hyperparams.source,
        "n_envs": hyperparams.n_envs,
        "evaluations": callback.evaluations,
        "solved": solved,
        "steps_to_solve": callback.evaluations[-1][0] if solved else None,
        "seconds_to_solve": callback.evaluations[-1][2] if solved else None,
    }


def report(runs: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# Wall-clock time to solve, evaluation included (one core per run)",
        "",
        machine_line(command, " (one per run: one process, one torch thread)"),
        f"- Evaluation: {EVAL_EPISODES} deterministic episodes every {EVAL_EVERY:,} steps, timed with training; "
        "a run stops at its first evaluation at or above the threshold. Medians over the seeds that solved.",
        "- Hyperparameters: REINFORCE's presets (`sb3_reinforce/hyperparams/reinforce.yml`), RL Zoo's for A2C and PPO; "
        "`native` is gymnasium's own vectorized env, `envpool` EnvPool, both through `VectorEnvAdapter`.",
        "",
        "| task | algorithm @ engine | n_envs | solved | seconds to solve, median [min, max] | steps to solve, median |",
        "|---|---|---:|---:|---|---:|",
    ]
    for env_id, (_, _, configs) in TASKS.items():
        for config in configs:
            config_runs = [run for run in runs if run["env_id"] == env_id and run["config"] == config.name]
            if not config_runs:
                continue
            solved = [run for run in config_runs if run["solved"]]
            seconds = [run["seconds_to_solve"] for run in solved]
            steps = [run["steps_to_solve"] for run in solved]
            time_cell = f"{statistics.median(seconds):.1f} [{min(seconds):.1f}, {max(seconds):.1f}]" if solved else "-"
            steps_cell = f"{statistics.median(steps):,.0f}" if solved else "-"
            lines.append(
                f"| {env_id} | {config.name} | {config_runs[0]['n_envs']} | {len(solved)}/{len(config_runs)} | "
                f"{time_cell} | {steps_cell} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_to_solve", description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 to N-1 (default 5)")
    parser.add_argument(
        "--envs", type=comma_separated(TASKS), default=list(TASKS), help=f"comma-separated, from {','.join(TASKS)}"
    )
    parser.add_argument("--configs", help="only these algorithm@engine names (comma-separated; default: all)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/time-to-solve"))
    args = parser.parse_args(argv)
    env_ids = args.envs
    wanted = None if args.configs is None else set(args.configs.split(","))
    runs_dir = args.out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds):
        for env_id in env_ids:
            for config in TASKS[env_id][2]:
                if wanted is not None and config.name not in wanted:
                    continue
                path = runs_dir / f"{env_id}__{config.name.replace('@', '__')}__seed{seed}.json"
                if path.exists():
                    continue
                run = run_one(env_id, config, seed)
                write_json(path, run)
                outcome = "not solved"
                if run["solved"]:
                    outcome = f"solved in {run['seconds_to_solve']:.1f} s, {run['steps_to_solve']} steps"
                print(f"{env_id} {config.name} seed {seed}: {outcome}", flush=True)
    runs = [read_json(path) for path in sorted(runs_dir.glob("*.json"))]
    command = shlex.join(["python", "-m", "benchmarks.time_to_solve", *argv])
    (args.out / "results.md").write_text(report(runs, command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
