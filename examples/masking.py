"""MaskableREINFORCE on sb3-contrib's invalid-action env: 55 of 70 actions invalid in every state."""

from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from sb3_contrib.common.maskable.evaluation import evaluate_policy

from sb3_reinforce import MaskableREINFORCE

env = InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55)
model = MaskableREINFORCE("MlpPolicy", env, n_steps=20, batch_size=20, gamma=0.4, learning_rate=3e-3, seed=0)
model.learn(6_000)
# sb3-contrib's evaluate_policy passes each state's masks to predict(); SB3's own does not
mean_reward, _ = evaluate_policy(model, env, n_eval_episodes=20, warn=False)
print(f"mean reward {mean_reward:.1f}")  # sb3-contrib's test threshold is 90

obs, _ = env.reset()
action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
