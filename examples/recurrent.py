"""
RecurrentREINFORCE on CartPole-v1 with its velocities hidden (RL Zoo's CartPoleNoVel-v1), with
the zoo preset's settings (reinforce_lstm.yml) and a linearly decaying learning rate. Needs the
zoo extra for the wrapper: ``pip install "sb3-reinforce[zoo]"``.
"""

import numpy as np
from rl_zoo3.wrappers import MaskVelocityWrapper
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

from sb3_reinforce import RecurrentREINFORCE

env = VecNormalize(make_vec_env("CartPole-v1", n_envs=8, seed=0, wrapper_class=MaskVelocityWrapper), norm_reward=False)
policy_kwargs = dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64, net_arch=dict(pi=[64], vf=[64]))
learning_rate = LinearSchedule(3e-3, 0.0, 1.0)  # from 3e-3 to 0 over the training, as lin_3e-3 in RL Zoo
model = RecurrentREINFORCE("MlpLstmPolicy", env, n_steps=32, learning_rate=learning_rate, policy_kwargs=policy_kwargs, seed=0)
model.learn(100_000)
# SB3's evaluate_policy carries the LSTM states and resets them at episode starts
env.training = False  # evaluate with the observation statistics frozen
mean_reward, _ = evaluate_policy(model, env, n_eval_episodes=10)
print(f"mean reward {mean_reward:.1f}")

# By hand, as with RecurrentPPO
obs = env.reset()
lstm_states, episode_starts = None, np.ones((env.num_envs,), dtype=bool)
for _ in range(500):
    actions, lstm_states = model.predict(obs, state=lstm_states, episode_start=episode_starts, deterministic=True)
    obs, rewards, dones, infos = env.step(actions)
    episode_starts = dones
