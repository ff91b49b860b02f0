"""
Groups of envs whose episodes share their starts, for the leave-one-out baseline
(``baseline="leave_one_out"``): envs ``g * group_size`` to ``(g + 1) * group_size - 1`` form group
``g``, and the k-th episode of every env of a group is reset from the same seed, so each env's
episodes run at their own pace and the k-th episodes of a group still start from the same state.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv


def episode_seed(base_seed: int, group: int, episode: int) -> int:
    """
    The reset seed of the ``episode``-th episode of every env of ``group``.

    :param base_seed: The seed that all of a vectorized env's groups derive theirs from
    :param group: The group's index (``env_index // group_size``)
    :param episode: The episode's index in each env of the group, counted from 0 since the last seeded reset
    :return: A 32-bit seed
    """
    return int(np.random.SeedSequence([base_seed, group, episode]).generate_state(1)[0])


class SharedStarts(gym.Wrapper):
    """
    Resets its env from the seeds that its group shares: the k-th reset of every env of a group
    uses ``episode_seed(base_seed, group, k)``. The starts are the same only if all of the env's
    reset randomness comes from that seed (``super().reset(seed=seed)`` and ``self.np_random``).

    A reset with a seed (SB3's ``VecEnv.seed(s)`` gives env ``i`` the seed ``s + i``) sets the base
    seed to ``s`` and restarts the episode count, so all envs of a group agree again.

    :param env: The env to reset from shared seeds
    :param env_index: The env's index in the vectorized env
    :param group_size: Envs per group (the env's group is ``env_index // group_size``)
    :param base_seed: The seed the group's episode seeds derive from (the same for every env)
    """

    def __init__(self, env: gym.Env, env_index: int, group_size: int, base_seed: int) -> None:
        super().__init__(env)
        self.env_index = env_index
        self.group = env_index // group_size
        self.base_seed = base_seed
        # The index of the next episode, whose start seed the group shares
        self.next_start = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """
        Reset the env from its group's seed of its next episode.

        :param seed: Restart the group's seeds: the base seed becomes ``seed - env_index`` (SB3 seeds
            env ``i`` with ``s + i``) and the episode count restarts at 0. None: continue the count.
        :param options: Passed to the env's ``reset``
        :return: The env's first observation and info
        """
        if seed is not None:
            self.base_seed, self.next_start = seed - self.env_index, 0
        start_seed = episode_seed(self.base_seed, self.group, self.next_start)
        self.next_start += 1
        return self.env.reset(seed=start_seed, options=options)


def make_grouped_vec_env(
    env_id: str | Callable[..., gym.Env],
    n_groups: int,
    group_size: int,
    seed: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    vec_env_cls: type[DummyVecEnv] | type[SubprocVecEnv] = DummyVecEnv,
    vec_env_kwargs: dict[str, Any] | None = None,
) -> VecEnv:
    """
    ``n_groups * group_size`` envs in groups that share their episodes' starts (each in ``Monitor``
    and :class:`SharedStarts`), for ``REINFORCE(..., baseline="leave_one_out", group_size=group_size)``.

    :param env_id: A registered env id, or a function that makes the env (called with ``env_kwargs``)
    :param n_groups: Number of groups
    :param group_size: Envs per group (at least 2)
    :param seed: Base seed of the starts (default: a random one); the model's ``seed`` replaces it
    :param env_kwargs: Keywords of the env's constructor
    :param vec_env_cls: ``DummyVecEnv`` or ``SubprocVecEnv``
    :param vec_env_kwargs: Keywords of ``vec_env_cls``
    """
    if group_size < 2:
        raise ValueError(f"group_size={group_size}: a leave-one-out baseline needs at least 2 envs per group")
    if n_groups < 1:
        raise ValueError(f"n_groups={n_groups} must be at least 1")
    base_seed = int(np.random.default_rng().integers(2**31)) if seed is None else seed
    env_fns = [partial(_make_monitored_env, env_id, env_kwargs or {}) for _ in range(n_groups * group_size)]
    return vec_env_cls(group_env_fns(env_fns, group_size, base_seed), **(vec_env_kwargs or {}))  # type: ignore[arg-type]


def group_env_fns(env_fns: list[Callable[[], gym.Env]], group_size: int, base_seed: int) -> list[Callable[[], gym.Env]]:
    """
    The env factories of a vectorized env, each env in :class:`SharedStarts` for its index's group.

    :param env_fns: One factory per env, in the vectorized env's order
    :param group_size: Envs per group (consecutive factories form a group)
    :param base_seed: The seed of the groups' episode seeds (see :func:`episode_seed`)
    """
    return [partial(_shared_starts, env_fn, index, group_size, base_seed) for index, env_fn in enumerate(env_fns)]


def _make_monitored_env(env_id: str | Callable[..., gym.Env], env_kwargs: dict[str, Any]) -> gym.Env:
    return Monitor(gym.make(env_id, **env_kwargs) if isinstance(env_id, str) else env_id(**env_kwargs))


def _shared_starts(env_fn: Callable[[], gym.Env], env_index: int, group_size: int, base_seed: int) -> gym.Env:
    return SharedStarts(env_fn(), env_index, group_size, base_seed)
