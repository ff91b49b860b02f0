"""
Hyperparameters in RL Zoo's YAML format: where they come from and how they become an algorithm.

Supported keys: ``n_envs``, ``n_timesteps`` (ignored: the benchmark's budgets rule), ``policy``,
``normalize`` (``true`` or a string of ``VecNormalize`` keywords), ``policy_kwargs`` (a string
evaluated with ``torch.nn`` as ``nn``), ``lin_X`` strings (linear schedules from X to 0); every
other key is an algorithm keyword.
"""

import ast
import dataclasses
from pathlib import Path
from typing import Any

import yaml
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

import sb3_reinforce
from benchmarks.common import make_engine_vec_env
from sb3_reinforce import REINFORCE

REINFORCE_YAML = Path(sb3_reinforce.__file__).parent / "hyperparams" / "reinforce.yml"
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"REINFORCE": REINFORCE, "A2C": A2C, "PPO": PPO}
FALLBACK_N_ENVS = 8
# Keys of RL Zoo's format that this benchmark does not implement
UNSUPPORTED_KEYS = ("env_wrapper", "frame_stack", "callback", "vec_env_wrapper", "env_kwargs")

# RL Zoo has no v5 entries for these MuJoCo tasks; its v4 settings are for the same robots
ZOO_ENV_ALIASES = {"Hopper-v5": "Hopper-v4", "InvertedPendulum-v5": "InvertedPendulum-v4"}


@dataclasses.dataclass(frozen=True)
class Hyperparams:
    """One algorithm's settings on one env, as read (strings not yet converted)."""

    source: str
    n_envs: int
    policy: str
    normalize: dict[str, Any] | None
    kwargs: dict[str, Any]


def algorithm_name(algo: str) -> str:
    """``"REINFORCE-critic"`` (or ``"REINFORCE-critic-discarded"``) -> ``"REINFORCE"``; other names are unchanged."""
    return algo.split("-", 1)[0]


def _zoo_yaml(algo_name: str) -> Path:
    """RL Zoo's YAML file for ``algo_name``."""
    import rl_zoo3  # the benchmarks extra installs it; imported here so the package never needs it

    return Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo_name.lower()}.yml"


def _yaml_entry(path: Path, env_id: str) -> dict[str, Any] | None:
    """The entry for ``env_id`` in the YAML file at ``path``, if both exist."""
    if not path.is_file():
        return None
    return (yaml.safe_load(path.read_text()) or {}).get(env_id)


def _raw_hyperparams(algo_name: str, env_id: str) -> tuple[str, dict[str, Any]]:
    """The source and the YAML-format entry for ``algo_name`` on ``env_id``."""
    if algo_name == "REINFORCE":
        entry = _yaml_entry(REINFORCE_YAML, env_id)
        if entry is not None:
            return "sb3_reinforce/hyperparams/reinforce.yml", entry
        return f"REINFORCE defaults, n_envs {FALLBACK_N_ENVS} (no reinforce.yml entry)", {"n_envs": FALLBACK_N_ENVS}
    zoo_env_id = ZOO_ENV_ALIASES.get(env_id, env_id)
    entry = _yaml_entry(_zoo_yaml(algo_name), zoo_env_id)
    if entry is not None:
        return f"rl_zoo3 hyperparams/{algo_name.lower()}.yml ({zoo_env_id})", entry
    return f"SB3 defaults, n_envs {FALLBACK_N_ENVS} (no RL Zoo entry)", {"n_envs": FALLBACK_N_ENVS}


def _normalize_kwargs(value: bool | str | dict[str, Any]) -> dict[str, Any] | None:
    """RL Zoo's ``normalize`` value as ``VecNormalize`` keywords; None when off."""
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if isinstance(value, dict):
        return dict(value)
    return {} if value else None


def load_hyperparams(algo: str, env_id: str) -> Hyperparams:
    """
    Hyperparameters of ``algo`` (``"A2C"``, ``"PPO"`` or ``"REINFORCE-<baseline>[-<carried_episodes>]"``)
    on ``env_id``. REINFORCE's baseline (and ``carried_episodes``, when named) come from the name and
    override the YAML entry's.
    """
    name = algorithm_name(algo)
    source, entry = _raw_hyperparams(name, env_id)
    kwargs = dict(entry)
    unsupported = sorted(set(kwargs) & set(UNSUPPORTED_KEYS))
    if unsupported:
        raise ValueError(f"{source} for {env_id}: keys {unsupported} are not supported by this benchmark")
    kwargs.pop("n_timesteps", None)
    n_envs = int(kwargs.pop("n_envs", 1))
    policy = str(kwargs.pop("policy", "MlpPolicy"))
    normalize = _normalize_kwargs(kwargs.pop("normalize", False))
    if name == "REINFORCE":
        _, kwargs["baseline"], *carried_episodes = algo.split("-")
        if carried_episodes:
            (kwargs["carried_episodes"],) = carried_episodes
    return Hyperparams(source=source, n_envs=n_envs, policy=policy, normalize=normalize, kwargs=kwargs)


def _convert(key: str, value: Any) -> Any:
    """A YAML value as the algorithm expects it: ``policy_kwargs`` evaluated, ``lin_X`` as a schedule."""
    if key == "policy_kwargs" and isinstance(value, str):
        return eval(value, {"nn": nn})
    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(float(value[len("lin_") :]), 0.0, 1.0)
    return value


def make_env(
    env_id: str,
    hyperparams: Hyperparams,
    seed: int,
    n_envs: int | None = None,
    training: bool = True,
    engine: str = "dummy",
) -> VecEnv:
    """
    A ``DummyVecEnv`` of ``env_id`` (``hyperparams.n_envs`` copies unless ``n_envs`` is given), or
    the vector env of another ``engine`` (``benchmarks.common.ENGINES``) through ``VectorEnvAdapter``,
    in ``VecNormalize`` when the hyperparameters say so. An evaluation env (``training=False``)
    neither updates its statistics nor normalizes rewards; copy the training env's ``obs_rms`` into it.
    The ``"native"`` engine flags its reset steps, which only REINFORCE's algorithms leave out.
    """
    env = make_engine_vec_env(env_id, engine, n_envs or hyperparams.n_envs, seed)
    if hyperparams.normalize is None:
        return env
    # RL Zoo normalizes returns with the algorithm's discount factor
    normalize = {"gamma": hyperparams.kwargs.get("gamma", 0.99), **hyperparams.normalize}
    if not training:
        normalize.update(training=False, norm_reward=False)
    return VecNormalize(env, **normalize)


def make_model(algo: str, hyperparams: Hyperparams, env: VecEnv, seed: int) -> BaseAlgorithm:
    """The algorithm, built on CPU from the hyperparameters."""
    kwargs = {key: _convert(key, value) for key, value in hyperparams.kwargs.items()}
    return ALGORITHMS[algorithm_name(algo)](hyperparams.policy, env, seed=seed, device="cpu", verbose=0, **kwargs)
