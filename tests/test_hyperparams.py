"""The shipped RL Zoo-format presets are valid REINFORCE settings."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch as th
import yaml
from rl_zoo3.utils import linear_schedule
from torch import nn

import sb3_reinforce
from sb3_reinforce import REINFORCE

PRESETS = yaml.safe_load((Path(sb3_reinforce.__file__).parent / "hyperparams" / "reinforce.yml").read_text())
# Keys RL Zoo consumes itself instead of passing them to the algorithm
ZOO_KEYS = {"n_timesteps", "n_envs", "normalize", "policy", "env_wrapper", "frame_stack", "callback", "env_kwargs"}
# The keyword arguments that REINFORCE, like A2C, does not keep under their own name, and where it keeps them
STORED_ELSEWHERE: dict[str, Callable[[REINFORCE], object]] = {
    # use_rms_prop swaps the policy's optimizer through policy_kwargs
    "use_rms_prop": lambda model: model.policy_kwargs.get("optimizer_class") is th.optim.RMSprop,
    "rms_prop_eps": lambda model: model.policy_kwargs.get("optimizer_kwargs", {}).get("eps"),
    "stats_window_size": lambda model: model._stats_window_size,
}


def assert_stored(model: REINFORCE, kwargs: dict[str, Any]) -> None:
    """Every keyword argument is kept by the model, with its value: under its name, or where ``STORED_ELSEWHERE`` says."""
    for key, value in kwargs.items():
        if key in STORED_ELSEWHERE:
            stored = STORED_ELSEWHERE[key](model)
        else:
            assert hasattr(model, key), f"REINFORCE keeps no attribute {key!r}: add where it keeps it to STORED_ELSEWHERE"
            stored = getattr(model, key)
        if key == "policy_kwargs":
            # use_rms_prop adds the optimizer's entries, checked under its own keys
            stored = {name: model.policy_kwargs[name] for name in value}
        assert stored == value, key


def with_copied_dicts(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with copies of its dicts, which the model keeps and may change (use_rms_prop adds to policy_kwargs)."""
    return {key: copy.deepcopy(value) if isinstance(value, dict) else value for key, value in kwargs.items()}


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
    # The constructor validates every argument; no env is needed for that (SB3 takes None, as load() passes)
    model = REINFORCE(entry["policy"], None, _init_setup_model=False, **with_copied_dicts(kwargs))  # type: ignore[arg-type]
    assert_stored(model, kwargs)
    model._setup_lr_schedule()
    assert model.lr_schedule(1.0) == pytest.approx(initial_learning_rate)


def test_every_keyword_argument_is_stored() -> None:
    # Other values than the defaults, for every keyword that a preset may hold
    kwargs = dict(
        learning_rate=3e-4,
        n_steps=4,
        gamma=0.9,
        gae_lambda=0.95,
        ent_coef=0.01,
        vf_coef=0.4,
        max_grad_norm=1.0,
        rms_prop_eps=1e-4,
        use_rms_prop=True,
        sde_sample_freq=4,
        rollout_buffer_kwargs=dict(max_steps_per_env=100),
        normalize_advantage=False,
        baseline="critic",
        gamma_t_weighting=True,
        batch_size=32,
        critic_gradient_steps=3,
        target_kl=0.02,
        stats_window_size=10,
        policy_kwargs=dict(net_arch=[8], activation_fn=nn.ReLU),
        seed=3,
    )
    model = REINFORCE("MlpPolicy", "CartPole-v1", **with_copied_dicts(kwargs))
    assert_stored(model, kwargs)
    assert isinstance(model.policy.optimizer, th.optim.RMSprop)
