"""The shipped RL Zoo-format presets are valid REINFORCE settings."""

from pathlib import Path

import pytest
import yaml
from rl_zoo3.utils import linear_schedule
from torch import nn

import sb3_reinforce
from sb3_reinforce import REINFORCE

PRESETS = yaml.safe_load((Path(sb3_reinforce.__file__).parent / "hyperparams" / "reinforce.yml").read_text())
# Keys RL Zoo consumes itself instead of passing them to the algorithm
ZOO_KEYS = {"n_timesteps", "n_envs", "normalize", "policy", "env_wrapper", "frame_stack", "callback", "env_kwargs"}


def test_presets_cover_the_benchmark_tasks() -> None:
    expected = {"default", "CartPole-v1", "Acrobot-v1", "LunarLander-v3", "InvertedPendulum-v5", "Hopper-v5"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_preset_builds_a_model(env_id: str) -> None:
    entry = dict(PRESETS[env_id])
    assert entry["policy"] == "MlpPolicy" and entry["n_envs"] >= 1 and entry["n_timesteps"] > 0
    kwargs = {key: value for key, value in entry.items() if key not in ZOO_KEYS}
    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"nn": nn})
    # RL Zoo turns "lin_X" into a schedule from X down to 0
    initial_learning_rate = kwargs.get("learning_rate", 1e-3)
    if isinstance(initial_learning_rate, str):
        prefix, value = initial_learning_rate.split("_")
        assert prefix == "lin"
        initial_learning_rate = float(value)
        kwargs["learning_rate"] = linear_schedule(initial_learning_rate)
    # The constructor validates every argument; no env is needed for that
    model = REINFORCE(entry["policy"], None, _init_setup_model=False, **kwargs)
    for key, value in kwargs.items():
        assert getattr(model, key, value) == value
    model._setup_lr_schedule()
    assert model.lr_schedule(1.0) == pytest.approx(initial_learning_rate)
