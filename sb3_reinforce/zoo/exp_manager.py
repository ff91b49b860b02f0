"""RL Zoo's experiment manager with REINFORCE's presets, and one-line errors for bad input."""

import contextlib
import difflib
import importlib
import inspect
import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from pprint import pprint
from typing import Any, ClassVar
from unittest import mock

import gymnasium as gym
import optuna
import yaml
from rl_zoo3 import exp_manager as zoo_exp_manager
from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER
from rl_zoo3.utils import ALGOS, get_class_by_name
from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.vec_env import VecEnv

import sb3_reinforce
from sb3_reinforce.common.groups import group_env_fns
from sb3_reinforce.common.vec_env import VectorEnvAdapter, make_vector_env
from sb3_reinforce.zoo.callbacks import MaskableTrialEvalCallback
from sb3_reinforce.zoo.checks import UsageError, one_line
from sb3_reinforce.zoo.hyperparams_opt import convert_reinforce_params, has_sampled_names, sample_reinforce_params
from sb3_reinforce.zoo.storage import check_storage_reachable, create_storage_tables, hide_password, is_journal_file

ALGO = "reinforce"
# The name of MaskableREINFORCE in RL Zoo, as ppo_mask is MaskablePPO's
MASK_ALGO = "reinforce_mask"
# The name of RecurrentREINFORCE in RL Zoo, as ppo_lstm is RecurrentPPO's
RECURRENT_ALGO = "reinforce_lstm"
# The presets shipped for each algorithm of the package
PRESETS = {
    algo: Path(sb3_reinforce.__file__).parent / "hyperparams" / f"{algo}.yml" for algo in (ALGO, MASK_ALGO, RECURRENT_ALGO)
}
# Left in the hyperparameters by _preprocess_hyperparams: _preprocess_action_noise turns them into action_noise
ACTION_NOISE_KEYS = frozenset({"noise_type", "noise_std"})


class ReinforceExperimentManager(ExperimentManager):
    """
    RL Zoo's experiment manager, for ``--algo reinforce`` and every other algorithm. It differs in that:

    - ``--algo reinforce`` reads the presets shipped with sb3_reinforce (``hyperparams/reinforce.yml``)
      unless ``-conf`` names another file;
    - an env that has no entry in the hyperparameter file, which then gives its ``default`` entry,
      gets a ``UserWarning`` that says so;
    - ``rollout_buffer_class`` (a dotted class name) and ``rollout_buffer_kwargs`` (a Python expression
      such as ``"dict(max_steps_per_env=2000)"``) may be strings, as RL Zoo allows for ``replay_buffer_*``;
    - bad input raises :class:`~sb3_reinforce.zoo.checks.UsageError` before any env is made: an
      unreadable hyperparameter file, a hyperparameter the algorithm does not take, an unreachable
      ``--storage``, or a ``--trial-id`` that the study does not hold;
    - ``--trial-id 0`` retrains with trial 0's values (RL Zoo skips trial 0), and ``-params`` may
      give a trial's values in Optuna's names (``one_minus_gamma``, ``net_arch:"'small'"``).

    - with ``vector_engine`` set (``--vec-env native|envpool``), the envs are one natively vectorized
      env of that engine, through :class:`~sb3_reinforce.VectorEnvAdapter`.

    Takes the arguments of ``rl_zoo3.exp_manager.ExperimentManager``.
    """

    # The engine of --vec-env native|envpool, which RL Zoo's own parser does not take: set by the command
    vector_engine: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # rl_zoo3.train passes config (-conf) by keyword; without it, RL Zoo looks for
        # hyperparams/reinforce.yml in its own package
        if kwargs.get("config") is None and self.algo in PRESETS:
            self.config = str(PRESETS[self.algo])
        if self.vector_engine is not None:
            check_vector_engine(self.vector_engine, self.env_name.gym_id, self.algo)
            # make_vec_env calls it with the env factories, which a vector engine makes no use of
            self.vec_env_class = partial(  # type: ignore[assignment]
                make_vector_engine,
                engine=self.vector_engine,
                env_id=self.env_name.gym_id,
                env_kwargs=self.env_kwargs,
                seed=self.seed,
                flag_reset_steps=self.algo in PRESETS,
            )
        if self.algo in PRESETS and self.custom_hyperparams and has_sampled_names(self.custom_hyperparams):
            # -params copied from a trial, in Optuna's names
            try:
                self.custom_hyperparams = convert_reinforce_params(self.custom_hyperparams)
            except ValueError as error:
                raise UsageError(f"-params: {error}") from error
        if self.trial_id is not None:
            self._check_trial()
        elif self.optimize_hyperparameters and self.storage is not None and not is_journal_file(self.storage):
            # A journal file needs no server: RL Zoo creates it
            check_storage_reachable(self.storage)
            create_storage_tables(self.storage)

    def _check_trial(self) -> None:
        """Raise ``UsageError`` unless ``--storage`` and ``--study-name`` hold the trial ``--trial-id``."""
        if self.storage is None or self.study_name is None:
            raise UsageError("--trial-id needs --storage and --study-name, which hold the trial")
        if not is_journal_file(self.storage):
            check_storage_reachable(self.storage)
        elif not Path(self.storage).is_file():
            raise UsageError(f"--storage {self.storage}: no such journal file")
        try:
            params = self.load_trial(self.storage, self.study_name, self.trial_id, convert=False)
        except KeyError as error:
            raise UsageError(f"--study-name {self.study_name}: no such study in {hide_password(self.storage)}") from error
        except IndexError as error:
            raise UsageError(f"--trial-id {self.trial_id}: study {self.study_name!r} has no such trial") from error
        if not params:
            raise UsageError(f"--trial-id {self.trial_id}: the trial sampled no hyperparameters (it failed first)")

    def read_hyperparameters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            hyperparams, saved_hyperparams = super().read_hyperparameters()
            entries = self._hyperparameter_entries()
        except (OSError, ImportError, yaml.YAMLError, ValueError) as error:
            raise UsageError(f"hyperparameter file {self.config}: {one_line(error)}") from error
        if self.trial_id == 0:
            assert self.storage is not None and self.study_name is not None  # _check_trial checked them
            # RL Zoo tests the id for truth and skips trial 0: applied here, in its order (trial, then -params)
            hyperparams.update(self.load_trial(self.storage, self.study_name, self.trial_id))
            hyperparams.update(self.custom_hyperparams or {})
            saved_hyperparams = OrderedDict(sorted(hyperparams.items()))
            # RL Zoo printed the hyperparameters without the trial's values
            print("Hyperparameters with trial 0's values:")
            pprint(saved_hyperparams)
        env_id = self.env_name.gym_id
        # RL Zoo's order: the env's entry, then "atari" for Atari envs, then "default"
        if env_id not in entries and not self._is_atari:
            # RL Zoo only prints "Using 'default' hyperparameters", which hides that the env has no preset
            hint = (
                "; tasks whose episodes hit the time limit want baseline: 'critic' with normalize: true "
                "(see docs/guide/recipes.md)"
                if self.algo in PRESETS
                else ""
            )
            warnings.warn(
                f"{env_id} has no entry in {self.config}: its 'default' entry was used. "
                f"Give the env's hyperparameters with -params or -conf{hint}",
                UserWarning,
            )
        return hyperparams, saved_hyperparams

    def _hyperparameter_entries(self) -> dict[str, Any]:
        """The entries of the hyperparameter file (``-conf``), read as RL Zoo reads it."""
        if self.config.endswith((".yml", ".yaml")):
            with open(self.config) as file:
                return yaml.safe_load(file)
        if self.config.endswith(".py"):
            variables: dict[str, Any] = {}
            exec(Path(self.config).read_text(), variables)
            return variables["hyperparams"]
        return importlib.import_module(self.config).hyperparams

    def _preprocess_hyperparams(
        self, hyperparams: dict[str, Any]
    ) -> tuple[dict[str, Any], Callable | None, list[BaseCallback], Callable | None]:
        hyperparams, env_wrapper, callbacks, vec_env_wrapper = super()._preprocess_hyperparams(hyperparams)
        self._check_hyperparameter_names(hyperparams)
        group_size = hyperparams.get("group_size")
        if group_size is not None:
            if self.vector_engine is not None:
                raise UsageError(
                    f"--vec-env {self.vector_engine} with group_size: a group's envs are reset from shared seeds "
                    "(SharedStarts), which a vector engine's own resets cannot take; use --vec-env dummy or subproc"
                )
            # Each env in SharedStarts for its group (the k-th episodes of a group start alike)
            self.vec_env_class = partial(  # type: ignore[assignment]
                make_grouped_envs, vec_env_cls=self.vec_env_class, group_size=group_size, base_seed=self.seed
            )
        if isinstance(hyperparams.get("rollout_buffer_class"), str):
            hyperparams["rollout_buffer_class"] = get_class_by_name(hyperparams["rollout_buffer_class"])
        if isinstance(hyperparams.get("rollout_buffer_kwargs"), str):
            # Evaluated as Python, as RL Zoo evaluates policy_kwargs and replay_buffer_kwargs
            hyperparams["rollout_buffer_kwargs"] = eval(hyperparams["rollout_buffer_kwargs"])
        return hyperparams, env_wrapper, callbacks, vec_env_wrapper

    def create_callbacks(self) -> None:
        super().create_callbacks()
        if self.algo == MASK_ALGO:
            # RL Zoo evaluates without masks: an env that refuses invalid actions would fail its evaluations
            self.callbacks = [
                self._masked_eval_callback(callback) if type(callback) is EvalCallback else callback
                for callback in self.callbacks
            ]

    def _masked_eval_callback(self, callback: EvalCallback) -> MaskableEvalCallback:
        """RL Zoo's evaluation callback (made by ``create_callbacks``) as sb3-contrib's, which uses the masks."""
        return MaskableEvalCallback(
            callback.eval_env,
            callback_on_new_best=callback.callback_on_new_best,
            best_model_save_path=self.save_path,
            n_eval_episodes=callback.n_eval_episodes,
            log_path=self.save_path,
            eval_freq=callback.eval_freq,
            deterministic=callback.deterministic,
        )

    def objective(self, trial: optuna.Trial) -> float:
        """
        RL Zoo's objective of one trial, evaluated with the action masks for ``reinforce_mask``, and
        keeping the configuration's baseline when its envs are grouped (``group_size``).

        :param trial: The Optuna trial to sample the hyperparameters from
        :return: The trial's result, as RL Zoo computes it (its evaluations' last mean reward)
        """
        with contextlib.ExitStack() as stack:
            if self.algo == MASK_ALGO:
                # Trials are evaluated with the masks too
                stack.enter_context(mock.patch.object(zoo_exp_manager, "TrialEvalCallback", MaskableTrialEvalCallback))
            if self._hyperparams.get("group_size") is not None and self.algo in PRESETS:
                # The configuration's envs are grouped for its group baseline: the trials keep that baseline
                sampler = partial(sample_reinforce_params, sample_baseline=False)
                stack.enter_context(mock.patch.dict(HYPERPARAMS_SAMPLER, {self.algo: sampler}))
            return super().objective(trial)

    def _check_hyperparameter_names(self, hyperparams: dict[str, Any]) -> None:
        """Raise ``UsageError`` naming the hyperparameters that the algorithm's constructor does not take."""
        algo_class = ALGOS[self.algo]
        parameters = inspect.signature(algo_class).parameters
        if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
            return
        problems = []
        for key in sorted(hyperparams.keys() - parameters.keys() - ACTION_NOISE_KEYS):
            source = "-params" if key in (self.custom_hyperparams or {}) else self.config
            close = difflib.get_close_matches(key, list(parameters), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{key!r} from {source}{hint}")
        if problems:
            raise UsageError(f"{algo_class.__name__} takes no hyperparameter {', '.join(problems)}")


def check_vector_engine(engine: str, env_id: str, algo: str) -> None:
    """
    Raise ``UsageError`` unless ``engine`` (``"native"`` or ``"envpool"``) can make ``env_id`` for ``algo``.

    :param engine: ``"native"`` (gymnasium's own vectorized env) or ``"envpool"``
    :param env_id: The env id of ``--env``
    :param algo: RL Zoo's name of the algorithm (``--algo``): ``"native"`` is only for those of this package
    """
    if engine == "native":
        if gym.spec(env_id).vector_entry_point is None:
            raise UsageError(f"--vec-env native: {env_id} has no vectorized implementation of its own (vector_entry_point)")
        if algo not in PRESETS:
            raise UsageError(
                f"--vec-env native: gymnasium's own vectorized envs reset on the step after an episode ends, "
                f"which {algo} would train on (REINFORCE's algorithms leave those steps out); use --vec-env envpool or dummy"
            )
        return
    try:
        import envpool
    except ModuleNotFoundError as error:
        raise UsageError('--vec-env envpool needs EnvPool: pip install "sb3-reinforce[envpool]"') from error
    if env_id not in envpool.list_all_envs():
        raise UsageError(f"--vec-env envpool: EnvPool has no {env_id}")


def make_vector_engine(
    env_fns: list[Callable[[], gym.Env]],
    engine: str,
    env_id: str,
    env_kwargs: dict[str, Any],
    seed: int,
    flag_reset_steps: bool,
    **vec_env_kwargs: Any,
) -> VectorEnvAdapter:
    """
    ``len(env_fns)`` envs of ``env_id`` stepped by ``engine`` (``"native"``: gymnasium's own
    vectorized env; ``"envpool"``), as a ``VecEnv``: what RL Zoo's ``make_vec_env`` calls in place
    of a ``VecEnv`` class.

    :param env_fns: RL Zoo's env factories: only their number is used
    :param engine: ``"native"`` or ``"envpool"``
    :param env_id: The env id
    :param env_kwargs: Keywords of the env (``env_kwargs`` of the hyperparameters)
    :param seed: The run's seed (EnvPool's seed; gymnasium's engine is seeded at its first reset)
    :param flag_reset_steps: See :class:`~sb3_reinforce.VectorEnvAdapter`: True for this package's
        algorithms, which leave the flagged steps out
    :param vec_env_kwargs: Must be empty (``UsageError`` otherwise)
    """
    if vec_env_kwargs:
        raise UsageError(f"--vec-env {engine} takes no vec_env_kwargs (got {sorted(vec_env_kwargs)})")
    vector_env = make_vector_env(engine, env_id, len(env_fns), seed, **env_kwargs)
    return VectorEnvAdapter(vector_env, flag_reset_steps=flag_reset_steps)


def make_grouped_envs(
    env_fns: list[Callable[[], gym.Env]],
    vec_env_cls: Callable[..., VecEnv],
    group_size: int,
    base_seed: int,
    **vec_env_kwargs: Any,
) -> VecEnv:
    """
    RL Zoo's envs (``vec_env_cls`` over ``env_fns``) in groups of ``group_size`` that share their starts.

    :param env_fns: RL Zoo's env factories, one per env
    :param vec_env_cls: The ``VecEnv`` class RL Zoo would use (``DummyVecEnv`` or ``SubprocVecEnv``)
    :param group_size: Envs per group
    :param base_seed: The seed of the groups' shared starts (the run's seed)
    :param vec_env_kwargs: Keywords of ``vec_env_cls``
    """
    return vec_env_cls(group_env_fns(env_fns, group_size, base_seed), **vec_env_kwargs)
