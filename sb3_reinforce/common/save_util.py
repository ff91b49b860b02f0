"""Writing model files so that an interrupted or failing save never damages what the user saved before."""

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stable_baselines3.common.save_util import open_path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """
    Write a file through a temporary file beside it and a rename, so that readers see the old file
    or the complete new one, never a half-written one. The result is what ``open(path, "wb")``
    would leave: a symlink is written through (the link stays, its target changes), a new file gets
    the mode that the umask gives, and an existing file keeps its mode. Errors name ``path``, not
    the temporary file.

    :param path: The file to write
    :param write: Writes the whole content to the path it is given (a new, empty file)
    """
    try:
        _write_atomically(Path(path), write)
    except OSError as error:
        if error.errno is None or error.filename is None:
            raise
        raise type(error)(error.errno, error.strerror, str(path)) from error


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing_mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        existing_mode = None
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    # Mode 0o666 as open() passes it: the kernel applies the umask (and any default ACL)
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        if existing_mode is not None:
            os.chmod(temporary, existing_mode)
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_model_file(path: str | os.PathLike | Any) -> bytes:
    """
    The bytes of a model file, found as SB3 finds it (``.zip`` is tried when ``path`` has no suffix).

    :param path: A path, or a readable file-like object (read from its current position)
    """
    if not isinstance(path, (str, os.PathLike)):
        return path.read()
    with open_path(Path(path), "r", suffix="zip") as file:
        return file.read()
