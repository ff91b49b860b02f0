"""
Benchmark REINFORCE against SB3's A2C and PPO: sample efficiency and stability, throughput, memory.

    python -m benchmarks.run --quick                      # a few minutes on 2 cores
    python -m benchmarks.run                              # the full benchmark (tens of CPU-hours)
    python -m benchmarks.run --suites sample --envs CartPole-v1,Acrobot-v1 --seeds 3

Results go to ``--out``: ``results.md`` (rebuilt from all JSON files there at the end of every
invocation), ``learning_curves_<task>.png``, ``runs/*.json`` (one per sample run; existing ones
are skipped, so re-running resumes), ``throughput.json`` and ``memory.json``.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks import memory, sample, throughput
from benchmarks.common import read_json, run_metadata, write_json
from benchmarks.sample_report import sample_section

SUITES = ("sample", "throughput", "memory")
# The docs page that sums up every benchmark; each report links to it
SUMMARY_PAGE = Path(__file__).parent.parent / "docs" / "benchmarks" / "index.md"


def _names(value: str) -> list[str]:
    """A comma-separated list."""
    return [name for name in value.split(",") if name]


def _seed_range(value: str) -> range:
    """``"5"`` -> seeds 0 to 4; ``"2-4"`` -> seeds 2 to 4 (to split one task's seeds between machines)."""
    first, _, last = value.partition("-")
    try:
        seeds = range(int(first), int(last) + 1) if last else range(int(first))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or A-B with whole numbers, got {value!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"{value!r} names no seeds")
    return seeds


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="CartPole and Acrobot, 20k steps, 2 seeds; short throughput and memory"
    )
    parser.add_argument("--suites", type=_names, default=list(SUITES), help=f"comma-separated, from {','.join(SUITES)}")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/results/quick or .../full)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel sample runs (default: CPU count)")
    parser.add_argument(
        "--envs", type=_names, action="extend", nargs="+", help="sample-suite tasks, comma- or space-separated (default: all)"
    )
    parser.add_argument("--algos", type=_names, help="only these sample-suite algorithms (default: all)")
    parser.add_argument(
        "--seeds", type=_seed_range, help="N (seeds 0 to N-1) or A-B (seeds A to B), overriding each task's seeds"
    )
    parser.add_argument("--budget", type=int, help="env steps per sample run, overriding every task's (for smoke tests)")
    parser.add_argument(
        "--eval-every",
        type=int,
        default=sample.EVAL_EVERY,
        help=f"env steps between sample-suite evaluations (default {sample.EVAL_EVERY}; the last "
        f"{sample.FINAL_EVALUATIONS} stay {sample.EVAL_EVERY} apart; sparser runs are named apart)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suites {unknown}; choose from {','.join(SUITES)}")
    if args.eval_every < 1:
        parser.error(f"--eval-every must be a positive number of env steps, got {args.eval_every}")
    if args.out is None:
        args.out = Path("benchmarks/results") / ("quick" if args.quick else "full")
    if args.envs is None:
        args.envs = list(sample.QUICK_ENVS) if args.quick else [task.env_id for task in sample.TASKS]
    else:
        args.envs = [env_id for names in args.envs for env_id in names]
    unknown = sorted(set(args.envs) - set(sample.TASKS_BY_ENV))
    if unknown:
        parser.error(f"unknown envs {unknown}; the sample suite knows {','.join(sample.TASKS_BY_ENV)}")
    known_algos = {algo for env_id in args.envs for algo in sample.TASKS_BY_ENV[env_id].algos}
    unknown = sorted(set(args.algos or ()) - known_algos)
    if unknown:
        parser.error(f"unknown algos {unknown} for these envs; choose from {','.join(sorted(known_algos))}")
    return args


def _json_or_none(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def _nested_reports_line(out: Path) -> list[str]:
    """A line linking the reports of benchmark folders inside ``out`` (e.g. sparse runs given their own ``--out``)."""
    links = [f"[{path.parent.name}]({path.parent.name}/results.md)" for path in sorted(out.glob("*/results.md"))]
    return [f"- More runs, in their own reports: {', '.join(links)}"] if links else []


def _summary_link(out: Path) -> str:
    """The relative link from a report in ``out`` to the benchmarks' summary page of the docs."""
    return os.path.relpath(SUMMARY_PAGE.resolve(), out.resolve())


def write_report(out: Path, meta: dict[str, Any]) -> Path:
    """Rebuild ``results.md`` (and the learning curves) from every JSON file under ``out``."""
    machine = meta["machine"]
    lines = [
        "# sb3_reinforce benchmarks",
        "",
        f"- Machine: {machine['platform']}, {machine['cpu_count']} CPUs",
        f"- Python {machine['python']}, torch {machine['torch']}, stable-baselines3 {machine['stable_baselines3']}, "
        f"gymnasium {machine['gymnasium']}, numpy {machine['numpy']}",
        f"- Report written {meta['date']} by `{meta['command']}`",
        f"- What these results say, beside the other benchmarks: [the benchmarks' summary]({_summary_link(out)})",
        *_nested_reports_line(out),
        "",
        *sample_section(out / "runs", out),
        *throughput.throughput_section(_json_or_none(out / "throughput.json")),
        *memory.memory_section(_json_or_none(out / "memory.json")),
    ]
    path = out / "results.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str]) -> int:
    """Run the chosen suites, write the report; the exit status is 1 if a sample run failed."""
    args = parse_args(argv)
    meta = run_metadata(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    if "sample" in args.suites:
        specs = sample.plan_runs(args.envs, args.quick, args.seeds, args.budget, args.algos, args.eval_every)
        failures = sample.run_suite(specs, args.out / "runs", args.workers, meta)
    if "throughput" in args.suites:
        write_json(args.out / "throughput.json", throughput.run_suite(args.quick, meta))
    if "memory" in args.suites:
        write_json(args.out / "memory.json", memory.run_suite(args.quick, meta))
    print(f"Wrote {write_report(args.out, meta)}")
    if failures:
        print(f"{failures} sample runs failed; re-run the same command to retry them", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
