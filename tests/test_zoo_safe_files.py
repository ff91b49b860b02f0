"""The zoo command reads a run folder as data: crafted config, args, VecNormalize and model files run nothing."""

import base64
import contextlib
import json
import pickle
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

pytest.importorskip("rl_zoo3")
pytest.importorskip("requests")  # RL Zoo's enjoy imports its Hugging Face downloader

from sb3_reinforce.common.serialization import SAFE_DATA_ENTRY
from sb3_reinforce.zoo.cli import main
from sb3_reinforce.zoo.safe_files import literal, load_vec_normalize

ENV_ID = "CartPole-v1"


class Payload:
    """Unpickling it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def zoo(*args: object) -> None:
    main([str(arg) for arg in args])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log folder where REINFORCE trained with VecNormalize (RL Zoo's normalize: true)."""
    folder = tmp_path_factory.mktemp("logs")
    conf = folder / "conf.yml"
    conf.write_text(
        f"{ENV_ID}:\n  policy: 'MlpPolicy'\n  n_envs: 2\n  n_timesteps: 600\n  normalize: \"{{'norm_obs': True}}\"\n"
    )
    zoo("train", "--algo", "reinforce", "--env", ENV_ID, "--seed", 0, "--eval-freq", -1, "-conf", conf, "-f", folder)
    return folder


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the trained log folder, for a test to tamper with."""
    return Path(shutil.copytree(trained_run, tmp_path / "logs"))


def _settings(folder: Path) -> Path:
    return folder / "reinforce" / f"{ENV_ID}_1" / ENV_ID


def enjoy(folder: Path, *extra: object) -> None:
    zoo("enjoy", "--algo", "reinforce", "--env", ENV_ID, "-f", folder, "-n", 50, "--no-render", *extra)


def open_run(command: str, folder: Path, tmp_path: Path) -> None:
    """``enjoy`` or ``record_video`` on the run in ``folder``."""
    if command == "enjoy":
        enjoy(folder)
    else:
        zoo("record_video", "--algo", "reinforce", "--env", ENV_ID, "-f", folder, "-n", 10, "-o", tmp_path / "videos")


def test_vec_normalize_statistics_are_saved_as_data_and_load_back(run: Path) -> None:
    pickled_path = _settings(run) / "vecnormalize.pkl"
    assert (_settings(run) / "vecnormalize.json").is_file()
    with open(pickled_path, "rb") as file:
        pickled = pickle.load(file)
    loaded = load_vec_normalize(str(pickled_path), make_vec_env(ENV_ID, n_envs=1))
    assert isinstance(loaded, VecNormalize)
    assert isinstance(loaded.obs_rms, RunningMeanStd) and isinstance(pickled.obs_rms, RunningMeanStd)
    np.testing.assert_array_equal(loaded.obs_rms.mean, pickled.obs_rms.mean)
    np.testing.assert_array_equal(loaded.obs_rms.var, pickled.obs_rms.var)
    assert loaded.obs_rms.count == pickled.obs_rms.count and loaded.ret_rms.count == pickled.ret_rms.count
    assert (loaded.clip_obs, loaded.norm_obs, loaded.norm_reward) == (pickled.clip_obs, pickled.norm_obs, pickled.norm_reward)


def test_enjoy_reads_a_normal_run_safely(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enjoy(run)
    assert "Loading" in capsys.readouterr().out


def _tamper_config(key: str, value: str) -> Callable[[Path, Path], None]:
    def tamper(settings: Path, marker: Path) -> None:
        config = settings / "config.yml"
        # RL Zoo writes an OrderedDict: a list of [key, value] pairs; a later pair wins
        config.write_text(config.read_text() + f"  - - {key}\n    - {value.format(marker=marker)}\n")

    return tamper


def _tamper_args(settings: Path, marker: Path) -> None:
    args = settings / "args.yml"
    args.write_text(args.read_text() + f"  - - payload\n    - !!python/object/apply:builtins.open ['{marker}', 'w']\n")


def _tamper_vec_normalize(settings: Path, marker: Path) -> None:
    (settings / "vecnormalize.pkl").write_bytes(pickle.dumps(Payload(marker)))
    (settings / "vecnormalize.json").unlink()


def _tamper_model(settings: Path, marker: Path) -> None:
    for model_path in settings.parent.glob("*.zip"):
        with zipfile.ZipFile(model_path) as archive:
            entries = {name: archive.read(name) for name in archive.namelist() if name != SAFE_DATA_ENTRY}
        data = json.loads(entries["data"])
        data["observation_space"][":serialized:"] = base64.b64encode(pickle.dumps(Payload(marker))).decode()
        entries["data"] = json.dumps(data).encode()
        with zipfile.ZipFile(model_path, "w") as archive:
            for name, content in entries.items():
                archive.writestr(name, content)


TAMPERINGS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "config.yml object": (
        _tamper_config("payload", "!!python/object/apply:builtins.open ['{marker}', 'w']"),
        "config.yml: holds a Python object .*builtins.open.* that only an unsafe YAML load builds",
    ),
    "config.yml normalize string": (
        _tamper_config("normalize", "\"open('{marker}', 'w')\""),
        "normalize=.* is not a literal",
    ),
    "config.yml wrapper": (
        _tamper_config("env_wrapper", "{{'pydoc.pipepager': {{'cmd': 'touch {marker}'}}}}"),
        "env_wrapper: 'pydoc.pipepager' is not a wrapper of",
    ),
    "args.yml object": (
        _tamper_args,
        "args.yml: holds a Python object .*builtins.open.* that only an unsafe YAML load builds",
    ),
    "vecnormalize.pkl": (_tamper_vec_normalize, "VecNormalize statistics only as a pickle"),
    "model": (_tamper_model, "holds entries that only unpickling could load: .*observation_space"),
}


@pytest.mark.parametrize("command", ["enjoy", "record_video"])
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_crafted_run_folder_is_refused_and_runs_nothing(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, tampering: str
) -> None:
    tamper, message = TAMPERINGS[tampering]
    marker = tmp_path / "payload-ran"
    tamper(_settings(run), marker)
    with pytest.raises(SystemExit) as exit_info:
        open_run(command, run, tmp_path)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"sb3-reinforce-zoo {command}: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert "--trust-files" in error
    assert not marker.exists()


@pytest.mark.parametrize("tampering", ["config.yml object", "vecnormalize.pkl", "model"])
def test_trust_files_reads_the_files_as_rl_zoo_does(run: Path, tmp_path: Path, tampering: str) -> None:
    tamper, _ = TAMPERINGS[tampering]
    marker = tmp_path / "payload-ran"
    tamper(_settings(run), marker)
    # The payloads run, which is what the flag warns about (what they leave behind may break the run)
    with contextlib.suppress(Exception):
        enjoy(run, "--trust-files")
    assert marker.exists()


def test_continue_training_reads_the_pretrained_run_safely(run: Path, tmp_path: Path) -> None:
    model_path = run / "reinforce" / f"{ENV_ID}_1" / f"{ENV_ID}.zip"
    train = ("train", "--algo", "reinforce", "--env", ENV_ID, "--eval-freq", -1, "-conf", run / "conf.yml", "-i", model_path)
    zoo(*train, "-f", tmp_path / "more")
    assert (tmp_path / "more" / "reinforce" / f"{ENV_ID}_1" / f"{ENV_ID}.zip").is_file()
    marker = tmp_path / "payload-ran"
    _tamper_vec_normalize(_settings(run), marker)
    with pytest.raises(SystemExit):
        zoo(*train, "-f", tmp_path / "again")
    assert not marker.exists()


@pytest.mark.parametrize(
    "text,value",
    [("{'norm_obs': False}", {"norm_obs": False}), ("dict(norm_reward=True, gamma=0.9)", {"norm_reward": True, "gamma": 0.9})],
)
def test_normalize_strings_are_read_as_literals(text: str, value: dict[str, Any]) -> None:
    assert literal(text) == value


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "dict(**globals())", "open('x', 'w')"])
def test_normalize_strings_with_code_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        literal(text)
