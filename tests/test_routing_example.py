"""The routing example (examples/routing.py): masks, rewards, the penalty variant and a smoke training."""

import itertools

import numpy as np
import pytest
import torch as th
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from stable_baselines3.common.env_util import make_vec_env

from examples.routing import (
    RoutingPolicy,
    evaluate,
    instances,
    make_env,
    nearest_neighbour_length,
    optimal_tour_length,
    random_tour_length,
    tour_length,
    train,
    two_opt_length,
)
from sb3_reinforce import MaskableREINFORCE


def test_the_masks_allow_exactly_the_unvisited_cities() -> None:
    env = make_env(masked=True, n_cities=6)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    visited = {0}
    for _ in range(5):
        mask = env.action_masks()
        assert mask.dtype == bool and set(np.flatnonzero(~mask)) == visited
        city = int(rng.choice(np.flatnonzero(mask)))
        env.step(city)
        visited.add(city)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_masked_episode_visits_every_city_once_and_returns_minus_the_tour_length(seed: int) -> None:
    env = make_env(masked=True, n_cities=8)
    observation, _ = env.reset(seed=seed)
    assert env.observation_space.contains(observation)
    rng = np.random.default_rng(seed)
    order, total, steps, terminated, truncated = [0], 0.0, 0, False, False
    while not (terminated or truncated):
        city = int(rng.choice(np.flatnonzero(env.action_masks())))
        observation, reward, terminated, truncated, info = env.step(city)
        assert env.observation_space.contains(observation)
        order.append(city)
        total += reward
        steps += 1
    assert terminated and not truncated and steps == 7
    assert sorted(order) == list(range(8))
    assert total == pytest.approx(-tour_length(env.cities, order))
    assert info == {"tour_length": pytest.approx(-total), "invalid_actions": 0, "complete": True}
    # The same seed draws the same instance
    cities = env.cities.copy()
    env.reset(seed=seed)
    np.testing.assert_array_equal(env.cities, cities)


def test_the_masked_env_refuses_a_visited_city() -> None:
    env = make_env(masked=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="already visited"):
        env.step(0)


def test_the_penalty_variant_penalizes_a_visited_city_and_truncates_at_its_cap() -> None:
    env = make_env(masked=False, n_cities=5, invalid_penalty=2.0, max_steps_factor=3)
    env.reset(seed=0)
    assert env.action_masks().all()
    # A valid move first, then the city it is in (visited): penalized, and the agent stays
    observation, reward, *_ = env.step(1)
    assert reward == pytest.approx(-np.linalg.norm(env.cities[1] - env.cities[0]))
    for _ in range(13):
        next_observation, reward, terminated, truncated, _ = env.step(1)
        assert reward == -2.0 and not terminated and not truncated
        np.testing.assert_array_equal(next_observation, observation)
    # Step 15 of 5 * 3: the cap
    _, reward, terminated, truncated, info = env.step(0)
    assert reward == -2.0 and truncated and not terminated
    assert info["complete"] is False and info["invalid_actions"] == 14


def test_a_random_policy_without_masks_is_scored_as_invalid() -> None:
    env = make_env(masked=False, n_cities=8)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, info = env.step(int(rng.integers(8)))
    assert env.steps <= 32
    assert info["invalid_actions"] > 0


def test_the_heuristics() -> None:
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert tour_length(square, [0, 1, 2, 3]) == pytest.approx(4.0)
    assert tour_length(square, [0, 2, 1, 3]) == pytest.approx(2 + 2 * np.sqrt(2))
    assert nearest_neighbour_length(square) == pytest.approx(4.0)
    cities = instances(20)
    rng = np.random.default_rng(0)
    assert np.mean([nearest_neighbour_length(c) for c in cities]) < np.mean([random_tour_length(c, rng) for c in cities])


def test_a_short_training_runs_and_its_tours_are_complete() -> None:
    model = train(300, seed=0, n_envs=2, n_steps=8)
    assert isinstance(model, MaskableREINFORCE) and model.num_timesteps >= 300
    result = evaluate(model, masked=True, n_instances=3)
    assert result.complete_rate == 1.0 and result.invalid_action_rate == 0.0
    assert 0.0 < result.mean_tour_length < 8 * np.sqrt(2)


def test_held_karp_finds_the_shortest_tour_and_two_opt_lies_between_it_and_nearest_neighbour() -> None:
    for cities in instances(5, n_cities=6, first_seed=7):
        brute_force = min(tour_length(cities, [0, *order]) for order in itertools.permutations(range(1, 6)))
        optimal = optimal_tour_length(cities)
        assert optimal == pytest.approx(brute_force)
        assert optimal - 1e-9 <= two_opt_length(cities) <= nearest_neighbour_length(cities) + 1e-9
    # 2-opt improves on nearest neighbour on some instance
    assert any(two_opt_length(cities) < nearest_neighbour_length(cities) - 1e-6 for cities in instances(20, n_cities=8))


def _observation_after(n_cities: int, moves: list[int], seed: int = 0) -> np.ndarray:
    env = make_env(masked=True, n_cities=n_cities)
    observation, _ = env.reset(seed=seed)
    for city in moves:
        observation, *_ = env.step(city)
    return observation


def _permuted(observation: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The same state with city ``i`` renamed from city ``order[i]``, in every part of the observation."""
    n = len(order)
    coordinates, offsets = observation[: 2 * n].reshape(n, 2), observation[2 * n : 4 * n].reshape(n, 2)
    visited, current = observation[4 * n : 5 * n], observation[5 * n :]
    return np.concatenate([coordinates[order].ravel(), offsets[order].ravel(), visited[order], current[order]])


def _attention_policy(n_cities: int) -> RoutingPolicy:
    env = make_env(masked=True, n_cities=n_cities)
    th.manual_seed(0)
    return RoutingPolicy(env.observation_space, env.action_space, lambda _: 1e-3, embed_dim=16, n_heads=2, n_layers=1)


def _probabilities(policy: RoutingPolicy, observations: np.ndarray, masks: np.ndarray | None = None) -> th.Tensor:
    """The policy's masked probabilities of the cities, one row per observation."""
    distribution = policy.get_distribution(th.as_tensor(observations), action_masks=masks)
    assert isinstance(distribution, MaskableCategoricalDistribution) and distribution.distribution is not None
    return distribution.distribution.probs


def test_the_attention_policy_is_equivariant_to_the_order_of_the_cities_but_city_0() -> None:
    n = 7
    policy = _attention_policy(n)
    observation = _observation_after(n, [3, 5])
    rng = np.random.default_rng(0)
    order = np.array([0, *(1 + rng.permutation(n - 1))])
    observations = np.stack([observation, _permuted(observation, order)])
    with th.no_grad():
        probabilities = _probabilities(policy, observations)
        values = policy.predict_values(th.as_tensor(observations))
    # The probabilities differ between cities (else no permutation would show), and they follow their cities
    assert probabilities[0].std() > 1e-3
    th.testing.assert_close(probabilities[1], probabilities[0][order], rtol=1e-5, atol=1e-6)
    th.testing.assert_close(values[1], values[0], rtol=1e-5, atol=1e-6)
    # City 0 (the start, where the tour returns) is not interchangeable with the others
    swapped = np.array([1, 0, *range(2, n)])
    with th.no_grad():
        swapped_probabilities = _probabilities(policy, _permuted(observation, swapped)[None])
    assert not th.allclose(swapped_probabilities[0], probabilities[0][swapped], atol=1e-4)


def test_the_attention_policy_gives_no_probability_to_masked_cities_and_its_optimizer_has_every_parameter() -> None:
    n = 6
    policy = _attention_policy(n)
    observation, mask = _observation_after(n, [2])[None], np.array([[False, True, False, True, True, True]])
    probabilities = _probabilities(policy, observation, mask)[0].detach().numpy()
    assert np.all(probabilities[~mask[0]] == 0) and probabilities.sum() == pytest.approx(1.0)
    assert isinstance(policy.action_net, th.nn.Identity)
    optimized = {id(parameter) for group in policy.optimizer.param_groups for parameter in group["params"]}
    assert optimized == {id(parameter) for parameter in policy.parameters()}
    # Every parameter gets a gradient from the actor's or the critic's loss
    values, log_prob, _ = policy.evaluate_actions(th.as_tensor(observation), th.tensor([3]), th.as_tensor(mask))
    (values.sum() + log_prob.sum()).backward()
    assert all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in policy.parameters())


def test_a_short_training_of_the_attention_policy_with_the_group_baseline() -> None:
    model = train(512, seed=0, n_cities=5, n_envs=8, group_size=4, policy="attention")
    assert isinstance(model.policy, RoutingPolicy) and model.num_timesteps >= 512
    result = evaluate(model, masked=True, n_instances=3, n_cities=5)
    assert result.complete_rate == 1.0 and result.invalid_action_rate == 0.0


def test_maskable_ppo_and_the_critic_baseline_train_the_attention_policy() -> None:
    env_kwargs = {"masked": True, "n_cities": 5}
    ppo = MaskablePPO(
        RoutingPolicy, make_vec_env(make_env, n_envs=2, seed=0, env_kwargs=env_kwargs), n_steps=16, batch_size=16, seed=0
    )
    before = [parameter.detach().clone() for parameter in ppo.policy.parameters()]
    ppo.learn(64)
    assert all(not th.equal(old, new) for old, new in zip(before, ppo.policy.parameters(), strict=True))
    assert evaluate(ppo, masked=True, n_instances=2, n_cities=5).complete_rate == 1.0
    env = make_vec_env(make_env, n_envs=2, seed=0, env_kwargs=env_kwargs)
    critic = MaskableREINFORCE(RoutingPolicy, env, baseline="critic", n_steps=8, seed=0)
    assert critic.learn(64).num_timesteps >= 64
