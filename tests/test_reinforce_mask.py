"""MaskableREINFORCE on sb3-contrib's masking pieces: masks are obeyed in training and evaluation, bad masks are named."""

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib.common.envs import InvalidActionEnvDiscrete, InvalidActionEnvMultiBinary, InvalidActionEnvMultiDiscrete
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, IdentityEnv, SimpleMultiObsEnv
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from sb3_reinforce import REINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.buffers import EpisodicRolloutBuffer
from sb3_reinforce.common.maskable_buffers import MaskableEpisodicRolloutBuffer

# sb3-contrib's identity envs: reward 1 for repeating the observed state, episodes of 100 steps
MASKED_ENVS: dict[str, Any] = {
    "Discrete": lambda n_invalid: InvalidActionEnvDiscrete(dim=70, n_invalid_actions=n_invalid),
    "MultiDiscrete": lambda n_invalid: InvalidActionEnvMultiDiscrete(dims=[2, 3, 4], n_invalid_actions=n_invalid),
    "MultiBinary": lambda n_invalid: InvalidActionEnvMultiBinary(dims=3, n_invalid_actions=n_invalid),
}
# Every wrong choice masked: only the right action is valid
ALL_WRONG = {"Discrete": 69, "MultiDiscrete": 6, "MultiBinary": 3}


class InvalidActionRecorder(gym.Wrapper):
    """Counts the actions the env receives that its mask (at that step) forbade."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.invalid = self.taken = 0

    def step(self, action: Any) -> Any:
        mask = np.asarray(self.env.unwrapped.action_masks()).astype(bool)  # type: ignore[attr-defined]
        space = self.env.action_space
        if isinstance(space, spaces.Discrete):
            chosen = [int(action)]
        elif isinstance(space, spaces.MultiDiscrete):
            chosen = list(np.concatenate([[0], np.cumsum(space.nvec)[:-1]]) + np.asarray(action))
        else:
            chosen = list(2 * np.arange(len(action)) + np.asarray(action))
        self.taken += 1
        self.invalid += int(not mask[chosen].all())
        return self.env.step(action)


@pytest.mark.parametrize("space", list(MASKED_ENVS))
def test_an_untrained_agent_with_every_wrong_action_masked_scores_the_maximum(space: str) -> None:
    env = MASKED_ENVS[space](ALL_WRONG[space])
    model = MaskableREINFORCE("MlpPolicy", env, seed=0)
    mean_reward, _ = evaluate_policy(model, env, n_eval_episodes=3, warn=False)  # type: ignore[arg-type]  # typed for MaskablePPO, duck-typed
    assert mean_reward == 100.0


# Invalid actions of the learning tests: sb3-contrib's Discrete case, and a few for the others
N_INVALID = {"Discrete": 55, "MultiDiscrete": 3, "MultiBinary": 2}


@pytest.mark.parametrize(
    "space,baseline", [("Discrete", "mean"), ("Discrete", "critic"), ("MultiDiscrete", "mean"), ("MultiBinary", "mean")]
)
def test_masked_training_learns_and_never_takes_an_invalid_action(space: str, baseline: str) -> None:
    env = InvalidActionRecorder(MASKED_ENVS[space](N_INVALID[space]))
    # The identity task's reward is immediate: a short horizon (gamma 0.4, as sb3-contrib's test uses) learns fastest
    kwargs: dict[str, Any] = dict(n_steps=20, batch_size=20, gamma=0.4, learning_rate=3e-3)
    model = MaskableREINFORCE("MlpPolicy", env, baseline=baseline, seed=0, **kwargs)
    model.learn(6_000)
    assert env.taken == 6_000 and env.invalid == 0
    eval_env = InvalidActionRecorder(MASKED_ENVS[space](N_INVALID[space]))
    mean_reward, _ = evaluate_policy(model, eval_env, n_eval_episodes=5, warn=False)  # type: ignore[arg-type]  # typed for MaskablePPO, duck-typed
    assert eval_env.invalid == 0
    # sb3-contrib's threshold for MaskablePPO (Discrete: 15 valid choices, a uniform policy scores about 100 / 15)
    assert isinstance(mean_reward, float) and mean_reward >= 90


@pytest.mark.parametrize("space", list(MASKED_ENVS))
def test_every_masked_space_trains_without_invalid_actions(space: str) -> None:
    env = InvalidActionRecorder(MASKED_ENVS[space](2))
    MaskableREINFORCE("MlpPolicy", env, n_steps=50, seed=0).learn(400)
    assert env.taken == 400 and env.invalid == 0


def test_masking_can_be_switched_off() -> None:
    env = InvalidActionRecorder(MASKED_ENVS["Discrete"](60))
    MaskableREINFORCE("MlpPolicy", env, n_steps=50, seed=0).learn(500, use_masking=False)
    assert env.invalid > 0


def test_masked_actions_get_zero_probability_and_no_gradient() -> None:
    env = MASKED_ENVS["Discrete"](60)
    model = MaskableREINFORCE("MlpPolicy", env, seed=0)
    assert isinstance(model.policy, MaskableActorCriticPolicy)
    obs = th.as_tensor(env.reset()[0])[None]
    mask = np.asarray(env.action_masks(), dtype=bool)[None]
    distribution = model.policy.get_distribution(obs, action_masks=mask)
    probs = distribution.distribution.probs
    assert (probs[0, ~mask[0]] == 0).all() and th.isclose(probs[0, mask[0]].sum(), th.tensor(1.0))
    # The gradient of a valid action's log-probability leaves the masked logits' weights untouched, up to float
    # rounding: sb3-contrib normalizes all logits before masking, and that term cancels analytically
    weights = model.policy.action_net.weight
    action = th.as_tensor([int(np.flatnonzero(mask[0])[0])])
    distribution.log_prob(action).sum().backward()
    assert weights.grad is not None
    assert weights.grad[~mask[0]].abs().max() <= 1e-6 * weights.grad[mask[0]].abs().max()


def test_masks_are_stored_with_each_transition_and_carried_episodes_keep_them() -> None:
    env = make_vec_env(lambda: MASKED_ENVS["Discrete"](30), n_envs=2, seed=0)
    model = MaskableREINFORCE("MlpPolicy", env, n_steps=150, seed=0)
    model.learn(300)
    buffer = model.rollout_buffer
    assert isinstance(buffer, MaskableEpisodicRolloutBuffer)
    batch = buffer.get()
    assert batch.action_masks.shape == (len(batch.actions), 70)  # type: ignore[attr-defined]
    # Every stored action was allowed by its stored mask
    chosen = batch.action_masks[th.arange(len(batch.actions)), batch.actions.flatten()]  # type: ignore[attr-defined]
    assert bool(chosen.all())


class NoMasksEnv(IdentityEnv):
    def __init__(self) -> None:
        super().__init__(dim=3)


class BadMasksEnv(IdentityEnv):
    """Masks of the wrong length, or no valid choice at its ``empty_at``-th step."""

    def __init__(self, length: int = 3, empty_at: int | None = None) -> None:
        super().__init__(dim=3)
        self.length, self.empty_at, self.steps = length, empty_at, 0

    def step(self, action: Any) -> Any:
        self.steps += 1
        return super().step(action)

    def action_masks(self) -> np.ndarray:
        if self.steps == self.empty_at:
            return np.zeros(self.length, dtype=bool)
        return np.ones(self.length, dtype=bool)


def test_an_env_without_masks_is_refused_at_learn() -> None:
    model = MaskableREINFORCE("MlpPolicy", NoMasksEnv())
    with pytest.raises(ValueError, match=r"no action_masks\(\) method; wrap it in .*ActionMasker"):
        model.learn(100)
    assert model.num_timesteps == 0
    model.learn(100, use_masking=False)
    assert model.num_timesteps == 100


def test_a_mask_of_the_wrong_shape_names_the_expected_one() -> None:
    with pytest.raises(ValueError, match=r"masks of shape \(4,\) per env; Discrete\(3\) needs 3"):
        MaskableREINFORCE("MlpPolicy", BadMasksEnv(length=4)).learn(50)


@pytest.mark.parametrize("space", list(MASKED_ENVS))
def test_masks_of_any_shape_with_one_value_per_choice_are_taken(space: str) -> None:
    """As MaskablePPO takes them: e.g. (1, n) per env, which sb3-contrib reshapes."""
    env = InvalidActionRecorder(MASKED_ENVS[space](ALL_WRONG[space]))
    masks = env.unwrapped.action_masks  # type: ignore[attr-defined]
    masked = ActionMasker(env, lambda _: np.asarray(masks())[None, :])
    MaskableREINFORCE("MlpPolicy", masked, n_steps=8, seed=0).learn(300)
    # Every wrong choice is masked: an action outside the mask means its values were read in the wrong order
    assert env.taken >= 300 and env.invalid == 0


@pytest.mark.parametrize(
    "algorithm, given, needed",
    [
        (MaskableREINFORCE, ActorCriticPolicy, MaskableActorCriticPolicy),
        (RecurrentREINFORCE, ActorCriticPolicy, RecurrentActorCriticPolicy),
        # REINFORCE's update calls its policy without masks
        (REINFORCE, MaskableActorCriticPolicy, ActorCriticPolicy),
    ],
)
def test_a_policy_the_algorithm_cannot_call_is_refused_at_construction(
    algorithm: type[REINFORCE], given: type, needed: type
) -> None:
    with pytest.raises(
        ValueError, match=rf"policy={given.__name__}: {algorithm.__name__} trains subclasses of .*\.{needed.__name__}"
    ):
        algorithm(given, MASKED_ENVS["Discrete"](3))


def test_a_state_with_every_action_masked_names_the_env_and_step() -> None:
    env = make_vec_env(lambda: BadMasksEnv(), n_envs=2)
    assert isinstance(env, DummyVecEnv)
    bad_env = env.envs[1].unwrapped
    assert isinstance(bad_env, BadMasksEnv)
    bad_env.empty_at = 7
    with pytest.raises(ValueError, match="env 1 masked every choice of an action at timestep 14"):
        MaskableREINFORCE("MlpPolicy", env).learn(200)


def test_action_masker_wrapper_and_subprocesses() -> None:
    def make() -> gym.Env:
        return ActionMasker(IdentityEnv(dim=4), lambda env: np.array([True, True, False, True]))

    env = make_vec_env(make, n_envs=2, vec_env_cls=SubprocVecEnv)
    try:
        model = MaskableREINFORCE("MlpPolicy", env, n_steps=20, seed=0).learn(200)
        assert model._n_updates > 0
    finally:
        env.close()


def test_save_load_round_trips_without_unpickling(tmp_path: Path) -> None:
    env = MASKED_ENVS["MultiDiscrete"](3)
    model = MaskableREINFORCE("MlpPolicy", env, baseline="critic", seed=0).learn(300)
    model.save(tmp_path / "model.zip")
    loaded = MaskableREINFORCE.load(tmp_path / "model.zip")
    assert isinstance(loaded.policy, MaskableActorCriticPolicy)
    obs = np.stack([env.observation_space.sample() for _ in range(10)])
    masks = np.stack([env.action_masks() for _ in range(10)])
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True, action_masks=masks)[0],
        model.predict(obs, deterministic=True, action_masks=masks)[0],
    )
    # A maskable save is not a REINFORCE one: the policy aliases mean other classes
    with pytest.raises(ValueError, match=r"it is a MaskableREINFORCE save: load it with MaskableREINFORCE\.load"):
        REINFORCE.load(tmp_path / "model.zip")


def test_box_actions_and_gsde_are_refused() -> None:
    with pytest.raises(ValueError, match="MaskableREINFORCE does not support the action space Box"):
        MaskableREINFORCE("MlpPolicy", "Pendulum-v1")
    with pytest.raises(ValueError, match="use_sde=True"):
        MaskableREINFORCE("MlpPolicy", MASKED_ENVS["Discrete"](3), use_sde=True)
    # A buffer that stores no masks
    with pytest.raises(ValueError, match="must be MaskableEpisodicRolloutBuffer or a subclass"):
        MaskableREINFORCE("MlpPolicy", MASKED_ENVS["Discrete"](3), rollout_buffer_class=EpisodicRolloutBuffer)


def test_zoo_trains_and_enjoys_reinforce_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rl_zoo3")
    from sb3_reinforce.zoo.cli import main

    env_id = "MaskedIdentity-v0"
    if env_id not in gym.registry:
        gym.register(
            env_id, entry_point="sb3_contrib.common.envs:InvalidActionEnvDiscrete", kwargs=dict(dim=10, n_invalid_actions=5)
        )
    conf = tmp_path / "conf.yml"
    conf.write_text(f"{env_id}:\n  policy: 'MlpPolicy'\n  n_envs: 2\n  n_timesteps: 400\n")
    main(["train", "--algo", "reinforce_mask", "--env", env_id, "-conf", str(conf), "-f", str(tmp_path), "--eval-freq", "-1"])
    model = MaskableREINFORCE.load(tmp_path / "reinforce_mask" / f"{env_id}_1" / f"{env_id}.zip")
    assert model.num_timesteps == 400 and isinstance(model.policy, MaskableActorCriticPolicy)
    main(["enjoy", "--algo", "reinforce_mask", "--env", env_id, "-f", str(tmp_path), "-n", "50", "--no-render"])
    assert "Loading" in capsys.readouterr().out


class ActionRecorder(gym.Wrapper):
    """Records every action the env receives."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[int] = []

    def step(self, action: Any) -> Any:
        self.actions.append(int(action))
        return self.env.step(action)


@pytest.mark.parametrize("policy,make_env", [("MultiInputPolicy", SimpleMultiObsEnv), ("CnnPolicy", FakeImageEnv)])
def test_dict_and_image_observations_obey_the_masks(policy: str, make_env: Any) -> None:
    recorder = ActionRecorder(make_env())
    n_actions = int(recorder.action_space.n)  # type: ignore[attr-defined]
    # The last action is always forbidden
    env = ActionMasker(recorder, lambda _: np.arange(n_actions) < n_actions - 1)
    model = MaskableREINFORCE(policy, env, n_steps=16, seed=0).learn(64)
    assert model._n_updates > 0 and len(recorder.actions) == 64
    assert set(recorder.actions) <= set(range(n_actions - 1))
