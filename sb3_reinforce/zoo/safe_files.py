"""
The zoo command reads a run's files without running code from them.

RL Zoo reads ``config.yml`` and ``args.yml`` with PyYAML's ``UnsafeLoader`` (any Python object),
passes the saved ``normalize`` string to ``eval()`` (RL Zoo issue #505), imports whatever wrapper
class ``config.yml`` names, and unpickles ``vecnormalize.pkl``: a downloaded run folder can run
code the moment ``enjoy`` or ``record_video`` opens it. Inside the command, :func:`safe_zoo_files`
reads those files as data instead, and the ``VecNormalize`` statistics are also written as JSON
(``vecnormalize.json``) beside RL Zoo's pickle, so that they can be read back safely. Models of
this package load safely anyway (see :meth:`sb3_reinforce.REINFORCE.load`).
"""

import ast
import inspect
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import rl_zoo3.utils
import yaml
from rl_zoo3.utils import ALGOS, get_class_by_name
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from sb3_reinforce.common.serialization import UnsafeFileError, decode, encode
from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.zoo.checks import UsageError
from sb3_reinforce.zoo.registration import ZOO_ALGORITHMS

TRUST_OPTION = "--trust-files"
# Where a safe load takes wrapper classes from (config.yml's env_wrapper and vec_env_wrapper)
ALLOWED_WRAPPER_MODULES = ("gymnasium", "stable_baselines3", "sb3_contrib", "rl_zoo3", "sb3_reinforce")
# What each wrapper key must name: RL Zoo calls it with the env and the keywords of config.yml
WRAPPER_BASES: dict[str, type] = {"env_wrapper": gym.Wrapper, "vec_env_wrapper": VecEnvWrapper}
# VecNormalize's settings, as its constructor takes them; the statistics are set after construction
VEC_NORMALIZE_SETTINGS = (
    "training",
    "norm_obs",
    "norm_reward",
    "clip_obs",
    "clip_reward",
    "gamma",
    "epsilon",
    "norm_obs_keys",
)


class ZooFileLoader(yaml.SafeLoader):
    """
    PyYAML's safe loader, plus the two Python tags RL Zoo's ``yaml.dump`` writes: ordered dicts and
    tuples. Any other tag raises :class:`~sb3_reinforce.zoo.checks.UsageError` naming the file.
    """

    def construct_undefined(self, node: yaml.Node) -> None:
        """
        Refuse a node whose tag has no constructor.

        :param node: The node with the unknown tag
        :raises UsageError: Naming the file and the tag
        """
        problem = f"holds a Python object ({node.tag}) that only an unsafe YAML load builds"
        raise UsageError(f"{node.start_mark.name}: {problem}; {_TRUST_HINT}")


def _construct_ordered_dict(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> OrderedDict:
    # The node holds OrderedDict's arguments: one list of [key, value] pairs
    arguments = loader.construct_sequence(node, deep=True)
    return OrderedDict((key, value) for pairs in arguments for key, value in pairs)


def _construct_tuple(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> tuple:
    return tuple(loader.construct_sequence(node, deep=True))


ZooFileLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _construct_ordered_dict)
ZooFileLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)
ZooFileLoader.add_constructor(None, ZooFileLoader.construct_undefined)


def literal(text: str) -> Any:
    """
    A Python literal, or ``dict(key=literal, ...)``, read without evaluating code (what RL Zoo's
    ``normalize`` strings hold, e.g. ``"{'norm_obs': False}"`` or ``"dict(norm_reward=True)"``).

    :param text: The Python expression
    :raises ValueError: For anything else (``SyntaxError`` when ``text`` is not Python)
    """
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        if any(keyword.arg is None for keyword in node.keywords):
            raise ValueError(f"{text!r} unpacks a mapping")
        return {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
    return ast.literal_eval(node)


def saved_hyperparams(
    stats_path: str, norm_reward: bool = False, test_mode: bool = False
) -> tuple[dict[str, Any], str | None]:
    """
    RL Zoo's ``get_saved_hyperparams``, reading ``config.yml`` as data and ``normalize`` with
    :func:`literal` instead of ``eval()``.

    :param stats_path: The run's folder of saved settings (``<run>/<env id>``)
    :param norm_reward: Whether to normalize rewards, when ``normalize`` is a bool
    :param test_mode: Whether ``norm_reward`` overrides the saved ``normalize`` string's
    :return: The hyperparameters (with ``normalize_kwargs`` when normalized) and the folder, or ``({}, None)``
    """
    if not os.path.isdir(stats_path):
        return {}, None
    config_path = Path(stats_path) / "config.yml"
    if config_path.is_file():
        hyperparams = dict(read_yaml(config_path))
        hyperparams["normalize"] = hyperparams.get("normalize", False)
    else:
        hyperparams = {"normalize": (Path(stats_path) / "obs_rms.pkl").is_file()}
    normalize = hyperparams["normalize"]
    if normalize:
        if isinstance(normalize, str):
            try:
                normalize_kwargs = literal(normalize)
            except (ValueError, SyntaxError) as error:
                raise UsageError(
                    f"{config_path}: normalize={normalize!r} is not a literal ({error}); {_TRUST_HINT}"
                ) from error
            if test_mode:
                normalize_kwargs["norm_reward"] = norm_reward
        elif isinstance(normalize, dict):
            normalize_kwargs = normalize
        else:
            normalize_kwargs = {"norm_obs": normalize, "norm_reward": norm_reward}
        hyperparams["normalize_kwargs"] = normalize_kwargs
    return hyperparams, stats_path


def read_yaml(path: str | os.PathLike) -> Any:
    """
    A YAML file that RL Zoo wrote (``config.yml``, ``args.yml``), read as data.

    :param path: The file's path
    :raises UsageError: When it holds any other Python object
    """
    with open(path) as file:
        return yaml.load(file, Loader=ZooFileLoader)


def save_vec_normalize(vec_normalize: VecNormalize, save_path: str) -> None:
    """
    RL Zoo's ``vecnormalize.pkl`` (for SB3's tools), and its settings and statistics as data in the
    ``.json`` file beside it, which :func:`load_vec_normalize` reads.

    :param vec_normalize: The wrapper to save
    :param save_path: The pickle's path
    """
    _original_vec_normalize_save(vec_normalize, save_path)
    state = {name: getattr(vec_normalize, name) for name in VEC_NORMALIZE_SETTINGS}
    state.update(obs_rms=vec_normalize.obs_rms, ret_rms=vec_normalize.ret_rms)
    Path(save_path).with_suffix(".json").write_text(json.dumps(encode(state)))


def load_vec_normalize(load_path: str, venv: VecEnv) -> VecNormalize:
    """
    A ``VecNormalize`` around ``venv`` rebuilt from the ``.json`` file beside ``load_path``, with no unpickling.

    :param load_path: The pickle's path (``vecnormalize.pkl``)
    :param venv: The env to wrap
    :raises UsageError: When there is no such file (a run saved by RL Zoo itself or an older version)
    """
    json_path = Path(load_path).with_suffix(".json")
    if not json_path.is_file():
        raise UsageError(
            f"{load_path}: VecNormalize statistics only as a pickle, which can run any code it holds "
            f"(no {json_path.name} beside it: saved by RL Zoo itself or an older sb3_reinforce); {_TRUST_HINT}"
        )
    try:
        state = decode(json.loads(json_path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(f"{json_path}: not VecNormalize statistics that load safely ({error})") from error
    vec_normalize = VecNormalize(venv, **{name: state[name] for name in VEC_NORMALIZE_SETTINGS})
    vec_normalize.obs_rms, vec_normalize.ret_rms = state["obs_rms"], state["ret_rms"]
    return vec_normalize


def checked_wrapper_class(hyperparams: dict[str, Any], key: str = "env_wrapper") -> Callable | None:
    """
    RL Zoo's ``get_wrapper_class``, for wrapper classes of the allow-listed packages only: a name
    in ``config.yml`` is imported and called, so an arbitrary one could run any installed function.

    :param hyperparams: The run's hyperparameters (``config.yml``)
    :param key: ``"env_wrapper"`` or ``"vec_env_wrapper"``: its value is a dotted class name, a
        ``{name: kwargs}`` dict, or a list of them
    :return: RL Zoo's function that wraps an env in them, or None when ``key`` names none
    :raises UsageError: Naming a wrapper outside ``ALLOWED_WRAPPER_MODULES``, or a name there that is no wrapper class
    """
    names = hyperparams.get(key)
    for name in names if isinstance(names, list) else [names]:
        name = next(iter(name)) if isinstance(name, dict) else name
        if name is None:
            continue
        if not any(name.startswith(f"{module}.") for module in ALLOWED_WRAPPER_MODULES):
            raise UsageError(f"{key}: {name!r} is not a wrapper of {', '.join(ALLOWED_WRAPPER_MODULES)}; {_TRUST_HINT}")
        # Within those packages, only a wrapper class: any other callable would be called with the file's keywords.
        # Resolved as RL Zoo resolves it next
        try:
            wrapper = get_class_by_name(name)
        except AttributeError:
            wrapper = None
        base = WRAPPER_BASES.get(key, gym.Wrapper)
        if not (inspect.isclass(wrapper) and issubclass(wrapper, base)):
            raise UsageError(f"{key}: {name!r} is not a {base.__name__} class; {_TRUST_HINT}")
    return _original_get_wrapper_class(hyperparams, key)


@contextmanager
def safe_zoo_files(trust_files: bool) -> Iterator[None]:
    """
    Within the command: ``VecNormalize`` statistics are also saved as data, and, unless
    ``trust_files``, a run's files are read by the safe functions above instead of RL Zoo's.

    :param trust_files: Read the files as RL Zoo does (``--trust-files``)
    """
    with ExitStack() as stack:
        stack.enter_context(replaced(VecNormalize, "save", save_vec_normalize))
        if not trust_files:
            stack.enter_context(replaced(VecNormalize, "load", staticmethod(load_vec_normalize)))
            stack.enter_context(replaced(yaml, "UnsafeLoader", ZooFileLoader))
            stack.enter_context(replaced(rl_zoo3.utils, "get_wrapper_class", checked_wrapper_class))
            # rl_zoo3.enjoy holds its own reference, taken when it was imported
            for module in (rl_zoo3.utils, sys.modules.get("rl_zoo3.enjoy")):
                if module is not None:
                    stack.enter_context(replaced(module, "get_saved_hyperparams", saved_hyperparams))
        for name, algorithm in ZOO_ALGORITHMS.items():
            stack.enter_context(replaced(ALGOS, name, _zoo_loading(algorithm, trust_files)))
        yield


_TRUST_HINT = f"give {TRUST_OPTION} if you trust the run folder and where it came from"
_original_vec_normalize_save = VecNormalize.save
_original_get_wrapper_class = rl_zoo3.utils.get_wrapper_class


def _zoo_loading(algorithm: type[REINFORCE], trust_files: bool) -> type[REINFORCE]:
    """``algorithm``, loading with ``allow_pickle=trust_files`` and refusing a file with a one-line ``UsageError``."""

    class ZooLoading(algorithm):  # type: ignore[valid-type,misc]
        @classmethod
        def load(cls, path: Any, *args: Any, **kwargs: Any) -> REINFORCE:
            try:
                return super().load(path, *args, allow_pickle=trust_files, **kwargs)
            except UnsafeFileError as error:
                entries = ", ".join(f"{name} ({reason})" for name, reason in error.refused.items())
                raise UsageError(f"{path}: holds entries that only unpickling could load: {entries}; {_TRUST_HINT}") from error

    ZooLoading.__name__ = ZooLoading.__qualname__ = algorithm.__name__
    return ZooLoading


@contextmanager
def replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    """
    Set ``owner.name`` (or ``owner[name]`` for a dict) to ``value`` until the block ends.

    :param owner: A module, class, object or dict
    :param name: The attribute (or key) to replace
    :param value: What it is while the block runs
    """
    if isinstance(owner, dict):
        original, owner[name] = owner[name], value
    else:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, value)
    try:
        yield
    finally:
        if isinstance(owner, dict):
            owner[name] = original
        else:
            setattr(owner, name, original)
