"""
Sample-efficiency suite: train each (task, algorithm, seed), evaluating the deterministic policy
every few thousand env steps on a separate env. Each run writes ``runs/<name>.json`` when done;
runs whose file exists are skipped, so an interrupted benchmark resumes where it stopped.
"""

import copy
import dataclasses
import multiprocessing
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, cast

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.type_aliases import PolicyPredictor
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from benchmarks import tianshou_peer
from benchmarks.common import write_json
from benchmarks.hyperparams import Hyperparams, load_hyperparams, make_env, make_model

SMALL_TASK_ALGOS = ("REINFORCE-none", "REINFORCE-mean", "REINFORCE-critic", "A2C", "PPO")
LARGE_TASK_ALGOS = ("REINFORCE-critic", "A2C", "PPO")


def carried_episode_variants(baseline: str) -> tuple[str, ...]:
    """REINFORCE with ``baseline`` and each non-default ``carried_episodes`` (the default is ``REINFORCE-<baseline>``)."""
    return (f"REINFORCE-{baseline}-uncorrected", f"REINFORCE-{baseline}-discarded")


EVAL_EVERY = 5_000
# The final score of a run is the mean of its last this many evaluations (EVAL_EVERY apart, whatever the spacing before)
FINAL_EVALUATIONS = 5
EVAL_EPISODES = {"full": 20, "quick": 5}
# The evaluation env runs this many copies (it divides both episode counts, so each copy runs as many episodes)
EVAL_ENVS = 5
EVAL_SEED_OFFSET = 10_000
QUICK_ENVS = ("CartPole-v1", "Acrobot-v1")
QUICK_BUDGET = 20_000
QUICK_SEEDS = 2


@dataclasses.dataclass(frozen=True)
class Task:
    """An env, its "solved" threshold (None: report the final return only), budget, seeds and algorithms."""

    env_id: str
    threshold: float | None
    budget: int
    seeds: int
    algos: tuple[str, ...]


TASKS = (
    # The peer runs where Tianshou is installed, on the task its settings are for
    Task("CartPole-v1", 475.0, 200_000, 5, (*SMALL_TASK_ALGOS, *carried_episode_variants("mean"), tianshou_peer.ALGO)),
    Task("Acrobot-v1", -100.0, 500_000, 5, (*SMALL_TASK_ALGOS, *carried_episode_variants("critic"))),
    Task("LunarLander-v3", 200.0, 1_000_000, 5, LARGE_TASK_ALGOS),
    Task("InvertedPendulum-v5", 950.0, 300_000, 5, LARGE_TASK_ALGOS),
    Task("Hopper-v5", None, 1_000_000, 3, LARGE_TASK_ALGOS),
)
TASKS_BY_ENV = {task.env_id: task for task in TASKS}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run and how it is evaluated."""

    env_id: str
    algo: str
    seed: int
    budget: int
    threshold: float | None
    eval_episodes: int
    hyperparams: Hyperparams
    eval_every: int = EVAL_EVERY

    @property
    def name(self) -> str:
        """File name (without suffix) of the run's result; sparser evaluation is named, so it never resumes a dense run."""
        spacing = "" if self.eval_every == EVAL_EVERY else f"__every{self.eval_every}"
        return f"{self.env_id}__{self.algo}__{self.budget}__seed{self.seed}{spacing}"

    def eval_points(self) -> list[int]:
        """
        Env steps after which the policy is evaluated: every ``eval_every`` steps, at the budget, and
        ``EVAL_EVERY`` apart over the last ``FINAL_EVALUATIONS``, so the final score means the same
        whatever the spacing.
        """
        dense = sorted({*range(EVAL_EVERY, self.budget + 1, EVAL_EVERY), self.budget})
        return sorted({*range(self.eval_every, self.budget + 1, self.eval_every), *dense[-FINAL_EVALUATIONS:]})


def plan_runs(
    env_ids: list[str],
    quick: bool,
    seeds: Sequence[int] | None,
    budget: int | None,
    algos: list[str] | None = None,
    eval_every: int = EVAL_EVERY,
) -> list[RunSpec]:
    """
    The runs of the suite, longest first (so the parallel workers finish together).

    :param env_ids: Tasks to run (names from ``TASKS``)
    :param quick: Quick mode: ``QUICK_BUDGET`` steps, ``QUICK_SEEDS`` seeds, fewer eval episodes
    :param seeds: The seeds to run, overriding the task's (or quick mode's) ``range(seeds)``
    :param budget: Env steps per run, overriding the task's (or quick mode's)
    :param algos: Only these of each task's algorithms (default: all of them)
    :param eval_every: Env steps between evaluations before the final ones (a larger spacing saves
        evaluation time; steps to threshold are then only known to this resolution)
    """
    mode = "quick" if quick else "full"
    specs = []
    for env_id in env_ids:
        task = TASKS_BY_ENV[env_id]
        task_budget = budget or (QUICK_BUDGET if quick else task.budget)
        task_seeds = seeds if seeds is not None else range(QUICK_SEEDS if quick else task.seeds)
        for algo in task.algos:
            if algos is not None and algo not in algos:
                continue
            if algo == tianshou_peer.ALGO:
                if not tianshou_peer.is_installed():
                    print(f"sample: Tianshou is not installed, so {algo} does not run (pip install -e '.[peers]')")
                    continue
                hyperparams = tianshou_peer.HYPERPARAMS
            else:
                hyperparams = load_hyperparams(algo, env_id)
            specs += [
                RunSpec(env_id, algo, seed, task_budget, task.threshold, EVAL_EPISODES[mode], hyperparams, eval_every)
                for seed in task_seeds
            ]
    return sorted(specs, key=lambda spec: spec.budget, reverse=True)


class PeriodicEvaluation(BaseCallback):
    """
    Evaluate the deterministic policy when ``num_timesteps`` first reaches each of ``points``
    (with several envs, ``num_timesteps`` grows by ``n_envs`` per step, so it crosses, not hits, them).
    With ``VecNormalize``, the evaluation env gets the training env's observation statistics first.

    :param eval_env: Evaluation env (a ``VecNormalize`` with ``training=False`` when training normalizes)
    :param points: Env steps at which to evaluate, ascending
    :param n_episodes: Episodes per evaluation
    """

    def __init__(self, eval_env: VecEnv, points: list[int], n_episodes: int):
        super().__init__()
        self.eval_env = eval_env
        self.pending = list(points)
        self.n_episodes = n_episodes
        self.steps: list[int] = []
        self.means: list[float] = []
        self.stds: list[float] = []
        self.eval_time = 0.0

    def _on_step(self) -> bool:
        self.evaluate_if_due(self.num_timesteps, self.model)
        return True

    def evaluate_if_due(self, num_timesteps: int, predictor: PolicyPredictor) -> None:
        """Evaluate ``predictor`` once if ``num_timesteps`` has crossed pending points (at the last of them)."""
        crossed = [point for point in self.pending if point <= num_timesteps]
        if crossed:
            self.pending = self.pending[len(crossed) :]
            self._evaluate(crossed[-1], predictor)

    def _evaluate(self, point: int, predictor: PolicyPredictor) -> None:
        start = time.perf_counter()
        training_normalization = predictor.get_vec_normalize_env() if isinstance(predictor, BaseAlgorithm) else None
        if training_normalization is not None and training_normalization.norm_obs:
            assert isinstance(self.eval_env, VecNormalize)
            self.eval_env.obs_rms = copy.deepcopy(training_normalization.obs_rms)
        mean, std = cast(
            tuple[float, float],
            evaluate_policy(predictor, self.eval_env, n_eval_episodes=self.n_episodes, deterministic=True),
        )
        self.steps.append(point)
        self.means.append(float(mean))
        self.stds.append(float(std))
        self.eval_time += time.perf_counter() - start


def run_one(spec: RunSpec, runs_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one run, write its JSON file and return its content."""
    hyperparams = spec.hyperparams
    eval_env = make_env(spec.env_id, hyperparams, seed=spec.seed + EVAL_SEED_OFFSET, n_envs=EVAL_ENVS, training=False)
    evaluation = PeriodicEvaluation(eval_env, spec.eval_points(), spec.eval_episodes)
    start = time.perf_counter()
    if spec.algo == tianshou_peer.ALGO:
        timesteps = tianshou_peer.train(spec.env_id, spec.seed, spec.budget, evaluation.evaluate_if_due, hyperparams)
    else:
        model = make_model(spec.algo, hyperparams, make_env(spec.env_id, hyperparams, seed=spec.seed), seed=spec.seed)
        model.learn(spec.budget, callback=evaluation)
        timesteps = model.num_timesteps
    wall_time = time.perf_counter() - start
    result = {
        "env_id": spec.env_id,
        "algo": spec.algo,
        "seed": spec.seed,
        "budget": spec.budget,
        "threshold": spec.threshold,
        "eval_episodes": spec.eval_episodes,
        "eval_every": spec.eval_every,
        "hyperparams": dataclasses.asdict(hyperparams),
        "eval_steps": evaluation.steps,
        "eval_means": evaluation.means,
        "eval_stds": evaluation.stds,
        "timesteps": timesteps,
        "wall_time_s": wall_time,
        "eval_time_s": evaluation.eval_time,
        "meta": meta,
    }
    write_json(runs_dir / f"{spec.name}.json", result)
    return result


def _init_worker() -> None:
    """Each worker process uses one thread: the workers, not torch, use the cores."""
    torch.set_num_threads(1)


def _progress_line(result: dict[str, Any]) -> str:
    """One line about a finished run."""
    final = result["eval_means"][-1] if result["eval_means"] else float("nan")
    return (
        f"{result['env_id']} {result['algo']} seed {result['seed']}: last eval {final:.1f} "
        f"after {result['timesteps']} steps, {result['wall_time_s']:.0f} s"
    )


def run_suite(specs: list[RunSpec], runs_dir: Path, workers: int, meta: dict[str, Any]) -> int:
    """Run the specs without a result file in parallel worker processes; return how many failed."""
    pending = [spec for spec in specs if not (runs_dir / f"{spec.name}.json").exists()]
    print(f"sample: {len(specs) - len(pending)} of {len(specs)} runs already done, {len(pending)} to run on {workers} workers")
    if not pending:
        return 0
    failures = 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        futures = {pool.submit(run_one, spec, runs_dir, meta): spec for spec in pending}
        for count, future in enumerate(as_completed(futures), start=1):
            try:
                line = _progress_line(future.result())
            except Exception:
                failures += 1
                line = f"{futures[future].name} FAILED:\n{traceback.format_exc()}"
            print(f"[{count}/{len(pending)}] {line}", flush=True)
    return failures
