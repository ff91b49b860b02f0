"""
Every public class and function of sb3_reinforce documents each of its parameters in SB3's
``:param x:`` style: the API reference is generated from these docstrings.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sb3_reinforce


def public_modules() -> Iterator[Any]:
    for module_info in pkgutil.walk_packages(sb3_reinforce.__path__, prefix="sb3_reinforce."):
        if not any(part.startswith("_") for part in module_info.name.split(".")):
            yield importlib.import_module(module_info.name)


def public_callables() -> Iterator[tuple[str, Callable[..., Any], str | None]]:
    """(qualified name, callable whose signature is checked, docstring that must document it)."""
    for module in public_modules():
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(value):
                # SB3's style: the constructor's parameters in the class docstring
                if "__init__" in vars(value):
                    yield f"{module.__name__}.{name}", value.__init__, value.__doc__
                for method_name, method in vars(value).items():
                    function = method.__func__ if isinstance(method, (classmethod, staticmethod)) else method
                    if method_name.startswith("_") or not inspect.isfunction(function):
                        continue
                    # An override without a docstring of its own shows (and is documented by) the base class's
                    if function.__doc__ is None and inherited_docstring(value, method_name):
                        continue
                    yield f"{module.__name__}.{name}.{method_name}", function, function.__doc__
            elif inspect.isfunction(value):
                yield f"{module.__name__}.{name}", value, value.__doc__


def inherited_docstring(cls: type, method_name: str) -> bool:
    """Whether a base class of ``cls`` documents ``method_name`` (autodoc shows that docstring for the override)."""
    return any(getattr(vars(base).get(method_name), "__doc__", None) for base in cls.__mro__[1:])


def undocumented_parameters(function: Callable[..., Any], docstring: str | None) -> list[str]:
    parameters = [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in ("self", "cls") and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    return [name for name in parameters if f":param {name}:" not in (docstring or "")]


CALLABLES = sorted(public_callables(), key=lambda item: item[0])


def test_the_walk_finds_the_api() -> None:
    names = {name for name, _, _ in CALLABLES}
    assert {"sb3_reinforce.reinforce.reinforce.REINFORCE", "sb3_reinforce.common.returns.discounted_returns"} <= names


@pytest.mark.parametrize(("name", "function", "docstring"), CALLABLES, ids=[name for name, _, _ in CALLABLES])
def test_every_parameter_is_documented(name: str, function: Callable[..., Any], docstring: str | None) -> None:
    missing = undocumented_parameters(function, docstring)
    assert not missing, f"{name} does not document {missing} with ':param x:'"
