"""
Continuous control: InvertedPendulum-v5 (MuJoCo, ``pip install "gymnasium[mujoco]"``) with the
package's preset, a Gaussian policy and the critic as baseline.
"""

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecNormalize

from sb3_reinforce import REINFORCE

# The preset (sb3_reinforce/hyperparams/reinforce.yml): rewards normalized for the critic, observations
# left as they are, and advantages not standardized, which would blow the noise of a balanced pole up
env = VecNormalize(make_vec_env("InvertedPendulum-v5", n_envs=8, seed=0), norm_obs=False)
model = REINFORCE(
    "MlpPolicy",
    env,
    baseline="critic",
    normalize_advantage=False,
    learning_rate=LinearSchedule(3e-3, 0.0, 1.0),  # lin_3e-3: from 3e-3 to 0 over the training
    seed=0,
)
model.learn(100_000)

env.training, env.norm_reward = False, False  # evaluate the true return with frozen statistics
mean_reward, std_reward = evaluate_policy(model, env, n_eval_episodes=10)
print(f"mean reward {mean_reward:.1f} +/- {std_reward:.1f}")  # the task's maximum is 1000
