"""
``sb3-reinforce-zoo load_from_hub``: RL Zoo's ``load_from_hub`` command, which downloads a Hugging Face
Hub repository's files into RL Zoo's run layout (the model, ``config.yml``, ``args.yml``,
``env_kwargs.yml``, ``vec_normalize.pkl``, the monitor and evaluation files) and reads none of them.
Three changes to its download:

- huggingface_sb3's download stops unless ``TRUST_REMOTE_CODE=True``, because SB3 and RL Zoo unpickle
  what it downloads; the wrapper's commands read a run folder as data (:mod:`sb3_reinforce.zoo.safe_files`),
  so :func:`hub_download` does not ask for it.
- A file that the repository does not hold is, for RL Zoo, requests' ``HTTPError`` (which it catches
  for an absent ``vec_normalize.pkl``; huggingface_hub's own errors no longer are one since it moved
  to httpx), and for the wrapper a one-line ``UsageError``, as are an unknown repository and no connection.
- The repository's ``vec_normalize.json``, the ``VecNormalize`` statistics as data, is downloaded as
  ``vecnormalize.json`` beside ``vecnormalize.pkl``, where ``enjoy`` reads them without unpickling.
"""

import argparse
import os
import runpy
import shutil
import sys
import warnings
from pathlib import Path

import huggingface_hub
import huggingface_sb3
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError
from huggingface_sb3 import EnvironmentName
from requests.exceptions import HTTPError
from rl_zoo3.utils import get_latest_run_id

import sb3_reinforce
from sb3_reinforce.zoo.checks import UsageError, one_line
from sb3_reinforce.zoo.safe_files import replaced

# The VecNormalize statistics in a repository: RL Zoo's pickle, and the data beside it that the wrapper reads
VEC_NORMALIZE_PICKLE = "vec_normalize.pkl"
VEC_NORMALIZE_DATA = "vec_normalize.json"


class MissingHubFile(UsageError, HTTPError):
    """
    A file that the repository does not hold: the ``HTTPError`` that RL Zoo takes for an absent
    ``vec_normalize.pkl``, and a ``UsageError`` (one line, exit status 2) for any other file.
    """


def hub_download(repo_id: str, filename: str) -> str:
    """
    Download a file of a Hub repository into Hugging Face's cache, as huggingface_sb3's
    ``load_from_hub`` does, without its ``TRUST_REMOTE_CODE`` check.

    :param repo_id: The repository, ``organization/name``
    :param filename: The file's path in the repository
    :return: The file's local path
    :raises MissingHubFile: When the repository does not hold the file
    :raises UsageError: When the repository cannot be read (unknown, private, no connection)
    """
    try:
        return huggingface_hub.hf_hub_download(
            repo_id=repo_id, filename=filename, library_name="sb3-reinforce", library_version=sb3_reinforce.__version__
        )
    except LocalEntryNotFoundError as error:
        # Not the repository's answer: no connection, and the file is not in the cache
        raise UsageError(f"{repo_id}: cannot download {filename} ({one_line(error)})") from error
    except EntryNotFoundError as error:
        raise MissingHubFile(f"{repo_id} on the Hugging Face Hub has no file {filename}") from error
    except HfHubHTTPError as error:
        raise UsageError(f"{repo_id}: cannot download {filename} ({one_line(error)})") from error


def load_from_hub() -> None:
    """
    RL Zoo's ``load_from_hub`` command (``python -m rl_zoo3.load_from_hub``), arguments from
    ``sys.argv``, downloading with :func:`hub_download`; then the repository's ``vec_normalize.json``
    when it holds ``vec_normalize.pkl``.
    """
    repositories: dict[str, str] = {}  # the repository of each file downloaded

    def download(repo_id: str, filename: str) -> str:
        path = hub_download(repo_id, filename)
        repositories[filename] = repo_id
        return path

    # The command is a script: run as __main__, it imports the download from the package anew
    with replaced(huggingface_sb3, "load_from_hub", download), warnings.catch_warnings():
        # rl_zoo3.enjoy imports the module: runpy warns that it runs again, which is what is meant here
        warnings.filterwarnings("ignore", message=r"'rl_zoo3\.load_from_hub' found in sys\.modules", category=RuntimeWarning)
        runpy.run_module("rl_zoo3.load_from_hub", run_name="__main__")
    if VEC_NORMALIZE_PICKLE in repositories:
        _download_vec_normalize_data(repositories[VEC_NORMALIZE_PICKLE], _settings_folder(sys.argv[1:]))


def _download_vec_normalize_data(repo_id: str, settings_folder: Path) -> None:
    """The repository's ``vec_normalize.json`` as ``settings_folder/vecnormalize.json``, or a note that it has none."""
    try:
        path = hub_download(repo_id, VEC_NORMALIZE_DATA)
    except MissingHubFile:
        print(
            f"{repo_id} holds the VecNormalize statistics only as a pickle, "
            "which sb3-reinforce-zoo enjoy and record_video load with --trust-files only"
        )
        return
    shutil.copy(path, settings_folder / "vecnormalize.json")


def _settings_folder(args: list[str]) -> Path:
    """Where RL Zoo's ``load_from_hub`` with ``args`` put the run's settings (``<run>/<env id>``)."""
    # After RL Zoo's parser accepted the arguments: any abbreviation it took means the same option here
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", type=EnvironmentName, required=True)
    parser.add_argument("-f", "--folder", required=True)
    parser.add_argument("--algo", required=True)
    parser.add_argument("--exp-id", type=int, default=0)
    known, _ = parser.parse_known_args(args)
    exp_id = known.exp_id
    if exp_id == 0:
        # RL Zoo made a new run folder, which is now the latest
        exp_id = get_latest_run_id(os.path.join(known.folder, known.algo), known.env)
    run_folder = Path(known.folder, known.algo, f"{known.env}_{exp_id}") if exp_id > 0 else Path(known.folder, known.algo)
    return run_folder / known.env
