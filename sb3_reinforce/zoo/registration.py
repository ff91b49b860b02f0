"""Make RL Zoo know REINFORCE: ``--algo reinforce`` in every RL Zoo command."""

import rl_zoo3.train
from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER
from rl_zoo3.utils import ALGOS

from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.zoo.exp_manager import ALGO, ReinforceExperimentManager
from sb3_reinforce.zoo.hyperparams_opt import convert_reinforce_params, sample_reinforce_params


def register() -> None:
    """
    Register REINFORCE in RL Zoo, in this process: the algorithm (``rl_zoo3.utils.ALGOS``), its
    Optuna sampler and converter (``rl_zoo3.hyperparams_opt``), and
    :class:`~sb3_reinforce.zoo.exp_manager.ReinforceExperimentManager` as the experiment manager of
    ``rl_zoo3.train``. RL Zoo's other algorithms stay available. Calling it again changes nothing.
    """
    ALGOS[ALGO] = REINFORCE
    HYPERPARAMS_SAMPLER[ALGO] = sample_reinforce_params
    HYPERPARAMS_CONVERTER[ALGO] = convert_reinforce_params
    # train() looks the class up in its module when it runs: this is the one hook for the presets and the checks
    rl_zoo3.train.ExperimentManager = ReinforceExperimentManager  # type: ignore[misc]
