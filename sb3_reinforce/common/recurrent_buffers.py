"""Episodic rollout storage for recurrent policies: the batch as whole sequences, replayed from their first step."""

import dataclasses
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import PyTorchObs

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer


@dataclasses.dataclass(frozen=True)
class RecurrentEpisodeBatch(EpisodeBatch):
    """
    An ``EpisodeBatch`` grouped into **sequences**: each episode, or each segment of an episode cut
    at the memory bound, with its steps consecutive in the batch's order. Sequences are sorted by
    length, shortest first, so that sequences evaluated together need little padding.

    ``select`` does not slice the transitions: it records which of them an evaluation returns
    (``selected``), since evaluating a transition replays its sequence from the first step.

    :param observations: As in :class:`~sb3_reinforce.common.buffers.EpisodeBatch`, in sequence order
    :param actions: As in ``EpisodeBatch``
    :param episode_steps: As in ``EpisodeBatch``
    :param behaviour_log_probs: Log-probability of each action under the policy that sampled it
        (RecurrentREINFORCE stores it at every step)
    :param carried: As in ``EpisodeBatch``
    :param n_episodes: As in ``EpisodeBatch``
    :param sequence_ids: The sequence of each transition, ``(n_transitions,)``
    :param sequence_starts: Index of each sequence's first transition, ``(n_sequences,)``
    :param sequence_lengths: Transitions of each sequence, ``(n_sequences,)``
    :param sequence_bootstraps: Index in ``bootstrap_observations`` of the observation after each
        sequence's last step, -1 for none
    :param bootstrap_observations: Observations after the truncations and cuts, whose critic values
        bootstrap the returns (None: none)
    :param initial_states: LSTM states each sequence starts from, ``(4, n_layers, n_sequences, hidden)``
        (actor hidden and cell, critic hidden and cell): zeros at an episode's start, the state
        reached at the cut for the rest of a cut episode. None: zeros for every sequence.
    :param selection: The transitions that evaluations of this batch return, in order (None: all)
    """

    sequence_ids: th.Tensor
    sequence_starts: th.Tensor
    sequence_lengths: th.Tensor
    sequence_bootstraps: th.Tensor
    bootstrap_observations: PyTorchObs | None
    initial_states: th.Tensor | None
    selection: th.Tensor | slice | None = None

    def select(self, indices: slice | th.Tensor) -> "RecurrentEpisodeBatch":
        """
        The batch, with the transitions ``indices`` of the current selection selected.

        :param indices: A slice or an index tensor into the current selection (into the whole
            batch when nothing is selected yet)
        :return: A copy of the batch with ``selection`` narrowed; its tensors are not sliced
        """
        return dataclasses.replace(self, selection=indices if self.selection is None else self.selected[indices])

    @property
    def selected(self) -> th.Tensor:
        """Indices of the selected transitions, in order."""
        every = th.arange(len(self.actions), device=self.actions.device)
        return every if self.selection is None else every[self.selection]


class RecurrentEpisodicRolloutBuffer(EpisodicRolloutBuffer):
    """
    :class:`~sb3_reinforce.common.buffers.EpisodicRolloutBuffer` for recurrent policies: its batch
    (:class:`RecurrentEpisodeBatch`) orders the transitions by sequence, and it keeps the LSTM
    states that the rest of an episode cut at the memory bound starts from (``finish_rollout``'s
    ``lstm_states``), until that segment is trained. Carried episodes are stored from their first
    step, so they are replayed from it.

    Takes the arguments of ``EpisodicRolloutBuffer``.
    """

    batch_class = RecurrentEpisodeBatch

    def reset(self) -> None:
        super().reset()
        # Per env: the LSTM states its first sequence of the next batch starts from (None: all zeros)
        self._start_states: np.ndarray | None = None
        self._sequence_ids = np.zeros(0, dtype=np.int64)
        self._sequence_lengths = np.zeros(0, dtype=np.int64)
        self._sequence_bootstraps = np.zeros(0, dtype=np.int64)
        self._initial_states: np.ndarray | None = None

    def finish_rollout(self, last_obs: np.ndarray | dict[str, np.ndarray], lstm_states: np.ndarray | None = None) -> None:
        """
        Select the complete episodes for training as ``EpisodicRolloutBuffer`` does, and order them
        by sequence.

        :param last_obs: Current observation of every env (the state after the last stored step)
        :param lstm_states: The policy's current LSTM states, ``(4, n_layers, n_envs, hidden)``:
            those of the envs whose episode is cut here start its next segment. None: zeros.
        """
        super().finish_rollout(last_obs)
        # Env-major: the steps of each sequence are consecutive, in time order
        env_major = np.lexsort((self._batch_rows, self._batch_envs))
        rows, envs = self._batch_rows[env_major], self._batch_envs[env_major]
        # Every env's trained transitions end with an episode end (or a cut), so a sequence starts after each end
        starts = np.ones(len(rows), dtype=bool)
        starts[1:] = self.episode_ends[rows[:-1], envs[:-1]]
        sequence_ids = np.cumsum(starts) - 1
        lengths = np.bincount(sequence_ids, minlength=int(starts.sum()))

        initial_states = None
        if self._start_states is not None:
            initial_states = np.zeros((*self._start_states.shape[:2], len(lengths), self._start_states.shape[3]), np.float32)
            # An env's first sequence continues what it was running when the batch's rollout started
            first_rows, first_envs = rows[starts], envs[starts]
            continues = first_rows == self.first_row[first_envs]
            initial_states[:, :, continues] = self._start_states[:, :, first_envs[continues]]
            # Used: the envs' next sequences start at an episode start, except after a cut
            self._start_states[:, :, np.unique(envs)] = 0.0
        if lstm_states is not None and len(self._cut_envs):
            if self._start_states is None:
                self._start_states = np.zeros_like(lstm_states, dtype=np.float32)
            self._start_states[:, :, self._cut_envs] = lstm_states[:, :, self._cut_envs]

        # Shortest sequences first, each still in time order
        by_length = np.argsort(lengths, kind="stable")
        rank = np.empty_like(by_length)
        rank[by_length] = np.arange(len(by_length))
        order = np.argsort(rank[sequence_ids], kind="stable")
        self._batch_rows, self._batch_envs = rows[order], envs[order]
        self._sequence_ids = rank[sequence_ids][order]
        self._sequence_lengths = lengths[by_length]
        self._initial_states = None if initial_states is None else initial_states[:, :, by_length]

        # The bootstrap observation of a truncation or cut follows the last step of the sequence it ends
        sequence_ends = np.cumsum(self._sequence_lengths) - 1
        sequence_of_end = {
            (int(row), int(env)): sequence
            for sequence, (row, env) in enumerate(
                zip(self._batch_rows[sequence_ends], self._batch_envs[sequence_ends], strict=True)
            )
        }
        self._sequence_bootstraps = np.full(len(lengths), -1, dtype=np.int64)
        for index, (row, env) in enumerate(zip(self._bootstrap_rows, self._bootstrap_envs, strict=True)):
            self._sequence_bootstraps[sequence_of_end[(row, env)]] = index

    def tail_batch(self) -> EpisodeBatch:
        """Not for recurrent policies: their tail is partial sequences, whose replay needs states of its own."""
        raise NotImplementedError(
            "RecurrentEpisodicRolloutBuffer has no tail batch: "
            "RecurrentREINFORCE stores the behaviour log-probabilities at each step"
        )

    def _batch_fields(self) -> dict[str, Any]:
        return {
            **super()._batch_fields(),
            "sequence_ids": self._to_torch(self._sequence_ids),
            "sequence_starts": self._to_torch(np.cumsum(self._sequence_lengths) - self._sequence_lengths),
            "sequence_lengths": self._to_torch(self._sequence_lengths),
            "sequence_bootstraps": self._to_torch(self._sequence_bootstraps),
            "bootstrap_observations": self.bootstrap_observations(),
            "initial_states": None if self._initial_states is None else self._to_torch(self._initial_states),
        }
