"""The zoo command reads a run folder as data: crafted config, args, VecNormalize and model files run nothing."""

import base64
import contextlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

pytest.importorskip("rl_zoo3")
pytest.importorskip("requests")  # RL Zoo's enjoy imports its Hugging Face downloader

import huggingface_hub
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

from sb3_reinforce.common.serialization import SAFE_DATA_ENTRY
from sb3_reinforce.zoo.cli import main
from sb3_reinforce.zoo.safe_files import checked_wrapper_class, literal, load_vec_normalize

ENV_ID = "CartPole-v1"


class Payload:
    """Unpickling it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def zoo(*args: object) -> None:
    main([str(arg) for arg in args])


def train(folder: Path, normalize: bool) -> Path:
    """``folder``, a log folder where REINFORCE trained (with VecNormalize: RL Zoo's normalize: true) after ``conf.yml``."""
    conf = folder / "conf.yml"
    normalize_entry = "  normalize: \"{'norm_obs': True}\"\n" if normalize else ""
    conf.write_text(f"{ENV_ID}:\n  policy: 'MlpPolicy'\n  n_envs: 2\n  n_timesteps: 600\n{normalize_entry}")
    zoo("train", "--algo", "reinforce", "--env", ENV_ID, "--seed", 0, "--eval-freq", -1, "-conf", conf, "-f", folder)
    return folder


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log folder where REINFORCE trained with VecNormalize."""
    return train(tmp_path_factory.mktemp("logs"), normalize=True)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log folder where REINFORCE trained without VecNormalize."""
    return train(tmp_path_factory.mktemp("logs"), normalize=False)


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
    "config.yml function of an allowed package": (
        _tamper_config("env_wrapper", "{{'stable_baselines3.common.utils.set_random_seed': {{'seed': 0}}}}"),
        "env_wrapper: 'stable_baselines3.common.utils.set_random_seed' is not a Wrapper class",
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


ORGANIZATION = "org"
# RL Zoo's name of the repository of a run: {algo}-{env id}
REPO_ID = f"{ORGANIZATION}/reinforce-{ENV_ID}"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the Hugging Face Hub, ``<hub>/<organization>/<name>/<file>``, which the download reads instead."""
    root = tmp_path / "hub"

    def hf_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        path = root / repo_id / filename
        if not path.is_file():
            raise EntryNotFoundError(f"{filename} is not in {repo_id}")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    # huggingface_sb3's download stops without it; the wrapper's reads nothing it downloads, and must not need it
    monkeypatch.delenv("TRUST_REMOTE_CODE", raising=False)
    return root


def publish(folder: Path, repository: Path) -> None:
    """
    The run of a log folder as a Hub repository holds it (RL Zoo's push_to_hub and docs/zoo.md's upload
    write this layout), with its VecNormalize statistics both as RL Zoo's pickle and as data.
    """
    run, settings = _settings(folder).parent, _settings(folder)
    repository.mkdir(parents=True)
    shutil.copy(run / f"{ENV_ID}.zip", repository / f"reinforce-{ENV_ID}.zip")
    for name in ("config.yml", "args.yml"):
        shutil.copy(settings / name, repository / name)
    (repository / "env_kwargs.yml").write_text("{}\n")
    for suffix in (".pkl", ".json"):
        if (settings / f"vecnormalize{suffix}").is_file():
            shutil.copy(settings / f"vecnormalize{suffix}", repository / f"vec_normalize{suffix}")
    with zipfile.ZipFile(repository / "train_eval_metrics.zip", "w") as archive:
        for path in run.glob("*.csv"):
            archive.write(path, arcname=path.name)


def load_from_hub(folder: Path, *extra: object) -> None:
    zoo("load_from_hub", "--algo", "reinforce", "--env", ENV_ID, "-orga", ORGANIZATION, "-f", folder, *extra)


def test_load_from_hub_lays_out_a_run_that_enjoy_reads(
    plain_run: Path, hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(plain_run, hub / REPO_ID)
    load_from_hub(tmp_path / "logs")
    # No vec_normalize.pkl: RL Zoo goes on without it only if the missing file is the error it catches
    assert "No normalization file" in capsys.readouterr().out
    run, trained = _settings(tmp_path / "logs").parent, _settings(plain_run).parent
    assert sorted(path.relative_to(run).as_posix() for path in run.rglob("*")) == sorted(
        [f"{ENV_ID}.zip", ENV_ID, f"{ENV_ID}/config.yml", f"{ENV_ID}/args.yml", f"{ENV_ID}/env_kwargs.yml"]
        + [path.name for path in trained.glob("*.csv")]
    )
    assert (run / f"{ENV_ID}.zip").read_bytes() == (trained / f"{ENV_ID}.zip").read_bytes()
    enjoy(tmp_path / "logs")
    assert f"Loading {run / ENV_ID}.zip" in capsys.readouterr().out


@pytest.mark.parametrize("exp_id,run_name", [(0, f"{ENV_ID}_2"), (3, f"{ENV_ID}_3"), (-1, "")])
def test_load_from_hub_brings_the_vec_normalize_statistics_as_data(
    trained_run: Path, hub: Path, tmp_path: Path, exp_id: int, run_name: str
) -> None:
    publish(trained_run, hub / REPO_ID)
    logs = tmp_path / "logs"
    if exp_id == 0:
        # A new run folder, after the latest
        (logs / "reinforce" / f"{ENV_ID}_1").mkdir(parents=True)
    load_from_hub(logs, "--exp-id", exp_id)
    settings = logs / "reinforce" / run_name / ENV_ID
    assert (settings / "vecnormalize.json").read_bytes() == (_settings(trained_run) / "vecnormalize.json").read_bytes()
    # Without the statistics as data, enjoy would refuse to unpickle vecnormalize.pkl
    enjoy(logs, "--exp-id", exp_id)


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_crafted_run_from_the_hub_runs_nothing(
    run: Path, hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tampering: str
) -> None:
    tamper, message = TAMPERINGS[tampering]
    marker = tmp_path / "payload-ran"
    tamper(_settings(run), marker)
    publish(run, hub / REPO_ID)
    downloaded = tmp_path / "downloaded"
    load_from_hub(downloaded)
    assert not marker.exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        enjoy(downloaded)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sb3-reinforce-zoo enjoy: error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert not marker.exists()


def _no_repository(repo_id: str, filename: str, **kwargs: Any) -> str:
    response = cast(Any, SimpleNamespace(headers={}, request=None))
    raise RepositoryNotFoundError(
        f"Repository Not Found for url: https://huggingface.co/{repo_id}.\nPlease make sure", response=response
    )


@pytest.mark.parametrize(
    "missing,message",
    [
        ("file", re.escape(f"{REPO_ID} on the Hugging Face Hub has no file reinforce-{ENV_ID}.zip")),
        (
            "repository",
            re.escape(f"{REPO_ID}: cannot download reinforce-{ENV_ID}.zip (Repository Not Found for url: ")
            + r"\S+ Please make sure\)",
        ),
    ],
)
def test_load_from_hub_without_the_files_is_one_line_and_status_2(
    plain_run: Path,
    hub: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    missing: str,
    message: str,
) -> None:
    publish(plain_run, hub / REPO_ID)
    (hub / REPO_ID / f"reinforce-{ENV_ID}.zip").unlink()
    if missing == "repository":
        monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_repository)
    with pytest.raises(SystemExit) as exit_info:
        load_from_hub(tmp_path / "logs")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert re.fullmatch(f"sb3-reinforce-zoo load_from_hub: error: {message}\n", error), error
    assert not (tmp_path / "logs").exists()


def test_push_to_hub_is_refused_with_what_to_do_instead(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        zoo("push_to_hub", "--algo", "reinforce", "--env", ENV_ID, "-f", run, "-orga", ORGANIZATION)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sb3-reinforce-zoo push_to_hub: error: not wrapped: ") and error.count("\n") == 1
    assert "eval()" in error and "`hf upload`" in error and "docs/zoo.md" in error


def test_the_docs_upload_a_run_that_load_from_hub_reads(run: Path, hub: Path, tmp_path: Path) -> None:
    docs = (Path(__file__).parent.parent / "docs" / "zoo.md").read_text()
    section = re.search(r"^## Sharing a run on the Hub\n(.*?)^## ", docs, re.MULTILINE | re.DOTALL)
    assert section is not None, "no section '## Sharing a run on the Hub' in docs/zoo.md"
    blocks = [
        block
        for block in re.findall(r"^```bash\n(.*?)^```", section.group(1), re.MULTILINE | re.DOTALL)
        if "hf upload" in block
    ]
    # Only the upload runs here: the Hub is reached through the fake hf alone
    commands = re.sub(r"#.*", "", blocks[0]) if len(blocks) == 1 else ""
    assert commands and not re.search(r"sb3-reinforce-zoo|sb3_reinforce\.zoo|rl_zoo3", commands), (
        "not one upload block in docs/zoo.md"
    )
    # hf upload REPO_ID LOCAL_PATH PATH_IN_REPO, into the stand-in for the Hub
    fake_hf = 'hf() { test "$1 $4" = "upload ." && mkdir -p "$HUB/$2" && cp -R "$3"/. "$HUB/$2"; }\n'
    script = fake_hf + blocks[0].replace("ORG/", f"{ORGANIZATION}/")
    assert script.count(f"{ORGANIZATION}/") == 1, "the docs' repository id changed: update the test"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    environment = {**os.environ, "HUB": str(hub), "PATH": path, "HF_HUB_OFFLINE": "1"}
    # The docs' paths, relative to the folder the run's log folder is in
    subprocess.run(["bash", "-e", "-c", script], cwd=run.parent, env=environment, check=True)
    load_from_hub(tmp_path / "downloaded")
    enjoy(tmp_path / "downloaded")


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


@pytest.mark.parametrize(
    "hyperparams",
    [
        {"env_wrapper": "sb3_contrib.common.wrappers.TimeFeatureWrapper"},
        {"env_wrapper": [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 10}}]},
        {"vec_env_wrapper": "stable_baselines3.common.vec_env.VecMonitor"},
    ],
)
def test_wrapper_classes_of_the_allowed_packages_are_taken(hyperparams: dict[str, Any]) -> None:
    key = next(iter(hyperparams))
    assert callable(checked_wrapper_class(hyperparams, key))
