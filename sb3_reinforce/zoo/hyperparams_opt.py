"""Optuna search space of REINFORCE for RL Zoo's ``-optimize``, in the form of RL Zoo's own samplers."""

from typing import Any

import optuna
from rl_zoo3.hyperparams_opt import convert_onpolicy_params

# Optuna's names of the values that the converter turns into REINFORCE's arguments, with a stand-in for each
# (RL Zoo's converter needs all of them; the stand-ins' results are dropped)
SAMPLED_NAMES: dict[str, Any] = {
    "one_minus_gamma": 0.0,
    "one_minus_gae_lambda": 0.0,
    "net_arch": "small",
    "activation_fn": "tanh",
}
# The argument that each sampled name becomes: a keyword of REINFORCE, or a key of policy_kwargs
CONVERTED_NAMES = {"one_minus_gamma": "gamma", "one_minus_gae_lambda": "gae_lambda"}


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Convert sampled values (a trial's ``params``, or ``-params`` written with Optuna's names) to
    REINFORCE's keyword arguments with RL Zoo's on-policy converter: ``one_minus_gamma`` and
    ``one_minus_gae_lambda`` become ``gamma`` and ``gae_lambda``, the ``net_arch`` and
    ``activation_fn`` names become ``policy_kwargs``. Names that are not given stay out of the
    result, and the other entries pass unchanged, so a partial set can be converted too.

    :param sampled_params: Values sampled by :func:`sample_reinforce_params` (all or some of them)
    :return: The keyword arguments of ``REINFORCE``
    """
    names = {name: value for name, value in sampled_params.items() if name in SAMPLED_NAMES}
    converted_names = convert_onpolicy_params({**SAMPLED_NAMES, **names})
    converted = {name: value for name, value in sampled_params.items() if name not in SAMPLED_NAMES}
    converted.update({argument: converted_names[argument] for name, argument in CONVERTED_NAMES.items() if name in names})
    policy_kwargs = {key: value for key, value in converted_names["policy_kwargs"].items() if key in names}
    if policy_kwargs:
        if "policy_kwargs" in converted:
            raise ValueError(f"give {' and '.join(policy_kwargs)} either by name or inside policy_kwargs, not both")
        converted["policy_kwargs"] = policy_kwargs
    # A sampled baseline without a critic samples no gae_lambda: 1.0, the one it does not warn about
    if converted.get("baseline", "critic") != "critic" and "one_minus_gae_lambda" not in names:
        converted["gae_lambda"] = 1.0
    return converted


def has_sampled_names(params: dict[str, Any]) -> bool:
    """
    Whether ``params`` holds a value under Optuna's name (``one_minus_gamma``, a ``net_arch`` name, ...).

    :param params: Hyperparameters by name (e.g. ``-params``)
    """
    # REINFORCE takes none of these names as keywords
    return any(name in params for name in SAMPLED_NAMES)


def sample_reinforce_params(
    trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict, sample_baseline: bool = True
) -> dict[str, Any]:
    """
    Sampler for REINFORCE hyperparams.

    :param trial: The Optuna trial to sample from
    :param n_actions: Size of a Box action space (unused: REINFORCE has no action noise)
    :param n_envs: Number of training envs (unused: ``n_steps`` is per env)
    :param additional_args: RL Zoo's extra sampler arguments (unused: they are for replay buffers)
    :param sample_baseline: Sample the baseline (and the critic's settings); False keeps the
        configuration's (the group baseline, whose ``group_size`` the envs were made for)
    :return: The keyword arguments of ``REINFORCE`` for this trial
    """
    # Minimum steps per env in a rollout; 1 is textbook REINFORCE (one episode per env and update)
    n_steps = trial.suggest_categorical("n_steps", [1, 8, 32, 128, 512, 2048])
    # Transitions per policy gradient step; None: one step per batch of episodes
    batch_size = trial.suggest_categorical("batch_size", [None, 32, 64, 256])
    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.01, log=True)
    baseline = trial.suggest_categorical("baseline", ["none", "mean", "critic"]) if sample_baseline else None
    normalize_advantage = trial.suggest_categorical("normalize_advantage", [False, True])
    ent_coef = trial.suggest_float("ent_coef", 0.00000001, 0.1, log=True)
    max_grad_norm = trial.suggest_float("max_grad_norm", 0.3, 5.0, log=True)
    net_arch = trial.suggest_categorical("net_arch", ["tiny", "small", "medium"])
    activation_fn = trial.suggest_categorical("activation_fn", ["tanh", "relu"])

    sampled_params: dict[str, Any] = {
        "n_steps": n_steps,
        "batch_size": batch_size,
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": learning_rate,
        "normalize_advantage": normalize_advantage,
        "ent_coef": ent_coef,
        "max_grad_norm": max_grad_norm,
        "net_arch": net_arch,
        "activation_fn": activation_fn,
    }
    if baseline is not None:
        sampled_params["baseline"] = baseline
    # Only the critic uses them: sampled for its trials only, so that they do not blur the others' statistics
    if baseline == "critic":
        sampled_params["one_minus_gae_lambda"] = trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True)
        sampled_params["vf_coef"] = trial.suggest_float("vf_coef", 0.1, 1.0)
        # One gradient step per batch fits only small returns (LunarLander-v3: explained variance 0)
        sampled_params["critic_gradient_steps"] = trial.suggest_categorical("critic_gradient_steps", [1, 5, 20, 80])
        trial.set_user_attr("gae_lambda", 1 - sampled_params["one_minus_gae_lambda"])

    # Display true values
    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    return convert_reinforce_params(sampled_params)
