"""Metrics, tables and learning curves of the sample-efficiency suite, from the runs' JSON files."""

import dataclasses
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from benchmarks.common import read_json
from benchmarks.sample import EVAL_EVERY, FINAL_EVALUATIONS, SMALL_TASK_ALGOS, TASKS

ENV_ORDER = [task.env_id for task in TASKS]


@dataclasses.dataclass(frozen=True)
class GroupSummary:
    """The seeds of one (task, algorithm, budget)."""

    algo: str
    budget: int
    threshold: float | None
    solve_steps: list[float]  # inf where the seed never reached the threshold
    finals: list[float]
    stable: int  # seeds that reached the threshold and whose final score is at or above it
    wall_times: list[float]
    eval_times: list[float]
    hyperparams: dict[str, Any]


def load_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run result under ``runs_dir``."""
    return [read_json(path) for path in sorted(runs_dir.glob("*.json"))]


def first_solve_step(steps: list[int], means: list[float], threshold: float) -> float:
    """Env steps at the first evaluation whose mean reaches ``threshold``; inf if none does."""
    return next((float(step) for step, mean in zip(steps, means, strict=True) if mean >= threshold), math.inf)


def final_score(means: list[float]) -> float:
    """Mean of the last ``FINAL_EVALUATIONS`` evaluations."""
    return float(np.mean(means[-FINAL_EVALUATIONS:]))


def summarize(runs: list[dict[str, Any]]) -> GroupSummary:
    """Metrics over the seeds of one (task, algorithm, budget)."""
    first = runs[0]
    threshold = first["threshold"]
    finals = [final_score(run["eval_means"]) for run in runs]
    solve_steps = [math.inf] * len(runs)
    if threshold is not None:
        solve_steps = [first_solve_step(run["eval_steps"], run["eval_means"], threshold) for run in runs]
    stable = sum(math.isfinite(steps) and final >= threshold for steps, final in zip(solve_steps, finals, strict=True))
    return GroupSummary(
        algo=first["algo"],
        budget=first["budget"],
        threshold=threshold,
        solve_steps=solve_steps,
        finals=finals,
        stable=stable,
        wall_times=[run["wall_time_s"] for run in runs],
        eval_times=[run["eval_time_s"] for run in runs],
        hyperparams=first["hyperparams"],
    )


def _algo_rank(algo: str) -> int:
    return SMALL_TASK_ALGOS.index(algo) if algo in SMALL_TASK_ALGOS else len(SMALL_TASK_ALGOS)


def group_runs(runs: list[dict[str, Any]]) -> dict[str, dict[tuple[str, int], list[dict[str, Any]]]]:
    """Runs by task, then by (algorithm, budget), in the suite's order."""
    groups: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = defaultdict(dict)
    for run in runs:
        groups[run["env_id"]].setdefault((run["algo"], run["budget"]), []).append(run)
    ordered_envs = sorted(
        groups, key=lambda env_id: (ENV_ORDER.index(env_id) if env_id in ENV_ORDER else len(ENV_ORDER), env_id)
    )
    return {
        env_id: dict(sorted(groups[env_id].items(), key=lambda item: (_algo_rank(item[0][0]), item[0][0], item[0][1])))
        for env_id in ordered_envs
    }


def _steps(value: float) -> str:
    return "not solved" if math.isinf(value) else f"{value / 1000:g}k"


def _steps_cell(solve_steps: list[float]) -> str:
    """Median [min-max] of the steps to threshold; unsolved seeds count as infinitely many steps."""
    if all(math.isinf(steps) for steps in solve_steps):
        return "not solved"
    return f"{_steps(float(np.median(solve_steps)))} [{_steps(min(solve_steps))}, {_steps(max(solve_steps))}]"


def _score_cell(values: list[float]) -> str:
    return f"{np.median(values):.1f} [{min(values):.1f}, {max(values):.1f}]; {np.mean(values):.1f}"


def _time_cell(summary: GroupSummary) -> str:
    return f"{np.median(summary.wall_times):.0f} (eval {np.median(summary.eval_times):.0f})"


def results_table(summaries: list[GroupSummary]) -> list[str]:
    """The markdown table of one task."""
    lines = [
        "| algorithm | budget | seeds | steps to threshold: median [min, max] | solved | "
        "final score: median [min, max]; mean | solved & stable | wall time / seed, s (of which eval) |",
        "|---|---:|---:|---|---:|---|---:|---|",
    ]
    for summary in summaries:
        seeds = len(summary.finals)
        has_threshold = summary.threshold is not None
        solved = sum(math.isfinite(steps) for steps in summary.solve_steps)
        lines.append(
            f"| {summary.algo} | {summary.budget / 1000:g}k | {seeds} "
            f"| {_steps_cell(summary.solve_steps) if has_threshold else '—'} "
            f"| {f'{solved}/{seeds}' if has_threshold else '—'} | {_score_cell(summary.finals)} "
            f"| {f'{summary.stable}/{seeds}' if has_threshold else '—'} | {_time_cell(summary)} |"
        )
    return lines


def hyperparams_table(summaries: list[GroupSummary]) -> list[str]:
    """The markdown table of where each algorithm's hyperparameters on one task came from."""
    lines = ["| algorithm | source | n_envs | normalize | keywords |", "|---|---|---:|---|---|"]
    seen = set()
    for summary in summaries:
        if summary.algo in seen:
            continue
        seen.add(summary.algo)
        params = summary.hyperparams
        normalize = "no" if params["normalize"] is None else f"yes {params['normalize'] or ''}".strip()
        keywords = ", ".join(f"{key}={value}" for key, value in sorted(params["kwargs"].items())) or "(defaults)"
        lines.append(f"| {summary.algo} | {params['source']} | {params['n_envs']} | {normalize} | {keywords} |")
    return lines


def plot_learning_curves(env_id: str, groups: dict[tuple[str, int], list[dict[str, Any]]], path: Path) -> None:
    """Evaluation mean over seeds against env steps, shaded min-max over seeds, one line per algorithm."""
    budgets = {budget for _, budget in groups}
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for (algo, budget), runs in groups.items():
        common_steps = sorted(set.intersection(*(set(run["eval_steps"]) for run in runs)))
        curves = np.array(
            [[dict(zip(run["eval_steps"], run["eval_means"], strict=True))[s] for s in common_steps] for run in runs]
        )
        label = f"{algo} (n={len(runs)})" if len(budgets) == 1 else f"{algo}, {budget / 1000:g}k (n={len(runs)})"
        (line,) = axes.plot(common_steps, curves.mean(axis=0), label=label)
        axes.fill_between(common_steps, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.2)
    threshold = next(iter(groups.values()))[0]["threshold"]
    if threshold is not None:
        axes.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    axes.set_xlabel("env steps")
    axes.set_ylabel("evaluation return (deterministic)")
    axes.set_title(f"{env_id}: mean over seeds, shaded min-max")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def sample_section(runs_dir: Path, out: Path) -> list[str]:
    """The markdown section of the suite (writing the learning-curve PNGs next to it)."""
    lines = ["## Sample efficiency and stability", ""]
    runs = load_runs(runs_dir)
    if not runs:
        return [*lines, f"Not run: no results under `{runs_dir}`.", ""]
    episodes = sorted({run["eval_episodes"] for run in runs})
    spacings = sorted({run.get("eval_every", EVAL_EVERY) for run in runs})
    spacing = "/".join(f"{steps / 1000:g}k" for steps in spacings)
    if spacings != [EVAL_EVERY]:
        spacing += f" (and {EVAL_EVERY / 1000:g}k apart over the last {FINAL_EVALUATIONS} evaluations)"
    lines += [
        f"Deterministic policy evaluated every {spacing} env steps on a separate env "
        f"({'/'.join(map(str, episodes))} episodes). "
        "Steps to threshold: first evaluation whose mean reaches it (a seed that never does counts as infinitely many "
        f"steps in the median). Final score: mean of the last {FINAL_EVALUATIONS} evaluations (all, if fewer). "
        "Solved & stable: seeds "
        "that reached the threshold and whose final score is still at or above it. "
        f"{len(runs)} runs from `{runs_dir}`, recorded {min(run['meta']['date'] for run in runs)} to "
        f"{max(run['meta']['date'] for run in runs)}.",
        "",
    ]
    for env_id, groups in group_runs(runs).items():
        summaries = [summarize(group) for group in groups.values()]
        threshold = summaries[0].threshold
        plot_name = f"learning_curves_{env_id}.png"
        plot_learning_curves(env_id, groups, out / plot_name)
        lines += [f"### {env_id} ({'no threshold' if threshold is None else f'threshold {threshold:g}'})", ""]
        lines += [*results_table(summaries), "", "Hyperparameters:", "", *hyperparams_table(summaries), ""]
        lines += [f"![learning curves on {env_id}]({plot_name})", ""]
    missing = missing_runs(runs)
    if missing:
        # A folder of sparse runs is resumed with the same spacing
        spacing_option = f" --eval-every {spacings[0]}" if len(spacings) == 1 and spacings[0] != EVAL_EVERY else ""
        # Tasks this folder holds no run of share one line, so a folder made for one task stays short
        started = {(run["env_id"], run["budget"]) for run in runs}
        untouched = [task.env_id for task in TASKS if (task.env_id, task.budget) not in started]
        lines += ["Not run yet (the command resumes: finished runs are kept):", ""]
        lines += [
            f"- {env_id}: {', '.join(f'{algo} ({seeds})' for algo, seeds in algos.items())}: "
            f"`python -m benchmarks.run --suites sample --envs {env_id} --algos {','.join(algos)}{spacing_option} --out {out}`"
            for env_id, algos in missing.items()
            if env_id not in untouched
        ]
        if untouched:
            lines.append(
                f"- No runs of {', '.join(untouched)}: "
                f"`python -m benchmarks.run --suites sample --envs {','.join(untouched)}{spacing_option} --out {out}`"
            )
        lines.append("")
    return lines


def missing_runs(runs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """
    Per task, the algorithms of the full suite with fewer seeds at the task's budget than it asks
    for, and which seeds (e.g. ``"seeds 2-4"``).
    """
    done = defaultdict(set)
    for run in runs:
        done[run["env_id"], run["algo"], run["budget"]].add(run["seed"])
    missing: dict[str, dict[str, str]] = {}
    for task in TASKS:
        for algo in task.algos:
            seeds = [seed for seed in range(task.seeds) if seed not in done[task.env_id, algo, task.budget]]
            if seeds:
                named = f"seed{'s' if len(seeds) > 1 else ''} {_ranges(seeds)}"
                missing.setdefault(task.env_id, {})[algo] = named if len(seeds) < task.seeds else "all seeds"
    return missing


def _ranges(numbers: list[int]) -> str:
    """Ascending integers as runs: ``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
