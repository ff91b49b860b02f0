"""Helpers shared by the suites: run metadata, JSON files, peak memory."""

import datetime
import json
import os
import platform
import resource
import shlex
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch


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
