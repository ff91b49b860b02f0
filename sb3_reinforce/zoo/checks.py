"""The error for bad input, and the check of ``--env`` that runs before RL Zoo starts."""

import importlib

import gymnasium as gym


class UsageError(Exception):
    """Bad input from the command line or a hyperparameter file; the command prints it and exits with status 2."""


def one_line(error: BaseException) -> str:
    """
    An error's message on one line (YAML and database errors span several); its type's name when
    it has no message.

    :param error: The error to show
    """
    return " ".join(str(error).split()) or type(error).__name__


def check_env_id(env_id: str, gym_packages: list[str]) -> None:
    """
    Raise ``UsageError`` unless ``env_id`` is a registered env, after importing ``gym_packages``
    (``--gym-packages``), which register theirs.

    :param env_id: The env id given with ``--env``
    :param gym_packages: The modules given with ``--gym-packages``
    """
    # Registers RL Zoo's own envs, which the check must see; imported here so that importing
    # UsageError does not need RL Zoo (the zoo extra)
    import rl_zoo3.import_envs  # noqa: F401

    for package in gym_packages:
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise UsageError(f"--gym-packages: cannot import {package!r} ({error})") from error
    try:
        gym.spec(env_id)
    except (gym.error.Error, ImportError) as error:
        raise UsageError(f"--env {env_id}: {error}") from error
