"""
Model files that are data, not programs.

SB3 stores the entries of a save that JSON cannot hold (the spaces, the policy class, schedules,
classes in ``policy_kwargs``, episode-info buffers, the last observations) with cloudpickle, and
``load`` decodes them: a crafted file runs code when it is opened. A save of this package also
holds ``safe_data.json``, each such entry described as data (numbers, arrays as bytes, names of
allow-listed classes). Loading rebuilds the entries from it and hands them to SB3's loader as
``custom_objects``, so that nothing is unpickled; a file with an entry that cannot be rebuilt so is
refused, naming the entry, before any of it is decoded.
"""

import base64
import dataclasses
import importlib
import io
import json
import math
import zipfile
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import BaseBuffer
from stable_baselines3.common.preprocessing import get_flattened_obs_dim

SAFE_DATA_ENTRY = "safe_data.json"
SAFE_DATA_FORMAT = 1
# Modules whose classes a safe load may import, and what those classes must be
ALLOWED_MODULES = ("torch.nn", "torch.optim", "stable_baselines3", "sb3_contrib", "sb3_reinforce", "rl_zoo3")
ALLOWED_BASES: tuple[type, ...] = (th.nn.Module, th.optim.Optimizer, BaseBuffer)
# Plain objects rebuilt from their attributes: SB3's and RL Zoo's learning-rate schedules, running statistics
ALLOWED_OBJECTS = frozenset(
    {
        "stable_baselines3.common.utils:ConstantSchedule",
        "stable_baselines3.common.utils:FloatSchedule",
        "stable_baselines3.common.utils:LinearSchedule",
        "rl_zoo3.utils:SimpleLinearSchedule",
        # VecNormalize's statistics
        "stable_baselines3.common.running_mean_std:RunningMeanStd",
    }
)


class NotEncodable(ValueError):
    """A value that ``encode`` cannot describe as data."""


def encode(value: Any, aliases: Mapping[str, type] | None = None) -> Any:
    """
    Describe ``value`` as JSON data that :func:`decode` rebuilds without unpickling.

    :param value: A space, an allow-listed class or schedule, an array, a deque, or plain data holding them
    :param aliases: Names of classes to store by name (the algorithm's ``policy_aliases``)
    :raises NotEncodable: Naming what cannot be described
    """
    if isinstance(value, np.generic):
        return {":scalar:": value.dtype.str, "value": value.item()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise NotEncodable(f"an array of Python objects ({value.dtype})")
        return {
            ":ndarray:": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
            "dtype": value.dtype.str,
            "shape": list(value.shape),
        }
    if isinstance(value, (list, tuple)):
        items = [encode(item, aliases) for item in value]
        return items if isinstance(value, list) else {":tuple:": items}
    if isinstance(value, deque):
        return {":deque:": [encode(item, aliases) for item in value], "maxlen": value.maxlen}
    if isinstance(value, dict):
        if not all(isinstance(key, str) and not key.startswith(":") for key in value):
            raise NotEncodable(f"a dict with keys {list(value)!r} (only strings not starting with ':')")
        return {key: encode(item, aliases) for key, item in value.items()}
    if isinstance(value, spaces.Space):
        return _encode_space(value)
    if isinstance(value, type):
        alias = next((name for name, cls in (aliases or {}).items() if cls is value), None)
        if alias is not None:
            return {":alias:": alias}
        _check_allowed_class(value)
        return {":class:": f"{value.__module__}:{value.__qualname__}"}
    name = f"{type(value).__module__}:{type(value).__qualname__}"
    if name in ALLOWED_OBJECTS:
        return {":object:": name, "state": encode(vars(value), aliases)}
    raise NotEncodable(f"an object of type {name}")


def decode(data: Any, aliases: Mapping[str, type] | None = None) -> Any:
    """
    Rebuild what :func:`encode` described, importing only allow-listed classes.

    :param data: JSON data from :func:`encode`
    :param aliases: Names of classes stored by name (the algorithm's ``policy_aliases``)
    :raises ValueError: For a description of anything else (a crafted or damaged file)
    """
    if isinstance(data, list):
        return [decode(item, aliases) for item in data]
    if not isinstance(data, dict):
        return data
    if ":scalar:" in data:
        return _dtype(data[":scalar:"]).type(data["value"])
    if ":ndarray:" in data:
        array = np.frombuffer(base64.b64decode(data[":ndarray:"]), dtype=_dtype(data["dtype"]))
        return array.reshape(data["shape"]).copy()
    if ":tuple:" in data:
        return tuple(decode(item, aliases) for item in data[":tuple:"])
    if ":deque:" in data:
        return deque((decode(item, aliases) for item in data[":deque:"]), maxlen=data["maxlen"])
    if ":space:" in data:
        return _decode_space(data)
    if ":alias:" in data:
        if data[":alias:"] not in (aliases or {}):
            raise ValueError(f"unknown policy alias {data[':alias:']!r}")
        return (aliases or {})[data[":alias:"]]
    if ":class:" in data:
        return _import_allowed_class(data[":class:"])
    if ":object:" in data:
        if data[":object:"] not in ALLOWED_OBJECTS:
            raise ValueError(f"{data[':object:']} is not an allowed object")
        cls = _import_class(data[":object:"])
        instance: Any = object.__new__(cls)
        vars(instance).update(decode(data["state"], aliases))
        return instance
    return {key: decode(item, aliases) for key, item in data.items()}


def safe_data(pickled: Mapping[str, Any], aliases: Mapping[str, type], algorithm: str) -> dict[str, Any]:
    """
    The content of ``safe_data.json`` for the entries that SB3 pickles.

    :param pickled: The entries that SB3 pickled, by name
    :param aliases: The algorithm's ``policy_aliases``
    :param algorithm: The name of the algorithm's class (policy aliases mean different classes in different algorithms)
    :return: ``{"format": 1, "algorithm": name, "entries": {name: description}, "not_encodable": {name: reason}}``
    """
    entries, not_encodable = {}, {}
    for name, value in pickled.items():
        try:
            entries[name] = encode(value, aliases)
        except NotEncodable as error:
            not_encodable[name] = str(error)
    return {"format": SAFE_DATA_FORMAT, "algorithm": algorithm, "entries": entries, "not_encodable": not_encodable}


def read_safe_data(members: Mapping[str, bytes]) -> dict[str, Any]:
    """
    A save's ``safe_data.json`` (see :func:`safe_data`), or an empty dict when it has none.

    :param members: The save's members, by name
    :raises ValueError: When it is not laid out as :func:`safe_data` writes it
    """
    if SAFE_DATA_ENTRY not in members:
        return {}
    described = json.loads(members[SAFE_DATA_ENTRY])
    layout = {"entries": dict, "not_encodable": dict, "algorithm": str}
    if not isinstance(described, dict) or not all(
        isinstance(described.get(key, kind()), kind) for key, kind in layout.items()
    ):
        raise ValueError(f"{SAFE_DATA_ENTRY} is not laid out as a save writes it (a JSON object with {layout})")
    return described


@dataclasses.dataclass(frozen=True)
class ModelArchive:
    """
    The parts of a model file that ``load`` checks before it builds anything.

    :param data: The ``data`` entry, read as JSON only (SB3's pickled values stay undecoded)
    :param described: ``safe_data.json`` (:func:`read_safe_data`; empty when the file has none)
    :param policy_shapes: The shape of each tensor of ``policy.pth``, by name
    """

    data: dict[str, Any]
    described: dict[str, Any]
    policy_shapes: dict[str, tuple[int, ...]]


def read_model_archive(content: bytes, algorithm: str) -> ModelArchive:
    """
    Read and check every member of a model file, each once: its checksum, ``data`` and
    ``safe_data.json`` as JSON objects, and every ``.pth`` file as torch reads weights
    (``weights_only=True``), onto torch's meta device, so that no tensor is allocated.

    :param content: The model file's bytes
    :param algorithm: The name of the loading algorithm, for the messages
    :raises ValueError: Naming the member that is missing, damaged or not what a save holds
    """
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = {name: _read_member(archive, name) for name in archive.namelist()}
    if "data" not in members or "policy.pth" not in members:
        raise ValueError(f"not a complete {algorithm} save (it holds no model data or no policy.pth; truncated?)")
    data = json.loads(members["data"])
    if not isinstance(data, dict):
        raise ValueError(f"its data is a JSON {type(data).__name__}, not an object")
    described = read_safe_data(members)
    tensors = {name: _read_weights(name, member) for name, member in members.items() if name.endswith(".pth")}
    policy = tensors["policy.pth"]
    if not isinstance(policy, dict) or not all(isinstance(value, th.Tensor) for value in policy.values()):
        raise ValueError("its policy.pth is not a dict of tensors")
    return ModelArchive(data, described, {name: tuple(value.shape) for name, value in policy.items()})


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        # zipfile checks the member's checksum as it reads it
        return archive.read(name)
    except zipfile.BadZipFile as error:
        raise ValueError(f"its member {name} is damaged ({error})") from None


def _read_weights(name: str, member: bytes) -> Any:
    try:
        return th.load(io.BytesIO(member), map_location="meta", weights_only=True)
    except Exception as error:
        # torch's own message advises weights_only=False, i.e. unpickling the damaged file
        raise ValueError(f"its {name} is not a weights file that torch reads safely ({type(error).__name__})") from None


Check = Callable[[Any], None]
"""Raises ``ValueError`` saying what is wrong with a value of a saved entry."""


@dataclasses.dataclass(frozen=True)
class SavedEntry:
    """
    What a save's ``data`` may hold under one name.

    :param plain: Check of the value when SB3 wrote it as plain JSON (None: it never does)
    :param described: Check of the value rebuilt from ``safe_data.json`` when SB3 pickled it (None: it never does)
    :param required: Whether every save of the algorithm holds it
    """

    plain: Check | None = None
    described: Check | None = None
    required: bool = False


def check_plain_entries(data: Mapping[str, Any], schema: Mapping[str, SavedEntry], algorithm: str) -> None:
    """
    Check a save's ``data``, read as JSON only, against the entries that the algorithm writes:
    every name is one of them, each plain value passes its check, and only the entries that SB3
    pickles are pickled.

    :param data: The save's ``data``
    :param schema: The algorithm's entries, by name
    :param algorithm: The algorithm's name, for the messages
    :raises ValueError: Naming the first entry that is unknown, missing or out of its range
    """
    for name, entry in schema.items():
        if entry.required and name not in data:
            raise ValueError(f"it has no entry {name!r}: it is not a {algorithm} save (load it with the class that saved it)")
    for name, value in data.items():
        if name not in schema:
            raise ValueError(f"entry {name!r} is not one that {algorithm} saves (a crafted file, or another algorithm's)")
        pickled = isinstance(value, dict) and ":serialized:" in value
        check = schema[name].described if pickled else schema[name].plain
        if check is None:
            kind = "pickled" if pickled else "plain JSON"
            raise ValueError(f"entry {name!r} is {kind}, which {algorithm} never saves it as")
        if not pickled:
            _apply_check(name, check, value)


def check_described_entries(rebuilt: Mapping[str, Any], schema: Mapping[str, SavedEntry]) -> None:
    """
    Check the entries rebuilt from ``safe_data.json`` (by :func:`safe_custom_objects`) against the
    algorithm's entries.

    :param rebuilt: The entries rebuilt from ``safe_data.json``, by name: pickled in the save, as
        :func:`check_plain_entries` accepted them
    :param schema: The algorithm's entries, by name
    :raises ValueError: Naming the first entry of the wrong kind
    """
    for name, value in rebuilt.items():
        check = schema[name].described
        assert check is not None, f"{name} was checked as pickled by check_plain_entries"
        _apply_check(name, check, value)


def _apply_check(name: str, check: Check, value: Any) -> None:
    try:
        check(value)
    except ValueError as error:
        raise ValueError(f"entry {name!r}: {error}") from None


def integer(low: int | None = None, high: int | None = None) -> Check:
    """
    A check that a value is an integer (not a bool) in ``[low, high]``.

    :param low: Smallest value allowed (None: no bound)
    :param high: Largest value allowed (None: no bound)
    """

    def check(value: Any) -> None:
        # JSON gives Python numbers
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{value!r} is not in [{low}, {high}]")

    return check


def number(low: float = -math.inf, high: float = math.inf, *, above: bool = False) -> Check:
    """
    A check that a value is a finite number (not a bool) in ``[low, high]`` (``(low, high]`` when ``above``).

    :param low: Lower bound (included unless ``above``)
    :param high: Upper bound (included)
    :param above: Exclude ``low`` itself
    """

    def check(value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if value < low or value > high or (above and value == low):
            raise ValueError(f"{value!r} is not in {'(' if above else '['}{low}, {high}]")

    return check


def one_of(*allowed: Any) -> Check:
    """
    A check that a value is one of ``allowed``, of the same type (``True`` is not ``1``).

    :param allowed: The values allowed
    """

    def check(value: Any) -> None:
        """
        Raise ``ValueError`` unless ``value`` is one of the allowed values, of the same type.

        :param value: The entry's value
        """
        if not any(type(value) is type(option) and value == option for option in allowed):
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, allowed))}")

    return check


def optional(check: Check) -> Check:
    """
    ``check``, or None.

    :param check: The check of a value that is not None
    """

    def check_or_none(value: Any) -> None:
        if value is not None:
            check(value)

    return check_or_none


def instance_of(*types: type) -> Check:
    """A check that a value is an instance of one of ``types``."""

    def check(value: Any) -> None:
        if not isinstance(value, types):
            raise ValueError(f"a {type(value).__name__}, not a {' or '.join(kind.__name__ for kind in types)}")

    return check


def subclass_of(base: type) -> Check:
    """
    A check that a value is ``base`` or a subclass of it.

    :param base: The class that the value must be or derive from
    """

    def check(value: Any) -> None:
        if not (isinstance(value, type) and issubclass(value, base)):
            raise ValueError(f"{value!r} is not a subclass of {base.__module__}.{base.__qualname__}")

    return check


def callable_value(value: Any) -> None:
    """
    A check that a value is callable (a schedule).

    :param value: The entry's value
    """
    if not callable(value):
        raise ValueError(f"a {type(value).__name__}, which is not callable")


def json_object(value: Any) -> None:
    """
    A check that a value is a JSON object (a dict with string keys).

    :param value: The entry's value
    """
    if not (isinstance(value, dict) and all(isinstance(key, str) for key in value)):
        raise ValueError(f"{value!r} is not a JSON object")


is_none = one_of(None)
"""
A check that a value is None.

:param value: The entry's value
"""
boolean = one_of(True, False)
"""
A check that a value is ``True`` or ``False``.

:param value: The entry's value
"""


def check_spaces_fit_weights(
    observation_space: spaces.Space, action_space: spaces.Space, policy_shapes: Mapping[str, tuple[int, ...]]
) -> None:
    """
    Check the spaces a save declares against its policy's weights before anything is built from
    them: a space declared by one number (``Discrete(n)``, ``MultiDiscrete``, ``MultiBinary``)
    sizes the networks' inputs or outputs, so a crafted number would otherwise make ``load``
    allocate what it says. ``Box`` bounds are stored element by element, so their size is the file's.

    :param observation_space: The declared observation space
    :param action_space: The declared action space
    :param policy_shapes: The shape of each tensor of ``policy.pth``
    :raises ValueError: Naming the space that the weights cannot take
    """
    action_outputs = policy_shapes.get("action_net.weight", (None,))[0]
    expected_outputs = _distribution_inputs(action_space)
    if action_outputs is not None and action_outputs != expected_outputs:
        raise ValueError(
            f"entry 'action_space': {action_space} needs {expected_outputs} action outputs; "
            f"the weights in policy.pth have {action_outputs}"
        )
    one_hot_inputs = _one_hot_inputs(observation_space)
    widest_input = max((shape[1] for shape in policy_shapes.values() if len(shape) == 2), default=0)
    if one_hot_inputs > widest_input:
        raise ValueError(
            f"entry 'observation_space': {observation_space} needs at least {one_hot_inputs} network inputs; "
            f"no layer of the weights in policy.pth takes more than {widest_input}"
        )


def _distribution_inputs(action_space: spaces.Space) -> int:
    """The outputs of the policy's ``action_net`` for an action space (SB3's distributions)."""
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    return math.prod(action_space.shape or ())


def _one_hot_inputs(observation_space: spaces.Space) -> int:
    """The network inputs of the parts of an observation space that SB3 one-hot encodes or flattens from a number."""
    if isinstance(observation_space, spaces.Dict):
        return sum(_one_hot_inputs(space) for space in observation_space.spaces.values())
    # A Box is stored element by element: its size is the file's
    return 0 if isinstance(observation_space, spaces.Box) else int(get_flattened_obs_dim(observation_space))


def pickled_entry_names(data: Mapping[str, Any]) -> list[str]:
    """
    The names of the entries of a save's ``data`` (read as JSON only) that SB3 stored with cloudpickle.

    :param data: The save's ``data``, read as JSON only
    """
    return [name for name, value in data.items() if isinstance(value, dict) and ":serialized:" in value]


def add_safe_data(
    content: bytes, values: Mapping[str, Any], aliases: Mapping[str, type], algorithm: str, keep_pickles: bool = True
) -> bytes:
    """
    A save's bytes with ``safe_data.json`` added, describing its pickled entries.

    :param content: The zip-file written by SB3's ``save``
    :param values: The saved object's attributes, by name (``vars(model)``)
    :param aliases: The algorithm's ``policy_aliases``
    :param algorithm: The name of the algorithm's class
    :param keep_pickles: Keep SB3's pickles of the described entries in ``data`` (for SB3's own
        readers); otherwise they are emptied, and an entry that only pickle can store is refused
    :raises ValueError: Without ``keep_pickles``, naming the entries that only pickle can store
    """
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    data = json.loads(members["data"])
    names = pickled_entry_names(data)
    described = safe_data({name: values[name] for name in names}, aliases, algorithm)
    if not keep_pickles:
        if described["not_encodable"]:
            raise ValueError(f"keep_pickles=False: only pickle can store {described['not_encodable']}")
        for name in names:
            # SB3's ":type:" and readable attributes stay: the entry is still marked as one to rebuild
            data[name][":serialized:"] = ""
        members["data"] = json.dumps(data, indent=4).encode()
    members[SAFE_DATA_ENTRY] = json.dumps(described, indent=1).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, member in members.items():
            archive.writestr(name, member)
    return buffer.getvalue()


def safe_custom_objects(
    data: Mapping[str, Any], described: Mapping[str, Any], aliases: Mapping[str, type], given: Mapping[str, Any]
) -> dict[str, Any]:
    """
    Every pickled entry of a save, rebuilt from its ``safe_data.json`` unless ``given``, for SB3's
    loader to use instead of unpickling.

    :param data: The save's ``data``, read as JSON only
    :param described: Its ``safe_data.json`` (:func:`read_safe_data`)
    :param aliases: The algorithm's ``policy_aliases``
    :param given: The user's ``custom_objects``, used as they are
    :raises UnsafeFileError: Naming every entry that only unpickling could rebuild
    """
    names = [name for name in pickled_entry_names(data) if name not in given]
    entries, not_encodable = described.get("entries", {}), described.get("not_encodable", {})
    rebuilt, refused = dict(given), {}
    for name in names:
        if name not in entries:
            refused[name] = not_encodable.get(name, "no safe description (saved by SB3 or an older sb3_reinforce)")
            continue
        try:
            rebuilt[name] = decode(entries[name], aliases)
        except (ValueError, TypeError, KeyError, ImportError, AttributeError) as error:
            refused[name] = f"its description cannot be rebuilt safely ({error})"
    if refused:
        raise UnsafeFileError(refused)
    return rebuilt


class UnsafeFileError(ValueError):
    """
    A save that only unpickling could load; names each such entry and the opt-ins.

    :param refused: The reason each entry cannot be loaded safely, by entry name
    :param context: What the message starts with (e.g. ``"Cannot load model.zip"``)
    """

    def __init__(self, refused: Mapping[str, str], context: str = "") -> None:
        self.refused = dict(refused)
        details = "; ".join(f"{name!r}: {reason}" for name, reason in refused.items())
        super().__init__(
            f"{context}{': ' if context else ''}it holds entries that only unpickling could load, which can run any code "
            f"the file contains ({details}). Pass custom_objects={{name: value}} for each, or allow_pickle=True if you "
            "trust the file and where it came from"
        )


def _encode_space(space: spaces.Space) -> dict[str, Any]:
    if isinstance(space, spaces.Box):
        return {":space:": "Box", "low": encode(space.low), "high": encode(space.high), "dtype": np.dtype(space.dtype).str}
    if isinstance(space, spaces.Discrete):
        return {":space:": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            ":space:": "MultiDiscrete",
            "nvec": encode(space.nvec),
            "start": encode(space.start),
            "dtype": np.dtype(space.dtype).str,
        }
    if isinstance(space, spaces.MultiBinary):
        return {":space:": "MultiBinary", "n": encode(space.n)}
    if isinstance(space, spaces.Dict):
        return {":space:": "Dict", "spaces": {key: _encode_space(value) for key, value in space.spaces.items()}}
    raise NotEncodable(f"a {type(space).__name__} space")


def _decode_space(data: dict[str, Any]) -> spaces.Space:
    kind = data[":space:"]
    if kind == "Box":
        return spaces.Box(low=decode(data["low"]), high=decode(data["high"]), dtype=_dtype(data["dtype"]))
    if kind == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data["start"]))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(decode(data["nvec"]), dtype=_dtype(data["dtype"]), start=decode(data["start"]))
    if kind == "MultiBinary":
        return spaces.MultiBinary(decode(data["n"]))
    if kind == "Dict":
        return spaces.Dict({key: _decode_space(value) for key, value in data["spaces"].items()})
    raise ValueError(f"unknown space {kind!r}")


def _dtype(name: str) -> np.dtype:
    dtype = np.dtype(name)
    if dtype.hasobject:
        raise ValueError(f"dtype {name!r} holds Python objects")
    return dtype


def _check_allowed_class(cls: type) -> None:
    if not (_in_allowed_module(cls.__module__) and issubclass(cls, ALLOWED_BASES)):
        raise NotEncodable(f"the class {cls.__module__}.{cls.__qualname__}, which a safe load would not import")


def _in_allowed_module(module_name: str) -> bool:
    return any(module_name == module or module_name.startswith(f"{module}.") for module in ALLOWED_MODULES)


def _import_class(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not _in_allowed_module(module_name):
        raise ValueError(f"{module_name} is not an allowed module")
    if any(part.startswith("_") for part in qualname.split(".")):
        raise ValueError(f"{name} names a private attribute")
    value: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        value = getattr(value, part)
    if not isinstance(value, type):
        raise ValueError(f"{name} is not a class")
    # The path must be where the class is defined: a walk through an allowed module's attributes
    # (``stable_baselines3.common.utils:th.fx.GraphModule``) would reach any module it imports
    if (value.__module__, value.__qualname__) != (module_name, qualname):
        raise ValueError(f"{name} is {value.__module__}:{value.__qualname__}, defined outside the path it names")
    return value


def _import_allowed_class(name: str) -> type:
    cls = _import_class(name)
    if not issubclass(cls, ALLOWED_BASES):
        raise ValueError(f"{name} is not an allowed class (a torch module or optimizer, or an SB3 buffer)")
    return cls
