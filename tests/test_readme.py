"""The README's code runs as written when pasted into a script."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def readme_snippet(heading: str) -> str:
    """The first Python code block of the README after the line that starts with ``heading``."""
    match = re.search(rf"^{re.escape(heading)}.*?^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    assert match is not None, f"no Python block after {heading!r} in README.md"
    return match.group(1)


def test_swap_in_snippet_runs_as_a_script(tmp_path: Path) -> None:
    code = readme_snippet("Swap it in for `A2C`")
    # SubprocVecEnv starts its workers with forkserver/spawn, which import the script again
    assert 'if __name__ == "__main__":' in code
    cheap = code.replace("200_000", "2_000")
    assert cheap != code, "the snippet's budget changed: update the test"
    script = tmp_path / "swap.py"
    script.write_text(cheap)
    # In tmp_path: the snippet writes its TensorBoard logs to ./runs
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((tmp_path / "runs").glob("REINFORCE_1/events.out.tfevents.*"))


def test_vector_env_snippet_runs_as_a_script(tmp_path: Path) -> None:
    code = readme_snippet("Give it a natively vectorized env")
    cheap = code.replace("300_000", "5_000")
    assert cheap != code, "the snippet's budget changed: update the test"
    script = tmp_path / "vector.py"
    script.write_text(cheap + "\nassert type(model.env).__name__ == 'VectorEnvAdapter' and model.num_timesteps >= 5_000\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
