import os

from sb3_reinforce.common.buffers import EpisodicRolloutBuffer
from sb3_reinforce.common.groups import SharedStarts, make_grouped_vec_env
from sb3_reinforce.common.vec_env import VectorEnvAdapter
from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_mask import MaskableREINFORCE
from sb3_reinforce.reinforce_recurrent import RecurrentREINFORCE

# Read version from file
version_file = os.path.join(os.path.dirname(__file__), "version.txt")
with open(version_file) as file_handler:
    __version__ = file_handler.read().strip()

__all__ = [
    "REINFORCE",
    "EpisodicRolloutBuffer",
    "MaskableREINFORCE",
    "RecurrentREINFORCE",
    "SharedStarts",
    "VectorEnvAdapter",
    "__version__",
    "make_grouped_vec_env",
]
