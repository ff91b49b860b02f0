"""
Two probes beside the recurrent benchmark (``benchmarks/recurrent.py``), each with one setting changed:

- ``critic``: RecurrentREINFORCE with ``baseline="critic"`` on CueRecall-32, where the benchmark's
  mean baseline solved the task and then lost it.
- ``short-chunks``: RecurrentPPO with ``n_steps=32`` (RL Zoo's setting for CartPoleNoVel-v1) on
  CueRecall-64, so that its training sequences are shorter than an episode (66 steps).

    python -m benchmarks.recurrent_probes critic --seeds 3 --out docs/benchmarks/recurrent/critic-probe
    python -m benchmarks.recurrent_probes short-chunks --seeds 2 --out docs/benchmarks/recurrent/short-chunks

Each writes the benchmark's run files and report (``results.md``, learning curves) into ``--out``.
"""

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from benchmarks import recurrent

# probe: (task, algorithm, the settings it changes)
PROBES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "critic": ("CueRecall-32", "RecurrentREINFORCE", {"baseline": "critic"}),
    "short-chunks": ("CueRecall-64", "RecurrentPPO", {"n_steps": 32}),
}


def apply_probe(probe: str) -> None:
    """Change the probe's settings in this process's copy of the benchmark's settings."""
    task, algo, changes = PROBES[probe]
    table = recurrent.RECURRENT_REINFORCE if algo == "RecurrentREINFORCE" else recurrent.RECURRENT_PPO
    table[task] = {**table[task], **changes}


def _init_probe_worker(probe: str) -> None:
    recurrent.init_worker()
    apply_probe(probe)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=sorted(PROBES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    task, algo, _ = PROBES[args.probe]
    meta = recurrent.invocation("benchmarks.recurrent_probes", argv)
    runs = [recurrent.Run(task, algo, seed, recurrent.TASKS[task].budget) for seed in range(args.seeds)]
    failures = recurrent.run_all(
        runs, args.out / "runs", args.workers, meta, functools.partial(_init_probe_worker, args.probe)
    )
    print(f"Wrote {recurrent.write_report(args.out, meta)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
