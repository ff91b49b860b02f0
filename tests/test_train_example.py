"""The README's `make train` script: it trains, saves, evaluates and plots, whatever the budget."""

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("timesteps,eval_freq", [(600, 5_000), (600, 300)])
def test_the_train_example_writes_the_model_and_the_curve(tmp_path: Path, timesteps: int, eval_freq: int) -> None:
    script = Path(__file__).parent.parent / "examples" / "train.py"
    command = [
        sys.executable,
        str(script),
        "--timesteps",
        str(timesteps),
        "--eval-freq",
        str(eval_freq),
        "--output",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("reinforce_CartPole-v1.zip", "evaluations.npz", "learning_curve_CartPole-v1.png"):
        assert (tmp_path / name).is_file(), name
