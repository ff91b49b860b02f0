"""
The peer REINFORCE: Tianshou's ``Reinforce`` with the settings of its own CartPole test
(``test/discrete/test_reinforce.py`` in thu-ml/tianshou 2.0), trained by Tianshou's collector and
update and evaluated by this benchmark's protocol. Optional: ``pip install -e ".[peers]"``.
"""

import importlib.util
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.type_aliases import PolicyPredictor

from benchmarks.hyperparams import Hyperparams

ALGO = "Tianshou-REINFORCE"
HYPERPARAMS = Hyperparams(
    source="Tianshou 2.0 test/discrete/test_reinforce.py",
    n_envs=8,
    policy="MLP 64-64, softmax output, orthogonal init (gain sqrt 2)",
    normalize=None,
    kwargs={
        "gamma": 0.95,
        "learning_rate": 1e-3,
        "episodes_per_collect": 8,
        "update_repetitions": 2,
        "batch_size": 64,
        "return_standardization": True,
    },
)
# Tianshou's test keeps at most this many transitions per collect (its buffer_size)
BUFFER_SIZE = 20_000


def is_installed() -> bool:
    """Whether Tianshou can be imported (it is never a dependency of the package)."""
    return importlib.util.find_spec("tianshou") is not None


class TianshouPredictor:
    """
    SB3's ``predict`` interface over a Tianshou policy, so that ``evaluate_policy`` evaluates it.

    :param policy: A Tianshou policy whose output batch carries the action distribution (``dist``)
    """

    def __init__(self, policy: Any):
        self.policy = policy

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        from tianshou.data import Batch

        with torch.no_grad():
            distribution = self.policy(Batch(obs=observation, info={})).dist
            action = distribution.mode if deterministic else distribution.sample()
        return action.cpu().numpy(), None


def train(
    env_id: str,
    seed: int,
    budget: int,
    on_collect: Callable[[int, PolicyPredictor], None],
    hyperparams: Hyperparams = HYPERPARAMS,
) -> int:
    """
    Train Tianshou's ``Reinforce`` on ``env_id`` (a discrete-action env) until ``budget`` env steps
    are collected; return how many were.

    :param env_id: Gymnasium id of the env
    :param seed: Seed of numpy, torch and the training envs
    :param budget: Env steps to collect at least (the last collect of whole episodes may pass it)
    :param on_collect: Called after every collect, before the update it feeds, with the env
        steps collected so far and the policy (the evaluation hook)
    :param hyperparams: The peer's settings (default: those of Tianshou's CartPole test)
    """
    from tianshou.algorithm import Reinforce
    from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, CollectStats, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv
    from tianshou.utils.net.common import Net
    from tianshou.utils.torch_utils import policy_within_training_step

    settings = hyperparams.kwargs
    np.random.seed(seed)
    torch.manual_seed(seed)
    train_envs = DummyVectorEnv([lambda: gym.make(env_id) for _ in range(hyperparams.n_envs)])
    train_envs.seed(seed)
    action_space = train_envs.action_space[0]
    observation_shape = train_envs.observation_space[0].shape
    net = Net(state_shape=observation_shape, action_shape=int(action_space.n), hidden_sizes=[64, 64], softmax=True)
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.orthogonal_(module.weight, gain=np.sqrt(2))
            torch.nn.init.zeros_(module.bias)
    policy = ProbabilisticActorPolicy(
        actor=net, dist_fn=torch.distributions.Categorical, action_space=action_space, action_scaling=False
    )
    algorithm = Reinforce(
        policy=policy,
        optim=AdamOptimizerFactory(lr=settings["learning_rate"]),
        gamma=settings["gamma"],
        return_standardization=settings["return_standardization"],
    )
    collector = Collector[CollectStats](algorithm, train_envs, VectorReplayBuffer(BUFFER_SIZE, hyperparams.n_envs))
    collector.reset()
    predictor = TianshouPredictor(policy)
    collected = 0
    while collected < budget:
        # As Tianshou's on-policy trainer does: collect and update inside a training step, then empty the buffer
        with policy_within_training_step(policy):
            collected += collector.collect(n_episode=settings["episodes_per_collect"]).n_collected_steps
            on_collect(collected, predictor)
            algorithm.update(buffer=collector.buffer, batch_size=settings["batch_size"], repeat=settings["update_repetitions"])
            collector.reset_buffer(keep_statistics=True)
    train_envs.close()
    return collected
