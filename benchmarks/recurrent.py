"""
Recurrent policies on tasks that need memory: RecurrentREINFORCE, sb3-contrib's RecurrentPPO and
feed-forward REINFORCE (the memoryless reference) on CartPoleNoVel-v1 (RL Zoo's CartPole without
velocities), POPGym's RepeatPreviousEasy and a cue-recall task at three delays (16, 32, 64 steps).

    python -m benchmarks.recurrent --workers 16                  # every task, algorithm and seed
    python -m benchmarks.recurrent --tasks CueRecall-16 --algos RecurrentPPO,REINFORCE --seeds 1 --budget 5000 --out /tmp/rec
    python -m benchmarks.recurrent --report-only                 # rebuild the report from the JSON files

Each run evaluates its deterministic policy (SB3's ``evaluate_policy``, 20 episodes) at step 0 and
at every tenth of the budget and rewrites ``runs/<task>__<algorithm>__<budget>__seed<N>.json`` after
each evaluation, so an interrupted run keeps what it measured; a finished run's file marks it
finished and is skipped on the next invocation (an unfinished one is run again from the start). The
runs go longest first to a pool of worker processes, one torch thread each. ``results.md`` and
``learning_curves_<task>.png`` are rebuilt from every JSON file in ``--out`` at the end.
"""

import argparse
import copy
import dataclasses
import datetime
import multiprocessing
import os
import shlex
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from benchmarks.common import EvaluateAndSave, machine_description, read_json, training_steps_per_second, unfinished_note
from benchmarks.memory_tasks import (
    REPEAT_PREVIOUS_MEMORYLESS_BEST,
    REPEAT_PREVIOUS_RANDOM,
    cue_recall_factory,
    make_cartpole_no_vel,
    make_repeat_previous_easy,
    random_policy_return,
)
from sb3_reinforce.reinforce_recurrent.policies import add_forget_gate_bias

N_ENVS = 8
EVALUATIONS = 10
EVAL_EPISODES = 20
# The evaluation env runs this many copies (it divides EVAL_EPISODES, so each copy runs as many episodes)
EVAL_ENVS = 5
EVAL_SEED_OFFSET = 10_000
CUE_RECALL_DELAYS = (16, 32, 64)
CUE_RECALL_BUDGETS = (150_000, 150_000, 150_000)
DEFAULT_OUT = Path("docs/benchmarks/recurrent")
ALGOS = ("RecurrentREINFORCE", "RecurrentPPO", "REINFORCE")
LSTM_KEYS = ("lstm_hidden_size", "n_lstm_layers", "shared_lstm", "enable_critic_lstm", "lstm_kwargs", "lstm_forget_bias")


@dataclasses.dataclass(frozen=True)
class Task:
    """A task of the benchmark, its default budget and seeds, and the scores of memoryless policies."""

    name: str
    make_env: Callable[[], gym.Env]
    threshold: float
    budget: int
    seeds: int
    description: str


def _cue_recall_task(delay: int, budget: int) -> Task:
    return Task(
        f"CueRecall-{delay}",
        cue_recall_factory(delay),
        0.9,
        budget,
        3,
        f"`benchmarks/memory_tasks.py`'s `CueRecallEnv(delay={delay}, n_cues=2)`: step 0 shows one of 2 cues "
        f"one-hot, the next {delay} steps show only a constant waiting flag, the last step an answer flag; the "
        f"answer earns +1 if it names the cue and -1 otherwise ({delay + 2} steps an episode, returns in [-1, 1]).",
    )


# Default budgets (env steps per run): CartPoleNoVel-v1 at RL Zoo's 100k; the others such that RecurrentPPO,
# by far the slowest (ESTIMATED_STEPS_PER_S), takes at most about 520 s of CPU a run (CueRecall-64), so
# that the whole benchmark (51 runs: 5 seeds on CartPoleNoVel-v1, 3 on the others, 3 algorithms) takes
# about 16 x 7 CPU-minutes and 16 workers finish in about 9 minutes (17 RecurrentPPO runs)
TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "CartPoleNoVel-v1",
            make_cartpole_no_vel,
            475.0,
            100_000,
            5,
            "CartPole-v1 with the cart and pole velocities zeroed (RL Zoo's `MaskVelocityWrapper`, as "
            "`rl_zoo3/import_envs.py` registers it): positions only, 500 steps at most.",
        ),
        Task(
            "RepeatPreviousEasy",
            make_repeat_previous_easy,
            0.9,
            100_000,
            3,
            "POPGym's `RepeatPreviousEasy`: a shuffled deck is dealt one card a step (51 steps); the observation "
            "is the suit of the card just dealt (`Discrete(4)`, one-hot for the networks), and from the 4th step "
            "on each action earns +1/48 if it names the suit of the card dealt 3 cards before the current one "
            "and -1/48 otherwise (returns in [-1, 1]).",
        ),
        *(_cue_recall_task(delay, budget) for delay, budget in zip(CUE_RECALL_DELAYS, CUE_RECALL_BUDGETS, strict=True)),
    )
}

# Env steps per second of training (no evaluation) of each algorithm on each task, on the project's 2-core
# machine (Linux x86_64, torch 2.13 CPU, one torch thread): CPU time (time.process_time) of learn() for 12k
# (RecurrentPPO) or 100k steps (the others) with the settings below, seed 0, as other processes shared the
# machine. They order the runs (longest first) and set the budgets above
ESTIMATED_STEPS_PER_S: dict[tuple[str, str], float] = {
    ("CartPoleNoVel-v1", "RecurrentREINFORCE"): 7990,
    ("CartPoleNoVel-v1", "RecurrentPPO"): 433,
    ("CartPoleNoVel-v1", "REINFORCE"): 14706,
    ("RepeatPreviousEasy", "RecurrentREINFORCE"): 10639,
    ("RepeatPreviousEasy", "RecurrentPPO"): 319,
    ("RepeatPreviousEasy", "REINFORCE"): 21389,
    ("CueRecall-16", "RecurrentREINFORCE"): 12080,
    ("CueRecall-16", "RecurrentPPO"): 702,
    ("CueRecall-16", "REINFORCE"): 26481,
    ("CueRecall-64", "RecurrentREINFORCE"): 12159,
    ("CueRecall-64", "RecurrentPPO"): 288,
    ("CueRecall-64", "REINFORCE"): 26611,
    ("CueRecall-32", "RecurrentREINFORCE"): 12159,
    ("CueRecall-32", "RecurrentPPO"): 400,
    ("CueRecall-32", "REINFORCE"): 26611,
}
DEFAULT_STEPS_PER_S = 1000.0

# The policy of the recurrent algorithms (RL Zoo's for RecurrentPPO on CartPoleNoVel-v1); the feed-forward
# REINFORCE takes it without the LSTM keys
LSTM_POLICY_KWARGS: dict[str, Any] = {
    "lstm_hidden_size": 64,
    "net_arch": {"pi": [64], "vf": [64]},
    "ortho_init": False,
    "activation_fn": nn.ReLU,
}

# Settings as in RL Zoo's files: the algorithm's keywords, and `normalize` (VecNormalize's keywords, True for
# its defaults: observations and returns; absent: none)

# RecurrentREINFORCE's settings per task, from single-seed probes (seed 0, 2-core machine; see
# docs/modules/reinforce_recurrent.md). n_steps is the minimum per env of a rollout, which then runs until
# every env has ended its episode: with 8 envs each rollout holds at least 8 episodes.
# - CartPoleNoVel-v1: sb3_reinforce/hyperparams/reinforce_lstm.yml (observations normalized, returns not).
# - RepeatPreviousEasy: actions change no later observation or reward, so gamma 0 is the exact credit
#   assignment (with 0.99, no progress in 200k steps; with 0, 0.53 at 100k).
# - Cue recall: one reward of +-1 at the end. gamma 0.9 shrinks the noise of the waiting steps' returns
#   (their actions matter to nothing) while the answer keeps its full return; a forget-gate bias of 3 keeps
#   the cue through the delay; normalize_advantage=False, since standardizing advantages made a solved
#   policy collapse once nearly every answer was right.
CUE_RECALL_REINFORCE: dict[str, Any] = {
    "n_steps": 16,
    "baseline": "mean",
    "gamma": 0.9,
    "normalize_advantage": False,
    "learning_rate": 3e-4,
    "policy_kwargs": {**LSTM_POLICY_KWARGS, "lstm_forget_bias": 3.0},
}
RECURRENT_REINFORCE: dict[str, dict[str, Any]] = {
    "CartPoleNoVel-v1": {
        "normalize": {"norm_obs": True, "norm_reward": False},
        "n_steps": 32,
        "baseline": "mean",
        "learning_rate": 3e-3,
        "policy_kwargs": LSTM_POLICY_KWARGS,
    },
    "RepeatPreviousEasy": {
        "n_steps": 16,
        "baseline": "mean",
        "gamma": 0.0,
        "learning_rate": 3e-3,
        "policy_kwargs": LSTM_POLICY_KWARGS,
    },
    **{f"CueRecall-{delay}": CUE_RECALL_REINFORCE for delay in CUE_RECALL_DELAYS},
}

# RecurrentPPO: RL Zoo's tuned entry for CartPoleNoVel-v1 (hyperparams/ppo_lstm.yml, with `normalize: True`
# and 8 envs). RL Zoo has no entry for the other tasks: there sb3-contrib's defaults (n_steps=128,
# batch_size=128, n_epochs=10, lr 3e-4, GAE 0.95) with the same policy and discount as RecurrentREINFORCE,
# and on cue recall the same forget-gate bias, so that the two differ in their algorithm only.
# "lin_X": a linear schedule from X to 0, as in RL Zoo
RECURRENT_PPO: dict[str, dict[str, Any]] = {
    "CartPoleNoVel-v1": {
        "normalize": True,
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
        "policy_kwargs": {**LSTM_POLICY_KWARGS, "enable_critic_lstm": True},
    },
    "RepeatPreviousEasy": {"n_steps": 128, "gamma": 0.0, "policy_kwargs": LSTM_POLICY_KWARGS},
    **{
        f"CueRecall-{delay}": {"n_steps": 128, "gamma": 0.9, "policy_kwargs": {**LSTM_POLICY_KWARGS, "lstm_forget_bias": 3.0}}
        for delay in CUE_RECALL_DELAYS
    },
}


def algorithm_settings(task: str, algo: str) -> tuple[str, dict[str, Any]]:
    """The policy name and the keywords (schedules as ``lin_X`` strings) of ``algo`` on ``task``."""
    if algo == "RecurrentREINFORCE":
        return "MlpLstmPolicy", RECURRENT_REINFORCE[task]
    if algo == "RecurrentPPO":
        return "MlpLstmPolicy", RECURRENT_PPO[task]
    if algo == "REINFORCE":
        # RecurrentREINFORCE's settings without a memory
        settings = dict(RECURRENT_REINFORCE[task])
        policy_kwargs = {key: value for key, value in settings.get("policy_kwargs", {}).items() if key not in LSTM_KEYS}
        return "MlpPolicy", {**settings, "policy_kwargs": policy_kwargs}
    raise ValueError(f"unknown algorithm {algo!r}; choose from {', '.join(ALGOS)}")


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The class of ``algo``, imported on demand (RecurrentREINFORCE may be missing from an older sb3_reinforce)."""
    if algo == "RecurrentREINFORCE":
        from sb3_reinforce import RecurrentREINFORCE  # type: ignore[attr-defined,unused-ignore]

        return cast(type[BaseAlgorithm], RecurrentREINFORCE)
    if algo == "RecurrentPPO":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    if algo == "REINFORCE":
        from sb3_reinforce import REINFORCE

        return REINFORCE
    raise ValueError(f"unknown algorithm {algo!r}; choose from {', '.join(ALGOS)}")


def is_available(algo: str) -> bool:
    """Whether ``algo`` can be imported here."""
    try:
        algorithm_class(algo)
    except ImportError:
        return False
    return True


def _convert(value: Any) -> Any:
    """A setting as the algorithm takes it: ``lin_X`` strings as linear schedules from X to 0 (as RL Zoo's)."""
    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(float(value[len("lin_") :]), 0.0, 1.0)
    return value


def describe(value: Any) -> str:
    """A setting as text for the JSON files and the report (``nn.ReLU``, ``dict(pi=[64])``)."""
    if isinstance(value, type):
        return f"nn.{value.__name__}" if value.__module__.startswith("torch.nn") else value.__qualname__
    if isinstance(value, dict):
        return "dict(" + ", ".join(f"{key}={describe(item)}" for key, item in value.items()) + ")"
    if isinstance(value, str) and value.startswith("lin_"):
        return value
    return repr(value)


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run."""

    task: str
    algo: str
    seed: int
    budget: int

    @property
    def name(self) -> str:
        """File name (without suffix) of the run's result."""
        return f"{self.task}__{self.algo}__{self.budget}__seed{self.seed}"

    def estimated_seconds(self) -> float:
        """Training time expected from the measured speeds (for ordering the runs)."""
        return self.budget / ESTIMATED_STEPS_PER_S.get((self.task, self.algo), DEFAULT_STEPS_PER_S)


def normalize_kwargs(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The ``VecNormalize`` keywords of the settings' ``normalize`` (None: no normalization)."""
    value = settings.get("normalize")
    if isinstance(value, dict):
        return dict(value)
    return {} if value else None


def make_env(task: Task, seed: int, n_envs: int, settings: dict[str, Any], training: bool = True) -> VecEnv:
    """
    ``n_envs`` copies of the task's env in a ``DummyVecEnv`` (each in a ``Monitor``, so evaluations
    report raw returns), in ``VecNormalize`` where the settings say so (returns discounted with the
    settings' ``gamma``, as RL Zoo does). An evaluation env (``training=False``) neither updates its
    statistics nor normalizes rewards: it is given the training env's observation statistics before
    each evaluation.
    """
    env = make_vec_env(task.make_env, n_envs=n_envs, seed=seed)
    normalize = normalize_kwargs(settings)
    if normalize is None:
        return env
    normalize = {"gamma": settings.get("gamma", 0.99), **normalize}
    if not training:
        normalize.update(training=False, norm_reward=False)
    return VecNormalize(env, **normalize)


def make_model(run: Run) -> BaseAlgorithm:
    """The run's model on its training envs (seeded by the run's seed), on CPU."""
    policy, settings = algorithm_settings(run.task, run.algo)
    kwargs = {key: _convert(value) for key, value in copy.deepcopy(settings).items() if key != "normalize"}
    env = make_env(TASKS[run.task], run.seed, N_ENVS, settings)
    forget_bias = None
    if run.algo == "RecurrentPPO":
        # RecurrentREINFORCE's policy_kwargs key, applied here to sb3-contrib's policy
        forget_bias = kwargs.get("policy_kwargs", {}).pop("lstm_forget_bias", None)
    model = algorithm_class(run.algo)(policy, env, seed=run.seed, device="cpu", verbose=0, **kwargs)
    if forget_bias is not None:
        add_forget_gate_bias(model.policy, forget_bias)  # type: ignore[arg-type]
    return model


class ReturnEvaluation(EvaluateAndSave):
    """
    Mean return of the deterministic policy on ``eval_env`` at ``points``. With ``VecNormalize``,
    the evaluation env gets a copy of the training env's observation statistics first (frozen: it
    does not update them).

    :param eval_env: The evaluation env
    """

    def __init__(self, eval_env: VecEnv, points: list[int], path: Path, result: dict[str, Any]):
        super().__init__(points, path, result)
        self.eval_env = eval_env

    def measure(self) -> dict[str, Any]:
        training_normalization = self.model.get_vec_normalize_env()
        if training_normalization is not None and training_normalization.norm_obs:
            assert isinstance(self.eval_env, VecNormalize)
            self.eval_env.obs_rms = copy.deepcopy(training_normalization.obs_rms)
        mean, std = cast(
            tuple[float, float],
            evaluate_policy(self.model, self.eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True),
        )
        return {"mean": float(mean), "std": float(std)}


def run_one(run: Run, runs_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one run, writing its JSON file as it goes; return its content."""
    task = TASKS[run.task]
    policy, settings = algorithm_settings(run.task, run.algo)
    path = runs_dir / f"{run.name}.json"
    result: dict[str, Any] = {
        **dataclasses.asdict(run),
        "threshold": task.threshold,
        "n_envs": N_ENVS,
        "policy": policy,
        "hyperparams": {key: describe(value) for key, value in settings.items()},
        "eval_episodes": EVAL_EPISODES,
        "evaluations": [],
        "timesteps": 0,
        "wall_time_s": 0.0,
        "eval_time_s": 0.0,
        "finished": False,
        "meta": meta,
    }
    model = make_model(run)
    eval_env = make_env(task, run.seed + EVAL_SEED_OFFSET, EVAL_ENVS, settings, training=False)
    points = [round(run.budget * index / EVALUATIONS) for index in range(1, EVALUATIONS + 1)]
    ReturnEvaluation(eval_env, points, path, result).train(model, run.budget)
    return result


def init_worker() -> None:
    """Each worker process uses one thread: the workers, not torch, use the cores."""
    torch.set_num_threads(1)


def invocation(module: str, argv: list[str]) -> dict[str, Any]:
    """Machine, command line and date (UTC) of this invocation of ``python -m module``."""
    return {
        "machine": machine_description(),
        "command": shlex.join(["python", "-m", module, *argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def is_finished(path: Path) -> bool:
    """Whether the run file at ``path`` exists and marks its run finished."""
    return path.exists() and bool(read_json(path).get("finished"))


def plan_runs(tasks: list[str], algos: list[str], seeds: int | None, budget: int | None) -> list[Run]:
    """The runs, longest first (by the measured speeds), so the workers finish together."""
    runs = [
        Run(task, algo, seed, budget or TASKS[task].budget)
        for task in tasks
        for algo in algos
        for seed in range(seeds if seeds is not None else TASKS[task].seeds)
    ]
    return sorted(runs, key=lambda run: run.estimated_seconds(), reverse=True)


def run_all(
    runs: list[Run], runs_dir: Path, workers: int, meta: dict[str, Any], initializer: Callable[[], None] = init_worker
) -> int:
    """Run the runs not finished yet in parallel worker processes (set up by ``initializer``); return how many failed."""
    pending = [run for run in runs if not is_finished(runs_dir / f"{run.name}.json")]
    print(
        f"recurrent: {len(runs) - len(pending)} of {len(runs)} runs already done, {len(pending)} to run on {workers} workers"
    )
    failures = 0
    if not pending:
        return 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer) as pool:
        futures = {pool.submit(run_one, run, runs_dir, meta): run for run in pending}
        for count, future in enumerate(as_completed(futures), start=1):
            run = futures[future]
            try:
                result = future.result()
                last = result["evaluations"][-1]
                speed = result["timesteps"] / max(result["wall_time_s"] - result["eval_time_s"], 1e-9)
                line = f"{run.name}: final mean return {last['mean']:.3f}, {speed:.0f} steps/s, {result['wall_time_s']:.0f} s"
            except Exception:
                failures += 1
                line = f"{run.name} FAILED:\n{traceback.format_exc()}"
            print(f"[{count}/{len(pending)}] {line}", flush=True)
    return failures


def reference_scores(task: str) -> dict[str, float]:
    """Scores of memoryless policies on ``task``: the reference lines of its table and plot."""
    if task == "CartPoleNoVel-v1":
        return {"random actions, mean of 100 episodes": random_policy_return(make_cartpole_no_vel, 100)}
    if task == "RepeatPreviousEasy":
        return {
            "uniformly random actions, expected": REPEAT_PREVIOUS_RANDOM,
            "best memoryless policy, expected": REPEAT_PREVIOUS_MEMORYLESS_BEST,
        }
    if task.startswith("CueRecall-"):
        return {"chance = best memoryless policy, expected": 0.0}
    return {}


def _fmt(value: float, task: str) -> str:
    """A return as text: one decimal on tasks with large returns (CartPole's), three on the others."""
    return f"{value:.1f}" if abs(TASKS[task].threshold) >= 10 else f"{value:.3f}"


def _groups(results: list[dict[str, Any]], task: str) -> list[tuple[str, int, list[dict[str, Any]]]]:
    """The task's runs grouped by algorithm and budget (in ``ALGOS`` order, then by budget), each sorted by seed."""
    groups = []
    for algo in ALGOS:
        for budget in sorted({result["budget"] for result in results if result["task"] == task and result["algo"] == algo}):
            runs = [result for result in results if (result["task"], result["algo"], result["budget"]) == (task, algo, budget)]
            runs = [run for run in runs if run["evaluations"]]
            if runs:
                groups.append((algo, budget, sorted(runs, key=lambda run: run["seed"])))
    return groups


def results_table(results: list[dict[str, Any]], task: str, references: dict[str, float]) -> list[str]:
    """Per algorithm (and budget): the final evaluation of each seed, the median, the seeds reaching the threshold, speed."""
    threshold = TASKS[task].threshold
    lines = [
        f"| algorithm | budget | seeds | final score per seed | median final | seeds reaching {threshold:g} "
        "(at any evaluation / at the final one) | steps/s (median) | wall time per seed, s (median) |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for algo, budget, runs in _groups(results, task):
        finals = [run["evaluations"][-1]["mean"] for run in runs]
        reached = sum(any(evaluation["mean"] >= threshold for evaluation in run["evaluations"]) for run in runs)
        reached_final = sum(final >= threshold for final in finals)
        speeds = [training_steps_per_second(run) for run in runs]
        per_seed = ", ".join(f"{run['seed']}: {_fmt(final, task)}" for run, final in zip(runs, finals, strict=True))
        note = unfinished_note(runs)
        lines.append(
            f"| {algo}{note} | {budget:,} | {len(runs)} | {per_seed} | {_fmt(float(np.median(finals)), task)} | "
            f"{reached}/{len(runs)} / {reached_final}/{len(runs)} | {np.median(speeds):.0f} | "
            f"{np.median([run['wall_time_s'] for run in runs]):.0f} |"
        )
    for name, value in references.items():
        lines.append(f"| {name} (no training) | | | | {_fmt(value, task)} | | | |")
    return lines


def plot_curves(results: list[dict[str, Any]], task: str, references: dict[str, float], path: Path) -> None:
    """Mean evaluation return against env steps (min-max over seeds shaded), the threshold dashed, references dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for algo, budget, runs in _groups(results, task):
        # The evaluation points all seeds reached
        count = min(len(run["evaluations"]) for run in runs)
        steps = np.array([evaluation["step"] for evaluation in runs[0]["evaluations"][:count]])
        values = np.array([[evaluation["mean"] for evaluation in run["evaluations"][:count]] for run in runs])
        label = f"{algo} ({len(runs)} seeds" + (f", budget {budget:,})" if len(_budgets(results, task)) > 1 else ")")
        (line,) = axis.plot(steps, values.mean(axis=0), marker=".", label=label)
        axis.fill_between(steps, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2)
    axis.axhline(TASKS[task].threshold, color="black", linestyle="--", linewidth=0.8, label="threshold")
    for (name, value), style in zip(references.items(), (":", "-."), strict=False):
        axis.axhline(value, color="grey", linestyle=style, label=name)
    axis.set_xlabel("env steps")
    axis.set_ylabel(f"mean return ({EVAL_EPISODES} deterministic episodes)")
    axis.set_title(task)
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _budgets(results: list[dict[str, Any]], task: str) -> list[int]:
    return sorted({result["budget"] for result in results if result["task"] == task})


def _settings_lines(results: list[dict[str, Any]], task: str) -> list[str]:
    """The settings of each algorithm's runs on ``task``, as their JSON files recorded them."""
    lines = []
    for algo in ALGOS:
        recorded = {
            (result["policy"], ", ".join(f"{key}={value}" for key, value in result["hyperparams"].items()))
            for result in results
            if (result["task"], result["algo"]) == (task, algo)
        }
        for policy, shown in sorted(recorded):
            lines.append(f"- {algo}: `{policy}`, `{shown}`, otherwise the algorithm's defaults")
    return lines


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}, torch {machine['torch']}, "
        f"stable-baselines3 {machine['stable_baselines3']}, gymnasium {machine['gymnasium']}, numpy {machine['numpy']}"
    )


def write_report(out: Path, meta: dict[str, Any]) -> Path:
    """Rebuild ``results.md`` and a ``learning_curves_<task>.png`` per task from every run's JSON file under ``out``."""
    results = [read_json(path) for path in sorted((out / "runs").glob("*.json"))]
    # Each run records the machine it ran on: the report names those, not the one that writes it
    runs_made = sorted(
        {(result["meta"]["command"], result["meta"]["date"], _machine_line(result["meta"]["machine"])) for result in results},
        key=lambda made: made[1],
    )
    lines = [
        "# Recurrent policies on tasks that need memory",
        "",
        *[f"- Runs made by `{command}`, started {date}, on {machine}" for command, date, machine in runs_made],
        f"- Report written {meta['date']} by `{meta['command']}`",
        "",
        "RecurrentREINFORCE and sb3-contrib's RecurrentPPO (`MlpLstmPolicy`) against feed-forward REINFORCE "
        f"(`MlpPolicy`, the memoryless reference) on the same seeds. Each run trains on {N_ENVS} envs in one "
        f"process with one torch thread. At step 0 and at every tenth of the budget the deterministic policy runs "
        f"{EVAL_EPISODES} episodes (SB3's `evaluate_policy`, {EVAL_ENVS} evaluation envs seeded apart from "
        "training; with `VecNormalize`, a frozen copy of the training env's observation statistics, raw rewards). "
        "The final score is the mean return of the last evaluation. A seed reaches the threshold when an "
        "evaluation's mean return does. Steps/s: env steps over training time (evaluations excluded); wall time "
        "includes the evaluations.",
        "",
        "Settings are written as in RL Zoo's files: `normalize` gives `VecNormalize`'s keywords (`True`: its "
        "defaults, observations and returns normalized; absent: no normalization), `lin_X` a learning rate or "
        "clip range decaying linearly from X to 0. RecurrentPPO takes RL Zoo's tuned entry for CartPoleNoVel-v1 "
        "(`hyperparams/ppo_lstm.yml`) and elsewhere sb3-contrib's defaults (`n_steps=128` stated), with the "
        "recurrent policy of RL Zoo's entry and RecurrentREINFORCE's discount and forget-gate bias. "
        "RecurrentREINFORCE's settings come from single-seed probes (seed 0; the reasons are in "
        "`benchmarks/recurrent.py`); feed-forward REINFORCE takes them without the LSTM keys.",
        "",
    ]
    tasks = [task for task in TASKS if any(result["task"] == task for result in results)]
    for task in tasks:
        references = reference_scores(task)
        lines += [
            f"## {task}",
            "",
            TASKS[task].description,
            "",
            f"Threshold {TASKS[task].threshold:g}.",
            "",
            *results_table(results, task, references),
            "",
            "Settings:",
            "",
            *_settings_lines(results, task),
            "",
            f"![learning curves](learning_curves_{task}.png)",
            "",
        ]
        plot_curves(results, task, references, out / f"learning_curves_{task}.png")
    if not tasks:
        lines += ["No runs yet.", ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.md"
    path.write_text("\n".join(lines))
    return path


def _names(value: str | None, known: list[str] | tuple[str, ...], kind: str, parser: argparse.ArgumentParser) -> list[str]:
    names = value.split(",") if value else list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown {kind} {unknown}; choose from {','.join(known)}")
    return names


def main(argv: list[str]) -> int:
    """Run the benchmark and write the report; the exit status is 1 if a run failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.recurrent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--tasks", help=f"comma-separated, from {','.join(TASKS)} (default: all)")
    parser.add_argument("--algos", help=f"comma-separated, from {','.join(ALGOS)} (default: all)")
    parser.add_argument("--seeds", type=int, help="seeds 0 to N-1 (default: 5 on CartPoleNoVel-v1, 3 elsewhere)")
    parser.add_argument("--budget", type=int, help="env steps per run, overriding every task's (for smoke tests)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel runs (default: the CPU count)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report from the JSON files")
    args = parser.parse_args(argv)
    tasks = _names(args.tasks, list(TASKS), "tasks", parser)
    algos = _names(args.algos, ALGOS, "algos", parser)
    for name, value in (("--seeds", args.seeds), ("--budget", args.budget), ("--workers", args.workers)):
        if value is not None and value < 1:
            parser.error(f"{name} must be a positive number")
    missing = [algo for algo in algos if not is_available(algo)]
    if missing and not args.report_only:
        others = ",".join(algo for algo in algos if algo not in missing)
        parser.error(f"{', '.join(missing)} cannot be imported here; run the others with --algos {others}")
    meta = invocation("benchmarks.recurrent", argv)
    failures = 0
    if not args.report_only:
        failures = run_all(plan_runs(tasks, algos, args.seeds, args.budget), args.out / "runs", args.workers, meta)
    print(f"Wrote {write_report(args.out, meta)}")
    if failures:
        print(f"{failures} runs failed; re-run the same command to retry them", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
