from sb3_reinforce.reinforce_recurrent.policies import CnnLstmPolicy, MlpLstmPolicy, MultiInputLstmPolicy
from sb3_reinforce.reinforce_recurrent.reinforce_recurrent import RecurrentREINFORCE

__all__ = ["CnnLstmPolicy", "MlpLstmPolicy", "MultiInputLstmPolicy", "RecurrentREINFORCE"]
