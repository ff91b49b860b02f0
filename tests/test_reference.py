"""
REINFORCE trains bit-identically to a saved reference: refactors of the loop, the buffer or the
update must not change a single bit of what it learns (same seed, same torch build).

Regenerate the reference only for an intended change of behaviour, and say so in the commit:
``python -m tests.test_reference``.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_reinforce import REINFORCE

REFERENCE = Path(__file__).parent / "data" / "reference_parameters.npz"
# Settings that cover every path of the loop and the update: each baseline, GAE, gamma**t weights,
# minibatches with target_kl, critic steps, chunked evaluation, a Box action space, cut episodes, and
# each treatment of carried episodes (2 envs carry some: the others take the default, importance weights)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "none": ("CartPole-v1", dict(baseline="none")),
    "mean-gamma_t": ("CartPole-v1", dict(baseline="mean", gamma_t_weighting=True, normalize_advantage=False)),
    "critic-gae": ("CartPole-v1", dict(baseline="critic", gae_lambda=0.9, critic_gradient_steps=3)),
    "minibatches-target_kl": ("CartPole-v1", dict(baseline="critic", batch_size=16, target_kl=0.005, chunk_size=5)),
    "box-cut": ("Pendulum-v1", dict(baseline="critic", rollout_buffer_kwargs=dict(max_steps_per_env=60))),
    "uncorrected": ("CartPole-v1", dict(baseline="mean", carried_episodes="uncorrected")),
    "discarded": ("CartPole-v1", dict(baseline="mean", carried_episodes="discarded")),
}


def train(setting: str) -> dict[str, np.ndarray]:
    """The policy's parameters after 1,000 steps of ``setting`` on 2 envs, seed 0."""
    th.set_num_threads(1)
    env_id, kwargs = SETTINGS[setting]
    env = make_vec_env(env_id, n_envs=2, seed=0)
    model = REINFORCE("MlpPolicy", env, n_steps=20, policy_kwargs=dict(net_arch=[16]), seed=0, device="cpu", **kwargs)
    model.learn(1_000)
    return {name: tensor.numpy() for name, tensor in model.policy.state_dict().items()}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_training_is_bit_identical_to_the_reference(setting: str) -> None:
    with np.load(REFERENCE) as reference:
        expected = {name.split("/", 1)[1]: reference[name] for name in reference.files if name.startswith(f"{setting}/")}
    parameters = train(setting)
    assert expected.keys() == parameters.keys()
    for name, value in parameters.items():
        assert np.array_equal(value, expected[name]), f"{setting}: {name} differs from the reference"


if __name__ == "__main__":
    arrays: dict[str, Any] = {f"{setting}/{name}": value for setting in SETTINGS for name, value in train(setting).items()}
    np.savez_compressed(REFERENCE, **arrays)
    print(f"Wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")
