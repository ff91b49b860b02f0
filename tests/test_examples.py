"""
Every script in examples/ runs as written on a tiny budget, and does what the docs (which include
these files) say it does. The budgets are swapped by string replacement: a replacement that no
longer matches fails the test, so an edited example cannot silently run its full budget here.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from torch import nn

import sb3_reinforce
from examples import seed_article
from sb3_reinforce.zoo.cli import main as zoo

EXAMPLES = Path(__file__).parent.parent / "examples"
PRESETS = Path(sb3_reinforce.__file__).parent / "hyperparams" / "reinforce.yml"


def run_example(name: str, tmp_path: Path, replacements: dict[str, str], *args: str) -> str:
    """Run ``examples/<name>`` in ``tmp_path`` (one torch thread) with each key of ``replacements`` replaced; its stdout."""
    code = (EXAMPLES / name).read_text()
    for old, new in replacements.items():
        assert old in code, f"{old!r} is no longer in examples/{name}: update this test's budget"
        code = code.replace(old, new)
    script = tmp_path / name
    script.write_text("import torch\n\ntorch.set_num_threads(1)\n" + code)
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_quickstart(tmp_path: Path) -> None:
    stdout = run_example("quickstart.py", tmp_path, {"100_000": "2_000"})
    assert (tmp_path / "reinforce_cartpole.zip").is_file()
    assert "mean reward" in stdout


def test_a2c_pipeline_with_reinforce_swapped_in(tmp_path: Path) -> None:
    budgets = {"200_000": "4_000", "25_000 // 8": "2_000 // 8", "50_000 // 8": "2_000 // 8"}
    stdout = run_example("a2c_pipeline.py", tmp_path, budgets)
    logs = tmp_path / "logs"
    assert (logs / "best" / "best_model.zip").is_file()
    assert list((logs / "checkpoints").glob("rl_model_*_steps.zip"))
    assert list((logs / "checkpoints").glob("rl_model_vecnormalize_*_steps.pkl"))
    assert list((logs / "tensorboard").glob("REINFORCE_1/events.out.tfevents.*"))
    assert "mean reward" in stdout


def test_continuous_control(tmp_path: Path) -> None:
    stdout = run_example("continuous_control.py", tmp_path, {"100_000": "2_000"})
    assert "mean reward" in stdout


def test_recurrent(tmp_path: Path) -> None:
    stdout = run_example("recurrent.py", tmp_path, {"100_000": "2_000", "range(500)": "range(20)"})
    assert "mean reward" in stdout


def test_masking(tmp_path: Path) -> None:
    stdout = run_example("masking.py", tmp_path, {"6_000": "400"})
    assert "mean reward" in stdout


def test_seed_article_beside_the_preset_plots_both_curves(tmp_path: Path) -> None:
    stdout = run_example("seed_article.py", tmp_path, {}, "--timesteps", "2000", "--output", "out")
    assert (tmp_path / "out" / "seed_article_vs_preset.png").is_file()
    assert "seed article (one episode per update): final evaluation" in stdout
    assert "tuned preset: final evaluation" in stdout


def test_seed_article_example_runs_the_shipped_preset() -> None:
    preset = yaml.safe_load(PRESETS.read_text())["CartPole-v1"]
    example = dict(seed_article.TUNED_PRESET)
    schedule = example.pop("learning_rate")
    assert preset.pop("learning_rate") == "lin_1e-3"
    assert [schedule(progress) for progress in (1.0, 0.5, 0.0)] == pytest.approx([1e-3, 5e-4, 0.0])
    assert example.pop("policy_kwargs") == eval(preset.pop("policy_kwargs"), {"nn": nn})
    for key in ("policy", "n_timesteps"):
        preset.pop(key)
    assert example == preset


def test_seed_article_setup_is_one_episode_per_update() -> None:
    settings = dict(seed_article.SEED_ARTICLE)
    model = sb3_reinforce.REINFORCE("MlpPolicy", "CartPole-v1", seed=0, **{k: v for k, v in settings.items() if k != "n_envs"})
    model.learn(600)
    # Each update trains on the one episode its rollout finished (the budget may cut the last one)
    assert model.rollout_buffer.n_episodes <= 1
    assert model.gamma == 0.9 and model.policy.optimizer.defaults["lr"] == 3e-4
    assert [type(layer) for layer in model.policy.mlp_extractor.policy_net] == [nn.Linear, nn.ReLU]
    assert model.policy.mlp_extractor.policy_net[0].out_features == 128


def test_zoo_config(tmp_path: Path) -> None:
    conf = EXAMPLES / "zoo" / "cartpole.yml"
    run = ["train", "--algo", "reinforce", "--env", "CartPole-v1", "-conf", str(conf), "-f", str(tmp_path)]
    zoo([*run, "-n", "2000", "--eval-freq", "-1"])
    model = sb3_reinforce.REINFORCE.load(tmp_path / "reinforce" / "CartPole-v1_1" / "CartPole-v1.zip")
    assert (model.n_envs, model.batch_size, model.gamma) == (8, 256, 0.995)
