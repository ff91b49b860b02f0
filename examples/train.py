"""
Train REINFORCE on an env, save the model, print its evaluation and write a learning-curve PNG.

    python examples/train.py                       # CartPole-v1, 150k steps
    python examples/train.py --n-envs 8 --baseline critic --seed 1

It uses REINFORCE's defaults otherwise; tuned presets per task: ``sb3-reinforce-zoo train --algo reinforce --env ...``.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import numpy as np
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id")
    parser.add_argument("--timesteps", type=int, default=150_000, help="training budget in env steps")
    parser.add_argument("--n-envs", type=int, default=1, help="number of parallel envs")
    parser.add_argument("--baseline", choices=["none", "mean", "critic"], help="default: REINFORCE's default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-freq", type=int, default=5_000, help="evaluate every this many env steps")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("outputs"), help="folder for model and plot")
    args = parser.parse_args()

    args.output.mkdir(parents=True, exist_ok=True)
    env = make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed)
    eval_env = make_vec_env(args.env, n_envs=1, seed=args.seed + 1000)
    evaluation = EvalCallback(
        eval_env,
        # A budget shorter than the evaluation period still gets its evaluation (and its curve)
        eval_freq=max(min(args.eval_freq, args.timesteps) // args.n_envs, 1),
        n_eval_episodes=20,
        log_path=str(args.output),
        best_model_save_path=str(args.output),
        verbose=0,
    )
    baseline = {} if args.baseline is None else {"baseline": args.baseline}
    model = REINFORCE("MlpPolicy", env, seed=args.seed, **baseline)
    model.learn(args.timesteps, callback=evaluation, progress_bar=True)

    model_path = args.output / f"reinforce_{args.env}.zip"
    model.save(model_path)
    mean_reward, std_reward = evaluate_policy(model, eval_env, n_eval_episodes=20, deterministic=True)
    print(f"Saved {model_path}")
    print(f"Evaluation on {args.env} (20 episodes, deterministic): {mean_reward:.1f} +/- {std_reward:.1f}")

    curve = np.load(args.output / "evaluations.npz")
    timesteps, results = curve["timesteps"], curve["results"]
    plt.figure(figsize=(6, 4))
    plt.plot(timesteps, results.mean(axis=1), label="mean of 20 episodes")
    plt.fill_between(timesteps, results.min(axis=1), results.max(axis=1), alpha=0.3, label="min-max")
    plt.xlabel("env steps")
    plt.ylabel("evaluation return")
    plt.title(f"REINFORCE ({model.baseline} baseline) on {args.env}")
    plt.legend()
    plt.tight_layout()
    plot_path = args.output / f"learning_curve_{args.env}.png"
    plt.savefig(plot_path, dpi=100)
    print(f"Wrote {plot_path}")


if __name__ == "__main__":
    main()
