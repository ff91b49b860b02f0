"""
REINFORCE trains bit-identically to a saved reference: refactors of the loop, the buffer or the
update must not change a single bit of what it learns (same seed, same torch build).

The training runs in a subprocess with the portable code paths of torch's kernels (MKL's compatible
branch, ATen's and oneDNN's baseline instruction sets): the fast paths give other bits on other
processors (an AMD EPYC and an Intel Xeon disagree), and the reference must hold on any machine.

Regenerate the reference only for an intended change of behaviour, and say so in the commit:
``python -m tests.test_reference``.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_reinforce import REINFORCE

REFERENCE = Path(__file__).parent / "data" / "reference_parameters.npz"
# Read by torch when it loads: the same bits on any x86-64 processor
PORTABLE_KERNELS = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
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


def train_portably(destination: Path) -> None:
    """Write every setting's parameters to ``destination`` (an .npz), trained in a subprocess with ``PORTABLE_KERNELS``."""
    subprocess.run(
        [sys.executable, "-m", "tests.test_reference", str(destination)],
        env={**os.environ, **PORTABLE_KERNELS},
        cwd=Path(__file__).parent.parent,
        check=True,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("reference") / "parameters.npz"
    train_portably(destination)
    return destination


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_training_is_bit_identical_to_the_reference(trained: Path, setting: str) -> None:
    with np.load(REFERENCE) as reference, np.load(trained) as parameters:
        expected = {name: reference[name] for name in reference.files if name.startswith(f"{setting}/")}
        assert expected.keys() == {name for name in parameters.files if name.startswith(f"{setting}/")}
        for name, value in expected.items():
            assert np.array_equal(parameters[name], value), f"{name} differs from the reference"


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE
    if any(os.environ.get(name) != value for name, value in PORTABLE_KERNELS.items()):
        train_portably(destination)
    else:
        arrays: dict[str, Any] = {f"{setting}/{name}": value for setting in SETTINGS for name, value in train(setting).items()}
        np.savez_compressed(destination, **arrays)
        print(f"Wrote {destination} ({destination.stat().st_size} bytes)")
