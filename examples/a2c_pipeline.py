"""
An A2C pipeline with REINFORCE swapped in: subprocess envs, VecNormalize, evaluation and checkpoint
callbacks, TensorBoard, and save/load of the model with its normalization statistics. Only the line
that builds the model changed.
"""

from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import SubprocVecEnv, VecNormalize

from sb3_reinforce import REINFORCE

# SubprocVecEnv's workers import the script again: start them only from the main process
if __name__ == "__main__":
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=8, seed=0, vec_env_cls=SubprocVecEnv))
    eval_env = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=100), training=False, norm_reward=False)
    callbacks = [
        # EvalCallback copies the training env's normalization statistics before each evaluation
        EvalCallback(eval_env, eval_freq=25_000 // 8, n_eval_episodes=10, best_model_save_path="logs/best"),
        CheckpointCallback(save_freq=50_000 // 8, save_path="logs/checkpoints", save_vecnormalize=True),
    ]
    # was: A2C("MlpPolicy", env, tensorboard_log="logs/tensorboard")
    model = REINFORCE("MlpPolicy", env, baseline="critic", tensorboard_log="logs/tensorboard")
    model.learn(200_000, callback=callbacks)
    model.save("logs/reinforce_cartpole")
    env.save("logs/vecnormalize.pkl")
    env.close()

    # Later: the model, and the statistics it was trained with
    eval_env = VecNormalize.load("logs/vecnormalize.pkl", make_vec_env("CartPole-v1", n_envs=1, seed=200))
    eval_env.training, eval_env.norm_reward = False, False
    model = REINFORCE.load("logs/reinforce_cartpole", env=eval_env)
    mean_reward, std_reward = evaluate_policy(model, eval_env, n_eval_episodes=10)
    print(f"mean reward {mean_reward:.1f} +/- {std_reward:.1f}")
