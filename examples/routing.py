"""
A small routing task where invalid-action masking matters: the travelling salesman on a handful of random cities.

    python examples/routing.py                         # MaskableREINFORCE, 8 cities, 300k steps
    python examples/routing.py --cities 10 --timesteps 200000 --seed 1
    python examples/routing.py --envs 32 --group-size 8     # 4 groups of 8 envs, leave-one-out baseline
    python examples/routing.py --envs 32 --group-size 8 --policy attention   # the attention model, not the MLP

Each episode is a new instance: ``n_cities`` cities drawn uniformly in the unit square (from the
seed given to ``reset``). The tour starts at city 0; each action names the next city, the reward is
minus the distance travelled, and the last move also pays the way back to city 0, so an episode's
return is minus the tour's length. ``action_masks()`` allows the unvisited cities only.

Without masks (``masked=False``), choosing a visited city costs ``invalid_penalty`` and leaves the
agent where it is, and the episode is truncated after ``max_steps_factor * n_cities`` steps, so an
agent that keeps choosing visited cities cannot loop forever.

The script trains :class:`~sb3_reinforce.MaskableREINFORCE` and prints its mean tour length on
fixed evaluation instances beside a random valid tour and the nearest-neighbour heuristic.
The benchmark (``python -m benchmarks.masking``) compares it with MaskablePPO and unmasked REINFORCE.

``--policy attention`` trains :class:`RoutingPolicy`, a small attention model (Kool, van Hoof and
Welling 2019) in place of the MLP over the flat observation: it embeds each city, compares them by
self-attention, and points at the next city, so that renaming the cities renames its choices.
"""

import argparse
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.utils import LinearSchedule
from torch import nn

from sb3_reinforce import MaskableREINFORCE, make_grouped_vec_env

# The settings the benchmark measured (docs/benchmarks/masking/results.md): a learned baseline (the remaining
# tour's length depends on the instance), no discount (the objective is the whole tour), minibatches of 16
# transitions (probed at 200k steps, seed 0: 3.97 with one gradient step per rollout, 3.77 with minibatches of 64, 3.56 of 16)
REINFORCE_KWARGS: dict[str, Any] = {
    "baseline": "critic",
    "n_steps": 32,
    "batch_size": 16,
    "gamma": 1.0,
    "learning_rate": 1e-3,
}
# The group baseline (--group-size): each tour against the mean of its group's other tours of the same instance,
# no critic, 32 envs in groups of 8. From the zoo's tuning study (docs/benchmarks/studies, trial 39 of 40 at 200k
# steps) with gamma 1 (the tour is undiscounted). The benchmark (docs/benchmarks/masking), 600k steps: mean
# tour 2.880, 2.850, 2.934 over seeds 0-2. Before the study, one step per rollout of 4 steps at 3e-3 and the
# default network: 3.038, 3.092, 3.086
LEAVE_ONE_OUT_KWARGS: dict[str, Any] = {
    "baseline": "leave_one_out",
    "n_steps": 8,
    "batch_size": 64,
    "gamma": 1.0,
    "learning_rate": 2e-3,
    "ent_coef": 1.4e-5,
    "max_grad_norm": 2.8,
    "policy_kwargs": {"net_arch": {"pi": [64], "vf": [64]}, "activation_fn": nn.ReLU},
}
# The group baseline with RoutingPolicy (--policy attention) in place of the MLP
ATTENTION_LEAVE_ONE_OUT_KWARGS: dict[str, Any] = {
    "baseline": "leave_one_out",
    "n_steps": 8,
    "batch_size": 64,
    "gamma": 1.0,
    # Decayed linearly to 0: at a constant 1e-4 the tours stop improving after 300k steps (8 cities) but
    # vary by about 0.02 from one evaluation to the next; at 1e-3 the policy collapses to a poor tour
    "learning_rate": LinearSchedule(1e-4, 0.0, 1.0),
    "max_grad_norm": 1.0,
    "policy_kwargs": {"embed_dim": 64, "n_heads": 4, "n_layers": 2},
}
LEAVE_ONE_OUT_GROUP_SIZE = 8
LEAVE_ONE_OUT_N_ENVS = 32
N_ENVS = 8
# Evaluation instances are reset with these seeds and up, far from any training env's seed
EVAL_SEED = 1_000_000


class RoutingEnv(gym.Env):
    """
    Travelling salesman on ``n_cities`` random cities in the unit square, one new instance per episode.

    Observation (float32, ``6 * n_cities`` values): every city's coordinates, every city's offset
    from the current city, the visited flags and the current city's one-hot.

    :param n_cities: Number of cities (the tour starts at city 0)
    :param masked: Whether the agent gets ``action_masks()`` (the episode then lasts exactly
        ``n_cities - 1`` steps); if False, a visited city is an invalid action, penalized
    :param invalid_penalty: Cost of choosing a visited city (``masked=False`` only)
    :param max_steps_factor: Without masks, the episode is truncated after this many steps per city
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self, n_cities: int = 8, masked: bool = True, invalid_penalty: float = 1.0, max_steps_factor: int = 4
    ) -> None:
        super().__init__()
        if n_cities < 2:
            raise ValueError(f"n_cities must be at least 2, got {n_cities}")
        self.n_cities = n_cities
        self.masked = masked
        self.invalid_penalty = invalid_penalty
        self.max_steps = max_steps_factor * n_cities
        self.action_space = spaces.Discrete(n_cities)
        # Coordinates in [0, 1], offsets in [-1, 1], flags in {0, 1}
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(6 * n_cities,), dtype=np.float32)
        self.cities = np.zeros((n_cities, 2))
        self.visited = np.zeros(n_cities, dtype=bool)
        self.current = 0
        self.steps = 0
        # Per episode: length of the moves made so far, and how many actions were invalid
        self.tour_length = 0.0
        self.invalid_actions = 0

    def _observation(self) -> np.ndarray:
        one_hot = np.zeros(self.n_cities)
        one_hot[self.current] = 1.0
        offsets = self.cities - self.cities[self.current]
        return np.concatenate([self.cities.ravel(), offsets.ravel(), self.visited, one_hot]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """
        Draw a new instance.

        :param seed: Seeds the env's generator (the same seed gives the same instance)
        :param options: Unused
        :return: The observation at city 0 and an empty info dict
        """
        super().reset(seed=seed)
        self.cities = self.np_random.uniform(0.0, 1.0, size=(self.n_cities, 2))
        self.visited = np.zeros(self.n_cities, dtype=bool)
        self.visited[0] = True
        self.current = 0
        self.steps = 0
        self.tour_length = 0.0
        self.invalid_actions = 0
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """
        Move to city ``action``.

        :param action: The next city
        :return: Observation, reward (minus the distance, or minus the penalty), terminated (every
            city visited), truncated (unmasked step cap reached), info (with ``tour_length``,
            ``invalid_actions`` and ``complete`` once the episode ends)
        """
        city = int(action)
        self.steps += 1
        if self.visited[city]:
            if self.masked:
                raise ValueError(f"city {city} was already visited: with masked=True, follow action_masks()")
            # Invalid: penalized, and the agent stays where it is
            self.invalid_actions += 1
            reward = -self.invalid_penalty
        else:
            distance = float(np.linalg.norm(self.cities[city] - self.cities[self.current]))
            self.visited[city] = True
            self.current = city
            self.tour_length += distance
            reward = -distance
        terminated = bool(self.visited.all())
        if terminated:
            # Back to the start closes the tour
            back = float(np.linalg.norm(self.cities[0] - self.cities[self.current]))
            self.tour_length += back
            reward -= back
        truncated = not terminated and not self.masked and self.steps >= self.max_steps
        info: dict[str, Any] = {}
        if terminated or truncated:
            info = {"tour_length": self.tour_length, "invalid_actions": self.invalid_actions, "complete": terminated}
        return self._observation(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """The unvisited cities (sb3-contrib's masking protocol; with ``masked=False`` every city is allowed)."""
        return ~self.visited if self.masked else np.ones(self.n_cities, dtype=bool)


# The masked routing env's id in gymnasium's registry, for the zoo command:
# sb3-reinforce-zoo train --algo reinforce_mask --env RoutingTSP-v0 --gym-packages examples.routing
ENV_ID = "RoutingTSP-v0"
gym.register(ENV_ID, entry_point=RoutingEnv)


class CityAttention(nn.Module):
    """
    The attention model's networks (Kool, van Hoof and Welling 2019, smaller): each city is a token
    of its 6 observation features, self-attention layers encode them, and each city's logit is its
    token's compatibility with a context (the graph mean, the current city and the start city), so
    permuting the cities permutes the logits. The critic's latent pools over the cities.

    Takes the routing env's flat observation (SB3's ``FlattenExtractor`` leaves it as it is) and
    stands in for SB3's ``MlpExtractor``: ``latent_dim_pi`` is the number of cities (the logits),
    ``latent_dim_vf`` the embedding size.

    :param n_cities: Number of cities (the observation has ``6 * n_cities`` values)
    :param embed_dim: Size of each city's embedding
    :param n_heads: Attention heads (``embed_dim`` must divide by it)
    :param n_layers: Self-attention layers of the encoder
    :param logit_clip: The logits are ``logit_clip * tanh(score)``, as in the paper, so that no city's
        probability collapses to 0 early in training
    """

    def __init__(self, n_cities: int, embed_dim: int = 64, n_heads: int = 4, n_layers: int = 2, logit_clip: float = 10.0):
        super().__init__()
        self.n_cities = n_cities
        self.embed_dim = embed_dim
        self.logit_clip = logit_clip
        self.latent_dim_pi = n_cities
        self.latent_dim_vf = embed_dim
        self.embed = nn.Linear(6, embed_dim)
        # The tour returns to city 0, which its features do not single out (it is visited from the start)
        self.start = nn.Parameter(th.zeros(embed_dim))
        layer = nn.TransformerEncoderLayer(embed_dim, n_heads, dim_feedforward=2 * embed_dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.context = nn.Linear(3 * embed_dim, embed_dim)
        # A glimpse of the cities before pointing, as in the paper's decoder
        self.glimpse = nn.MultiheadAttention(embed_dim, n_heads, batch_first=True)
        self.keys = nn.Linear(embed_dim, embed_dim, bias=False)
        self.critic = nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.ReLU())

    def encode(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        The cities' embeddings and the context pooled from them.

        :param features: Observations, shape (batch, 6 * n_cities)
        :return: Embeddings, shape (batch, n_cities, embed_dim), and the context, (batch, 3 * embed_dim)
        """
        n = self.n_cities
        coordinates = features[:, : 2 * n].reshape(-1, n, 2)
        offsets = features[:, 2 * n : 4 * n].reshape(-1, n, 2)
        # Visited flags and the current city's one-hot, one column each
        flags = features[:, 4 * n :].reshape(-1, 2, n).transpose(1, 2)
        tokens = self.embed(th.cat([coordinates, offsets, flags], dim=2))
        tokens = th.cat([tokens[:, :1] + self.start, tokens[:, 1:]], dim=1)
        embeddings = self.encoder(tokens)
        current = (flags[:, :, 1:] * embeddings).sum(dim=1)
        context = th.cat([embeddings.mean(dim=1), current, embeddings[:, 0]], dim=1)
        return embeddings, context

    def _logits(self, embeddings: th.Tensor, context: th.Tensor) -> th.Tensor:
        query = self.context(context).unsqueeze(1)
        query, _ = self.glimpse(query, embeddings, embeddings, need_weights=False)
        scores = (self.keys(embeddings) @ query.transpose(1, 2)).squeeze(2) / self.embed_dim**0.5
        return self.logit_clip * th.tanh(scores)

    def _value_latent(self, context: th.Tensor) -> th.Tensor:
        # Invariant to the cities' order: the graph mean and the current city (the start reaches both through attention)
        return self.critic(context[:, : 2 * self.embed_dim])

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        :param features: Observations, shape (batch, 6 * n_cities)
        :return: The logits of the cities and the critic's latent, from one pass of the encoder
        """
        embeddings, context = self.encode(features)
        return self._logits(embeddings, context), self._value_latent(context)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        """
        :param features: Observations, shape (batch, 6 * n_cities)
        :return: The logits of the cities
        """
        return self._logits(*self.encode(features))

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        """
        :param features: Observations, shape (batch, 6 * n_cities)
        :return: The critic's latent
        """
        return self._value_latent(self.encode(features)[1])


class RoutingPolicy(MaskableActorCriticPolicy):
    """
    sb3-contrib's maskable actor-critic policy with :class:`CityAttention` in place of the MLP: the
    latent of the actor is already the cities' logits, so ``action_net`` is the identity. For
    MaskableREINFORCE and MaskablePPO on :class:`RoutingEnv`.

    :param observation_space: The routing env's observation space (``6 * n_cities`` values)
    :param action_space: The routing env's action space (``Discrete(n_cities)``)
    :param lr_schedule: Learning rate schedule
    :param embed_dim: Size of each city's embedding
    :param n_heads: Attention heads
    :param n_layers: Self-attention layers
    :param ortho_init: Whether to initialize the layers orthogonally, as SB3's MLPs (off: PyTorch's
        own initialization of the attention layers)
    :param kwargs: ``MaskableActorCriticPolicy``'s other arguments (``net_arch`` and
        ``activation_fn`` are not used)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        embed_dim: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        ortho_init: bool = False,
        **kwargs: Any,
    ):
        self.embed_dim = embed_dim
        self.n_heads = n_heads
        self.n_layers = n_layers
        super().__init__(observation_space, action_space, lr_schedule, ortho_init=ortho_init, **kwargs)

    def _build_mlp_extractor(self) -> None:
        assert isinstance(self.action_space, spaces.Discrete)
        self.mlp_extractor = CityAttention(int(self.action_space.n), self.embed_dim, self.n_heads, self.n_layers)  # type: ignore[assignment]

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        # Again, without the replaced Linear layer's parameters
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            **super()._get_constructor_parameters(),
            "embed_dim": self.embed_dim,
            "n_heads": self.n_heads,
            "n_layers": self.n_layers,
        }


# The policies of --policy: sb3-contrib's MLP over the flat observation, or the attention model
POLICIES: dict[str, str | type[MaskableActorCriticPolicy]] = {"mlp": "MlpPolicy", "attention": RoutingPolicy}


def make_env(masked: bool, n_cities: int = 8, invalid_penalty: float = 1.0, max_steps_factor: int = 4) -> RoutingEnv:
    """
    The routing env, masked or with the invalid-action penalty.

    :param masked: Whether the agent gets action masks (else visited cities are penalized)
    :param n_cities: Number of cities
    :param invalid_penalty: Cost of choosing a visited city (``masked=False`` only)
    :param max_steps_factor: Step cap per city without masks
    """
    return RoutingEnv(n_cities, masked=masked, invalid_penalty=invalid_penalty, max_steps_factor=max_steps_factor)


def instances(n_instances: int, n_cities: int = 8, first_seed: int = EVAL_SEED) -> list[np.ndarray]:
    """
    The cities of ``n_instances`` fixed instances, as the env draws them for seeds ``first_seed`` and up.

    :param n_instances: How many instances
    :param n_cities: Cities per instance
    :param first_seed: Seed of the first instance
    """
    env = make_env(True, n_cities)
    cities = []
    for index in range(n_instances):
        env.reset(seed=first_seed + index)
        cities.append(env.cities.copy())
    return cities


def tour_length(cities: np.ndarray, order: list[int] | np.ndarray) -> float:
    """
    Length of the closed tour visiting ``cities`` in ``order``.

    :param cities: Coordinates, shape (n, 2)
    :param order: The visiting order (a permutation, starting anywhere)
    """
    path = cities[np.asarray(order)]
    return float(np.linalg.norm(path - np.roll(path, -1, axis=0), axis=1).sum())


def random_tour_length(cities: np.ndarray, rng: np.random.Generator, n_tours: int = 100) -> float:
    """
    Mean length of random valid tours from city 0 (a uniform random policy under the masks).

    :param cities: Coordinates, shape (n, 2)
    :param rng: Random generator
    :param n_tours: Tours averaged
    """
    n = len(cities)
    return float(np.mean([tour_length(cities, [0, *(1 + rng.permutation(n - 1))]) for _ in range(n_tours)]))


def nearest_neighbour_tour(cities: np.ndarray) -> list[int]:
    """
    The nearest-neighbour tour from city 0 (always move to the closest unvisited city).

    :param cities: Coordinates, shape (n, 2)
    """
    order = [0]
    unvisited = set(range(1, len(cities)))
    while unvisited:
        here = cities[order[-1]]
        closest = min(unvisited, key=lambda city: float(np.linalg.norm(cities[city] - here)))
        order.append(closest)
        unvisited.remove(closest)
    return order


def nearest_neighbour_length(cities: np.ndarray) -> float:
    """
    Length of the nearest-neighbour tour from city 0.

    :param cities: Coordinates, shape (n, 2)
    """
    return tour_length(cities, nearest_neighbour_tour(cities))


def two_opt_length(cities: np.ndarray) -> float:
    """
    Length of the nearest-neighbour tour improved by 2-opt: reverse any segment that shortens the
    tour, until none does.

    :param cities: Coordinates, shape (n, 2)
    """
    order = nearest_neighbour_tour(cities)
    distance = np.linalg.norm(cities[:, None] - cities[None], axis=2)
    n, improved = len(order), True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b, c, d = order[i - 1], order[i], order[j], order[(j + 1) % n]
                if distance[a, c] + distance[b, d] < distance[a, b] + distance[c, d] - 1e-12:
                    order[i : j + 1] = order[i : j + 1][::-1]
                    improved = True
    return tour_length(cities, order)


def optimal_tour_length(cities: np.ndarray) -> float:
    """
    Length of the shortest tour, by Held and Karp's dynamic programme over subsets (exact; time
    ``O(n^2 2^n)``, for a handful of cities).

    :param cities: Coordinates, shape (n, 2)
    """
    n = len(cities)
    distance = np.linalg.norm(cities[:, None] - cities[None], axis=2)
    # cost[subset, j]: the shortest path from city 0 through the cities of subset (bits for cities 1..n-1) ending at j
    cost = np.full((1 << (n - 1), n), np.inf)
    for j in range(1, n):
        cost[1 << (j - 1), j] = distance[0, j]
    for subset in range(1, 1 << (n - 1)):
        for j in range(1, n):
            if not subset >> (j - 1) & 1 or np.isinf(cost[subset, j]):
                continue
            for k in range(1, n):
                if not subset >> (k - 1) & 1:
                    extended = subset | 1 << (k - 1)
                    cost[extended, k] = min(cost[extended, k], cost[subset, j] + distance[j, k])
    full = (1 << (n - 1)) - 1
    return float(min(cost[full, j] + distance[j, 0] for j in range(1, n)))


@dataclass
class Evaluation:
    """A policy's deterministic tours on the evaluation instances."""

    # Mean length of the completed tours (nan if none completed)
    mean_tour_length: float
    # Fraction of the instances whose tour was completed before the step cap
    complete_rate: float
    # Fraction of the actions taken that named a visited city
    invalid_action_rate: float


def evaluate(
    model: BaseAlgorithm,
    masked: bool,
    n_instances: int = 50,
    n_cities: int = 8,
    first_seed: int = EVAL_SEED,
    **env_kwargs: Any,
) -> Evaluation:
    """
    Run the deterministic policy once on each fixed evaluation instance.

    :param model: A trained model; with ``masked=True`` its ``predict`` must take ``action_masks``
    :param masked: Whether to evaluate on the masked env (passing the masks) or the penalty variant
    :param n_instances: Evaluation instances (seeds ``first_seed`` and up)
    :param n_cities: Cities per instance
    :param first_seed: Seed of the first instance
    :param env_kwargs: The penalty variant's other arguments
    """
    env = make_env(masked, n_cities, **env_kwargs)
    lengths, complete, invalid, actions = [], 0, 0, 0
    for index in range(n_instances):
        observation, _ = env.reset(seed=first_seed + index)
        done = False
        while not done:
            if masked:
                action, _ = model.predict(observation, deterministic=True, action_masks=env.action_masks())  # type: ignore[call-arg]
            else:
                action, _ = model.predict(observation, deterministic=True)
            observation, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        actions += env.steps
        invalid += info["invalid_actions"]
        if info["complete"]:
            complete += 1
            lengths.append(info["tour_length"])
    return Evaluation(
        mean_tour_length=float(np.mean(lengths)) if lengths else float("nan"),
        complete_rate=complete / n_instances,
        invalid_action_rate=invalid / actions,
    )


def train(
    timesteps: int,
    seed: int = 0,
    n_cities: int = 8,
    n_envs: int = N_ENVS,
    group_size: int | None = None,
    policy: str = "mlp",
    **kwargs: Any,
) -> MaskableREINFORCE:
    """
    Train MaskableREINFORCE on the masked routing env.

    :param timesteps: Training budget in env steps
    :param seed: Seed of the model and the training envs
    :param n_cities: Cities per instance
    :param n_envs: Parallel envs
    :param group_size: With a group size, ``n_envs / group_size`` groups of envs solve the same
        instances, and each tour's baseline is the mean length of the group's other tours
        (``LEAVE_ONE_OUT_KWARGS`` instead of ``REINFORCE_KWARGS``)
    :param policy: ``"mlp"`` (sb3-contrib's ``MlpPolicy``) or ``"attention"`` (:class:`RoutingPolicy`,
        with ``ATTENTION_LEAVE_ONE_OUT_KWARGS`` for the group baseline)
    :param kwargs: MaskableREINFORCE's arguments, overriding the settings
    """
    env_kwargs = {"masked": True, "n_cities": n_cities}
    if group_size is None:
        env = make_vec_env(make_env, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
        settings = REINFORCE_KWARGS
    else:
        env = make_grouped_vec_env(make_env, n_envs // group_size, group_size, seed=seed, env_kwargs=env_kwargs)
        group_settings = ATTENTION_LEAVE_ONE_OUT_KWARGS if policy == "attention" else LEAVE_ONE_OUT_KWARGS
        settings = {**group_settings, "group_size": group_size}
    model = MaskableREINFORCE(POLICIES[policy], env, seed=seed, **{**settings, **kwargs})
    return model.learn(timesteps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cities", type=int, default=8, help="cities per instance")
    parser.add_argument("--timesteps", type=int, default=300_000, help="training budget in env steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", type=int, default=50, help="evaluation instances")
    parser.add_argument("--envs", type=int, default=N_ENVS, help="parallel envs")
    parser.add_argument(
        "--group-size", type=int, help="envs per group that solve the same instances (leave-one-out baseline, no critic)"
    )
    parser.add_argument("--policy", choices=sorted(POLICIES), default="mlp", help="the policy network (default mlp)")
    parser.add_argument("--learning-rate", type=float, help="overrides the settings' learning rate")
    args = parser.parse_args()

    overrides = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
    model = train(
        args.timesteps,
        seed=args.seed,
        n_cities=args.cities,
        n_envs=args.envs,
        group_size=args.group_size,
        policy=args.policy,
        **overrides,
    )
    result = evaluate(model, masked=True, n_instances=args.instances, n_cities=args.cities)
    cities = instances(args.instances, args.cities)
    rng = np.random.default_rng(args.seed)
    random_mean = np.mean([random_tour_length(instance, rng) for instance in cities])
    nearest_mean = np.mean([nearest_neighbour_length(instance) for instance in cities])
    print(f"Mean tour length on {args.instances} instances of {args.cities} cities:")
    print(f"  MaskableREINFORCE ({args.timesteps} steps): {result.mean_tour_length:.3f}")
    print(f"  random valid tour:                 {random_mean:.3f}")
    print(f"  nearest neighbour:                 {nearest_mean:.3f}")


if __name__ == "__main__":
    main()
