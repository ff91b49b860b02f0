"""RL Zoo's evaluation callbacks for ``--algo reinforce_mask``: evaluated with the env's action masks."""

from rl_zoo3.callbacks import TrialEvalCallback
from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback


class MaskableTrialEvalCallback(TrialEvalCallback, MaskableEvalCallback):
    """
    RL Zoo's ``TrialEvalCallback`` (reports each evaluation to the Optuna trial and prunes it),
    evaluating as sb3-contrib's ``MaskableEvalCallback`` does: with the env's action masks.
    """
