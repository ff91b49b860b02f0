"""Checks of user input that raise ``ValueError`` naming the argument or the env, before any work is done."""

import numbers
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces


def positive_int(name: str, value: object) -> int:
    """
    ``value`` as an ``int``, accepting Python and numpy integers (sweeps and configs pass numpy values).

    :param name: Argument name, for the error message
    :param value: The value given
    :return: ``int(value)``
    :raises ValueError: Naming ``name`` unless ``value`` is an integer (not a bool) >= 1
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")
    return int(value)


def finite_number(name: str, value: object) -> float:
    """
    ``value`` as a ``float``, accepting Python and numpy numbers (sweeps and configs pass numpy values).

    :param name: Argument name, for the error message
    :param value: The value given
    :return: ``float(value)``
    :raises ValueError: Naming ``name`` unless ``value`` is a real number (not a bool or a string), neither NaN nor inf
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or not np.isfinite(float(value)):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)


def learning_rate_number(learning_rate: object) -> float:
    """
    A learning rate that is not a schedule, as a float.

    :param learning_rate: The value given (Python or numpy number)
    :return: ``float(learning_rate)``
    :raises ValueError: Naming ``learning_rate`` unless it is a finite number
    """
    try:
        return finite_number("learning_rate", learning_rate)
    except ValueError:
        raise ValueError(
            f"learning_rate={learning_rate!r} must be a finite number or a schedule (a function of the progress remaining)"
        ) from None


def check_finite(
    arrays: dict[str, np.ndarray | dict[str, np.ndarray]],
    stored_dtypes: dict[str, np.dtype],
    step: int,
    env_indices: Sequence[int] | None = None,
) -> None:
    """
    Check env outputs as they will be stored: a float64 value that overflows the float32 storage is
    as unusable as a NaN.

    :param arrays: Batched env outputs (first axis: env index) by name, e.g. ``{"reward": rewards}``; a ``Dict``
        observation is a dict of arrays, checked per key
    :param stored_dtypes: The dtype each name (or ``"name[key]"`` for ``Dict`` observations) is stored in;
        names missing from it are checked in their own dtype
    :param step: The timestep, for the error message
    :param env_indices: The env index of each row of the arrays (default: the row's own index)
    :raises ValueError: Naming the env, the output and the timestep of the first non-finite value
    """
    for name, value in arrays.items():
        items = {f"{name}[{key!r}]": array for key, array in value.items()} if isinstance(value, dict) else {name: value}
        for item_name, array in items.items():
            array = np.asarray(array)
            if array.dtype.kind != "f":
                continue
            stored_dtype = np.dtype(stored_dtypes.get(item_name, array.dtype))
            # Checked every step: one pass over the array when all is well
            if array.dtype.itemsize <= stored_dtype.itemsize:
                # Stored without narrowing: only NaN and inf are unusable
                if np.isfinite(array).all():
                    continue
            elif (np.abs(array) <= np.finfo(stored_dtype).max).all():  # NaN fails the comparison
                continue
            largest = np.finfo(stored_dtype).max
            finite = (np.abs(array.reshape(len(array), -1)) <= largest).all(axis=1)
            row = int(np.flatnonzero(~finite)[0])
            env_index = row if env_indices is None else env_indices[row]
            overflow = np.isfinite(array[row]).all()
            reason = f" (it overflows {stored_dtype.name}, the dtype it is stored in)" if overflow else ""
            raise ValueError(
                f"env {env_index} returned a non-finite {item_name} at timestep {step}{reason}; "
                "REINFORCE does not train on it (check the env or its wrappers)"
            )


def observation_dtypes(observation_space: spaces.Space, name: str = "observation") -> dict[str, np.dtype]:
    """
    The dtypes observations are stored in, keyed as :func:`check_finite` names them.

    :param observation_space: The observation space (plain or ``Dict``)
    :param name: The name of the observations in :func:`check_finite`'s ``arrays``
    """
    if isinstance(observation_space, spaces.Dict):
        return {f"{name}[{key!r}]": np.dtype(space.dtype) for key, space in observation_space.spaces.items()}
    return {name: np.dtype(observation_space.dtype)}
