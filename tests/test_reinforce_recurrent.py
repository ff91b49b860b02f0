"""RecurrentREINFORCE: episodes replayed from their first step reproduce collection, and their gradient is full BPTT."""

import dataclasses
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from benchmarks.memory_tasks import cue_recall_factory
from sb3_reinforce import REINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.recurrent_buffers import RecurrentEpisodeBatch
from tests.envs import LoggedEpisodesEnv, NextStepResetVectorEnv
from tests.spies import record_policy_call_sizes

# Waiting steps between the cue and the answer in the learning test
CUE_DELAY = 8
ID_SCALE = 100.0  # step ids enter the LSTM divided by this, so its gates do not saturate


def _scaled_env(env_id: int, max_episode_length: int) -> gym.Env:
    env = LoggedEpisodesEnv(env_id, max_episode_length=max_episode_length)
    space = gym.spaces.Box(0.0, np.inf, shape=(2,), dtype=np.float32)
    return gym.wrappers.TransformObservation(env, lambda obs: (obs / np.array([1.0, ID_SCALE])).astype(np.float32), space)


def _vec_env(n_envs: int, max_episode_length: int = 12, engine: str = "dummy") -> VecEnv | NextStepResetVectorEnv:
    """SB3's DummyVecEnv, or (``"next_step"``) a gymnasium vector env that resets on the step after an episode's end."""
    env_fns = [lambda i=i: _scaled_env(i, max_episode_length) for i in range(n_envs)]
    return DummyVecEnv(env_fns) if engine == "dummy" else NextStepResetVectorEnv(env_fns)  # type: ignore[arg-type]


def _key(observation: np.ndarray) -> tuple[int, int]:
    """The (env, step id) that an observation names."""
    return round(float(observation[0])), round(float(observation[1]) * ID_SCALE)


def _model(n_envs: int = 2, max_episode_length: int = 12, engine: str = "dummy", **kwargs: Any) -> RecurrentREINFORCE:
    kwargs.setdefault("policy_kwargs", dict(lstm_hidden_size=8, net_arch=dict(pi=[8], vf=[8])))
    return RecurrentREINFORCE("MlpLstmPolicy", _vec_env(n_envs, max_episode_length, engine), n_steps=10, seed=0, **kwargs)


def _record_collection(model: RecurrentREINFORCE) -> dict[tuple[int, int], float]:
    """Log-probability of every action as collection sampled it, by the (env, step id) it was taken at."""
    recorded: dict[tuple[int, int], float] = {}
    sample = model._sample_actions

    def recording_sample(env: VecEnv, observations: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        states = model._last_lstm_states
        starts = th.as_tensor(model._last_episode_starts, dtype=th.float32)
        actions, extras = sample(env, observations)
        with th.no_grad():
            distribution, _ = model.policy.get_distribution(observations, states.pi, starts)  # type: ignore[arg-type]
            log_prob = distribution.log_prob(th.as_tensor(actions))
        for observation, value in zip(observations.numpy(), log_prob.numpy(), strict=True):
            recorded[_key(observation)] = float(value)
        return actions, extras

    model._sample_actions = recording_sample  # type: ignore[method-assign]
    return recorded


def _collect(model: RecurrentREINFORCE, n_rollouts: int) -> list[RecurrentEpisodeBatch]:
    """The batches of ``n_rollouts`` more rollouts, without any update between them."""
    _, callback = model._setup_learn(10**6, callback=None, reset_num_timesteps=model._last_obs is None)
    batches = []
    for _ in range(n_rollouts):
        assert model.env is not None
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        batch = model.rollout_buffer.get()
        assert isinstance(batch, RecurrentEpisodeBatch)
        batches.append(batch)
    return batches


# The next-step engine's reset steps run the LSTM on a stale observation: the next episode must not see it
@pytest.mark.parametrize("engine", ["dummy", "next_step"])
@pytest.mark.parametrize("baseline", ["none", "critic"])
@pytest.mark.parametrize(
    "n_envs, max_episode_length, buffer_kwargs",
    [
        (1, 12, {}),
        (3, 12, {}),  # envs out of step: episodes carried into the next rollout
        (2, 0, {"max_steps_per_env": 16}),  # episodes never end: cut at the memory bound, continued from the stored state
    ],
)
def test_replay_reproduces_the_log_probs_of_collection(
    baseline: str, n_envs: int, max_episode_length: int, buffer_kwargs: dict[str, int], engine: str
) -> None:
    model = _model(n_envs, max_episode_length, engine, baseline=baseline, rollout_buffer_kwargs=buffer_kwargs, chunk_size=7)
    collected = _record_collection(model)
    trained: dict[tuple[int, int], float] = {}
    n_carried = n_cut = 0
    for rollout in range(4):
        earlier = set(collected)
        (batch,) = _collect(model, n_rollouts=1)
        n_cut += model.rollout_buffer.n_cut_segments
        with th.no_grad():
            _, log_prob, _ = model._evaluate_actions(batch)
        assert isinstance(batch.observations, th.Tensor)
        for observation, value in zip(batch.observations.numpy(), log_prob.numpy(), strict=True):
            key = _key(observation)
            assert key not in trained, "a transition was trained twice"
            trained[key] = float(value)
            n_carried += rollout > 0 and key in earlier
    assert len(trained) > 30
    for key, value in trained.items():
        assert value == pytest.approx(collected[key], abs=1e-5), key
    assert (n_carried > 0) == (n_envs == 3)
    assert (n_cut > 0) == (max_episode_length == 0)


def _sequence_states(model: RecurrentREINFORCE, batch: RecurrentEpisodeBatch, sequence: int) -> RNNStates:
    if batch.initial_states is None:
        return model._zero_lstm_states(1)
    states = batch.initial_states[:, :, sequence : sequence + 1]
    return RNNStates((states[0], states[1]), (states[2], states[3]))


def _sequence_observations(batch: RecurrentEpisodeBatch, sequence: int, with_bootstrap: bool = False) -> th.Tensor:
    assert isinstance(batch.observations, th.Tensor)
    start, length = int(batch.sequence_starts[sequence]), int(batch.sequence_lengths[sequence])
    observations = batch.observations[start : start + length]
    bootstrap = int(batch.sequence_bootstraps[sequence])
    if with_bootstrap and bootstrap >= 0:
        assert isinstance(batch.bootstrap_observations, th.Tensor)
        observations = th.cat([observations, batch.bootstrap_observations[bootstrap : bootstrap + 1].float()])
    return observations


def _stepwise_log_probs(model: RecurrentREINFORCE, batch: RecurrentEpisodeBatch) -> th.Tensor:
    """Log-probabilities from one unpadded policy call per sequence: the reference for the batched replay."""
    log_probs = []
    for sequence in range(len(batch.sequence_lengths)):
        observations = _sequence_observations(batch, sequence)
        states = _sequence_states(model, batch, sequence)
        distribution, _ = model.policy.get_distribution(observations, states.pi, th.zeros(len(observations)))  # type: ignore[arg-type]
        start = int(batch.sequence_starts[sequence])
        log_probs.append(distribution.log_prob(batch.actions[start : start + len(observations)]))
    return th.cat(log_probs)


@pytest.mark.parametrize("baseline", ["none", "critic"])
@pytest.mark.parametrize("max_episode_length, buffer_kwargs", [(12, {}), (0, {"max_steps_per_env": 16})])
def test_replayed_gradient_is_full_backpropagation_through_each_sequence(
    baseline: str, max_episode_length: int, buffer_kwargs: dict[str, int]
) -> None:
    model = _model(3, max_episode_length, baseline=baseline, rollout_buffer_kwargs=buffer_kwargs)
    *_, batch = _collect(model, n_rollouts=3)
    weights = th.randn(len(batch.actions), generator=th.Generator().manual_seed(0))

    def gradient(log_prob: th.Tensor) -> list[th.Tensor]:
        model.policy.zero_grad()
        (weights * log_prob).sum().backward()
        return [th.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.policy.parameters()]

    # Replayed in chunks that cut sequences apart: every chunk still replays its sequences from their start
    chunks = [slice(0, 5), slice(5, 17), slice(17, None)]
    replayed = th.cat([model._evaluate_actions(batch.select(chunk))[1] for chunk in chunks])
    reference = _stepwise_log_probs(model, batch)
    assert th.allclose(replayed, reference, atol=1e-6)
    for replayed_grad, reference_grad in zip(gradient(replayed), gradient(reference), strict=True):
        assert th.allclose(replayed_grad, reference_grad, atol=1e-5)


def _stepwise_values(model: RecurrentREINFORCE, batch: RecurrentEpisodeBatch) -> th.Tensor:
    """Critic values from one unpadded critic call per sequence."""
    values = []
    for sequence in range(len(batch.sequence_lengths)):
        observations = _sequence_observations(batch, sequence)
        states = _sequence_states(model, batch, sequence)
        values.append(model.policy.predict_values(observations, states.vf, th.zeros(len(observations))).flatten())  # type: ignore[arg-type]
    return th.cat(values)


@pytest.mark.parametrize("baseline", ["none", "critic"])
def test_replay_groups_of_mixed_lengths_give_the_outputs_and_gradient_of_one_call_per_sequence(baseline: str) -> None:
    model = _model(6, baseline=baseline, chunk_size=24, batch_size=30)
    *_, batch = _collect(model, n_rollouts=2)
    assert len(set(batch.sequence_lengths.tolist())) >= 6, "episodes of mixed lengths"
    calls = record_policy_call_sizes(model.policy)
    weights = th.randn(2, len(batch.actions), generator=th.Generator().manual_seed(0))

    def gradient(log_prob: th.Tensor, values: th.Tensor | None) -> list[th.Tensor]:
        model.policy.zero_grad()
        loss = (weights[0] * log_prob).sum() + (0.0 if values is None else (weights[1] * values).sum())
        loss.backward()
        return [th.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.policy.parameters()]

    # Shuffled whole-episode minibatches, cut into chunks that split episodes, as training evaluates them
    order = th.cat([th.as_tensor(indices) for indices in model._minibatches(batch)])
    log_probs, values, calls_per_chunk = [], [], []
    for chunk in th.split(order, model._chunk_rows):
        n_calls = len(calls)
        chunk_values, log_prob, entropy = model._evaluate_actions(batch.select(chunk))
        calls_per_chunk.append(len(calls) - n_calls)
        assert entropy is not None and entropy.shape == log_prob.shape == chunk.shape
        log_probs.append(log_prob)
        if chunk_values is not None:
            values.append(chunk_values)
            assert th.allclose(model._evaluate_values(batch.select(chunk)), chunk_values, atol=1e-6)
    assert max(calls_per_chunk) > 1, "a chunk's sequences are replayed in several groups"
    replayed = th.empty(len(batch.actions)).index_put((order,), th.cat(log_probs))
    replayed_values = th.empty(len(batch.actions)).index_put((order,), th.cat(values)) if values else None
    reference = _stepwise_log_probs(model, batch)
    reference_values = _stepwise_values(model, batch) if values else None
    assert th.allclose(replayed, reference, atol=1e-6)
    if replayed_values is not None:
        assert reference_values is not None
        assert th.allclose(replayed_values, reference_values, atol=1e-6)
    for replayed_grad, reference_grad in zip(
        gradient(replayed, replayed_values), gradient(reference, reference_values), strict=True
    ):
        assert th.allclose(replayed_grad, reference_grad, atol=1e-5)


def test_gradient_reaches_the_first_observation_and_no_other_episode() -> None:
    model = _model(3, baseline="none")
    *_, batch = _collect(model, n_rollouts=2)
    assert isinstance(batch.observations, th.Tensor)
    observations = batch.observations.clone().requires_grad_(True)
    batch = dataclasses.replace(batch, observations=observations)
    # The longest episode's last action
    longest = len(batch.sequence_lengths) - 1
    first, length = int(batch.sequence_starts[longest]), int(batch.sequence_lengths[longest])
    assert length >= 5
    _, log_prob, _ = model._evaluate_actions(batch.select(th.tensor([first + length - 1])))
    log_prob.sum().backward()
    assert observations.grad is not None
    gradient_norms = observations.grad.abs().sum(dim=1)
    assert gradient_norms[first] > 0, "the last action's gradient does not reach the episode's first observation"
    assert (gradient_norms[first : first + length] > 0).all()
    outside = th.ones(len(gradient_norms), dtype=th.bool)
    outside[first : first + length] = False
    assert (gradient_norms[outside] == 0).all(), "the gradient leaks into other episodes"


@pytest.mark.parametrize("enable_critic_lstm", [True, False])
def test_critic_values_replay_each_episode_with_its_bootstrap_observation(enable_critic_lstm: bool) -> None:
    policy_kwargs = dict(lstm_hidden_size=8, net_arch=dict(pi=[8], vf=[8]), enable_critic_lstm=enable_critic_lstm)
    model = _model(3, baseline="critic", chunk_size=20, policy_kwargs=policy_kwargs)
    *_, batch = _collect(model, n_rollouts=2)
    assert batch.bootstrap_observations is not None, "the env truncates some episodes"
    values, bootstrap_values = model._critic_values(batch)
    assert bootstrap_values is not None
    expected_values, expected_bootstraps = [], {}
    with th.no_grad():
        for sequence in range(len(batch.sequence_lengths)):
            observations = _sequence_observations(batch, sequence, with_bootstrap=True)
            states = _sequence_states(model, batch, sequence)
            sequence_values = model.policy.predict_values(observations, states.vf, th.zeros(len(observations))).flatten()  # type: ignore[arg-type]
            length = int(batch.sequence_lengths[sequence])
            expected_values.append(sequence_values[:length])
            if int(batch.sequence_bootstraps[sequence]) >= 0:
                expected_bootstraps[int(batch.sequence_bootstraps[sequence])] = float(sequence_values[length])
    np.testing.assert_allclose(values, th.cat(expected_values).numpy(), atol=1e-6)
    assert sorted(expected_bootstraps) == list(range(len(bootstrap_values)))
    np.testing.assert_allclose(bootstrap_values, [expected_bootstraps[i] for i in range(len(bootstrap_values))], atol=1e-6)


def test_minibatches_hold_whole_episodes() -> None:
    model = _model(3, batch_size=16)
    *_, batch = _collect(model, n_rollouts=2)
    minibatches = model._minibatches(batch)
    assert len(minibatches) > 2
    every = th.cat([th.as_tensor(indices) for indices in minibatches])
    assert th.equal(th.sort(every).values, th.arange(len(batch.actions)))
    for indices in minibatches:
        assert isinstance(indices, th.Tensor)
        sequences = th.unique(batch.sequence_ids[indices])
        assert len(indices) == int(batch.sequence_lengths[sequences].sum()), "a minibatch splits an episode"
        # In time order within each episode, as the replay needs them
        assert th.equal(indices, th.sort(indices).values) or len(sequences) > 1


def test_forget_gate_bias_is_added_to_every_lstm() -> None:
    policy_kwargs = dict(lstm_hidden_size=4, n_lstm_layers=2, enable_critic_lstm=True)
    reference = RecurrentREINFORCE(
        "MlpLstmPolicy", "CartPole-v1", seed=0, policy_kwargs={**policy_kwargs, "lstm_forget_bias": 0.0}
    )
    biased = RecurrentREINFORCE(
        "MlpLstmPolicy", "CartPole-v1", seed=0, policy_kwargs={**policy_kwargs, "lstm_forget_bias": 2.5}
    )
    for lstm in ("lstm_actor", "lstm_critic"):
        for layer in range(2):
            name = f"{lstm}.bias_hh_l{layer}"
            difference = dict(biased.policy.named_parameters())[name] - dict(reference.policy.named_parameters())[name]
            # Gates in PyTorch's order: input, forget, cell, output
            assert th.allclose(difference, th.tensor([0.0] * 4 + [2.5] * 4 + [0.0] * 8))


def test_without_a_critic_no_critic_lstm_is_built() -> None:
    assert RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", baseline="mean").policy.lstm_critic is None
    assert RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", baseline="critic").policy.lstm_critic is not None


@pytest.mark.parametrize(
    "policy_kwargs, message",
    [
        (dict(lstm_kwargs=dict(dropout=0.1)), "dropout=0.1"),
        (dict(shared_lstm=True, enable_critic_lstm=True), "shared_lstm=True and enable_critic_lstm=True"),
    ],
)
def test_lstm_settings_the_replay_cannot_reproduce_are_refused(policy_kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", policy_kwargs=policy_kwargs)


@pytest.mark.parametrize("baseline", ["mean", "critic"])
def test_save_load_predict_with_states(tmp_path: Path, baseline: str) -> None:
    model = _model(2, baseline=baseline).learn(300)
    model.save(tmp_path / "model.zip")
    loaded = RecurrentREINFORCE.load(tmp_path / "model.zip")
    observations = np.random.default_rng(0).uniform(0, 1, size=(5, 2, 2)).astype(np.float32)
    states: dict[str, Any] = {"model": None, "loaded": None}
    for t, observation in enumerate(observations):
        starts = np.array([t == 0, t == 2])
        actions = {}
        for name, agent in (("model", model), ("loaded", loaded)):
            actions[name], states[name] = agent.predict(observation, states[name], starts, deterministic=True)
        assert np.array_equal(actions["model"], actions["loaded"])
        assert all(np.array_equal(a, b) for a, b in zip(states["model"], states["loaded"], strict=True))
    # The states carry memory: another history gives another state
    _, fresh = model.predict(observations[-1], None, np.array([True, True]), deterministic=True)
    assert fresh is not None and not np.allclose(fresh[0], states["model"][0])
    with pytest.raises(ValueError, match="it is a RecurrentREINFORCE save"):
        REINFORCE.load(tmp_path / "model.zip")


def test_learns_to_recall_a_cue_where_a_feed_forward_policy_cannot() -> None:
    kwargs: dict[str, Any] = dict(n_steps=16, learning_rate=3e-3, seed=0)
    recurrent = RecurrentREINFORCE(
        "MlpLstmPolicy",
        make_vec_env(cue_recall_factory(CUE_DELAY), n_envs=8, seed=0),
        policy_kwargs=dict(lstm_hidden_size=16, net_arch=dict(pi=[16], vf=[16]), lstm_forget_bias=3.0),
        **kwargs,
    ).learn(30_000)
    feed_forward = REINFORCE("MlpPolicy", make_vec_env(cue_recall_factory(CUE_DELAY), n_envs=8, seed=0), **kwargs).learn(
        30_000
    )
    eval_env = make_vec_env(cue_recall_factory(CUE_DELAY), n_envs=4, seed=100)
    # +1 for naming the cue, -1 otherwise: a memoryless policy's expected return is 0
    assert _mean_return(recurrent, eval_env) > 0.8
    assert abs(_mean_return(feed_forward, eval_env)) < 0.4


def _mean_return(model: REINFORCE, env: VecEnv) -> float:
    mean, _ = evaluate_policy(model, env, n_eval_episodes=100)
    assert isinstance(mean, float)
    return mean


def test_zoo_trains_and_enjoys_reinforce_lstm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rl_zoo3")
    from sb3_reinforce.zoo.cli import main

    conf = tmp_path / "conf.yml"
    conf.write_text(
        "CartPole-v1:\n  policy: 'MlpLstmPolicy'\n  n_envs: 2\n  n_timesteps: 400\n"
        '  policy_kwargs: "dict(lstm_hidden_size=8, lstm_forget_bias=2.0)"\n'
    )
    main(
        [
            "train",
            "--algo",
            "reinforce_lstm",
            "--env",
            "CartPole-v1",
            "-conf",
            str(conf),
            "-f",
            str(tmp_path),
            "--eval-freq",
            "-1",
        ]
    )
    model = RecurrentREINFORCE.load(tmp_path / "reinforce_lstm" / "CartPole-v1_1" / "CartPole-v1.zip")
    assert model.num_timesteps == 400 and model.policy.lstm_actor.hidden_size == 8
    main(["enjoy", "--algo", "reinforce_lstm", "--env", "CartPole-v1", "-f", str(tmp_path), "-n", "50", "--no-render"])
    assert "Loading" in capsys.readouterr().out


def _noise(reward: SupportsFloat) -> SupportsFloat:
    """A random reward (FakeImageEnv's are all 0, which would give a zero gradient)."""
    return float(np.random.normal())


@pytest.mark.parametrize(
    "policy, make_env, kwargs",
    [
        # Dict observations, truncations bootstrapped by the critic's replay
        (
            "MultiInputLstmPolicy",
            lambda: gym.wrappers.TimeLimit(SimpleMultiObsEnv(), max_episode_steps=5),
            dict(baseline="critic"),
        ),
        ("CnnLstmPolicy", lambda: gym.wrappers.TransformReward(FakeImageEnv(screen_height=36, screen_width=36), _noise), {}),
        ("MlpLstmPolicy", lambda: gym.make("Pendulum-v1"), dict(baseline="critic", use_sde=True)),
    ],
)
def test_policies_and_spaces_train(policy: str, make_env: Any, kwargs: dict[str, Any]) -> None:
    env = make_vec_env(make_env, n_envs=2, seed=0)
    model = RecurrentREINFORCE(policy, env, n_steps=8, seed=0, policy_kwargs=dict(lstm_hidden_size=8), **kwargs)
    initial = {name: tensor.clone() for name, tensor in model.policy.state_dict().items()}
    model.learn(400)
    assert model._n_updates > 0
    assert any(not th.equal(tensor, initial[name]) for name, tensor in model.policy.state_dict().items())
    observations = env.reset()
    assert not isinstance(observations, tuple)
    actions, states = model.predict(observations, deterministic=True)
    assert len(actions) == 2 and states is not None


def test_the_recurrent_buffer_names_why_it_has_no_tail_batch() -> None:
    model = _model(2)
    with pytest.raises(NotImplementedError, match="stores the behaviour log-probabilities at each step"):
        model.rollout_buffer.tail_batch()
