"""RecurrentREINFORCE uses sb3-contrib's recurrent actor-critic policies; with the critic, their value head is the baseline."""

import torch as th
from sb3_contrib.common.recurrent.policies import (
    RecurrentActorCriticCnnPolicy,
    RecurrentActorCriticPolicy,
    RecurrentMultiInputActorCriticPolicy,
)

MlpLstmPolicy = RecurrentActorCriticPolicy
CnnLstmPolicy = RecurrentActorCriticCnnPolicy
MultiInputLstmPolicy = RecurrentMultiInputActorCriticPolicy

# Added to the LSTMs' forget-gate biases at construction (policy_kwargs "lstm_forget_bias"): a gate
# that starts half-closed forgets a cue within a few steps, and its gradient vanishes as fast
# (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1)
DEFAULT_FORGET_BIAS = 1.0


def add_forget_gate_bias(policy: RecurrentActorCriticPolicy, bias: float) -> None:
    """
    Add ``bias`` to the forget gate of every layer of the policy's actor and critic LSTMs (a
    critic without an LSTM of its own is skipped).

    :param policy: The recurrent policy, changed in place
    :param bias: Added to each forget-gate bias (``bias_hh``; ``DEFAULT_FORGET_BIAS`` by default
        in RecurrentREINFORCE)
    """
    for lstm in (policy.lstm_actor, policy.lstm_critic):
        if lstm is None:
            continue
        hidden = lstm.hidden_size
        with th.no_grad():
            for layer in range(lstm.num_layers):
                # PyTorch orders the gates input, forget, cell, output
                getattr(lstm, f"bias_hh_l{layer}")[hidden : 2 * hidden] += bias
