"""Saving, loading and reproducibility."""

import io
import zipfile
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE
from sb3_reinforce.reinforce.reinforce import Baseline


@pytest.mark.parametrize("baseline", ["none", "mean", "critic"])
def test_save_load_gives_identical_predictions(tmp_path: Path, baseline: Baseline) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", baseline=baseline, seed=0).learn(1_000)
    observations = np.stack([model.observation_space.sample() for _ in range(50)])
    actions, _ = model.predict(observations, deterministic=True)
    model.save(tmp_path / "model.zip")

    loaded = REINFORCE.load(tmp_path / "model.zip")
    loaded_actions, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, loaded_actions)
    assert loaded.baseline == baseline
    assert loaded.return_mean == model.return_mean
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(tensor, loaded.policy.state_dict()[name])


def test_save_to_file_object_and_evaluate() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0).learn(500)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    loaded = REINFORCE.load(buffer, env=env)
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(tensor, loaded.policy.state_dict()[name])
    # The same seeded episodes: the loaded policy acts as the saved one, step for step
    rewards, lengths = evaluate_policy(loaded, env, n_eval_episodes=5, return_episode_rewards=True)
    expected_rewards, expected_lengths = evaluate_policy(
        model, make_vec_env("CartPole-v1", n_envs=1, seed=0), n_eval_episodes=5, return_episode_rewards=True
    )
    assert (rewards, lengths) == (expected_rewards, expected_lengths)


def test_same_seed_gives_identical_parameters() -> None:
    def train(seed: int) -> dict[str, th.Tensor]:
        return REINFORCE("MlpPolicy", "CartPole-v1", seed=seed).learn(1_500).policy.state_dict()

    first, second, other = train(3), train(3), train(4)
    assert all(th.equal(first[name], second[name]) for name in first)
    assert not all(th.equal(first[name], other[name]) for name in first)


def test_save_without_suffix_adds_zip_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    REINFORCE("MlpPolicy", "CartPole-v1").save(tmp_path / "model")
    assert [path.name for path in tmp_path.iterdir()] == ["model.zip"]


def test_failing_save_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    path = tmp_path / "model.zip"
    model.save(path)
    saved = path.read_bytes()

    def broken_save(*args: object, **kwargs: object) -> NoReturn:
        raise OSError("disk full")

    monkeypatch.setattr("stable_baselines3.common.base_class.save_to_zip_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_loading_another_algorithm_is_refused(tmp_path: Path) -> None:
    A2C("MlpPolicy", "CartPole-v1").save(tmp_path / "a2c.zip")
    with pytest.raises(ValueError, match="not a REINFORCE save"):
        REINFORCE.load(tmp_path / "a2c.zip")


def test_loading_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    REINFORCE("MlpPolicy", "CartPole-v1").save(tmp_path / "model.zip")
    content = (tmp_path / "model.zip").read_bytes()
    (tmp_path / "truncated.zip").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="not a complete REINFORCE save"):
        REINFORCE.load(tmp_path / "truncated.zip")


def test_loading_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.zip").write_text("hello")
    with pytest.raises(ValueError, match="not a complete REINFORCE save"):
        REINFORCE.load(tmp_path / "notes.zip")


def test_loading_a_zip_without_model_data_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match="REINFORCE"):
        REINFORCE.load(tmp_path / "other.zip")
