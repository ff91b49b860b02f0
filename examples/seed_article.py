"""
The seed article's REINFORCE on CartPole beside the package's tuned preset, with both learning
curves in one plot.

    python examples/seed_article.py                      # 100k steps each, seed 0
    python examples/seed_article.py --timesteps 200000 --seed 1 --output outputs

The article's setup, reproduced faithfully with REINFORCE's keywords: one episode per update
(one env, ``n_steps=1``), gamma 0.9, one hidden layer of 128 ReLU units, Adam at 3e-4, the
episode's discounted returns standardized, no baseline and no gradient clipping. The article ran
CartPole-v0 (200 steps); this runs CartPole-v1 (500 steps), the task the preset is tuned for.
"""

import argparse
import pathlib
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import LinearSchedule
from torch import nn

from sb3_reinforce import REINFORCE

ENV_ID = "CartPole-v1"
SEED_ARTICLE: dict[str, Any] = {
    "n_envs": 1,
    "n_steps": 1,  # a rollout ends with the first episode end: one episode per update
    "gamma": 0.9,
    "learning_rate": 3e-4,
    "baseline": "none",
    "normalize_advantage": True,  # (G_t - mean) / std over the batch: the article's normalized returns
    "max_grad_norm": 1e9,  # the article does not clip
    "policy_kwargs": {"net_arch": {"pi": [128], "vf": []}, "activation_fn": nn.ReLU, "ortho_init": False},
}
# The CartPole-v1 entry of sb3_reinforce/hyperparams/reinforce.yml (a test keeps the two equal)
TUNED_PRESET: dict[str, Any] = {
    "n_envs": 8,
    "n_steps": 8,
    "batch_size": 256,
    "gamma": 0.995,
    "learning_rate": LinearSchedule(1e-3, 0.0, 1.0),  # lin_1e-3
    "ent_coef": 0.0006,
    "max_grad_norm": 1.6,
    "baseline": "mean",
    "normalize_advantage": False,
    "policy_kwargs": {"net_arch": {"pi": [256, 256], "vf": [256, 256]}, "activation_fn": nn.ReLU},
}


def learning_curve(
    settings: dict[str, Any], timesteps: int, seed: int, log_path: pathlib.Path
) -> tuple[np.ndarray, np.ndarray]:
    """
    Train with ``settings`` and return the evaluation curve: env steps and mean return of 10
    deterministic episodes, every 5k steps.

    :param settings: ``n_envs`` and REINFORCE's keywords
    :param timesteps: Training budget in env steps
    :param seed: Seed of the model and the envs
    :param log_path: Folder for ``evaluations.npz``
    """
    settings = dict(settings)
    n_envs = settings.pop("n_envs")
    env = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed)
    evaluation = EvalCallback(
        make_vec_env(ENV_ID, n_envs=1, seed=seed + 1000),
        eval_freq=max(min(5_000, timesteps) // n_envs, 1),
        n_eval_episodes=10,
        log_path=str(log_path),
        verbose=0,
    )
    REINFORCE("MlpPolicy", env, seed=seed, **settings).learn(timesteps, callback=evaluation)
    curve = np.load(log_path / "evaluations.npz")
    return curve["timesteps"], curve["results"].mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=100_000, help="training budget of each setup")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("outputs"), help="folder for the plot")
    args = parser.parse_args()

    plt.figure(figsize=(6, 4))
    for label, settings in [("seed article (one episode per update)", SEED_ARTICLE), ("tuned preset", TUNED_PRESET)]:
        steps, returns = learning_curve(settings, args.timesteps, args.seed, args.output / label.split(" ")[0])
        print(f"{label}: final evaluation {returns[-1]:.1f}, best {returns.max():.1f}")
        plt.plot(steps, returns, label=label)
    plt.axhline(475, color="grey", linestyle=":", label="solved (475)")
    plt.xlabel("env steps")
    plt.ylabel("evaluation return (10 episodes)")
    plt.title(f"REINFORCE on {ENV_ID}, seed {args.seed}")
    plt.legend()
    plt.tight_layout()
    plot_path = args.output / "seed_article_vs_preset.png"
    plt.savefig(plot_path, dpi=100)
    print(f"Wrote {plot_path}")


if __name__ == "__main__":
    main()
