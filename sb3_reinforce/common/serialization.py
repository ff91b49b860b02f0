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
import importlib
import io
import json
import zipfile
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import BaseBuffer

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


def read_safe_data(archive: zipfile.ZipFile) -> dict[str, Any]:
    """A save's ``safe_data.json`` (see :func:`safe_data`), or an empty dict when it has none."""
    if SAFE_DATA_ENTRY not in archive.namelist():
        return {}
    return json.loads(archive.read(SAFE_DATA_ENTRY))


def pickled_entry_names(data: Mapping[str, Any]) -> list[str]:
    """The names of the entries of a save's ``data`` (read as JSON only) that SB3 stored with cloudpickle."""
    return [name for name, value in data.items() if isinstance(value, dict) and ":serialized:" in value]


def add_safe_data(content: bytes, values: Mapping[str, Any], aliases: Mapping[str, type], algorithm: str) -> bytes:
    """
    A save's bytes with ``safe_data.json`` added, describing its pickled entries.

    :param content: The zip-file written by SB3's ``save``
    :param values: The saved object's attributes, by name (``vars(model)``)
    :param aliases: The algorithm's ``policy_aliases``
    :param algorithm: The name of the algorithm's class
    """
    buffer = io.BytesIO(content)
    with zipfile.ZipFile(buffer, "a") as archive:
        pickled = {name: values[name] for name in pickled_entry_names(json.loads(archive.read("data")))}
        archive.writestr(SAFE_DATA_ENTRY, json.dumps(safe_data(pickled, aliases, algorithm), indent=1))
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
    """A save that only unpickling could load; names each such entry and the opt-ins."""

    def __init__(self, refused: Mapping[str, str], context: str = "") -> None:
        """
        :param refused: The reason each entry cannot be loaded safely, by entry name
        :param context: What the message starts with (e.g. ``"Cannot load model.zip"``)
        """
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
    return value


def _import_allowed_class(name: str) -> type:
    cls = _import_class(name)
    if not issubclass(cls, ALLOWED_BASES):
        raise ValueError(f"{name} is not an allowed class (a torch module or optimizer, or an SB3 buffer)")
    return cls
