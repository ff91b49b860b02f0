"""
SB3's ``VecEnv`` over natively vectorized envs: a gymnasium ``VectorEnv`` (any vectorization and
autoreset mode) or an EnvPool env, with SB3's step semantics exactly.

SB3 resets an env in the step that ends its episode: that step returns the next episode's first
observation, with the last one in ``infos[i]["terminal_observation"]``. Gymnasium's vector envs
reset on the next step by default (the action of that step is ignored), and some engines can do
nothing else. The adapter restores SB3's semantics, by the first of these the engine allows:

- its own same-step autoreset (gymnasium's ``AutoresetMode.SAME_STEP``): the final observations
  it returns become ``terminal_observation``;
- a partial reset of the envs that just ended, in the same call: EnvPool's ``reset(env_ids)``, or
  gymnasium's ``reset(options={"reset_mask": ...})`` of ``SyncVectorEnv`` and ``AsyncVectorEnv``;
- otherwise (an engine that resets only on the next step and all envs at once, as
  ``gym.make_vec(..., vectorization_mode="vector_entry_point")``), the step where the engine
  ignores the action while it resets is **flagged**: it ends with ``done`` True, reward 0 and
  ``infos[i]["reset_step"] = True``, and no episode statistics. REINFORCE and its variants leave
  such steps out of their batches; SB3's other algorithms would train on them, so the adapter
  refuses such an engine unless ``flag_reset_steps=True``.
"""

import time
import warnings
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

# What the algorithms take as an env: SB3's (a gymnasium Env or a VecEnv) or a natively vectorized one
AnyEnv = GymEnv | gym.vector.VectorEnv

# The info key of a step that an engine without same-step resets spent resetting an env
RESET_STEP_KEY = "reset_step"
# The natively vectorized engines that make_vector_env makes by name
VECTOR_ENGINES = ("native", "envpool")


def make_vector_env(engine: str, env_id: str, n_envs: int, seed: int | None = None, **env_kwargs: Any) -> gym.vector.VectorEnv:
    """
    ``n_envs`` envs of ``env_id`` as one natively vectorized env of ``engine``: ``"native"``,
    gymnasium's own vectorized implementation (``gym.make_vec(..., vectorization_mode="vector_entry_point")``,
    for envs that have one), or ``"envpool"`` (``envpool.make_gymnasium``; the ``envpool`` extra).

    :param engine: One of ``VECTOR_ENGINES``
    :param env_id: The env's id
    :param n_envs: Number of envs
    :param seed: EnvPool's seed (it seeds env ``i`` with ``seed + i``); gymnasium's engine is seeded
        at its first reset
    :param env_kwargs: Keywords of the env
    """
    if engine == "native":
        return gym.make_vec(env_id, n_envs, vectorization_mode="vector_entry_point", **env_kwargs)
    if engine != "envpool":
        raise ValueError(f"engine={engine!r} is not one of {', '.join(map(repr, VECTOR_ENGINES))}")
    import envpool

    # A gymnasium VectorEnv at run time
    return envpool.make_gymnasium(env_id, num_envs=n_envs, seed=seed, **env_kwargs)  # type: ignore[return-value]


def _is_envpool(engine: Any) -> bool:
    return type(engine).__module__.startswith("envpool") or any(
        cls.__module__.startswith("envpool") for cls in type(engine).__mro__
    )


class VectorEnvAdapter(VecEnv):
    """
    A ``VecEnv`` over a gymnasium ``VectorEnv`` or an EnvPool env (``envpool.make_gymnasium``),
    with SB3's semantics: the step that ends an episode returns the next episode's first
    observation, with ``terminal_observation`` and ``TimeLimit.truncated`` in its info and the
    episode's statistics in ``info["episode"]`` as ``Monitor`` gives them (so ``ep_info_buffer``,
    ``EvalCallback`` and the logger work without a ``Monitor``). The module's docstring says how
    each engine is brought to these semantics.

    The infos of a step hold the engine's own info entries only for the envs whose episode ended
    there (the final step's, which SB3's callbacks read, e.g. ``is_success``).

    :param vector_env: The natively vectorized env. EnvPool envs must be synchronous
        (``batch_size`` equal to ``num_envs``).
    :param flag_reset_steps: Accept an engine that resets only on the step after an episode's end
        and has no partial reset, and flag those steps (``infos[i]["reset_step"]``) instead of
        hiding them. Only for algorithms that leave flagged steps out, as REINFORCE does (it sets
        this itself when given such an env).
    """

    def __init__(self, vector_env: gym.vector.VectorEnv, flag_reset_steps: bool = False):
        if not isinstance(vector_env, gym.vector.VectorEnv):
            raise TypeError(f"VectorEnvAdapter takes a gymnasium VectorEnv or an EnvPool env, got {type(vector_env).__name__}")
        engine = vector_env.unwrapped
        self.vector_env = vector_env
        self._envpool = _is_envpool(engine)
        if self._envpool and getattr(engine, "config", {}).get("batch_size", vector_env.num_envs) != vector_env.num_envs:
            raise ValueError(
                "EnvPool in asynchronous mode (batch_size < num_envs) returns a different set of envs at each step; "
                "make it with batch_size equal to num_envs"
            )
        autoreset_mode = AutoresetMode(vector_env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._same_step = autoreset_mode == AutoresetMode.SAME_STEP
        self._partial_reset = self._envpool or isinstance(engine, (SyncVectorEnv, AsyncVectorEnv))
        self.flags_reset_steps = not (self._same_step or self._partial_reset)
        if self.flags_reset_steps and not flag_reset_steps:
            raise ValueError(
                f"{type(engine).__name__} resets an env only on the step after its episode ends, ignoring that step's "
                "action, and cannot reset some envs alone: SB3's algorithms would train on those steps. REINFORCE "
                "and its variants leave them out (pass the env to them directly); for other algorithms, make the "
                "env with vectorization_mode='sync' or 'async', or with EnvPool"
            )
        super().__init__(vector_env.num_envs, vector_env.single_observation_space, vector_env.single_action_space)
        self.render_mode = vector_env.render_mode
        self._actions: np.ndarray | None = None
        self._episode_returns = np.zeros(self.num_envs, dtype=np.float64)
        self._episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        # Envs whose episode ended on the last step: the engine spends their next step resetting
        self._resetting = np.zeros(self.num_envs, dtype=bool)
        self._start_time = time.time()
        self._warned_about_seeds = False

    def reset(self) -> VecEnvObs:
        seed = self._engine_seed()
        options = self._options[0] if self._options[0] else None
        if any(env_options != self._options[0] for env_options in self._options):
            raise ValueError("VectorEnvAdapter resets all envs with one options dict: set_options() gave different ones")
        if self._envpool:
            obs, _ = self.vector_env.reset()
        else:
            obs, _ = self.vector_env.reset(seed=seed, options=options)  # type: ignore[arg-type]
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._episode_returns[:] = 0.0
        self._episode_lengths[:] = 0
        self._resetting[:] = False
        return _copy_obs(obs)

    def _engine_seed(self) -> int | list[int | None] | None:
        """The seed argument of the engine's reset for the seeds of ``seed()``, or None."""
        if all(seed is None for seed in self._seeds):
            return None
        if self._envpool:
            # EnvPool seeds env i with its seed + i, as seed() asks: only another seed cannot be had
            made_with = self.vector_env.unwrapped.config.get("seed")  # type: ignore[attr-defined]
            if self._seeds != [None if made_with is None else made_with + idx for idx in range(self.num_envs)]:
                self._warn_about_seeds()
            return None
        if isinstance(self.vector_env.unwrapped, (SyncVectorEnv, AsyncVectorEnv)):
            return list(self._seeds)
        # One random generator for all envs: the first env's seed (seed() gives seed + index to env index)
        return self._seeds[0]

    def _warn_about_seeds(self) -> None:
        if not self._warned_about_seeds:
            self._warned_about_seeds = True
            warnings.warn(
                "EnvPool seeds its envs when it is made (envpool.make_gymnasium(..., seed=...)); "
                "VecEnv.seed() cannot change them and is ignored"
            )

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async() must come first"
        obs, rewards, terminated, truncated, engine_info = self.vector_env.step(self._actions)
        self._actions = None
        rewards = np.asarray(rewards, dtype=np.float32)
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        # As DummyVecEnv: every step says whether it was cut by a time limit
        infos: list[dict[str, Any]] = [{"TimeLimit.truncated": cut} for cut in (truncated & ~terminated).tolist()]
        if self.flags_reset_steps:
            reset_steps = self._resetting
            self._resetting = dones.copy()
            dones = dones | reset_steps
            for reset_idx in np.flatnonzero(reset_steps):
                infos[reset_idx][RESET_STEP_KEY] = True
            self._episode_returns[reset_steps] = 0.0
            self._episode_lengths[reset_steps] = -1
        self._episode_returns += rewards
        self._episode_lengths += 1
        ended = terminated | truncated
        if ended.any():
            # Same-step autoreset: obs already starts the next episodes, the engine's infos hold the last ones
            final_info = engine_info.get("final_info", {}) if self._same_step else engine_info
            now = round(time.time() - self._start_time, 6)
            for idx in map(int, np.flatnonzero(ended)):
                info = infos[idx]
                info.update(_env_info(final_info, idx))
                # Copied: a partial reset overwrites obs, and an engine may reuse its arrays
                info["terminal_observation"] = engine_info["final_obs"][idx] if self._same_step else _copy_row(obs, idx)
                info["episode"] = {"r": float(self._episode_returns[idx]), "l": int(self._episode_lengths[idx]), "t": now}
            self._episode_returns[ended] = 0.0
            self._episode_lengths[ended] = 0
            if self._partial_reset and not self._same_step:
                obs = self._reset_envs(obs, ended)
        return obs, rewards, dones, infos

    def _reset_envs(self, obs: VecEnvObs, ended: np.ndarray) -> VecEnvObs:
        """A copy of ``obs`` where the envs that ended are reset, their first observations in place of their last."""
        ids = np.flatnonzero(ended)
        if self._envpool:
            # EnvPool returns the reset envs' observations only, and says in info["env_id"] which envs they are
            reset_obs, info = self.vector_env.reset(ids.astype(np.int32))  # type: ignore[call-arg, arg-type]  # EnvPool's signature
            targets, rows = np.asarray(info["env_id"]), np.arange(len(ids))
        else:
            reset_obs, _ = self.vector_env.reset(options={"reset_mask": ended.copy()})
            targets, rows = ids, ids
        obs = _copy_obs(obs)
        if isinstance(obs, dict):
            for key in obs:
                obs[key][targets] = reset_obs[key][rows]
        else:
            obs[targets] = reset_obs[rows]  # type: ignore[index]
        return obs

    def close(self) -> None:
        self.vector_env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        # The engine renders all of its envs (render_mode="rgb_array"): one frame each, which VecEnv.render tiles
        frames = self.vector_env.render()
        return [None] * self.num_envs if frames is None else [np.asarray(frame) for frame in frames]

    def _sub_envs(self, indices: VecEnvIndices, what: str) -> list[gym.Env]:
        engine = self.vector_env.unwrapped
        if not isinstance(engine, SyncVectorEnv):
            raise NotImplementedError(
                f"{type(engine).__name__} gives no access to its envs one by one, which {what} needs "
                "(SyncVectorEnv does; AsyncVectorEnv does for all envs at once)"
            )
        return [engine.envs[idx] for idx in self._get_indices(indices)]

    def _all_indices(self, indices: VecEnvIndices) -> bool:
        return list(self._get_indices(indices)) == list(range(self.num_envs))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        engine = self.vector_env.unwrapped
        if isinstance(engine, AsyncVectorEnv):
            values = engine.get_attr(attr_name)
            return [values[idx] for idx in self._get_indices(indices)]
        if isinstance(engine, SyncVectorEnv):
            return [getattr(env, attr_name) for env in self._sub_envs(indices, "get_attr")]
        # An engine without envs of its own: its attribute holds for all of them (render_mode, spec)
        return [getattr(self.vector_env, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        engine = self.vector_env.unwrapped
        if isinstance(engine, AsyncVectorEnv) and self._all_indices(indices):
            engine.set_attr(attr_name, value)
            return
        for env in self._sub_envs(indices, f"set_attr({attr_name!r})"):
            setattr(env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        engine = self.vector_env.unwrapped
        if isinstance(engine, AsyncVectorEnv) and self._all_indices(indices):
            return list(engine.call(method_name, *method_args, **method_kwargs))
        return [
            getattr(env, method_name)(*method_args, **method_kwargs)
            for env in self._sub_envs(indices, f"env_method({method_name!r})")
        ]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        # The adapter records episodes as Monitor does, which is what callers ask Monitor for
        if wrapper_class is Monitor:
            return [True] * len(list(self._get_indices(indices)))
        if isinstance(self.vector_env.unwrapped, SyncVectorEnv):
            return [is_wrapped(env, wrapper_class) for env in self._sub_envs(indices, "env_is_wrapped")]
        return [False] * len(list(self._get_indices(indices)))


def _copy_obs(obs: Any) -> VecEnvObs:
    """A writable copy of a batch of observations (engines may reuse their arrays)."""
    if isinstance(obs, dict):
        return {key: np.array(value) for key, value in obs.items()}
    return np.array(obs)


def _copy_row(obs: VecEnvObs, idx: int) -> np.ndarray | dict[str, np.ndarray]:
    """A copy of env ``idx``'s (plain or ``Dict``) observation in a batch."""
    if isinstance(obs, dict):
        return {key: np.array(value[idx]) for key, value in obs.items()}
    assert isinstance(obs, np.ndarray)
    return np.array(obs[idx])


def _env_info(batched: dict[str, Any], idx: int) -> dict[str, Any]:
    """Env ``idx``'s entries of a gymnasium batched info dict (its ``_key`` masks say which envs have each key)."""
    info: dict[str, Any] = {}
    for key, value in batched.items():
        if key.startswith("_"):
            continue
        mask = batched.get(f"_{key}")
        if mask is not None and not mask[idx]:
            continue
        if isinstance(value, dict):
            info[key] = _env_info(value, idx)
        elif isinstance(value, (np.ndarray, Sequence)) and len(value) > idx:
            info[key] = value[idx]
    return info
