"""Smoke tests over spaces, policies, baselines and SB3's machinery (vec envs, wrappers, callbacks, logging)."""

import inspect
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    FakeImageEnv,
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
    SimpleMultiObsEnv,
)
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import SubprocVecEnv, VecFrameStack, VecNormalize

from sb3_reinforce import REINFORCE
from sb3_reinforce.common.buffers import EpisodeBatch
from sb3_reinforce.common.torch_utils import approx_kl_divergence
from sb3_reinforce.reinforce.reinforce import Baseline

BASELINES: list[Baseline] = ["none", "mean", "critic"]


class DiscreteObsEnv(gym.Env):
    """Discrete observations: reward 1 for repeating the observed index."""

    def __init__(self) -> None:
        self.observation_space = spaces.Discrete(3)
        self.action_space = spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.state, self.t = int(self.np_random.integers(3)), 0
        return self.state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        reward = float(action == self.state)
        self.state, self.t = int(self.np_random.integers(3)), self.t + 1
        return self.state, reward, False, self.t >= 10, {}


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize(
    "env",
    [
        IdentityEnv(3, ep_length=10),
        IdentityEnvBox(ep_length=10),
        IdentityEnvMultiDiscrete(2, ep_length=10),
        IdentityEnvMultiBinary(2, ep_length=10),
        DiscreteObsEnv(),
    ],
    ids=["Discrete", "Box", "MultiDiscrete", "MultiBinary", "DiscreteObs"],
)
def test_action_and_observation_spaces(env: gym.Env, baseline: Baseline) -> None:
    model = REINFORCE("MlpPolicy", env, n_steps=4, baseline=baseline, seed=0).learn(300)
    assert model.num_timesteps >= 300
    action, _ = model.predict(env.observation_space.sample(), deterministic=True)
    assert env.action_space.contains(np.asarray(action).astype(env.action_space.dtype))


@pytest.mark.parametrize("baseline,batch_size", [("none", None), ("critic", None), ("critic", 16)])
def test_dict_observations(baseline: Baseline, batch_size: int | None) -> None:
    env = make_vec_env(SimpleMultiObsEnv, n_envs=2, env_kwargs=dict(random_start=True))
    model = REINFORCE("MultiInputPolicy", env, n_steps=8, baseline=baseline, batch_size=batch_size, seed=0).learn(600)
    assert model._n_updates > 0


def test_image_observations_with_frame_stack() -> None:
    env = VecFrameStack(make_vec_env(lambda: FakeImageEnv(screen_height=36, screen_width=36, n_channels=1), n_envs=2), 2)
    model = REINFORCE("CnnPolicy", env, n_steps=8, seed=0, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)))
    model.learn(200)
    # Images are stored as uint8, not as float32 copies
    assert model.rollout_buffer.observations[""].dtype == np.uint8


@pytest.mark.parametrize("use_sde", [False, True])
def test_continuous_actions_with_sde(use_sde: bool) -> None:
    model = REINFORCE("MlpPolicy", "Pendulum-v1", n_steps=16, use_sde=use_sde, sde_sample_freq=4, seed=0)
    model.learn(500)
    assert model.num_timesteps >= 500


def test_accepts_every_a2c_keyword() -> None:
    a2c_keywords = set(inspect.signature(A2C.__init__).parameters) - {"self"}
    assert a2c_keywords <= set(inspect.signature(REINFORCE.__init__).parameters)
    kwargs: dict[str, Any] = dict(
        learning_rate=lambda progress: 1e-3 * progress,
        n_steps=5,
        gamma=0.98,
        gae_lambda=0.95,
        ent_coef=0.01,
        vf_coef=0.4,
        max_grad_norm=0.7,
        rms_prop_eps=1e-5,
        use_rms_prop=True,
        use_sde=False,
        sde_sample_freq=-1,
        rollout_buffer_class=None,
        rollout_buffer_kwargs=None,
        normalize_advantage=True,
        stats_window_size=10,
        tensorboard_log=None,
        policy_kwargs=dict(net_arch=[16]),
        verbose=0,
        seed=1,
        device="cpu",
        _init_setup_model=True,
    )
    assert set(kwargs) == a2c_keywords - {"policy", "env"}
    model = REINFORCE("MlpPolicy", "CartPole-v1", **kwargs).learn(300)
    assert model.policy.optimizer.__class__.__name__ == "RMSprop"
    # The schedule is followed: progress has gone down from 1
    assert model.policy.optimizer.param_groups[0]["lr"] < 1e-3


def test_a2c_pipeline_runs_unchanged(tmp_path: Path) -> None:
    """An SB3 A2C pipeline with A2C swapped for REINFORCE: Subproc envs, VecNormalize, callbacks, resume."""
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, vec_env_cls=SubprocVecEnv, seed=0))
    eval_env = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=1), training=False, norm_reward=False)
    callbacks = [
        EvalCallback(eval_env, eval_freq=250, n_eval_episodes=2, best_model_save_path=str(tmp_path / "best")),
        CheckpointCallback(save_freq=250, save_path=str(tmp_path / "checkpoints")),
    ]
    model = REINFORCE("MlpPolicy", env, tensorboard_log=str(tmp_path / "tb"), seed=0)
    model.learn(1000, callback=callbacks, progress_bar=True)
    model.save(tmp_path / "model")
    env.save(str(tmp_path / "vecnormalize.pkl"))
    env.close()

    assert (tmp_path / "best" / "best_model.zip").exists()
    assert list((tmp_path / "checkpoints").glob("*.zip"))
    assert list((tmp_path / "tb").iterdir())

    resumed_env = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), make_vec_env("CartPole-v1", n_envs=2, seed=2))
    resumed = REINFORCE.load(tmp_path / "model", env=resumed_env)
    resumed.learn(500, reset_num_timesteps=False)
    assert resumed.num_timesteps >= model.num_timesteps + 500


def test_stop_training_on_max_episodes() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    model.learn(100_000, callback=StopTrainingOnMaxEpisodes(max_episodes=3))
    assert model.num_timesteps < 1_000


def test_set_env_and_parameters_round_trip() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0).learn(200)
    model.set_env(make_vec_env("CartPole-v1", n_envs=1, seed=5))
    parameters = model.get_parameters()
    model.learn(300)
    # SB3 types the argument as one state dict; it takes get_parameters()' dict of them
    model.set_parameters(parameters)  # type: ignore[arg-type]
    for name, tensor in model.policy.state_dict().items():
        assert (tensor == parameters["policy"][name]).all()


# What each baseline logs besides the keys all log: a constant baseline has no value loss to report
BASELINE_KEYS = {
    "none": set(),
    "mean": {"train/baseline"},
    "critic": {"train/value_loss", "train/explained_variance"},
}


@pytest.mark.parametrize("baseline", sorted(BASELINE_KEYS))
def test_budget_is_respected_and_logging_keys(tmp_path: Path, baseline: Baseline) -> None:
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), baseline=baseline, seed=0)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(2_000, log_interval=1)
    # A rollout stops as soon as the budget is spent
    assert 2_000 <= model.num_timesteps < 2_000 + 4
    header = set((tmp_path / "progress.csv").read_text().splitlines()[0].split(","))
    common_keys = {
        "train/policy_loss",
        "train/entropy_loss",
        "rollout/ep_rew_mean",
        "time/fps",
        "train/n_episodes",
        "train/n_transitions",
        "train/policy_steps",
    }
    assert common_keys | BASELINE_KEYS[baseline] <= header
    other_baselines_keys = set().union(*BASELINE_KEYS.values()) - BASELINE_KEYS[baseline]
    assert not other_baselines_keys & header


def _after_one_rollout(**kwargs: Any) -> REINFORCE:
    """A model trained on one CartPole rollout (the budget ends the first rollout)."""
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    return REINFORCE("MlpPolicy", env, n_steps=50, seed=0, **kwargs).learn(100)


def _first_update(critic_gradient_steps: int) -> tuple[REINFORCE, float]:
    """A critic model after one update on CartPole, and its value loss on that update's batch."""
    model = _after_one_rollout(baseline="critic", critic_gradient_steps=critic_gradient_steps)
    batch = model.rollout_buffer.get()
    returns, _ = model.rollout_buffer.compute_returns_and_advantages(np.zeros(model.rollout_buffer.n_transitions))
    return model, float(np.mean((returns - _critic_values(model, batch.observations)) ** 2))


def _critic_values(model: REINFORCE, observations: th.Tensor | dict[str, th.Tensor]) -> np.ndarray:
    """The critic's values in return units (its outputs are in units of its targets' statistics)."""
    with th.no_grad():
        outputs = model.policy.predict_values(observations).flatten().numpy()
    return outputs * model.critic_target_std + (model.critic_target_mean or 0.0)


def test_critic_gradient_steps_fit_the_critic_and_leave_the_actor() -> None:
    one_step, one_step_loss = _first_update(1)
    many_steps, many_steps_loss = _first_update(200)
    assert one_step.num_timesteps == many_steps.num_timesteps and one_step._n_updates == many_steps._n_updates == 1
    assert many_steps_loss < 0.2 * one_step_loss
    # MlpPolicy's actor and critic share no layers: the extra steps change the critic only
    for (name, one), (_, many) in zip(one_step.policy.named_parameters(), many_steps.policy.named_parameters(), strict=True):
        if name.startswith(("mlp_extractor.policy_net", "action_net")):
            assert th.equal(one, many), name
        elif name.startswith(("mlp_extractor.value_net", "value_net")):
            assert not th.equal(one, many), name


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("env_id", ["Acrobot-v1", "CartPole-v1"])
def test_one_warning_when_the_first_episodes_all_hit_the_time_limit(baseline: Baseline, env_id: str) -> None:
    # Acrobot-v1's random policy almost never swings up within its 500 steps; CartPole-v1's falls within tens of steps
    model = REINFORCE("MlpPolicy", env_id, baseline=baseline, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.learn(1500)
        model.learn(1500, reset_num_timesteps=False)
    messages = [str(warning.message) for warning in caught if "truncated by a time limit" in str(warning.message)]
    expected = 1 if (env_id, baseline) in {("Acrobot-v1", "none"), ("Acrobot-v1", "mean")} else 0
    assert len(messages) == expected, messages
    assert all("use baseline='critic' with VecNormalize" in message for message in messages)


def test_critic_target_statistics_keep_the_critics_values() -> None:
    model = _after_one_rollout(baseline="critic")
    observations = model.rollout_buffer.get().observations
    first_mean, first_std = model.critic_target_mean, model.critic_target_std
    assert first_mean is not None and first_std > 1.0  # set by the first batch's returns (CartPole: tens)
    before = _critic_values(model, observations)
    model._update_critic_target_statistics(np.array([500.0, 900.0, 1300.0]))
    assert (
        model.critic_target_mean is not None and model.critic_target_mean > first_mean and model.critic_target_std > first_std
    )
    # PopArt: the output layer is rescaled, so the values in return units do not move
    np.testing.assert_allclose(_critic_values(model, observations), before, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("normalize_critic_targets", [True, False])
def test_normalized_critic_targets_make_training_reward_scale_invariant(normalize_critic_targets: bool) -> None:
    def actor_after_training(reward_scale: float) -> list[th.Tensor]:
        env = make_vec_env(
            "CartPole-v1",
            n_envs=2,
            seed=0,
            wrapper_class=gym.wrappers.TransformReward,  # type: ignore[arg-type]
            wrapper_kwargs=dict(func=lambda reward: reward_scale * reward),
        )
        model = REINFORCE("MlpPolicy", env, baseline="critic", normalize_critic_targets=normalize_critic_targets, seed=0)
        model.learn(600)
        return [
            param
            for name, param in model.policy.named_parameters()
            if name.startswith(("mlp_extractor.policy_net", "action_net"))
        ]

    scale_invariant = all(
        th.allclose(small, large, atol=1e-5)
        for small, large in zip(actor_after_training(1.0), actor_after_training(1000.0), strict=True)
    )
    # Without it, the value loss grows with the square of the scale and the shared gradient clip shrinks the policy's step
    assert scale_invariant == normalize_critic_targets


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_minibatches_use_every_transition_once(monkeypatch: pytest.MonkeyPatch, baseline: Baseline, batch_size: int) -> None:
    selected: list[th.Tensor] = []
    select = EpisodeBatch.select

    def recording_select(batch: EpisodeBatch, indices: th.Tensor | slice) -> EpisodeBatch:
        # Minibatches are index tensors; whole-batch evaluations take slices of the batch
        if isinstance(indices, th.Tensor):
            selected.append(indices)
        return select(batch, indices)

    monkeypatch.setattr(EpisodeBatch, "select", recording_select)
    model = _after_one_rollout(baseline=baseline, batch_size=batch_size)
    n_transitions = model.rollout_buffer.n_transitions
    assert n_transitions > 64
    assert model._n_updates == len(selected) == -(-n_transitions // batch_size)
    assert all(len(indices) == batch_size for indices in selected[:-1])
    assert th.equal(th.sort(th.cat(selected)).values, th.arange(n_transitions))
    assert not th.equal(th.cat(selected), th.arange(n_transitions)), "minibatches are not shuffled"


@pytest.mark.parametrize("baseline", BASELINES)
def test_batch_size_of_the_whole_batch_is_one_step(baseline: str) -> None:
    whole = _after_one_rollout(baseline=baseline)
    at_least_the_batch = _after_one_rollout(baseline=baseline, batch_size=10_000)
    assert whole._n_updates == at_least_the_batch._n_updates == 1
    for one, other in zip(whole.policy.parameters(), at_least_the_batch.policy.parameters(), strict=True):
        assert th.equal(one, other)


@pytest.mark.parametrize("baseline", BASELINES)
def test_target_kl_stops_the_minibatches_of_a_batch(baseline: str) -> None:
    unlimited = _after_one_rollout(baseline=baseline, batch_size=16)
    assert unlimited._n_updates > 2
    # Any move of the policy exceeds this limit: only the first minibatch, taken at the behaviour policy, is trained on
    limited = _after_one_rollout(baseline=baseline, batch_size=16, target_kl=1e-12)
    assert limited._n_updates == 1
    # The update's records, not yet written out
    assert limited.logger.name_to_value["train/policy_steps"] == 1
    assert limited.logger.name_to_value["train/approx_kl"] > 1.5e-12
    # A limit never reached changes nothing
    loose = _after_one_rollout(baseline=baseline, batch_size=16, target_kl=1e9)
    assert loose._n_updates == unlimited._n_updates
    for one, other in zip(unlimited.policy.parameters(), loose.policy.parameters(), strict=True):
        assert th.equal(one, other)


def test_approx_kl_matches_the_exact_kl_of_a_small_step() -> None:
    behaviour = th.distributions.Categorical(logits=th.tensor([0.2, -0.4, 1.0]))
    current = th.distributions.Categorical(logits=th.tensor([0.25, -0.45, 1.02]))
    actions = behaviour.sample((200_000,))
    estimate = approx_kl_divergence(behaviour.log_prob(actions), current.log_prob(actions))
    assert estimate == pytest.approx(th.distributions.kl_divergence(behaviour, current).item(), rel=0.05)
