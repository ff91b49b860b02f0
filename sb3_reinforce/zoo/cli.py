"""
The ``sb3-reinforce-zoo`` command (``python -m sb3_reinforce.zoo``): RL Zoo's commands with REINFORCE
registered. The arguments after the command go to RL Zoo's own entry point unchanged, except the
plot commands' ``--save-figures DIR``.
"""

import argparse
import importlib
import re
import runpy
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

from sb3_reinforce.common.vec_env import VECTOR_ENGINES
from sb3_reinforce.zoo.checks import UsageError, check_env_id

PROG = "sb3-reinforce-zoo"
# RL Zoo's entry point of each command: (module, function), or (module, None) for a module that runs as a script
COMMANDS: dict[str, tuple[str, str | None]] = {
    "train": ("rl_zoo3.train", "train"),
    "enjoy": ("rl_zoo3.enjoy", "enjoy"),
    "record_video": ("rl_zoo3.record_video", None),
    "plot_train": ("rl_zoo3.plots.plot_train", "plot_train"),
    "plot_from_file": ("rl_zoo3.plots.plot_from_file", "plot_from_file"),
    "all_plots": ("rl_zoo3.plots.all_plots", "all_plots"),
    # RL Zoo's command, with the wrapper's download (see sb3_reinforce.zoo.hub)
    "load_from_hub": ("sb3_reinforce.zoo.hub", "load_from_hub"),
}
# RL Zoo's commands that the wrapper refuses, with what to do instead
REFUSED_COMMANDS: dict[str, str] = {
    "push_to_hub": (
        "not wrapped: RL Zoo's push_to_hub passes the normalize string of config.yml to eval(); "
        "upload the run's files with `hf upload` as docs/zoo.md shows (Sharing a run on the Hub)"
    ),
}
ENV_COMMANDS = frozenset({"train", "enjoy", "record_video"})
# The commands with RL Zoo's --num-threads, whose default (-1) leaves torch one thread per core: processes
# that share the cores (tuning workers, --n-jobs) then fight over them, ~10x slower on 2 cores
NUM_THREADS_COMMANDS = frozenset({"train", "enjoy"})
DEFAULT_NUM_THREADS = 1
PLOT_COMMANDS = frozenset({"plot_train", "plot_from_file", "all_plots"})
EPILOG = """\
--algo reinforce (and reinforce_mask, MaskableREINFORCE; reinforce_lstm, RecurrentREINFORCE) works in
every command. `train --algo reinforce` reads the presets shipped with sb3_reinforce
(hyperparams/reinforce.yml, or reinforce_mask.yml, reinforce_lstm.yml) unless -conf/--conf-file is
given. train and enjoy use one torch thread per process unless --num-threads is given
(-1: torch's default). train also takes --vec-env native (gymnasium's own vectorized env, for
envs that have one, such as CartPole-v1) and --vec-env envpool (EnvPool), besides RL Zoo's dummy
and subproc. The plot commands
also take --save-figures DIR: save the figures as DIR/<title>.png instead of showing them.
train, enjoy and record_video read a run's files (models, config.yml, args.yml, VecNormalize
statistics) as data, never running code from them; --trust-files reads them as RL Zoo does.
load_from_hub downloads a run from the Hugging Face Hub (with its VecNormalize statistics as data
when the repository holds vec_normalize.json) and reads none of it; push_to_hub is refused.
Bad input (an unknown env or hyperparameter, an unreachable --storage) exits with status 2.
See docs/zoo.md."""


def main(argv: list[str] | None = None) -> None:
    """
    Run an RL Zoo command with REINFORCE registered. Bad input exits with status 2 and a one-line message.

    :param argv: The command and its arguments (default: ``sys.argv[1:]``)
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="RL Zoo's commands with REINFORCE (--algo reinforce) registered.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=[*COMMANDS, *REFUSED_COMMANDS], help="RL Zoo command; `%(prog)s COMMAND -h` lists its arguments"
    )
    # Only the command is parsed here: RL Zoo parses the rest, and its -h must reach it
    command = parser.parse_args(argv[:1]).command
    try:
        _run(command, argv[1:])
    except UsageError as error:
        print(f"{PROG} {command}: error: {error}", file=sys.stderr)
        sys.exit(2)


def _run(command: str, args: list[str]) -> None:
    """Register REINFORCE, check the input that can be checked ahead, and run RL Zoo's entry point of ``command``."""
    if command in REFUSED_COMMANDS:
        raise UsageError(REFUSED_COMMANDS[command])
    # Imported here, not at the top: without the zoo extra, the command says what to install
    try:
        from sb3_reinforce.zoo.registration import register
    except ModuleNotFoundError as error:
        raise _missing_package(error) from error
    register()
    prog = f"{PROG} {command}"
    if command in ENV_COMMANDS:
        env_id, gym_packages = _env_arguments(prog, args)
        if env_id is not None:
            check_env_id(env_id, gym_packages)
    options, args = _wrapper_options(prog, command, args)
    if command in NUM_THREADS_COMMANDS:
        args = with_default_num_threads(args)
    entry_point = _entry_point(command)
    from sb3_reinforce.zoo.exp_manager import ReinforceExperimentManager
    from sb3_reinforce.zoo.safe_files import safe_zoo_files

    with (
        _command_line(prog, args),
        safe_zoo_files(options.trust_files),
        # The same process may run several commands
        mock.patch.object(ReinforceExperimentManager, "vector_engine", options.vector_engine),
    ):
        if options.save_figures is None:
            entry_point()
        else:
            _save_figures(entry_point, options.save_figures)


def _env_arguments(prog: str, args: list[str]) -> tuple[str | None, list[str]]:
    """``--env`` and ``--gym-packages``, read ahead of RL Zoo's parser (which reads them again) to check the env."""
    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
    parser.add_argument("--env")
    parser.add_argument("--gym-packages", nargs="+", default=[])
    known, _ = parser.parse_known_args(args)
    return known.env, known.gym_packages


def _wrapper_options(prog: str, command: str, args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Take the wrapper's own options out of a command's arguments: ``--save-figures DIR`` and ``--trust-files``."""
    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
    parser.set_defaults(save_figures=None, trust_files=False, vector_engine=None)
    if command in PLOT_COMMANDS:
        parser.add_argument("--save-figures", type=Path)
    if command in ENV_COMMANDS:
        parser.add_argument("--trust-files", action="store_true")
    options, args = parser.parse_known_args(args)
    if command == "train":
        # RL Zoo's parser takes --vec-env dummy|subproc; the natively vectorized engines (VectorEnvAdapter's) are the wrapper's
        engine_parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
        engine_parser.add_argument("--vec-env")
        engine, rest = engine_parser.parse_known_args(args)
        if engine.vec_env in VECTOR_ENGINES:
            options.vector_engine, args = engine.vec_env, rest
    return options, args


def with_default_num_threads(args: list[str]) -> list[str]:
    """
    A command's arguments with ``--num-threads 1`` added unless they give ``--num-threads``
    (``--num-threads -1``: torch's default, one thread per core).

    :param args: The command's arguments, after the command's name
    """
    # argparse also takes any unambiguous abbreviation: RL Zoo has no other option starting with --nu
    given = any(
        len(option) >= len("--nu") and "--num-threads".startswith(option) for option in (arg.split("=", 1)[0] for arg in args)
    )
    return args if given else [*args, "--num-threads", str(DEFAULT_NUM_THREADS)]


def _entry_point(command: str) -> Callable[[], object]:
    """RL Zoo's entry point of ``command``, which reads its arguments from ``sys.argv``."""
    module_name, function_name = COMMANDS[command]
    if function_name is None:
        # Not alter_sys: it would set sys.argv[0], the name in the usage message, to the module's file
        return partial(runpy.run_module, module_name, run_name="__main__")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # The plot commands need RL Zoo's optional plotting packages
        raise _missing_package(error) from error
    return getattr(module, function_name)


def _missing_package(error: ModuleNotFoundError) -> UsageError:
    """The error naming the package of the zoo extra that is not installed."""
    # The top-level package: the error of `import rl_zoo3.train` may name the submodule
    package = str(error.name).split(".")[0]
    return UsageError(f"needs the Python package {package!r}: pip install 'sb3-reinforce[zoo]'")


@contextmanager
def _command_line(prog: str, args: list[str]) -> Iterator[None]:
    """RL Zoo's commands parse ``sys.argv``: give them their arguments, and the wrapper's name for their usage."""
    saved = sys.argv
    sys.argv = [prog, *args]
    try:
        yield
    finally:
        sys.argv = saved


def _save_figures(entry_point: Callable[[], object], figure_dir: Path) -> None:
    """Run a plot command with a non-interactive backend and save its figures as ``figure_dir/<title>.png``."""
    from matplotlib import pyplot as plt  # only the plot commands need it

    # With Agg, RL Zoo's plt.show() returns at once and leaves the figures open to be saved
    plt.switch_backend("Agg")
    plt.close("all")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")
        entry_point()
    figure_dir.mkdir(parents=True, exist_ok=True)
    for number in plt.get_fignums():
        figure = plt.figure(number)
        name = re.sub(r"[^\w.-]+", "_", str(figure.get_label())).strip("_") or f"figure_{number}"
        path = figure_dir / f"{name}.png"
        figure.savefig(path)
        plt.close(figure)
        print(f"Saved {path}")
