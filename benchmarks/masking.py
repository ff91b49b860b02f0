"""
Invalid-action masking on a routing task (examples/routing.py, the travelling salesman on 8 random
cities): MaskableREINFORCE, sb3-contrib's MaskablePPO and unmasked REINFORCE (visited cities
penalized) on the same seeds and budget.

    python -m benchmarks.masking                                  # 3 seeds, 600k steps, 2 workers
    python -m benchmarks.masking --budget 20000 --out /tmp/masking_smoke
    python -m benchmarks.masking --report-only                    # rebuild the report from the JSON files
    python -m benchmarks.masking --policy attention --workers 1 --out docs/benchmarks/masking-attention

``--policy attention`` trains the attention model of examples/routing.py (``RoutingPolicy``) in place
of the MLP, with the algorithms that have settings for it (``ATTENTION_ALGOS``); give it its own ``--out``.

Each run evaluates its deterministic policy at every tenth of the budget on the same 50 fixed
instances and rewrites ``runs/<algorithm>__<budget>__seed<N>.json`` after each evaluation, so an
interrupted run keeps what it measured; a finished run's file marks it finished and is skipped on
the next invocation (an unfinished one is run again from the start). ``results.md`` and
``learning_curves.png`` are rebuilt from every JSON file in ``--out`` at the end.
"""

import argparse
import dataclasses
import datetime
import multiprocessing
import shlex
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.common import EvaluateAndSave, machine_description, read_json, training_steps_per_second, unfinished_note
from examples.routing import (
    ATTENTION_LEAVE_ONE_OUT_KWARGS,
    EVAL_SEED,
    LEAVE_ONE_OUT_GROUP_SIZE,
    LEAVE_ONE_OUT_KWARGS,
    LEAVE_ONE_OUT_N_ENVS,
    POLICIES,
    REINFORCE_KWARGS,
    evaluate,
    instances,
    make_env,
    nearest_neighbour_length,
    optimal_tour_length,
    random_tour_length,
    two_opt_length,
)
from sb3_reinforce import REINFORCE, MaskableREINFORCE, make_grouped_vec_env

N_CITIES = 8
N_ENVS = 8
BUDGET = 600_000
SEEDS = 3
EVALUATIONS = 10
EVAL_INSTANCES = 50
# Unmasked REINFORCE: cost of a visited city, and the step cap (per city)
INVALID_PENALTY = 1.0
MAX_STEPS_FACTOR = 4
# MaskablePPO: sb3-contrib's defaults, except a shorter rollout (8 envs x 256 = 2048 steps, PPO's default batch)
# and no discount, as the task's objective (the tour length) has none
PPO_KWARGS: dict[str, Any] = {"n_steps": 256, "gamma": 1.0}
ALGOS: dict[str, dict[str, Any]] = {
    "MaskableREINFORCE": REINFORCE_KWARGS,
    "MaskableREINFORCE-leave-one-out": {**LEAVE_ONE_OUT_KWARGS, "group_size": LEAVE_ONE_OUT_GROUP_SIZE},
    "MaskablePPO": PPO_KWARGS,
    # The same settings as MaskableREINFORCE, on the penalty variant
    "REINFORCE-penalty": REINFORCE_KWARGS,
}
# With the attention policy (--policy attention): the group baseline, and MaskablePPO with the same policy
ATTENTION_ALGOS: dict[str, dict[str, Any]] = {
    "MaskableREINFORCE-leave-one-out": {**ATTENTION_LEAVE_ONE_OUT_KWARGS, "group_size": LEAVE_ONE_OUT_GROUP_SIZE},
    # The group baseline's learning rate with this policy
    "MaskablePPO": {**PPO_KWARGS, "learning_rate": ATTENTION_LEAVE_ONE_OUT_KWARGS["learning_rate"]},
}
POLICY_ALGOS = {"mlp": ALGOS, "attention": ATTENTION_ALGOS}
# How the report names each policy
POLICY_NAMES = {"mlp": "`MlpPolicy`", "attention": "`RoutingPolicy` (examples/routing.py)"}
DEFAULT_OUT = Path("docs/benchmarks/masking")


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run."""

    algo: str
    seed: int
    budget: int
    n_cities: int = N_CITIES
    policy: str = "mlp"

    @property
    def name(self) -> str:
        """File name (without suffix) of the run's result (8 cities are not named, as before other sizes)."""
        cities = "" if self.n_cities == N_CITIES else f"__{self.n_cities}cities"
        return f"{self.algo}__{self.budget}__seed{self.seed}{cities}"

    @property
    def masked(self) -> bool:
        """Whether the run trains (and is evaluated) with masks."""
        return self.algo != "REINFORCE-penalty"

    @property
    def settings(self) -> dict[str, Any]:
        """The algorithm's arguments with the run's policy."""
        return POLICY_ALGOS[self.policy][self.algo]


def as_data(value: Any) -> Any:
    """
    Settings as JSON data: a class (``activation_fn``) by its name, a schedule (``learning_rate``) by its
    repr, containers entry by entry.
    """
    if isinstance(value, type):
        return value.__name__
    if callable(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: as_data(item) for key, item in value.items()}
    return value


def n_envs(algo: str) -> int:
    """The envs ``algo`` trains on: N_ENVS, but for the group baseline's groups."""
    return LEAVE_ONE_OUT_N_ENVS if algo == "MaskableREINFORCE-leave-one-out" else N_ENVS


def _make_model(run: Run) -> BaseAlgorithm:
    """The run's model on its training envs (seeded by the run's seed)."""
    env_kwargs: dict[str, Any] = {"masked": run.masked, "n_cities": run.n_cities}
    if not run.masked:
        env_kwargs.update(invalid_penalty=INVALID_PENALTY, max_steps_factor=MAX_STEPS_FACTOR)
    kwargs = run.settings
    if "group_size" in kwargs:
        group_size = kwargs["group_size"]
        n_groups = n_envs(run.algo) // group_size
        env = make_grouped_vec_env(make_env, n_groups, group_size, seed=run.seed, env_kwargs=env_kwargs)
    else:
        env = make_vec_env(make_env, n_envs=N_ENVS, seed=run.seed, env_kwargs=env_kwargs)
    algo_class = {
        "MaskableREINFORCE": MaskableREINFORCE,
        "MaskableREINFORCE-leave-one-out": MaskableREINFORCE,
        "MaskablePPO": MaskablePPO,
        "REINFORCE-penalty": REINFORCE,
    }
    return algo_class[run.algo](POLICIES[run.policy], env, seed=run.seed, **kwargs)


class RoutingEvaluation(EvaluateAndSave):
    """Tour lengths of the deterministic policy on the fixed evaluation instances, at ``points``."""

    def __init__(self, run: Run, points: list[int], path: Path, result: dict[str, Any]):
        super().__init__(points, path, result)
        self.run = run

    def measure(self) -> dict[str, Any]:
        env_kwargs = {} if self.run.masked else {"invalid_penalty": INVALID_PENALTY, "max_steps_factor": MAX_STEPS_FACTOR}
        evaluation = evaluate(self.model, self.run.masked, EVAL_INSTANCES, self.run.n_cities, EVAL_SEED, **env_kwargs)
        return dataclasses.asdict(evaluation)


def run_one(run: Run, runs_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one run, writing its JSON file as it goes; return its content."""
    path = runs_dir / f"{run.name}.json"
    result: dict[str, Any] = {
        **dataclasses.asdict(run),
        "n_envs": n_envs(run.algo),
        "eval_instances": EVAL_INSTANCES,
        "hyperparams": as_data(run.settings),
        "evaluations": [],
        "finished": False,
        "meta": meta,
    }
    model = _make_model(run)
    points = [round(run.budget * index / EVALUATIONS) for index in range(1, EVALUATIONS + 1)]
    RoutingEvaluation(run, points, path, result).train(model, run.budget)
    return result


def _init_worker() -> None:
    """Each worker process uses one thread: the workers, not torch, use the cores."""
    torch.set_num_threads(1)


def run_all(runs: list[Run], runs_dir: Path, workers: int, meta: dict[str, Any]) -> int:
    """Run the runs not finished yet in parallel worker processes; return how many failed."""
    pending = [run for run in runs if not _is_finished(runs_dir / f"{run.name}.json")]
    print(f"masking: {len(runs) - len(pending)} of {len(runs)} runs already done, {len(pending)} to run on {workers} workers")
    failures = 0
    if not pending:
        return 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        futures = {pool.submit(run_one, run, runs_dir, meta): run for run in pending}
        for count, future in enumerate(as_completed(futures), start=1):
            run = futures[future]
            try:
                result = future.result()
                last = result["evaluations"][-1]
                line = (
                    f"{run.name}: mean tour length {last['mean_tour_length']:.3f}, "
                    f"{last['complete_rate']:.0%} complete, {result['wall_time_s']:.0f} s"
                )
            except Exception:
                failures += 1
                line = f"{run.name} FAILED:\n{traceback.format_exc()}"
            print(f"[{count}/{len(pending)}] {line}", flush=True)
    return failures


def _is_finished(path: Path) -> bool:
    return path.exists() and bool(read_json(path).get("finished"))


# Held and Karp's programme takes O(n^2 2^n): exact optima up to this many cities
MAX_HELD_KARP_CITIES = 12
# Above it: the mean optimal (Concorde) tour of uniform random TSP20 instances, Kool, van Hoof and Welling 2019,
# Table 1 (other instances than these)
PUBLISHED_OPTIMA = {20: 3.84}


def heuristic_baselines(n_cities: int = N_CITIES) -> dict[str, float]:
    """
    Mean tour length on the evaluation instances of a random valid tour, nearest neighbour, 2-opt
    from it, and the optimal tour (Held and Karp's dynamic programme; for more cities, the published
    mean of random instances where there is one).
    """
    cities = instances(EVAL_INSTANCES, n_cities, EVAL_SEED)
    rng = np.random.default_rng(0)
    baselines = {
        "random valid tour": float(np.mean([random_tour_length(instance, rng) for instance in cities])),
        "nearest neighbour": float(np.mean([nearest_neighbour_length(instance) for instance in cities])),
        "2-opt (from nearest neighbour)": float(np.mean([two_opt_length(instance) for instance in cities])),
    }
    if n_cities <= MAX_HELD_KARP_CITIES:
        baselines["optimal (Held-Karp)"] = float(np.mean([optimal_tour_length(instance) for instance in cities]))
    elif n_cities in PUBLISHED_OPTIMA:
        baselines["optimal, published mean of random instances (Kool et al. 2019, Concorde)"] = PUBLISHED_OPTIMA[n_cities]
    return baselines


def _fmt(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def results_table(results: list[dict[str, Any]], baselines: dict[str, float], algos: list[str]) -> list[str]:
    """Per algorithm of ``algos``: the final evaluation of each seed, the median over seeds, speed and wall time."""
    lines = [
        "| algorithm | seeds | final mean tour length per seed | median | complete tours (mean over seeds) | "
        "invalid actions (mean over seeds) | steps/s (median) | wall time per seed, s (median) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for algo in algos:
        runs = sorted((result for result in results if result["algo"] == algo), key=lambda result: result["seed"])
        if not runs:
            continue
        finals = [run["evaluations"][-1] for run in runs]
        lengths = [final["mean_tour_length"] for final in finals]
        speeds = [training_steps_per_second(run) for run in runs]
        per_seed = ", ".join(f"{run['seed']}: {_fmt(length)}" for run, length in zip(runs, lengths, strict=True))
        note = unfinished_note(runs)
        lines.append(
            f"| {algo}{note} | {len(runs)} | {per_seed} | {_fmt(float(np.median(lengths)))} | "
            f"{np.mean([final['complete_rate'] for final in finals]):.1%} | "
            f"{np.mean([final['invalid_action_rate'] for final in finals]):.1%} | "
            f"{np.median(speeds):.0f} | {np.median([run['wall_time_s'] for run in runs]):.0f} |"
        )
    for name, value in baselines.items():
        lines.append(f"| {name} (no training) | | | {value:.3f} | 100% | 0.0% | | |")
    return lines


def plot_curves(
    results: list[dict[str, Any]], baselines: dict[str, float], path: Path, n_cities: int, algos: list[str]
) -> None:
    """
    Against env steps: the mean tour length (mean over seeds, min-max shaded, the heuristics dashed) and
    the fraction of completed tours (below 100% only without masks).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (lengths_axis, complete_axis) = plt.subplots(
        2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    for algo in algos:
        runs = [result for result in results if result["algo"] == algo]
        if not runs:
            continue
        # The evaluation points all seeds reached
        count = min(len(run["evaluations"]) for run in runs)
        steps = np.array([evaluation["step"] for evaluation in runs[0]["evaluations"][:count]])
        for axis, key in ((lengths_axis, "mean_tour_length"), (complete_axis, "complete_rate")):
            values = np.array([[evaluation[key] for evaluation in run["evaluations"][:count]] for run in runs])
            # A point where no seed completed a tour has no length: left out
            shown = ~np.isnan(values).all(axis=0)
            values = values[:, shown]
            (line,) = axis.plot(steps[shown], np.nanmean(values, axis=0), marker=".", label=f"{algo} ({len(runs)} seeds)")
            axis.fill_between(
                steps[shown], np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=line.get_color(), alpha=0.2
            )
    for (name, value), style in zip(baselines.items(), ("--", ":"), strict=False):
        lengths_axis.axhline(value, color="grey", linestyle=style, label=name)
    lengths_axis.set_ylabel(f"mean tour length ({EVAL_INSTANCES} instances)")
    lengths_axis.set_title(f"Routing, {n_cities} random cities (lower is better)")
    lengths_axis.legend(fontsize="small")
    complete_axis.set_ylabel("completed tours")
    complete_axis.set_xlabel("env steps")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_report(out: Path, meta: dict[str, Any]) -> Path:
    """Rebuild ``results.md`` and ``learning_curves.png`` from every run's JSON file under ``out``."""
    results = [read_json(path) for path in sorted((out / "runs").glob("*.json"))]
    sizes = {result["n_cities"] for result in results}
    if len(sizes) != 1:
        raise ValueError(f"{out}: runs of {sorted(sizes)} cities in one folder; give each size its own --out")
    (n_cities,) = sizes
    # Results from before runs named their policy are the MLP's
    policies = {result.get("policy", "mlp") for result in results}
    if len(policies) != 1:
        raise ValueError(f"{out}: runs of the policies {sorted(policies)} in one folder; give each policy its own --out")
    (policy,) = policies
    algos = POLICY_ALGOS[policy]
    baselines = heuristic_baselines(n_cities)
    machine = meta["machine"]
    budgets = sorted({result["budget"] for result in results})
    runs_made = sorted({(result["meta"]["command"], result["meta"]["date"]) for result in results}, key=lambda made: made[1])
    lines = [
        f"# Invalid-action masking: routing on {n_cities} random cities",
        "",
        f"- Machine: {machine['platform']}, {machine['cpu_count']} CPUs",
        f"- Python {machine['python']}, torch {machine['torch']}, stable-baselines3 {machine['stable_baselines3']}, "
        f"gymnasium {machine['gymnasium']}, numpy {machine['numpy']}",
        *[f"- Runs made by `{command}`, started {date}" for command, date in runs_made],
        f"- Report written {meta['date']} by `{meta['command']}`",
        "",
        f"The task is `examples/routing.py`: a travelling-salesman tour of {n_cities} cities drawn uniformly in the "
        "unit square, a new instance each episode, from city 0; the reward is minus each move's distance (the last "
        "move also pays the way back), so the return is minus the tour length. Masked, `action_masks()` allows "
        f"the unvisited cities only. Unmasked (REINFORCE-penalty), a visited city costs {INVALID_PENALTY} and the "
        f"agent stays, and the episode is truncated after {MAX_STEPS_FACTOR * n_cities} steps.",
        "",
        f"Budget {', '.join(f'{budget:,}' for budget in budgets)} env steps per run on {N_ENVS} envs "
        f"(MaskableREINFORCE-leave-one-out: {LEAVE_ONE_OUT_N_ENVS}), each run "
        f"one process with one torch thread. At every tenth of the budget (and at step 0) the deterministic policy "
        f"runs once on each of the same {EVAL_INSTANCES} fixed instances (seeds {EVAL_SEED} and up): the masked "
        "algorithms with masks, REINFORCE-penalty on the penalty variant, where a tour counts only if it visits "
        "every city before the cap (a deterministic policy that picks a visited city stays in the same state and "
        "repeats the choice until the cap). The final score is the last evaluation; the mean tour length of "
        "REINFORCE-penalty is over its completed tours. Steps/s: env steps over training time (evaluations "
        "excluded); wall time includes the evaluations.",
        "",
        *results_table(results, baselines, list(algos)),
        "",
        "Settings:",
        "",
    ]
    for algo, kwargs in algos.items():
        shown = ", ".join(f"{key}={value!r}" for key, value in as_data(kwargs).items())
        lines.append(f"- {algo}: `{shown}`, {POLICY_NAMES[policy]}, otherwise the algorithm's defaults")
    lines += [
        HOW_CHOSEN[policy],
        "- random valid tour: 100 uniformly random tours from city 0 per instance; nearest neighbour: from city 0, "
        "always the closest unvisited city",
        "",
        "![learning curves](learning_curves.png)",
        "",
    ]
    if results:
        plot_curves(results, baselines, out / "learning_curves.png", n_cities, list(algos))
    path = out / "results.md"
    path.write_text("\n".join(lines))
    return path


# How the settings of each policy's algorithms were chosen, for the report
HOW_CHOSEN = {
    "mlp": (
        "- How they were chosen: MaskablePPO keeps sb3-contrib's defaults but for `n_steps` (8 envs x 256 = "
        "2048 transitions a rollout, what the default `n_steps=2048` collects on one env; 600k steps give 292"
        " rollouts) and `gamma` (the tour length is undiscounted). For MaskableREINFORCE, single-seed probes "
        "at 200k steps (mean tour length on the same instances, seed 0 unless named): one gradient step per "
        "rollout 3.97 (`n_steps=32`), 3.87 (`n_steps=8`); minibatches of 64: 3.77, seed 1 3.83, with "
        "`baseline='mean'` 4.01, with 10 critic steps 3.78, learning rate 3e-3 3.88, 3e-4 4.03; minibatches "
        "of 32: 3.76; of 16: 3.56, seed 1 3.45. MaskablePPO (these settings) reached 2.98 there. Unmasked "
        "REINFORCE takes MaskableREINFORCE's settings."
    ),
    "attention": (
        "- How they were chosen: the group baseline keeps the MLP's rollouts (32 envs in groups of 8, 8 steps), "
        "minibatches of 64 and `gamma`, with the gradient clip of Kool et al. (1.0) and no entropy bonus. "
        "Single-seed probes at a constant learning rate (seed 0, 8 cities unless named; `OMP_NUM_THREADS=1 python "
        "examples/routing.py --envs 32 --group-size 8 --policy attention --learning-rate LR --timesteps T`): "
        "1e-3 at 200k steps 4.150 (the policy collapsed to poor tours), 3e-4 at 100k 2.753, 1e-4 at 100k 2.708 "
        "and at 200k 2.688, 2e-4 at 200k 2.692; 20 cities, 1e-4 at 100k 4.191. At a constant 1e-4 over 600k "
        "steps: 2.643, 2.653, 2.672 on seeds 0-2, the evaluations from 300k steps on varying between 2.65 and "
        "2.70; decayed linearly to 0, seed 2 ended at 2.651, hence the schedule. The embedding size (64), heads "
        "(4) and layers (2) were not tuned. MaskablePPO keeps its MLP settings but for the learning rate: the "
        "group baseline's schedule (not tuned for PPO)."
    ),
}


def main(argv: list[str]) -> int:
    """Run the benchmark and write the report; the exit status is 1 if a run failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.masking", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds 0 to N-1 (default {SEEDS})")
    parser.add_argument("--budget", type=int, default=BUDGET, help=f"env steps per run (default {BUDGET})")
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (default 2)")
    parser.add_argument("--cities", type=int, default=N_CITIES, help=f"cities per instance (default {N_CITIES})")
    parser.add_argument(
        "--policy",
        choices=sorted(POLICY_ALGOS),
        default="mlp",
        help="the policy network (default mlp; give each its own --out)",
    )
    parser.add_argument("--algos", help="comma-separated, from the policy's algorithms (default: all of them)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report from the JSON files")
    args = parser.parse_args(argv)
    known = POLICY_ALGOS[args.policy]
    algos = args.algos.split(",") if args.algos else list(known)
    unknown = sorted(set(algos) - set(known))
    if unknown:
        parser.error(f"unknown algos {unknown} with --policy {args.policy}; choose from {','.join(known)}")
    meta = {
        "machine": machine_description(),
        "command": shlex.join(["python", "-m", "benchmarks.masking", *argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    failures = 0
    if not args.report_only:
        # Seed by seed, so an interrupted benchmark has every algorithm on the first seeds
        runs = [Run(algo, seed, args.budget, args.cities, args.policy) for seed in range(args.seeds) for algo in algos]
        failures = run_all(runs, args.out / "runs", args.workers, meta)
    print(f"Wrote {write_report(args.out, meta)}")
    if failures:
        print(f"{failures} runs failed; re-run the same command to retry them", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
