"""Optuna search space of REINFORCE for RL Zoo's ``-optimize``, in the form of RL Zoo's own samplers."""

from typing import Any

import optuna
from rl_zoo3.hyperparams_opt import convert_onpolicy_params


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Convert sampled values (a trial's ``params``, e.g. for ``--trial-id``) to REINFORCE's keyword
    arguments with RL Zoo's on-policy converter: ``one_minus_gamma`` and ``one_minus_gae_lambda``
    become ``gamma`` and ``gae_lambda``, the ``net_arch`` and ``activation_fn`` names become ``policy_kwargs``.

    :param sampled_params: The values sampled by :func:`sample_reinforce_params`
    :return: The keyword arguments of ``REINFORCE``
    """
    # Trials without the critic sample no gae_lambda: 1.0, REINFORCE's default, is the one it does not warn about
    return convert_onpolicy_params({"one_minus_gae_lambda": 0.0, **sampled_params})


def sample_reinforce_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Sampler for REINFORCE hyperparams.

    :param trial: The Optuna trial to sample from
    :param n_actions: Size of a Box action space (unused: REINFORCE has no action noise)
    :param n_envs: Number of training envs (unused: ``n_steps`` is per env)
    :param additional_args: RL Zoo's extra sampler arguments (unused: they are for replay buffers)
    :return: The keyword arguments of ``REINFORCE`` for this trial
    """
    # Minimum steps per env in a rollout; 1 is textbook REINFORCE (one episode per env and update)
    n_steps = trial.suggest_categorical("n_steps", [1, 8, 32, 128, 512, 2048])
    # Transitions per policy gradient step; None: one step per batch of episodes
    batch_size = trial.suggest_categorical("batch_size", [None, 32, 64, 256])
    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.01, log=True)
    baseline = trial.suggest_categorical("baseline", ["none", "mean", "critic"])
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
        "baseline": baseline,
        "normalize_advantage": normalize_advantage,
        "ent_coef": ent_coef,
        "max_grad_norm": max_grad_norm,
        "net_arch": net_arch,
        "activation_fn": activation_fn,
    }
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
