"""Rollout storage for REINFORCE: whole episodes, carried across rollouts, bounded in memory."""

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_action_dim, get_obs_shape
from stable_baselines3.common.type_aliases import PyTorchObs
from stable_baselines3.common.utils import get_device

from sb3_reinforce.common.returns import discounted_returns, gae_advantages
from sb3_reinforce.common.torch_utils import select_rows

DEFAULT_MAX_STEPS_PER_ENV = 10_000


@dataclasses.dataclass(frozen=True)
class EpisodeBatch:
    """
    The complete episodes of one rollout, flattened in time-major order. A buffer that stores more
    per transition extends it with a field of the same name as its array (see
    ``EpisodicRolloutBuffer.transition_arrays``).

    :param observations: Observation of each transition, ``(n_transitions, *obs_shape)``, or a dict
        of such tensors for ``Dict`` observations
    :param actions: Action of each transition as sampled (before clipping): ``(n_transitions,)`` for
        a ``Discrete`` action space, ``(n_transitions, action_dim)`` otherwise
    :param episode_steps: Index ``t`` of each transition within its episode (for the optional
        ``gamma**t`` weight)
    :param behaviour_log_probs: Log-probability of each carried action under the policy that
        sampled it (read only where ``carried``: the other entries may hold stale values)
    :param carried: Whether each transition was collected in an earlier rollout: the start of an
        episode carried into this one
    :param n_episodes: Episodes (or cut segments of one) that end in this batch
    """

    observations: PyTorchObs
    actions: th.Tensor
    episode_steps: th.Tensor
    behaviour_log_probs: th.Tensor
    carried: th.Tensor
    n_episodes: int

    def select(self, indices: slice | th.Tensor) -> "EpisodeBatch":
        """
        The transitions ``indices`` of every per-transition field (tensors, and dicts of them);
        the other fields (``n_episodes``) are kept as they are.

        :param indices: A slice or an index tensor into the batch's order
        :return: A batch of the same class
        """
        selected: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # Per-transition fields are tensors, or dicts of them (Dict observations)
            if isinstance(value, (dict, th.Tensor)):
                selected[field.name] = select_rows(value, indices)
        return dataclasses.replace(self, **selected)


class EpisodicRolloutBuffer:
    """
    Rollout buffer for Monte-Carlo policy gradients, for plain and ``Dict`` observations.

    A rollout writes at least ``buffer_size`` (the algorithm's ``n_steps``) transitions per env;
    the algorithm then keeps stepping until every env has finished the episode it was in, so
    that training uses only complete episodes. An episode still running in an env at the end of a
    rollout (it started after that env's last episode end) is **carried** into the next rollout,
    where it is finished and trained on. Every trained episode was therefore collected by the
    current policy or the one before it.

    Memory is bounded: each env stores at most ``max_steps_per_env`` transitions. When a rollout
    fills that storage, or an unfinished episode is too long to carry (more than
    ``max_steps_per_env - buffer_size`` transitions), the episode is **cut**: its stored part is
    trained as a segment that ends there, bootstrapped with ``V(s)`` of the next state when a
    critic is used and with 0 otherwise, and the rest of the episode continues as a new segment.

    Time-limit truncations are handled the same way: the return is bootstrapped with
    ``V(terminal_observation)`` when a critic is used, and with 0 otherwise, i.e. without a critic
    the return of a truncated episode is the discounted sum of the rewards it collected.

    Storage is time-major ``(max_steps_per_env, n_envs, ...)`` and every env writes the same row
    at each step. Carried episodes are moved to the front of the arrays, right-aligned so that they
    end on the same row; the rows in front of a shorter carried episode are unused. Arrays are
    allocated once with ``np.zeros`` (lazily committed by the OS), so the resident memory is that of
    the longest rollout seen, at most ``max_steps_per_env`` rows.

    :param buffer_size: Minimum number of transitions per env collected in a rollout (``n_steps``)
    :param observation_space: Observation space
    :param action_space: Action space
    :param device: PyTorch device of the tensors that ``get`` returns
    :param gae_lambda: GAE(lambda) factor of the critic's advantages; 1.0 gives ``G_t - V(s_t)``
    :param gamma: Discount factor
    :param n_envs: Number of parallel environments
    :param max_steps_per_env: Transitions stored per env at most (default:
        ``max(2 * buffer_size, 10_000)``); episodes longer than this are cut as described above.
        Must be at least ``buffer_size``; ``max_steps_per_env == buffer_size`` cuts every rollout
        after ``n_steps`` steps, as A2C does.
    :param store_bootstrap_observations: Keep the observations after truncations and cuts, whose
        critic values bootstrap the returns. Set by the algorithm when it trains a critic.
    :param discard_carried_episodes: Train on no episode that a previous rollout started: the rest of
        such an episode is stored (its env keeps stepping) but left out of the batch.
    :param group_size: Envs per group of shared starts (``baseline="leave_one_out"``), or None. The
        k-th episodes of a group's envs are trained in the same batch: an episode that ends before
        its group's k-th episodes all have is carried, whole, into the next rollout (importance-weighted
        like any carried transition), and ``leave_one_out_baselines`` compares each with the others.
    """

    # The batch type ``get`` returns: a subclass that stores more per transition gives it a field per extra array
    batch_class: ClassVar[type[EpisodeBatch]] = EpisodeBatch
    # Arrays that ``add`` fills from its own arguments; any other array of ``transition_arrays`` comes from ``extras``
    _BASE_ARRAYS: ClassVar[frozenset[str]] = frozenset(
        {"actions", "rewards", "episode_ends", "episode_steps", "reset_steps", "episode_indices"}
    )

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        gae_lambda: float = 1.0,
        gamma: float = 0.99,
        n_envs: int = 1,
        max_steps_per_env: int | None = None,
        store_bootstrap_observations: bool = True,
        discard_carried_episodes: bool = False,
        group_size: int | None = None,
    ):
        if max_steps_per_env is None:
            max_steps_per_env = max(2 * buffer_size, DEFAULT_MAX_STEPS_PER_ENV)
        if max_steps_per_env < buffer_size:
            raise ValueError(
                f"max_steps_per_env={max_steps_per_env} must be at least n_steps={buffer_size}: "
                "a rollout collects n_steps transitions per env"
            )
        self.buffer_size = buffer_size
        self.observation_space = observation_space
        self.action_space = action_space
        self.device = get_device(device)
        self.gae_lambda = gae_lambda
        self.gamma = gamma
        self.n_envs = n_envs
        self.max_steps_per_env = max_steps_per_env
        self.store_bootstrap_observations = store_bootstrap_observations
        self.discard_carried_episodes = discard_carried_episodes
        if group_size is not None and (group_size < 2 or n_envs % group_size):
            raise ValueError(f"group_size={group_size} must be at least 2 and divide n_envs={n_envs}")
        self.group_size = group_size

        self._obs_spaces: dict[str, spaces.Space]
        if isinstance(observation_space, spaces.Dict):
            self._obs_spaces = dict(observation_space.spaces)
        else:
            self._obs_spaces = {"": observation_space}
        self._obs_shapes = {key: get_obs_shape(space) for key, space in self._obs_spaces.items()}
        self.action_dim = get_action_dim(action_space)
        discrete_actions = isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete))
        self._action_dtype = np.int64 if discrete_actions else np.float32

        rows, envs = max_steps_per_env, n_envs
        self.observations = {
            key: np.zeros((rows, envs, *shape), dtype=self._obs_spaces[key].dtype) for key, shape in self._obs_shapes.items()
        }
        self.transitions: dict[str, np.ndarray] = {
            name: np.zeros((rows, envs, *shape), dtype=dtype) for name, (shape, dtype) in self.transition_arrays().items()
        }
        self.reset()

    def transition_arrays(self) -> dict[str, tuple[tuple[int, ...], type]]:
        """
        The arrays stored per transition besides the observations, as ``{name: (shape per env, dtype)}``.
        A subclass adds one entry (and a field of its ``batch_class``), and passes the values to ``add``.
        """
        return {
            "actions": ((self.action_dim,), self._action_dtype),
            "rewards": ((), np.float32),
            "episode_ends": ((), np.bool_),
            "episode_steps": ((), np.int64),
            "behaviour_log_probs": ((), np.float32),
            "reset_steps": ((), np.bool_),
            "episode_indices": ((), np.int64),
        }

    @property
    def actions(self) -> np.ndarray:
        return self.transitions["actions"]

    @property
    def rewards(self) -> np.ndarray:
        return self.transitions["rewards"]

    @property
    def episode_ends(self) -> np.ndarray:
        return self.transitions["episode_ends"]

    @property
    def episode_steps(self) -> np.ndarray:
        return self.transitions["episode_steps"]

    @property
    def behaviour_log_probs(self) -> np.ndarray:
        return self.transitions["behaviour_log_probs"]

    @property
    def reset_steps(self) -> np.ndarray:
        return self.transitions["reset_steps"]

    @property
    def episode_indices(self) -> np.ndarray:
        """Per transition: how many episodes its env had finished before it since the envs were reset."""
        return self.transitions["episode_indices"]

    def reset(self) -> None:
        """Discard everything, carried episodes included (call it whenever the envs are reset)."""
        self.pos = 0
        # Rows before it hold the transitions carried from earlier rollouts
        self._rollout_start = 0
        self.first_row = np.zeros(self.n_envs, dtype=np.int64)
        self._next_episode_step = np.zeros(self.n_envs, dtype=np.int64)
        self._next_episode_index = np.zeros(self.n_envs, dtype=np.int64)
        self._tail_start = np.zeros(self.n_envs, dtype=np.int64)
        self._bootstrap_rows: list[int] = []
        self._bootstrap_envs: list[int] = []
        self._bootstrap_obs: list[np.ndarray | dict[str, np.ndarray]] = []
        self._clear_batch()

    def _clear_batch(self) -> None:
        # Storage row and env of each transition of the batch, in the batch's order
        self._batch_rows = np.zeros(0, dtype=np.int64)
        self._batch_envs = np.zeros(0, dtype=np.int64)
        self._n_episodes = 0
        self._cut_envs = np.zeros(0, dtype=np.int64)

    @property
    def full(self) -> bool:
        """Whether the storage of the envs is exhausted, so the rollout must end."""
        return self.pos >= self.max_steps_per_env

    @property
    def nbytes(self) -> int:
        """
        Bytes of the transition storage (``max_steps_per_env`` rows of every env): the bound on
        the memory of stored transitions, whatever the episodes' length.
        """
        return sum(array.nbytes for array in self._arrays())

    def _arrays(self) -> list[np.ndarray]:
        """Every per-transition array, observations included."""
        return [*self.observations.values(), *self.transitions.values()]

    @property
    def n_transitions(self) -> int:
        """Number of transitions of the complete episodes ready for training."""
        return len(self._batch_rows)

    @property
    def n_episodes(self) -> int:
        """Number of episodes (or cut segments of one) ending in the batch ready for training."""
        return self._n_episodes

    @property
    def n_cut_segments(self) -> int:
        """Number of the batch's segments that end where an episode was cut at the memory bound."""
        return len(self._cut_envs)

    def start_rollout(self) -> None:
        """Move the episodes carried over from the previous rollout to the front of the storage."""
        tail_lengths = self.pos - self._tail_start
        new_pos = int(tail_lengths.max(initial=0))
        for env in np.flatnonzero(tail_lengths):
            length, start = int(tail_lengths[env]), int(self._tail_start[env])
            destination = slice(new_pos - length, new_pos)
            source = slice(start, start + length)
            for array in self._arrays():
                array[destination, env] = array[source, env]
        # The bootstrap observations of carried episodes that ended (truncated) and wait for their
        # group, moved with their rows; an unfinished carried episode has none yet
        kept = [
            (row - int(self._tail_start[env]) + new_pos - int(tail_lengths[env]), env, obs)
            for row, env, obs in zip(self._bootstrap_rows, self._bootstrap_envs, self._bootstrap_obs, strict=True)
            if row >= self._tail_start[env]
        ]
        self.first_row = new_pos - tail_lengths
        self.pos = self._rollout_start = new_pos
        self._tail_start = np.full(self.n_envs, new_pos, dtype=np.int64)
        self._bootstrap_rows = [row for row, _, _ in kept]
        self._bootstrap_envs = [env for _, env, _ in kept]
        self._bootstrap_obs = [obs for _, _, obs in kept]
        self._clear_batch()

    def add(
        self,
        obs: np.ndarray | dict[str, np.ndarray],
        actions: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        truncation_observations: dict[int, np.ndarray | dict[str, np.ndarray]],
        reset_steps: np.ndarray | None = None,
        **extras: np.ndarray,
    ) -> None:
        """
        Store one step of all envs.

        :param obs: Observations the actions were taken in
        :param actions: Actions as sampled by the policy (before clipping)
        :param rewards: Rewards of the step
        :param dones: Whether each env's episode ended with this step
        :param truncation_observations: Terminal observation of each env whose episode was
            truncated by a time limit at this step, keyed by env index
        :param reset_steps: Whether each env spent this step resetting, ignoring its action (a
            vector env that resets on the step after an episode's end, which flags that step with
            ``done``): such steps are stored as one-step episodes that are never trained on.
            None: no env did.
        :param extras: The values of the subclass's other ``transition_arrays``, by name, one row per env
        """
        row = self.pos
        obs_dict = obs if isinstance(obs, dict) else {"": obs}
        for key, value in obs_dict.items():
            self.observations[key][row] = value.reshape((self.n_envs, *self._obs_shapes[key]))
        self.actions[row] = actions.reshape((self.n_envs, self.action_dim))
        self.rewards[row] = rewards
        self.episode_ends[row] = dones
        self.episode_steps[row] = self._next_episode_step
        self.reset_steps[row] = False if reset_steps is None else reset_steps
        self.episode_indices[row] = self._next_episode_index
        for name, value in extras.items():
            self.transitions[name][row] = value.reshape(self.transitions[name].shape[1:])
        self._next_episode_step += 1
        self._next_episode_step[dones] = 0
        self._next_episode_index += dones
        if self.store_bootstrap_observations:
            for env, terminal_obs in truncation_observations.items():
                self._add_bootstrap(row, env, terminal_obs)
        self.pos += 1

    def _add_bootstrap(self, row: int, env: int, obs: np.ndarray | dict[str, np.ndarray]) -> None:
        self._bootstrap_rows.append(row)
        self._bootstrap_envs.append(env)
        self._bootstrap_obs.append(obs)

    def finish_rollout(self, last_obs: np.ndarray | dict[str, np.ndarray]) -> None:
        """
        Select the complete episodes for training, cut the unfinished ones that are too long to
        carry, and keep the rest for the next rollout.

        :param last_obs: Current observation of every env (the state after the last stored step)
        """
        pos = self.pos
        rows = np.arange(pos)[:, None]
        ends = self.episode_ends[:pos]
        trainable_ends = ends & (rows >= self.first_row)
        if self.group_size is not None:
            # Only the episodes that every env of the group has finished: the others wait, carried
            finished = np.where(ends, self.episode_indices[:pos] + 1, 0).max(axis=0, initial=0)
            group_finished = finished.reshape(-1, self.group_size).min(axis=1).repeat(self.group_size)
            trainable_ends &= self.episode_indices[:pos] < group_finished
        # Last stored row of each env's last trainable episode (first_row - 1 when none)
        last_end = np.where(trainable_ends, rows, -1).max(axis=0, initial=-1)
        last_end = np.maximum(last_end, self.first_row - 1)
        too_long = (pos - 1 - last_end) > self.max_steps_per_env - self.buffer_size
        if self.group_size is not None and too_long.any():
            raise ValueError(
                f"env {int(np.flatnonzero(too_long)[0])} stored more than max_steps_per_env - n_steps = "
                f"{self.max_steps_per_env - self.buffer_size} transitions while its group's episodes ran: a group's "
                "episodes are never cut. Raise rollout_buffer_kwargs=dict(max_steps_per_env=...)"
            )
        for env in np.flatnonzero(too_long):
            ends[pos - 1, env] = True
            last_end[env] = pos - 1
            if self.store_bootstrap_observations:
                env_obs = {k: v[env] for k, v in last_obs.items()} if isinstance(last_obs, dict) else last_obs[env]
                self._add_bootstrap(pos - 1, int(env), env_obs)
        first_trained_row = self.first_row
        if self.discard_carried_episodes:
            # The rows up to the end of each env's carried episode (if it has one) are not trained
            carried = self.first_row < self._rollout_start
            first_trained_row = np.where(carried, self._first_episode_end() + 1, self.first_row)
        train_mask = (rows >= first_trained_row) & (rows <= last_end) & ~self.reset_steps[:pos]
        self._batch_rows, self._batch_envs = np.nonzero(train_mask)
        self._tail_start = last_end + 1
        self._n_episodes = int(ends[train_mask].sum())
        self._cut_envs = np.flatnonzero(too_long)

    def get(self) -> EpisodeBatch:
        """
        :return: The complete episodes selected by ``finish_rollout``, as tensors.
        """
        return self.batch_class(**self._batch_fields())

    def _batch_fields(self) -> dict[str, Any]:
        """The fields of the batch that ``get`` returns, by name (a subclass adds its own)."""
        return {**self._transition_fields(self._batch_rows, self._batch_envs), "n_episodes": self._n_episodes}

    def _transition_fields(self, rows: np.ndarray, envs: np.ndarray) -> dict[str, Any]:
        """The per-transition fields of the transitions at ``(rows, envs)`` of the storage, as tensors."""

        def select(array: np.ndarray) -> th.Tensor:
            return self._to_torch(array[rows, envs])

        observations = {key: select(array) for key, array in self.observations.items()}
        extras = {name: select(self.transitions[name]) for name in self.transitions.keys() - self._BASE_ARRAYS}
        actions = select(self.actions)
        return {
            "observations": observations if isinstance(self.observation_space, spaces.Dict) else observations[""],
            # Discrete actions as a vector, as SB3's distributions take them
            "actions": actions.flatten() if isinstance(self.action_space, spaces.Discrete) else actions,
            "episode_steps": select(self.episode_steps),
            "carried": self._to_torch(rows < self._rollout_start),
            **extras,
        }

    def _tail(self) -> tuple[np.ndarray, np.ndarray]:
        """Storage rows and envs of the transitions that the next rollout carries (after each env's last end)."""
        rows = np.arange(self.pos)[:, None]
        tail_rows, tail_envs = np.nonzero((rows >= self._tail_start) & (rows < self.pos))
        return tail_rows, tail_envs

    def tail_batch(self) -> EpisodeBatch:
        """
        The transitions of the unfinished episodes that the next rollout will carry (those after
        each env's last episode end), as a batch, so that the collecting policy's log-probabilities
        can be stored for them before an update changes it (``set_tail_behaviour_log_probs``).
        """
        return self.batch_class(**self._transition_fields(*self._tail()), n_episodes=0)

    def set_tail_behaviour_log_probs(self, log_probs: np.ndarray) -> None:
        """
        Store the collecting policy's log-probabilities of ``tail_batch()``'s actions.

        :param log_probs: One log-probability per transition of ``tail_batch()``, in its order
        """
        self.behaviour_log_probs[self._tail()] = log_probs

    def _first_episode_end(self) -> np.ndarray:
        """Per env, the row where its first stored episode (or segment) ends; ``pos`` if it has not ended."""
        rows = np.arange(self.pos)[:, None]
        ends = self.episode_ends[: self.pos] & (rows >= self.first_row)
        return np.where(ends.any(axis=0), ends.argmax(axis=0), self.pos)

    def importance_weights(self, carried_log_ratios: np.ndarray) -> np.ndarray:
        """
        Per-decision importance weights of the batch's transitions, for episodes whose start an
        earlier policy collected: ``w_t = prod_{k <= t, k carried} pi(a_k|s_k) / mu(a_k|s_k)``, the
        ratio of the current to the collecting policy's probabilities of the episode's carried actions
        up to ``t``. A transition after the carried part takes the whole prefix's ratio; one of an
        episode with no carried part takes 1.

        :param carried_log_ratios: ``log pi - log mu`` of each carried transition, in batch order
        :return: ``w_t`` of every transition, in batch order
        """
        carried = self._batch_rows < self._rollout_start
        log_weights = np.zeros((self.pos, self.n_envs), dtype=np.float64)
        log_weights[self._batch_rows[carried], self._batch_envs[carried]] = carried_log_ratios
        # Carried transitions are the first rows of each env (its first episode's, or with groups,
        # several whole episodes'): a running sum over rows, restarted after each episode end, is
        # the log-weight of each row's episode up to that row
        cumulative = np.cumsum(log_weights, axis=0)
        rows = np.arange(self.pos)[:, None]
        previous_end = np.maximum.accumulate(np.where(self.episode_ends[: self.pos], rows, -1), axis=0)
        # The end before each row's episode (-1: none stored), whose running sum the episode starts from
        previous_end = np.vstack([np.full((1, self.n_envs), -1), previous_end[:-1]])
        envs = np.arange(self.n_envs)[None, :]
        episode_start_sum = np.where(previous_end >= 0, cumulative[previous_end, envs], 0.0)
        weights = np.exp(cumulative - episode_start_sum)
        return weights[self._batch_rows, self._batch_envs]

    def leave_one_out_baselines(self, returns: np.ndarray) -> np.ndarray:
        """
        The leave-one-out baseline of each transition of the batch (``group_size`` set): the mean,
        over the other envs of its group, of the reward-to-go at the same step of their episode with
        the same index (0 past that episode's end). It is a function of other episodes only, which
        the transition's own actions do not affect, so the gradient stays unbiased.

        :param returns: The batch's returns (reward-to-go), in ``get()`` order
        :return: The baselines, in ``get()`` order
        :raises ValueError: When a group's episodes of the same index did not all start from the same
            observation (their starts are not shared)
        """
        assert self.group_size is not None, "leave-one-out baselines need groups (group_size)"
        rows, envs = self._batch_rows, self._batch_envs
        groups = envs // self.group_size
        episodes = self.episode_indices[rows, envs]
        steps = self.episode_steps[rows, envs]
        self._check_shared_starts(rows, envs, groups, episodes, steps)
        _, key = np.unique(np.stack([groups, episodes, steps]), axis=1, return_inverse=True)
        sums = np.bincount(key.ravel(), weights=returns)
        return (sums[key.ravel()] - returns) / (self.group_size - 1)

    def _check_shared_starts(
        self, rows: np.ndarray, envs: np.ndarray, groups: np.ndarray, episodes: np.ndarray, steps: np.ndarray
    ) -> None:
        """Raise ``ValueError`` unless the first observations of each group's episodes of one index are equal."""
        first = steps == 0
        if not first.any():
            return
        _, first_of_key, key = np.unique(
            np.stack([groups[first], episodes[first]]), axis=1, return_index=True, return_inverse=True
        )
        key = key.ravel()
        if np.any(np.bincount(key) != self.group_size):
            raise ValueError("a group's episodes of one index are not all in the batch: were some cut?")
        for name, observations in self.observations.items():
            starts = observations[rows[first], envs[first]].reshape(int(first.sum()), -1)
            differs = ~(starts == starts[first_of_key[key]]).all(axis=1)
            if differs.any():
                index = int(np.flatnonzero(differs)[0])
                env, reference = int(envs[first][index]), int(envs[first][first_of_key[key[index]]])
                what = f"observation[{name!r}]" if name else "observation"
                raise ValueError(
                    f"envs {reference} and {env} of group {int(groups[first][index])} started their episode "
                    f"{int(episodes[first][index])} from different first {what}s: baseline='leave_one_out' needs "
                    "the episodes of a group to share their starts (make the envs with make_grouped_vec_env, whose "
                    "SharedStarts wrapper resets them from the group's seeds, and draw all of reset's randomness "
                    "from its seed)"
                )

    def bootstrap_observations(self) -> PyTorchObs | None:
        """
        :return: The observations after each truncation or cut of the batch (whose critic values
            ``compute_returns_and_advantages`` takes), or None when there is none.
        """
        if not self._bootstrap_obs:
            return None
        if isinstance(self.observation_space, spaces.Dict):
            return {
                key: self._to_torch(np.stack([obs[key] for obs in self._bootstrap_obs])).reshape(-1, *shape)
                for key, shape in self._obs_shapes.items()
            }
        return self._to_torch(np.stack(self._bootstrap_obs)).reshape(-1, *self._obs_shapes[""])  # type: ignore[arg-type]

    def compute_returns_and_advantages(
        self,
        values: np.ndarray | None = None,
        bootstrap_values: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """
        Monte-Carlo returns of the batch and, with a critic, its advantages.

        :param values: Critic values ``V(s_t)`` of the batch, in ``get()`` order, or None
            without a critic.
        :param bootstrap_values: ``V(s)`` of ``bootstrap_observations()``, in order, or None
            (then truncated episodes and cut segments bootstrap with 0).
        :param weights: Per-decision importance weights ``w_t`` of the batch (``importance_weights``),
            or None for all 1: each reward, value and bootstrap value enters the advantages times the
            weight of its transition.
        :return: ``(returns, advantages)`` flat in ``get()`` order: the returns as collected (the
            critic's targets), and the advantages. Without a critic the advantages are the (weighted)
            returns (the algorithm subtracts any other baseline, times the weights).
        """
        pos, batch = self.pos, (self._batch_rows, self._batch_envs)
        bootstrap = np.zeros((pos, self.n_envs), dtype=np.float64)
        if bootstrap_values is not None:
            bootstrap[self._bootstrap_rows, self._bootstrap_envs] = bootstrap_values
        rewards, ends = self.rewards[:pos], self.episode_ends[:pos]
        returns = discounted_returns(rewards, ends, bootstrap, self.gamma)
        value_grid = np.zeros((pos, self.n_envs), dtype=np.float64)
        if values is not None:
            value_grid[batch] = values
        weighted_returns = returns
        if weights is not None:
            # Per-decision importance sampling: the reward, value and bootstrap of step k count w_k times
            weight_grid = np.ones((pos, self.n_envs), dtype=np.float64)
            weight_grid[batch] = weights
            rewards, bootstrap, value_grid = rewards * weight_grid, bootstrap * weight_grid, value_grid * weight_grid
            weighted_returns = discounted_returns(rewards, ends, bootstrap, self.gamma)
        if values is None:
            return returns[batch], weighted_returns[batch]
        if self.gae_lambda == 1.0:
            advantages = weighted_returns - value_grid
        else:
            advantages = gae_advantages(rewards, value_grid, ends, bootstrap, self.gamma, self.gae_lambda)
        return returns[batch], advantages[batch]

    def _to_torch(self, array: np.ndarray) -> th.Tensor:
        return th.as_tensor(array, device=self.device)
