"""Train REINFORCE on CartPole-v1, save it, load it back and evaluate it."""

from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE

model = REINFORCE("MlpPolicy", "CartPole-v1", verbose=1)
model.learn(total_timesteps=100_000)
model.save("reinforce_cartpole")

# Loading runs no code from the file: nothing in it is unpickled
model = REINFORCE.load("reinforce_cartpole", env=model.get_env())
mean_reward, std_reward = evaluate_policy(model, model.get_env(), n_eval_episodes=20)
print(f"mean reward {mean_reward:.1f} +/- {std_reward:.1f}")
