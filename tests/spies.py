"""Test helpers that watch what the algorithm asks of its policy."""

from typing import Any

import torch as th
from stable_baselines3.common.policies import BasePolicy


def record_policy_call_sizes(policy: BasePolicy) -> list[int]:
    """
    Wrap the policy's evaluation methods (``evaluate_actions``, ``get_distribution``,
    ``predict_values``) so that each call appends the number of observations it was given.

    :param policy: The policy to watch (its methods are replaced on the instance)
    :return: The list the calls append to
    """
    sizes: list[int] = []
    for name in ["evaluate_actions", "get_distribution", "predict_values"]:
        method = getattr(policy, name)

        def recording(observations: th.Tensor, *args: Any, method: Any = method) -> Any:
            sizes.append(len(observations))
            return method(observations, *args)

        setattr(policy, name, recording)
    return sizes
