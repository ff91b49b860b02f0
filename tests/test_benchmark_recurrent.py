"""The recurrent-policy benchmark (benchmarks/recurrent.py) and its memory tasks (benchmarks/memory_tasks.py)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

from benchmarks import recurrent
from benchmarks.common import read_json, write_json
from benchmarks.memory_tasks import (
    REPEAT_PREVIOUS_MEMORYLESS_BEST,
    REPEAT_PREVIOUS_REWARDED_STEPS,
    REPEAT_PREVIOUS_STEPS,
    CueRecallEnv,
    make_cartpole_no_vel,
    make_repeat_previous_easy,
)


def _episode(env: CueRecallEnv, seed: int, actions: list[int]) -> tuple[int, list[np.ndarray], list[float], list[bool]]:
    """The cue, the observations (the reset one first), rewards and terminations of an episode played with ``actions``."""
    obs, _ = env.reset(seed=seed)
    observations, rewards, terminations = [obs], [], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        assert not truncated
        observations.append(obs)
        rewards.append(float(reward))
        terminations.append(terminated)
        if terminated:
            break
    return env.cue, observations, rewards, terminations


@pytest.mark.parametrize("delay, n_cues", [(0, 2), (3, 2), (16, 3)])
def test_cue_recall_pays_only_the_cue_after_exactly_delay_waiting_steps(delay: int, n_cues: int) -> None:
    env = CueRecallEnv(delay, n_cues)
    seen_cues = set()
    for seed in range(40):
        for answer in range(n_cues):
            # During the cue and waiting steps the cue's own action earns nothing either
            env.reset(seed=seed)
            cue = env.cue
            actions = [cue] * (delay + 1) + [answer]
            episode_cue, observations, rewards, terminations = _episode(env, seed, actions)
            assert episode_cue == cue
            seen_cues.add(cue)
            assert len(rewards) == delay + 2
            assert rewards[: delay + 1] == [0.0] * (delay + 1)
            assert terminations == [False] * (delay + 1) + [True]
            assert rewards[-1] == (1.0 if answer == cue else -1.0)
            # The answer step is the one observation with the answer flag
            assert observations[delay + 1][n_cues + 2] == 1.0
            assert all(obs[n_cues + 2] == 0.0 for obs in observations[: delay + 1])
    assert seen_cues == set(range(n_cues))


def test_cue_recall_shows_the_cue_only_at_the_first_step() -> None:
    delay, n_cues = 5, 3
    env = CueRecallEnv(delay, n_cues)
    by_cue: dict[int, list[np.ndarray]] = {}
    for seed in range(30):
        cue, observations, _, _ = _episode(env, seed, [0] * (delay + 2))
        assert observations[0][: n_cues + 1].tolist() == [*np.eye(n_cues)[cue], 1.0]
        by_cue.setdefault(cue, observations)
    assert len(by_cue) == n_cues
    waiting = np.zeros(n_cues + 3, dtype=np.float32)
    waiting[n_cues + 1] = 1.0
    first, *others = by_cue.values()
    for observations in by_cue.values():
        # Every waiting step observes the same constant vector, whatever the cue
        for obs in observations[1 : delay + 1]:
            np.testing.assert_array_equal(obs, waiting)
    for observations in others:
        # After step 0 nothing differs between episodes of different cues
        for obs, reference in zip(observations[1:], first[1:], strict=True):
            np.testing.assert_array_equal(obs, reference)


def test_cue_recall_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="delay=-1"):
        CueRecallEnv(-1)
    with pytest.raises(ValueError, match="n_cues=1"):
        CueRecallEnv(4, n_cues=1)


def test_cartpole_no_vel_hides_the_velocities() -> None:
    env = make_cartpole_no_vel()
    obs, _ = env.reset(seed=0)
    observations = [obs]
    for _ in range(20):
        obs, _, terminated, truncated, _ = env.step(1)
        observations.append(obs)
        if terminated or truncated:
            break
    stacked = np.array(observations)
    assert np.all(stacked[:, [1, 3]] == 0.0)
    # The positions move: pushing right for several steps
    assert np.ptp(stacked[:, 0]) > 0 and np.ptp(stacked[:, 2]) > 0


def test_repeat_previous_memoryless_reference() -> None:
    # popgym comes with the benchmarks extra only
    pytest.importorskip("popgym")
    env = make_repeat_previous_easy()
    returns = []
    for seed in range(400):
        obs, _ = env.reset(seed=seed)
        total, steps, rewarded, done = 0.0, 0, 0, False
        while not done:
            # The best memoryless policy: any suit but the shown card's
            obs, reward, terminated, truncated, _ = env.step((int(obs) + 1) % 4)
            total, steps, rewarded, done = total + float(reward), steps + 1, rewarded + (reward != 0), terminated or truncated
        assert (steps, rewarded) == (REPEAT_PREVIOUS_STEPS, REPEAT_PREVIOUS_REWARDED_STEPS)
        returns.append(total)
    # Standard error about 0.006
    assert np.mean(returns) == pytest.approx(REPEAT_PREVIOUS_MEMORYLESS_BEST, abs=0.03)


def test_the_feed_forward_reference_has_the_recurrent_settings_without_the_lstm() -> None:
    for task in recurrent.TASKS:
        recurrent_policy, recurrent_settings = recurrent.algorithm_settings(task, "RecurrentREINFORCE")
        policy, settings = recurrent.algorithm_settings(task, "REINFORCE")
        assert (recurrent_policy, policy) == ("MlpLstmPolicy", "MlpPolicy")
        assert {key: value for key, value in settings.items() if key != "policy_kwargs"} == {
            key: value for key, value in recurrent_settings.items() if key != "policy_kwargs"
        }
        assert "lstm_hidden_size" in recurrent_settings["policy_kwargs"]
        assert not set(settings["policy_kwargs"]) & set(recurrent.LSTM_KEYS)
        assert settings["policy_kwargs"]["net_arch"] == recurrent_settings["policy_kwargs"]["net_arch"]


def test_recurrent_ppo_takes_rl_zoo_settings_on_cartpole_no_vel() -> None:
    _, settings = recurrent.algorithm_settings("CartPoleNoVel-v1", "RecurrentPPO")
    assert settings["n_steps"] == 32 and settings["gamma"] == 0.98 and settings["n_epochs"] == 20
    model = recurrent.make_model(recurrent.Run("CartPoleNoVel-v1", "RecurrentPPO", 0, 1000))
    # lin_0.001: a linear schedule from 1e-3 to 0
    assert model.lr_schedule(1.0) == pytest.approx(1e-3) and model.lr_schedule(0.5) == pytest.approx(5e-4)
    assert isinstance(model, RecurrentPPO)
    clip_range = model.clip_range
    assert callable(clip_range) and clip_range(0.5) == pytest.approx(0.1)
    normalization = model.get_vec_normalize_env()
    assert normalization is not None and normalization.gamma == 0.98 and model.n_envs == recurrent.N_ENVS
    # RL Zoo's normalize: True normalizes returns too; the REINFORCE variants' settings only observations
    assert normalization.norm_obs and normalization.norm_reward
    for algo in ("RecurrentREINFORCE", "REINFORCE"):
        _, settings = recurrent.algorithm_settings("CartPoleNoVel-v1", algo)
        env = recurrent.make_env(recurrent.TASKS["CartPoleNoVel-v1"], 0, 2, settings)
        assert isinstance(env, VecNormalize) and env.norm_obs and not env.norm_reward
    _, settings = recurrent.algorithm_settings("CueRecall-16", "RecurrentPPO")
    assert not isinstance(recurrent.make_env(recurrent.TASKS["CueRecall-16"], 0, 2, settings), VecNormalize)


def test_plan_runs_puts_the_longest_first_and_takes_each_tasks_seeds() -> None:
    runs = recurrent.plan_runs(list(recurrent.TASKS), list(recurrent.ALGOS), seeds=None, budget=None)
    assert len(runs) == 3 * (5 + 3 * 4)
    seconds = [run.estimated_seconds() for run in runs]
    assert seconds == sorted(seconds, reverse=True)
    assert runs[0].algo == "RecurrentPPO"
    assert {run.seed for run in runs if run.task == "CartPoleNoVel-v1"} == set(range(5))
    assert {run.seed for run in runs if run.task == "CueRecall-64"} == set(range(3))
    assert all(run.budget == 100_000 for run in runs if run.task == "CartPoleNoVel-v1")
    small = recurrent.plan_runs(["CueRecall-16"], ["REINFORCE"], seeds=2, budget=500)
    assert sorted(run.name for run in small) == ["CueRecall-16__REINFORCE__500__seed0", "CueRecall-16__REINFORCE__500__seed1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tasks", "CueRecall-17"], "unknown tasks"),
        (["--algos", "PPO"], "unknown algos"),
        (["--budget", "0"], "--budget must be a positive number"),
    ],
)
def test_bad_command_lines_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        recurrent.main(argv)
    assert message in capsys.readouterr().err


def test_evaluation_uses_frozen_training_statistics_and_raw_returns(tmp_path: Path) -> None:
    run = recurrent.Run("CartPoleNoVel-v1", "REINFORCE", 0, 1000)
    model = recurrent.make_model(run)
    training = model.get_vec_normalize_env()
    assert training is not None
    _, settings = recurrent.algorithm_settings(run.task, run.algo)
    eval_env = recurrent.make_env(recurrent.TASKS[run.task], 1, 2, settings, training=False)
    assert isinstance(eval_env, VecNormalize)
    result: dict[str, Any] = {"evaluations": []}
    callback = recurrent.ReturnEvaluation(eval_env, [400, 1000], tmp_path / "run.json", result)
    model.learn(1000, callback=callback)
    assert [evaluation["step"] for evaluation in result["evaluations"]] == [400, 1000]
    assert read_json(tmp_path / "run.json")["evaluations"] == result["evaluations"]
    # A copy of the training statistics, not updated by the evaluation episodes
    evaluation_rms, training_rms = eval_env.obs_rms, training.obs_rms
    assert isinstance(evaluation_rms, RunningMeanStd) and isinstance(training_rms, RunningMeanStd)
    assert evaluation_rms is not training_rms and not eval_env.training
    assert 400 < evaluation_rms.count <= training_rms.count
    # Monitor's raw returns (a CartPole episode lasts 8 steps or more), not normalized rewards
    assert all(evaluation["mean"] >= 8 for evaluation in result["evaluations"])


def test_smoke_run_writes_runs_and_report_and_reruns_unfinished_runs(tmp_path: Path) -> None:
    algos = [algo for algo in recurrent.ALGOS if recurrent.is_available(algo)]
    assert {"RecurrentPPO", "REINFORCE"} <= set(algos)
    argv = ["--tasks", "CueRecall-16", "--algos", ",".join(algos), "--seeds", "1", "--budget", "300", "--out", str(tmp_path)]
    assert recurrent.main([*argv, "--workers", "2"]) == 0
    paths = {algo: tmp_path / "runs" / f"CueRecall-16__{algo}__300__seed0.json" for algo in algos}
    for algo, path in paths.items():
        result = read_json(path)
        assert result["finished"] and result["algo"] == algo and result["timesteps"] >= 300
        # Step 0 and every tenth of the budget
        assert [evaluation["step"] for evaluation in result["evaluations"]] == [0, *(30 * i for i in range(1, 11))]
        assert all(-1.0 <= evaluation["mean"] <= 1.0 for evaluation in result["evaluations"])
    report = (tmp_path / "results.md").read_text()
    assert "## CueRecall-16" in report and (tmp_path / "learning_curves_CueRecall-16.png").is_file()
    table = [line for line in report.splitlines() if line.startswith("| ")]
    for algo in algos:
        assert any(line.startswith(f"| {algo} | 300 | 1 | 0: ") for line in table)
    assert "| chance = best memoryless policy, expected (no training) | | | | 0.000 |" in report

    # An interrupted run (unfinished file) runs again; a finished one is kept
    interrupted, kept = paths["RecurrentPPO"], paths["REINFORCE"]
    write_json(
        interrupted, {**read_json(interrupted), "finished": False, "evaluations": read_json(interrupted)["evaluations"][:3]}
    )
    write_json(kept, {**read_json(kept), "marker": "kept"})
    assert recurrent.main([*argv, "--workers", "1"]) == 0
    rerun = read_json(interrupted)
    assert rerun["finished"] and len(rerun["evaluations"]) == 11
    assert read_json(kept)["marker"] == "kept"


def test_probes_change_only_their_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import recurrent_probes

    # Copies, so that the probes change this test's settings only
    monkeypatch.setattr(recurrent, "RECURRENT_REINFORCE", dict(recurrent.RECURRENT_REINFORCE))
    monkeypatch.setattr(recurrent, "RECURRENT_PPO", dict(recurrent.RECURRENT_PPO))
    before_reinforce, before_ppo = dict(recurrent.RECURRENT_REINFORCE), dict(recurrent.RECURRENT_PPO)
    recurrent_probes.apply_probe("critic")
    recurrent_probes.apply_probe("short-chunks")
    assert recurrent.RECURRENT_REINFORCE["CueRecall-32"] == {**before_reinforce["CueRecall-32"], "baseline": "critic"}
    assert recurrent.RECURRENT_PPO["CueRecall-64"] == {**before_ppo["CueRecall-64"], "n_steps": 32}
    changed = [task for task in before_reinforce if recurrent.RECURRENT_REINFORCE[task] != before_reinforce[task]]
    assert changed == ["CueRecall-32"]
