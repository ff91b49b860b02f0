"""RecurrentREINFORCE: REINFORCE with LSTM policies, back-propagating through every episode from its first step."""

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, TypeVar

import numpy as np
import torch as th
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback, PyTorchObs
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodicRolloutBuffer
from sb3_reinforce.common.recurrent_buffers import RecurrentEpisodeBatch, RecurrentEpisodicRolloutBuffer
from sb3_reinforce.common.torch_utils import select_rows
from sb3_reinforce.common.vec_env import AnyEnv
from sb3_reinforce.reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_recurrent.policies import (
    DEFAULT_FORGET_BIAS,
    CnnLstmPolicy,
    MlpLstmPolicy,
    MultiInputLstmPolicy,
    add_forget_gate_bias,
)

SelfRecurrentREINFORCE = TypeVar("SelfRecurrentREINFORCE", bound="RecurrentREINFORCE")

# Largest ratio of a replay group's widest sequence to its shortest: padding is at most half the
# group's steps. The backward pass keeps the activations of all the groups of a chunk, so a chunk
# replays at most 1.5 times its steps, whatever the mix of episode lengths (grouped by padded area
# alone, 7394 transitions of 1- to 2730-step episodes made 4 groups of about 8192 steps each)
GROUP_WIDTH_RATIO = 1.5


class Replay(NamedTuple):
    """Sequences of a batch laid out for one call of a recurrent policy: ``n`` sequences of ``width`` steps, padded."""

    observations: PyTorchObs
    """``n * width`` observations, sequence after sequence (the layout sb3-contrib's policies reshape)."""
    actions: th.Tensor
    lstm_states: RNNStates
    episode_starts: th.Tensor
    """All zeros: each sequence starts from its own state, so the policy runs one LSTM call."""
    transitions: th.Tensor
    """``(n, width)``: the batch index of each step's transition (padding repeats transition 0)."""
    in_sequence: th.Tensor
    """``(n, width)``: which steps are the sequences' transitions (the others are padding)."""
    after_last: th.Tensor
    """``(n, width)``: the step after a sequence's last one, where its bootstrap observation is."""


class SelectedReplay(NamedTuple):
    """One policy call of an evaluation of selected transitions: the replay of some of their sequences."""

    replay: Replay
    positions: th.Tensor
    """Where each of its selected transitions is among the replay's ``n * width`` steps."""
    selection: th.Tensor
    """The index of each of them among the selected transitions."""


class RecurrentREINFORCE(REINFORCE):
    """
    REINFORCE with recurrent (LSTM) policies, sb3-contrib's ``RecurrentActorCriticPolicy`` family.

    Collection carries each env's LSTM states and resets them at episode starts, as RecurrentPPO
    does. The update replays every complete episode **from its first step** with a zero state,
    batched over episodes of similar lengths and padded (one LSTM call per group, no loop over
    steps), so the policy gradient back-propagates through the whole episode: an action's gradient
    reaches every observation before it. RecurrentPPO instead starts each sequence chunk from a stored state
    without gradient, cutting the backpropagation at its rollout and minibatch boundaries.

    The buffer, baselines, truncation rules and Monte-Carlo returns are REINFORCE's. An episode
    carried into the next rollout is replayed from its true start. An episode longer than the memory
    bound (``max_steps_per_env``) is cut: the next segment is replayed from the LSTM state reached at
    the cut, without gradient through it (truncated backpropagation there only), and the critic
    bootstraps the cut as for feed-forward policies. Losses and advantage standardization cover the
    transitions only, never padding.

    ``batch_size`` minibatches hold whole episodes (about ``batch_size`` transitions each). Without
    a critic (``baseline="none"`` or ``"mean"``) the policy builds no critic LSTM unless
    ``policy_kwargs`` asks for one. ``policy_kwargs`` takes sb3-contrib's LSTM settings
    (``lstm_hidden_size``, ``n_lstm_layers``, ``shared_lstm``, ``enable_critic_lstm``,
    ``lstm_kwargs``) and one more, ``lstm_forget_bias`` (default 1.0): added to the LSTMs'
    forget-gate biases at construction, so that memories and their gradients last beyond a few
    steps from the start (0 gives PyTorch's initialization, which sb3-contrib's RecurrentPPO uses).

    Evaluate and predict as with RecurrentPPO: ``predict(obs, state, episode_start, deterministic)``,
    or SB3's ``evaluate_policy``.

    :param policy: The policy model to use (MlpLstmPolicy, CnnLstmPolicy, MultiInputLstmPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param kwargs: REINFORCE's other arguments
    """

    policy: RecurrentActorCriticPolicy
    policy_base: ClassVar[type[BasePolicy]] = RecurrentActorCriticPolicy
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpLstmPolicy": MlpLstmPolicy,
        "CnnLstmPolicy": CnnLstmPolicy,
        "MultiInputLstmPolicy": MultiInputLstmPolicy,
    }
    default_rollout_buffer_class: ClassVar[type[EpisodicRolloutBuffer]] = RecurrentEpisodicRolloutBuffer

    def __init__(self, policy: str | type[ActorCriticPolicy], env: AnyEnv | str, **kwargs: Any):
        _check_policy_kwargs(kwargs.get("policy_kwargs") or {})
        if kwargs.get("baseline") == "leave_one_out":
            # Its buffer replays a carried episode from its start, one per env, where groups carry several
            raise ValueError("RecurrentREINFORCE does not take baseline='leave_one_out': use REINFORCE or MaskableREINFORCE")
        super().__init__(policy, env, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        self._last_lstm_states = self._zero_lstm_states(self.n_envs)

    def _excluded_save_params(self) -> list[str]:
        # The envs' states within their episodes: a loaded model starts new episodes
        return [*super()._excluded_save_params(), "_last_lstm_states"]

    def _make_policy(self) -> ActorCriticPolicy:
        policy_kwargs = dict(self.policy_kwargs)
        forget_bias = policy_kwargs.pop("lstm_forget_bias", DEFAULT_FORGET_BIAS)
        # Without a critic, a critic LSTM would only be trained on nothing
        policy_kwargs.setdefault("enable_critic_lstm", self.uses_critic and not policy_kwargs.get("shared_lstm", False))
        policy = self.policy_class(
            self.observation_space, self.action_space, self.lr_schedule, use_sde=self.use_sde, **policy_kwargs
        )
        add_forget_gate_bias(policy, forget_bias)  # type: ignore[arg-type]
        return policy  # type: ignore[return-value]

    def _zero_lstm_states(self, n: int) -> RNNStates:
        n_layers, _, hidden = self.policy.lstm_hidden_state_shape
        zeros = th.zeros((n_layers, n, hidden), device=self.device)
        return RNNStates((zeros, zeros), (zeros, zeros))

    def _on_envs_reset(self) -> None:
        super()._on_envs_reset()
        self._last_lstm_states = self._zero_lstm_states(self.n_envs)

    def _sample_actions(self, env: VecEnv, observations: PyTorchObs) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        episode_starts = th.as_tensor(self._last_episode_starts, dtype=th.float32, device=self.device)
        states = self._last_lstm_states
        with th.no_grad():
            if self.uses_critic:
                # The critic's LSTM steps too: its state starts the rest of an episode cut at the rollout's end
                actions, _, log_probs, self._last_lstm_states = self.policy(observations, states, episode_starts)
            else:
                distribution, actor_states = self.policy.get_distribution(observations, states.pi, episode_starts)  # type: ignore[arg-type]
                actions = distribution.get_actions()
                log_probs = distribution.log_prob(actions)
                self._last_lstm_states = RNNStates(actor_states, states.vf)
        return actions.cpu().numpy(), {"behaviour_log_probs": log_probs.cpu().numpy()}

    def _store_behaviour_log_probs(self, rollout_buffer: EpisodicRolloutBuffer) -> None:
        """
        Nothing to do: ``_sample_actions`` stores every action's log-probability, which the LSTM
        call of the step gives at little cost, where evaluating the carried episodes after the
        rollout would need a replay of their own.
        """

    def _state_at_rollout_end(self) -> dict[str, np.ndarray]:
        states = self._last_lstm_states
        return {"lstm_states": th.stack([*states.pi, *states.vf]).cpu().numpy()}

    def _replay(self, batch: RecurrentEpisodeBatch, sequences: th.Tensor, width: int) -> Replay:
        """The first ``width`` steps of ``sequences``, with the bootstrap observation after a sequence's last step."""
        steps = th.arange(width, device=self.device)
        lengths = batch.sequence_lengths[sequences]
        in_sequence = steps < lengths[:, None]
        # Padding repeats transition 0: causal LSTM outputs at real steps never see it
        transitions = th.where(in_sequence, batch.sequence_starts[sequences, None] + steps, 0)
        rows = transitions.flatten()
        observations = select_rows(batch.observations, rows)
        bootstrap_index = batch.sequence_bootstraps[sequences]
        after_last = (steps == lengths[:, None]) & (bootstrap_index[:, None] >= 0)
        if batch.bootstrap_observations is not None and after_last.any():
            _place(
                observations,
                after_last.flatten(),
                select_rows(batch.bootstrap_observations, bootstrap_index[after_last.any(dim=1)]),
            )
        if batch.initial_states is None:
            lstm_states = self._zero_lstm_states(len(sequences))
        else:
            actor_hidden, actor_cell, critic_hidden, critic_cell = batch.initial_states[:, :, sequences]
            lstm_states = RNNStates((actor_hidden, actor_cell), (critic_hidden, critic_cell))
        episode_starts = th.zeros(len(rows), device=self.device)
        return Replay(observations, batch.actions[rows], lstm_states, episode_starts, transitions, in_sequence, after_last)

    def _selected_replay(self, batch: EpisodeBatch) -> list[SelectedReplay]:
        """
        The replays of the sequences of the batch's selected transitions, each sequence up to its
        last selected step, in groups of similar widths (``_sequence_groups``): a long sequence is
        not padded into every short one selected with it.

        :param batch: The batch, with the transitions to evaluate selected
        :return: Per group, its replay, where its selected transitions are in it and their indices in the selection
        """
        assert isinstance(batch, RecurrentEpisodeBatch)
        selected = batch.selected
        sequence_ids = batch.sequence_ids[selected]
        steps = selected - batch.sequence_starts[sequence_ids]
        sequences, local_ids = th.unique(sequence_ids, return_inverse=True)
        widths = th.zeros_like(sequences).scatter_reduce_(0, local_ids, steps + 1, reduce="amax")
        # Sequences come sorted by length, but a chunk may end inside one: sort by the steps replayed
        by_width = th.argsort(widths, stable=True)
        replays = []
        for group in self._sequence_groups(widths[by_width]):
            members = by_width[group]
            width = int(widths[members[-1]])
            # Each sequence's row in this group's replay, -1 outside it
            rows = th.full_like(sequences, -1)
            rows[members] = th.arange(len(members), device=self.device)
            selection = th.nonzero(rows[local_ids] >= 0).flatten()
            positions = rows[local_ids[selection]] * width + steps[selection]
            replays.append(SelectedReplay(self._replay(batch, sequences[members], width), positions, selection))
        return replays

    def _evaluate_groups(
        self, batch: EpisodeBatch, evaluate: Callable[[Replay], tuple[th.Tensor | None, ...]]
    ) -> tuple[th.Tensor | None, ...]:
        """
        Run ``evaluate`` on each replay of ``_selected_replay`` (one policy call each) and gather its
        outputs at the selected transitions, in their order.

        :param batch: The batch, with the transitions to evaluate selected
        :param evaluate: Outputs of a policy call on a replay, one value per replayed step (or None)
        :return: Each output at the selected transitions, flattened (None where ``evaluate`` gave None)
        """
        outputs: list[list[th.Tensor | None]] = []
        selections = []
        for replay, positions, selection in self._selected_replay(batch):
            outputs.append([None if output is None else output.flatten()[positions] for output in evaluate(replay)])
            selections.append(selection)
        # Back from group order to the selection's
        order = th.argsort(th.cat(selections))
        gathered: list[th.Tensor | None] = []
        for parts in zip(*outputs, strict=True):
            tensors = [part for part in parts if part is not None]
            gathered.append(th.cat(tensors)[order] if len(tensors) == len(parts) else None)
        return tuple(gathered)

    def _evaluate_actions(self, batch: EpisodeBatch) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        def evaluate(replay: Replay) -> tuple[th.Tensor | None, ...]:
            if not self.uses_critic:
                observations, states = replay.observations, replay.lstm_states.pi
                distribution, _ = self.policy.get_distribution(observations, states, replay.episode_starts)  # type: ignore[arg-type]
                return None, distribution.log_prob(replay.actions), distribution.entropy()
            return self.policy.evaluate_actions(
                replay.observations,  # type: ignore[arg-type]
                replay.actions,
                replay.lstm_states,
                replay.episode_starts,
            )

        values, log_prob, entropy = self._evaluate_groups(batch, evaluate)
        assert log_prob is not None
        return values, log_prob, entropy

    def _evaluate_values(self, batch: EpisodeBatch) -> th.Tensor:
        def evaluate(replay: Replay) -> tuple[th.Tensor | None, ...]:
            return (self.policy.predict_values(replay.observations, replay.lstm_states.vf, replay.episode_starts),)  # type: ignore[arg-type]

        (values,) = self._evaluate_groups(batch, evaluate)
        assert values is not None
        return values

    def _critic_values(self, batch: EpisodeBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """The critic's values of every sequence, replayed with its bootstrap observation, ``chunk_size`` steps at a time."""
        assert isinstance(batch, RecurrentEpisodeBatch)
        values = th.zeros(len(batch.actions), device=self.device)
        n_bootstraps = int((batch.sequence_bootstraps >= 0).sum())
        bootstrap_values = th.zeros(n_bootstraps, device=self.device)
        with th.no_grad():
            for sequences in self._sequence_groups(batch.sequence_lengths + 1):
                width = int(batch.sequence_lengths[sequences].max()) + 1
                replay = self._replay(batch, sequences, width)
                predicted = self.policy.predict_values(replay.observations, replay.lstm_states.vf, replay.episode_starts)  # type: ignore[arg-type]
                predicted = predicted.view(len(sequences), width)
                values[replay.transitions[replay.in_sequence]] = predicted[replay.in_sequence]
                bootstrap_index = batch.sequence_bootstraps[sequences]
                bootstrap_values[bootstrap_index[replay.after_last.any(dim=1)]] = predicted[replay.after_last]
        return values.cpu().numpy(), bootstrap_values.cpu().numpy() if n_bootstraps else None

    def _sequence_groups(self, widths: th.Tensor) -> list[th.Tensor]:
        """
        Consecutive sequences whose padded replay holds at most ``chunk_size`` steps (or a single
        sequence) and whose widest is at most ``GROUP_WIDTH_RATIO`` times the shortest.

        :param widths: The steps each sequence replays, in increasing order (each group's widest is its last)
        :return: The indices in ``widths`` of each group's sequences
        """
        groups, start = [], 0
        widths_list = widths.tolist()
        for end, width in enumerate(widths_list):
            too_large = (end - start + 1) * width > self._chunk_rows
            if end > start and (too_large or width > GROUP_WIDTH_RATIO * widths_list[start]):
                groups.append(th.arange(start, end, device=self.device))
                start = end
        groups.append(th.arange(start, len(widths), device=self.device))
        return groups

    def _minibatches(self, batch: EpisodeBatch) -> list[slice] | list[th.Tensor]:
        """Whole episodes in a shuffled order, split after every ``batch_size`` transitions, or the whole batch."""
        assert isinstance(batch, RecurrentEpisodeBatch)
        n_transitions = len(batch.actions)
        if self.batch_size is None or self.batch_size >= n_transitions:
            return [slice(None)]
        order = th.as_tensor(np.random.permutation(len(batch.sequence_lengths)), device=self.device)
        # A sequence joins the minibatch that its last transition falls in
        ends = th.cumsum(batch.sequence_lengths[order], dim=0) - 1
        minibatch_of_sequence = th.empty_like(order)
        minibatch_of_sequence[order] = ends // self.batch_size
        minibatch_of_transition = minibatch_of_sequence[batch.sequence_ids]
        # Stable: each sequence's transitions stay in time order
        transitions = th.sort(minibatch_of_transition, stable=True).indices
        sizes = th.bincount(minibatch_of_transition)
        return [indices for indices in th.split(transitions, sizes.tolist()) if len(indices)]

    def learn(
        self: SelfRecurrentREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "RecurrentREINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentREINFORCE:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


def _check_policy_kwargs(policy_kwargs: dict[str, Any]) -> None:
    """Raise ``ValueError`` for LSTM settings that the update cannot replay faithfully."""
    dropout = (policy_kwargs.get("lstm_kwargs") or {}).get("dropout", 0.0)
    if dropout:
        raise ValueError(
            f"policy_kwargs: lstm_kwargs dropout={dropout!r}: the update replays episodes in training mode, with dropout, "
            "so its probabilities would not be those the actions were sampled with; use dropout=0"
        )
    if policy_kwargs.get("shared_lstm") and policy_kwargs.get("enable_critic_lstm"):
        raise ValueError("policy_kwargs: shared_lstm=True and enable_critic_lstm=True exclude each other; set one")


def _place(observations: PyTorchObs, where: th.Tensor, values: PyTorchObs) -> None:
    """Write ``values`` into the rows ``where`` of ``observations``, in place."""
    if isinstance(observations, dict):
        assert isinstance(values, dict)
        for key, value in observations.items():
            value[where] = values[key].to(value.dtype)
    else:
        assert isinstance(values, th.Tensor)
        observations[where] = values.to(observations.dtype)
