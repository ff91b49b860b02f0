"""Opening a model file runs no code from it: crafted files are refused, and every normal save loads without unpickling."""

import base64
import contextlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from rl_zoo3.utils import linear_schedule
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.utils import LinearSchedule

from sb3_reinforce import REINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.serialization import SAFE_DATA_ENTRY


class Payload:
    """Unpickling it creates ``marker``: what a crafted file would do instead (run a shell command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _rewrite(path: Path, change: Any) -> None:
    """Rewrite the zip-file at ``path`` with ``change(entries)`` applied to its ``{name: bytes}``."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def _pickled(value: Any) -> dict[str, str]:
    return {":type:": "<class 'object'>", ":serialized:": base64.b64encode(cloudpickle.dumps(value)).decode()}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "model.zip"
    # A schedule and a class in policy_kwargs, so that every entry SB3 can pickle is pickled
    policy_kwargs = dict(activation_fn=th.nn.Tanh)
    model = REINFORCE(
        "MlpPolicy", "CartPole-v1", learning_rate=LinearSchedule(1e-3, 0, 1), policy_kwargs=policy_kwargs, seed=0
    )
    model.learn(200).save(path)
    return path


PICKLED_ENTRIES = [
    "observation_space",
    "action_space",
    "policy_class",
    "lr_schedule",
    "learning_rate",
    "policy_kwargs",
    "ep_info_buffer",
    "_last_obs",
]


@pytest.mark.parametrize("entry", PICKLED_ENTRIES)
def test_a_payload_without_safe_description_is_refused_and_never_runs(saved: Path, tmp_path: Path, entry: str) -> None:
    marker = tmp_path / "payload-ran"

    def plant(entries: dict[str, bytes]) -> None:
        data = json.loads(entries["data"])
        assert entry in data, entry
        data[entry] = _pickled(Payload(marker))
        entries["data"] = json.dumps(data).encode()
        safe = json.loads(entries[SAFE_DATA_ENTRY])
        del safe["entries"][entry]
        entries[SAFE_DATA_ENTRY] = json.dumps(safe).encode()

    _rewrite(saved, plant)
    with pytest.raises(ValueError, match=f"only unpickling could load.*'{entry}'.*allow_pickle=True") as error:
        REINFORCE.load(saved)
    assert "custom_objects" in str(error.value) and str(saved) in str(error.value)
    assert not marker.exists()
    # The opt-in decodes the entry as SB3 does: the payload runs, which is what it warns about
    with contextlib.suppress(Exception):  # what the payload's object does to the model after it ran does not matter here
        REINFORCE.load(saved, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("entry", PICKLED_ENTRIES)
def test_a_payload_beside_a_safe_description_is_ignored(saved: Path, tmp_path: Path, entry: str) -> None:
    reference = REINFORCE.load(saved)
    marker = tmp_path / "payload-ran"

    def plant(entries: dict[str, bytes]) -> None:
        data = json.loads(entries["data"])
        data[entry] = _pickled(Payload(marker))
        entries["data"] = json.dumps(data).encode()

    _rewrite(saved, plant)
    loaded = REINFORCE.load(saved)
    assert not marker.exists()
    observations = np.stack([reference.observation_space.sample() for _ in range(20)])
    np.testing.assert_array_equal(
        loaded.predict(observations, deterministic=True)[0], reference.predict(observations, deterministic=True)[0]
    )


CRAFTED_DESCRIPTIONS = {
    "a module outside the allow-list": ("policy_class", {":class:": "os:system"}),
    "an allowed module's private attribute": ("policy_class", {":class:": "torch.nn:Module.__subclasses__"}),
    "an allowed module's function": ("policy_class", {":class:": "torch.nn.functional:relu"}),
    "a class that is no module or optimizer": ("policy_class", {":class:": "stable_baselines3.common.utils:LinearSchedule"}),
    "an object outside the allow-list": ("lr_schedule", {":object:": "builtins:eval", "state": {}}),
    "an array of Python objects": ("_last_obs", {":ndarray:": "", "dtype": "|O", "shape": [0]}),
    "an unknown policy alias": ("policy_class", {":alias:": "EvilPolicy"}),
}


def _describe(path: Path, entry: str, description: Any) -> None:
    """Rewrite the save at ``path`` with ``description`` as the safe description of ``entry``."""

    def plant(entries: dict[str, bytes]) -> None:
        safe = json.loads(entries[SAFE_DATA_ENTRY])
        safe["entries"][entry] = description
        entries[SAFE_DATA_ENTRY] = json.dumps(safe).encode()

    _rewrite(path, plant)


@pytest.mark.parametrize("case", list(CRAFTED_DESCRIPTIONS))
def test_a_crafted_safe_description_is_refused(saved: Path, case: str) -> None:
    entry, description = CRAFTED_DESCRIPTIONS[case]
    _describe(saved, entry, description)
    with pytest.raises(ValueError, match=f"'{entry}': its description cannot be rebuilt safely"):
        REINFORCE.load(saved)


def test_a_save_without_safe_descriptions_loads_only_with_the_opt_in(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0).learn(100)
    # What SB3's own save writes (and sb3_reinforce's before safe saves)
    OnPolicyAlgorithm.save(model, tmp_path / "old.zip")
    with pytest.raises(ValueError, match=r"observation_space.*no safe description") as error:
        REINFORCE.load(tmp_path / "old.zip")
    for entry in ["policy_class", "lr_schedule", "action_space"]:
        assert repr(entry) in str(error.value)
    loaded = REINFORCE.load(tmp_path / "old.zip", allow_pickle=True)
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(loaded.policy.state_dict()[name], tensor)


class CustomActivation(th.nn.ReLU):
    """A user's class: outside the allow-list, so only pickle can store it."""


def test_a_custom_class_is_named_and_loads_with_custom_objects_or_the_opt_in(tmp_path: Path) -> None:
    policy_kwargs = dict(activation_fn=CustomActivation, net_arch=[16])
    model = REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=policy_kwargs, seed=0)
    model.save(tmp_path / "custom.zip")
    with pytest.raises(ValueError, match=r"'policy_kwargs': the class .*CustomActivation, which a safe load would not import"):
        REINFORCE.load(tmp_path / "custom.zip")
    assert (
        REINFORCE.load(tmp_path / "custom.zip", custom_objects={"policy_kwargs": policy_kwargs}).policy_kwargs == policy_kwargs
    )
    assert REINFORCE.load(tmp_path / "custom.zip", allow_pickle=True).policy_kwargs["activation_fn"] is CustomActivation


class SpacesEnv(gym.Env):
    """Random observations and zero rewards, for any pair of spaces; episodes last 5 steps."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return self.observation_space.sample(), 0.0, self.t >= 5, False, {}


OBSERVATION_SPACES: dict[str, tuple[str, spaces.Space]] = {
    "Box": ("MlpPolicy", spaces.Box(np.array([-1.0, -np.inf]), np.array([2.0, np.inf]), dtype=np.float64)),
    "image": ("CnnPolicy", spaces.Box(0, 255, (36, 36, 3), dtype=np.uint8)),
    # SB3's one-hot preprocessing takes Discrete observations from 0 only
    "Discrete": ("MlpPolicy", spaces.Discrete(4)),
    "MultiDiscrete": ("MlpPolicy", spaces.MultiDiscrete([3, 2, 4])),
    "MultiBinary": ("MlpPolicy", spaces.MultiBinary(3)),
    "Dict": (
        "MultiInputPolicy",
        spaces.Dict({"position": spaces.Box(-1, 1, (2,)), "mode": spaces.Discrete(3), "flags": spaces.MultiBinary(2)}),
    ),
}
ACTION_SPACES: dict[str, spaces.Space] = {
    "Discrete with start": spaces.Discrete(3, start=1),
    "Box (2, 2)": spaces.Box(-1, 1, (2, 2)),
    "MultiDiscrete": spaces.MultiDiscrete([2, 3]),
    "MultiBinary": spaces.MultiBinary(2),
}
KEYWORDS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "policy_kwargs classes": dict(
        policy_kwargs=dict(
            activation_fn=th.nn.Tanh,
            optimizer_class=th.optim.SGD,
            optimizer_kwargs=dict(momentum=0.5),
            net_arch=dict(pi=[8], vf=[8]),
            features_extractor_class=FlattenExtractor,
        ),
        baseline="critic",
    ),
    "RMSprop and an SB3 schedule": dict(use_rms_prop=True, learning_rate=LinearSchedule(1e-3, 1e-4, 0.5)),
    "RL Zoo schedule": dict(learning_rate=linear_schedule(3e-4)),
}


def _assert_round_trip(model: REINFORCE, path: Path) -> REINFORCE:
    model.learn(20)
    model.save(path)
    loaded = REINFORCE.load(path)
    assert loaded.observation_space == model.observation_space and loaded.action_space == model.action_space
    assert type(loaded.policy) is type(model.policy)
    assert loaded.lr_schedule(0.3) == model.lr_schedule(0.3)
    assert loaded.ep_info_buffer == model.ep_info_buffer
    observations = [model.observation_space.sample() for _ in range(10)]
    for observation in observations:
        expected, _ = model.predict(observation, deterministic=True)
        np.testing.assert_array_equal(loaded.predict(observation, deterministic=True)[0], expected)
    return loaded


@pytest.mark.parametrize("observation", list(OBSERVATION_SPACES))
def test_every_observation_space_round_trips_without_unpickling(tmp_path: Path, observation: str) -> None:
    policy, observation_space = OBSERVATION_SPACES[observation]
    env = SpacesEnv(observation_space, spaces.Discrete(2))
    _assert_round_trip(REINFORCE(policy, env, seed=0), tmp_path / "model.zip")


@pytest.mark.parametrize("action", list(ACTION_SPACES))
def test_every_action_space_round_trips_without_unpickling(tmp_path: Path, action: str) -> None:
    env = SpacesEnv(spaces.Box(-1, 1, (3,)), ACTION_SPACES[action])
    _assert_round_trip(REINFORCE("MlpPolicy", env, seed=0), tmp_path / "model.zip")


@pytest.mark.parametrize("keywords", list(KEYWORDS))
def test_every_keyword_round_trips_without_unpickling(tmp_path: Path, keywords: str) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, **KEYWORDS[keywords])
    loaded = _assert_round_trip(model, tmp_path / "model.zip")
    assert loaded.policy_kwargs == model.policy_kwargs
    assert type(loaded.policy.optimizer) is type(model.policy.optimizer)


def test_a_file_object_round_trips_without_unpickling() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = REINFORCE.load(buffer)
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(loaded.policy.state_dict()[name], tensor)


def _edit_data(path: Path, change: Any) -> None:
    """Rewrite the save at ``path`` with ``change(data)`` applied to its ``data``, read as JSON."""

    def plant(entries: dict[str, bytes]) -> None:
        data = json.loads(entries["data"])
        change(data)
        entries["data"] = json.dumps(data).encode()

    _rewrite(path, plant)


def test_a_file_cannot_choose_the_env_and_import_a_module(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gymnasium imports the module of an env id "module:EnvName" to make it: an import with effects
    marker = tmp_path / "imported"
    (tmp_path / "import_effect.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _edit_data(saved, lambda data: data.update(env="import_effect:CartPole-v1"))
    with pytest.raises(ValueError, match=rf"Cannot load {saved}: entry 'env' is not one that REINFORCE saves"):
        REINFORCE.load(saved)
    assert not marker.exists()


OUT_OF_RANGE_ENTRIES = {
    "device": "cuda:7",
    "n_envs": 10**9,
    "n_steps": "64",
    "carried_episodes": "sometimes",
    "num_timesteps": -5,
    "gamma": 1.5,
    "baseline": "critic ",
    "normalize_advantage": 1,
    "rollout_buffer_kwargs": {"max_steps_per_env": 10, "device": "cuda"},
}


@pytest.mark.parametrize("entry", list(OUT_OF_RANGE_ENTRIES))
def test_every_plain_entry_is_checked_for_type_and_range(saved: Path, entry: str) -> None:
    _edit_data(saved, lambda data: data.update({entry: OUT_OF_RANGE_ENTRIES[entry]}))
    with pytest.raises(ValueError, match=rf"Cannot load {saved}: entry '{entry}'"):
        REINFORCE.load(saved)


def test_n_envs_must_match_the_saved_observations(saved: Path) -> None:
    _edit_data(saved, lambda data: data.update(n_envs=3))
    with pytest.raises(ValueError, match=r"entry 'n_envs': 3, but '_last_obs' holds the observations of 1 envs"):
        REINFORCE.load(saved)


def test_a_class_reached_by_walking_attributes_is_refused(saved: Path) -> None:
    # Allowed module, then attributes through torch to a module that is not allowed
    walk = {":class:": "stable_baselines3.common.utils:th.fx.GraphModule"}
    _describe(saved, "policy_kwargs", {"activation_fn": walk})
    with pytest.raises(ValueError, match=r"'policy_kwargs'.*torch\.fx\.graph_module:GraphModule, defined outside the path"):
        REINFORCE.load(saved)


@pytest.mark.parametrize(
    "entry, space",
    [
        ("observation_space", {":space:": "Discrete", "n": 5_000_000, "start": 0}),
        ("observation_space", {":space:": "MultiBinary", "n": 10**8}),
        ("action_space", {":space:": "Discrete", "n": 5_000_000, "start": 0}),
    ],
)
def test_a_declared_space_larger_than_the_weights_is_refused_before_building(
    saved: Path, entry: str, space: dict[str, Any]
) -> None:
    _describe(saved, entry, space)
    with pytest.raises(ValueError, match=rf"Cannot load {saved}: entry '{entry}': .* the weights in policy\.pth"):
        REINFORCE.load(saved)


def _damage_member(path: Path, name: str) -> None:
    """Flip a byte in the middle of the stored member ``name``, leaving its checksum as it was."""
    content = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    assert info.compress_type == zipfile.ZIP_STORED
    header = content[info.header_offset : info.header_offset + 30]
    data_start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    content[data_start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def _replace_member(name: str, content: bytes) -> Any:
    def plant(entries: dict[str, bytes]) -> None:
        entries[name] = content

    return plant


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: _damage_member(path, "policy.pth"), "its member policy.pth is damaged"),
        (lambda path: _rewrite(path, _replace_member("data", b"[1, 2]")), "its data is a JSON list, not an object"),
        (lambda path: _rewrite(path, _replace_member(SAFE_DATA_ENTRY, b"[]")), "safe_data.json is not laid out"),
        (lambda path: _rewrite(path, _replace_member("policy.pth", b"garbage" * 50)), "policy.pth is not a weights file"),
        (
            lambda path: _rewrite(path, _replace_member("policy.optimizer.pth", b"\x80\x04garbage")),
            "policy.optimizer.pth is not a weights file",
        ),
    ],
)
def test_a_damaged_file_gives_one_error_naming_the_path(saved: Path, damage: Any, message: str) -> None:
    damage(saved)
    with pytest.raises(ValueError, match=rf"Cannot load {saved}: .*{message}") as error:
        REINFORCE.load(saved)
    assert "weights_only=False" not in str(error.value)


ALGORITHMS: dict[str, tuple[type[REINFORCE], str]] = {
    "REINFORCE": (REINFORCE, "MlpPolicy"),
    "MaskableREINFORCE": (MaskableREINFORCE, "MlpPolicy"),
    "RecurrentREINFORCE": (RecurrentREINFORCE, "MlpLstmPolicy"),
}


@pytest.mark.parametrize(
    "saved_with, loaded_with",
    [(saved, loaded) for saved in ALGORITHMS for loaded in ALGORITHMS if saved != loaded],
)
def test_a_save_loads_only_with_the_class_that_wrote_it(tmp_path: Path, saved_with: str, loaded_with: str) -> None:
    algorithm, policy = ALGORITHMS[saved_with]
    algorithm(policy, "CartPole-v1").save(tmp_path / "model.zip")
    with pytest.raises(ValueError, match=rf"it is a {saved_with} save: load it with {saved_with}\.load"):
        ALGORITHMS[loaded_with][0].load(tmp_path / "model.zip")


def test_a_save_without_pickles_loads_and_holds_no_pickle(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=dict(activation_fn=th.nn.Tanh), seed=0).learn(200)
    model.save(tmp_path / "model.zip", keep_pickles=False)
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        data = json.loads(archive.read("data"))
    pickled = [name for name, value in data.items() if isinstance(value, dict) and ":serialized:" in value]
    assert "policy_class" in pickled and all(data[name][":serialized:"] == "" for name in pickled)
    loaded = REINFORCE.load(tmp_path / "model.zip")
    for name, tensor in model.policy.state_dict().items():
        assert th.equal(loaded.policy.state_dict()[name], tensor)
    # SB3's own reader finds nothing to unpickle
    with pytest.raises(EOFError, match="Ran out of input"):
        load_from_zip_file(tmp_path / "model.zip")


def test_a_save_without_pickles_refuses_a_class_only_pickle_stores(tmp_path: Path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=dict(activation_fn=CustomActivation, net_arch=[16]))
    with pytest.raises(ValueError, match=r"keep_pickles=False: only pickle can store .*policy_kwargs.*CustomActivation"):
        model.save(tmp_path / "model.zip", keep_pickles=False)
    assert not (tmp_path / "model.zip").exists()
