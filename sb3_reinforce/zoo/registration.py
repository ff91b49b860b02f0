"""Make RL Zoo know REINFORCE: ``--algo reinforce`` in every RL Zoo command."""

import rl_zoo3.train
from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER
from rl_zoo3.utils import ALGOS

from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_mask import MaskableREINFORCE
from sb3_reinforce.reinforce_recurrent import RecurrentREINFORCE
from sb3_reinforce.zoo.exp_manager import ALGO, MASK_ALGO, RECURRENT_ALGO, ReinforceExperimentManager
from sb3_reinforce.zoo.hyperparams_opt import convert_reinforce_params, sample_reinforce_params

# The package's algorithms, by their names in RL Zoo
ZOO_ALGORITHMS: dict[str, type[REINFORCE]] = {
    ALGO: REINFORCE,
    MASK_ALGO: MaskableREINFORCE,
    RECURRENT_ALGO: RecurrentREINFORCE,
}


def register() -> None:
    """
    Register REINFORCE (``reinforce``), MaskableREINFORCE (``reinforce_mask``) and
    RecurrentREINFORCE (``reinforce_lstm``) in RL Zoo, in
    this process: the algorithms (``rl_zoo3.utils.ALGOS``), their
    Optuna sampler and converter (``rl_zoo3.hyperparams_opt``), and
    :class:`~sb3_reinforce.zoo.exp_manager.ReinforceExperimentManager` as the experiment manager of
    ``rl_zoo3.train``. RL Zoo's other algorithms stay available. Calling it again changes nothing.
    """
    for name, algorithm in ZOO_ALGORITHMS.items():
        ALGOS[name] = algorithm
        # The variants take REINFORCE's hyperparameters
        HYPERPARAMS_SAMPLER[name] = sample_reinforce_params
        HYPERPARAMS_CONVERTER[name] = convert_reinforce_params
    # train() looks the class up in its module when it runs: this is the one hook for the presets and the checks
    rl_zoo3.train.ExperimentManager = ReinforceExperimentManager  # type: ignore[misc]
