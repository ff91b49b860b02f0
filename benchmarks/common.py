"""Helpers shared by the suites: run metadata, JSON files, peak memory, periodic evaluations."""

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.vec_env import VectorEnvAdapter, make_vector_env


def machine_description() -> dict[str, Any]:
    """The machine and the versions that produce the numbers."""
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": np.__version__,
    }


def comma_separated(known: Iterable[str]) -> Callable[[str], list[str]]:
    """An argparse type: comma-separated names, each one of ``known`` (an error names the others)."""
    known = list(known)

    def parse(text: str) -> list[str]:
        names = text.split(",")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}, choose from {known}")
        return names

    return parse


def machine_line(command: str, cores: str = "") -> str:
    """The report line that says where, when and by which command the figures were made."""
    machine = machine_description()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"- Machine: {machine['platform']}, {machine['cpu_count']} CPUs{cores}, torch {machine['torch']}, "
        f"SB3 {machine['stable_baselines3']}; written {date} by `{command}`"
    )


def run_metadata(argv: list[str]) -> dict[str, Any]:
    """Machine, exact command line and date (UTC) of this invocation."""
    return {
        "machine": machine_description(),
        "command": shlex.join(["python", "-m", "benchmarks.run", *argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    """The content of a JSON file."""
    return json.loads(path.read_text())


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class EvaluateAndSave(BaseCallback):
    """
    Evaluate the model when ``num_timesteps`` first reaches each of ``points`` and rewrite the run's
    JSON file after each evaluation, so an interrupted run keeps what it measured. Subclasses say
    what an evaluation measures (``measure``).

    :param points: Env steps at which to evaluate, ascending
    :param path: The run's JSON file
    :param result: The run's JSON content so far (updated in place)
    """

    def __init__(self, points: list[int], path: Path, result: dict[str, Any]):
        super().__init__()
        self.pending = list(points)
        self.path = path
        self.result = result
        self.start = time.perf_counter()
        self.eval_time = 0.0

    def train(self, model: Any, budget: int) -> None:
        """
        Evaluate ``model`` untrained (at step 0), train it for ``budget`` env steps with the
        evaluations at ``points``, and mark the run finished in its file.
        """
        self.init_callback(model)
        self.evaluate(0)
        self.start = time.perf_counter()
        self.eval_time = 0.0
        model.learn(budget, callback=self)
        if self.pending:  # the budget is reached between two callback calls only if learn() stops early
            self.evaluate(model.num_timesteps)
        self.result["finished"] = True
        write_json(self.path, self.result)

    def measure(self) -> dict[str, Any]:
        """The evaluation's figures, recorded with its step."""
        raise NotImplementedError

    def _on_step(self) -> bool:
        crossed = [point for point in self.pending if point <= self.num_timesteps]
        if crossed:
            self.pending = self.pending[len(crossed) :]
            self.evaluate(crossed[-1])
        return True

    def evaluate(self, point: int) -> None:
        """Evaluate now, recording the result at ``point`` env steps, and save."""
        start = time.perf_counter()
        figures = self.measure()
        self.eval_time += time.perf_counter() - start
        self.result["evaluations"].append({"step": point, **figures})
        self.result.update(
            timesteps=self.num_timesteps,
            wall_time_s=time.perf_counter() - self.start,
            eval_time_s=self.eval_time,
        )
        write_json(self.path, self.result)


def training_steps_per_second(run: dict[str, Any]) -> float:
    """A run file's env steps per second of training (its evaluations' time left out)."""
    return float(run["timesteps"] / max(run["wall_time_s"] - run["eval_time_s"], 1e-9))


def unfinished_note(runs: list[dict[str, Any]]) -> str:
    """What a results row says of its runs that did not finish (their last evaluation stands)."""
    unfinished = sum(not run["finished"] for run in runs)
    return f" ({unfinished} unfinished, last evaluation shown)" if unfinished else ""


# How n envs are stepped: SB3's DummyVecEnv, gymnasium's own vectorized env (``vector_entry_point``), or EnvPool
ENGINES = ("dummy", "native", "envpool")


def make_engine_env(env_id: str, engine: str, n_envs: int, seed: int) -> Any:
    """``n_envs`` envs of ``env_id`` stepped by ``engine``: a VecEnv for ``"dummy"``, else a gymnasium vector env."""
    from stable_baselines3.common.env_util import make_vec_env

    if engine == "dummy":
        return make_vec_env(env_id, n_envs=n_envs, seed=seed)
    return make_vector_env(engine, env_id, n_envs, seed)


def make_engine_vec_env(env_id: str, engine: str, n_envs: int, seed: int) -> VecEnv:
    """``make_engine_env``'s envs as a VecEnv: a vector env in ``VectorEnvAdapter`` (``"native"`` flags its reset steps)."""
    env = make_engine_env(env_id, engine, n_envs, seed)
    return env if isinstance(env, VecEnv) else VectorEnvAdapter(env, flag_reset_steps=engine == "native")
