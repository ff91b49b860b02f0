"""The routing example (examples/routing.py): masks, rewards, the penalty variant and a smoke training."""

import itertools

import numpy as np
import pytest

from examples.routing import (
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
