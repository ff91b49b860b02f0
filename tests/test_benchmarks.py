"""The benchmark's planning, command line, evaluation and report (short runs only: the benchmark itself runs outside CI)."""

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.type_aliases import PolicyPredictor
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from benchmarks import engines, identity, masking, run, sample, tianshou_peer, time_to_solve
from benchmarks.common import write_json
from benchmarks.hyperparams import Hyperparams, make_env, make_model
from benchmarks.sample import PeriodicEvaluation
from benchmarks.sample_report import first_solve_step, results_table, sample_section, summarize


def test_plan_runs_filters_algorithms_and_overrides_seeds_and_budget() -> None:
    specs = sample.plan_runs(
        ["CartPole-v1", "Acrobot-v1"], quick=False, seeds=range(2), budget=1000, algos=["REINFORCE-critic", "A2C"]
    )
    assert sorted((spec.env_id, spec.algo, spec.seed) for spec in specs) == sorted(
        (env_id, algo, seed)
        for env_id in ("CartPole-v1", "Acrobot-v1")
        for algo in ("REINFORCE-critic", "A2C")
        for seed in (0, 1)
    )
    assert all(spec.budget == 1000 and spec.name.endswith(f"__1000__seed{spec.seed}") for spec in specs)
    critic = next(spec for spec in specs if spec.algo == "REINFORCE-critic")
    assert critic.hyperparams.kwargs["baseline"] == "critic"


@pytest.mark.parametrize("installed", [True, False])
def test_the_peer_runs_on_cartpole_only_where_tianshou_is_installed(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    monkeypatch.setattr(tianshou_peer, "is_installed", lambda: installed)
    specs = sample.plan_runs(["CartPole-v1", "Acrobot-v1"], quick=False, seeds=range(1), budget=1000)
    peers = [spec for spec in specs if spec.algo == tianshou_peer.ALGO]
    assert [spec.env_id for spec in peers] == (["CartPole-v1"] if installed else [])
    assert all(spec.hyperparams == tianshou_peer.HYPERPARAMS for spec in peers)
    variants = {*sample.carried_episode_variants("mean"), *sample.carried_episode_variants("critic")}
    assert {spec.algo for spec in specs} - {tianshou_peer.ALGO} == {*sample.SMALL_TASK_ALGOS, *variants}


def test_carried_episode_variants_set_the_option() -> None:
    specs = sample.plan_runs(["CartPole-v1"], quick=False, seeds=range(1), budget=1000)
    options = {spec.algo: spec.hyperparams.kwargs.get("carried_episodes") for spec in specs}
    assert options["REINFORCE-mean-uncorrected"] == "uncorrected" and options["REINFORCE-mean-discarded"] == "discarded"
    # The default, importance weights, is the plain name
    assert options["REINFORCE-mean"] is None
    discarded = next(spec for spec in specs if spec.algo == "REINFORCE-mean-discarded")
    assert discarded.hyperparams.kwargs["baseline"] == "mean"


def test_eval_points_end_at_the_budget() -> None:
    spec = sample.plan_runs(["CartPole-v1"], quick=False, seeds=range(1), budget=12_000, algos=["A2C"])[0]
    assert spec.eval_points() == [5_000, 10_000, 12_000]


def test_sparse_evaluation_keeps_the_final_window_dense_and_is_named_apart() -> None:
    spec = sample.plan_runs(["LunarLander-v3"], quick=False, seeds=range(1), budget=None, algos=["A2C"], eval_every=250_000)[0]
    assert spec.eval_points() == [250_000, 500_000, 750_000, 980_000, 985_000, 990_000, 995_000, 1_000_000]
    assert spec.name == "LunarLander-v3__A2C__1000000__seed0__every250000"
    dense = dataclasses.replace(spec, eval_every=sample.EVAL_EVERY)
    assert dense.name == "LunarLander-v3__A2C__1000000__seed0" and len(dense.eval_points()) == 200


def test_report_states_a_sparse_evaluation_spacing(tmp_path: Path) -> None:
    run_result = {**_run([0, 120, 100, 110, 130, 105, 101], seed=0), "eval_every": 50_000, "budget": 200_000}
    write_json(tmp_path / "runs" / "one.json", run_result)
    report = "\n".join(sample_section(tmp_path / "runs", tmp_path))
    assert "evaluated every 50k (and 5k apart over the last 5 evaluations) env steps" in report
    assert "--envs CartPole-v1 --algos REINFORCE-none,REINFORCE-mean,REINFORCE-critic,A2C,PPO" in report
    assert all(line.endswith(f"--eval-every 50000 --out {tmp_path}`") for line in report.splitlines() if "--envs" in line)


@pytest.mark.parametrize("value, seeds", [("3", [0, 1, 2]), ("2-4", [2, 3, 4]), ("1-1", [1])])
def test_seeds_are_a_count_or_a_range(value: str, seeds: list[int]) -> None:
    args = run.parse_args(["--suites", "sample", "--envs", "LunarLander-v3", "--seeds", value])
    specs = sample.plan_runs(args.envs, args.quick, args.seeds, args.budget, ["A2C"])
    assert [spec.seed for spec in specs] == seeds


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--envs", "CartPole-v2"], "unknown envs"),
        (["--envs", "LunarLander-v3", "--algos", "REINFORCE-mean"], "unknown algos"),
        (["--suites", "speed"], "unknown suites"),
        (["--eval-every", "0"], "--eval-every must be a positive number"),
        (["--seeds", "4-2"], "'4-2' names no seeds"),
        (["--seeds", "two"], "expected N or A-B with whole numbers, got 'two'"),
    ],
)
def test_bad_command_lines_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err


def _run(means: list[float], seed: int) -> dict:
    steps = [5_000 * (i + 1) for i in range(len(means))]
    return {
        "algo": "REINFORCE-critic",
        "budget": steps[-1],
        "threshold": 100.0,
        "eval_steps": steps,
        "eval_means": means,
        "seed": seed,
        "wall_time_s": 1.0,
        "eval_time_s": 0.5,
        "hyperparams": {"source": "test", "n_envs": 1, "policy": "MlpPolicy", "normalize": None, "kwargs": {}},
        "env_id": "CartPole-v1",
        "eval_episodes": 20,
        "eval_stds": [0.0] * len(means),
        "meta": {"date": "2026-11-25 00:00 UTC"},
    }


def test_a_seed_that_solves_then_falls_back_is_solved_but_not_stable() -> None:
    held = _run([0, 120, 100, 110, 130, 105, 101], seed=0)
    fell_back = _run([0, 120, 90, 95, 99, 99, 99], seed=1)
    never = _run([0, 10, 20, 30, 40, 50, 99], seed=2)
    summary = summarize([held, fell_back, never])
    assert summary.solve_steps == [10_000, 10_000, math.inf]
    assert summary.finals == pytest.approx([109.2, 96.4, 47.8])
    assert summary.stable == 1
    assert "| 2/3 | 96.4 [47.8, 109.2]; 84.5 | 1/3 |" in results_table([summary])[2]
    assert first_solve_step([5_000, 10_000], [99.9, 100.0], 100.0) == 10_000


def observation_statistics(env: VecEnv | None) -> RunningMeanStd | None:
    """A copy of the observation statistics of ``env``, if it normalizes observations."""
    if not (isinstance(env, VecNormalize) and env.norm_obs):
        return None
    # SB3 types them as those of Dict observations; CartPole's are one RunningMeanStd
    return copy.deepcopy(cast(RunningMeanStd, env.obs_rms))


class Snapshots(BaseCallback):
    """After each evaluation of ``evaluation`` (which runs before it), keep what was evaluated."""

    def __init__(self, evaluation: PeriodicEvaluation) -> None:
        super().__init__()
        self.evaluation = evaluation
        # Per evaluation: the policy's parameters, and the observation statistics of the training and evaluation envs
        self.taken: list[tuple[dict[str, th.Tensor], RunningMeanStd | None, RunningMeanStd | None]] = []

    def _on_step(self) -> bool:
        if len(self.taken) < len(self.evaluation.steps):
            parameters = copy.deepcopy(self.model.policy.state_dict())
            training = observation_statistics(self.model.get_vec_normalize_env())
            self.taken.append((parameters, training, observation_statistics(self.evaluation.eval_env)))
        return True


@pytest.mark.parametrize("normalize", [None, {}, {"norm_obs": False}])
def test_periodic_evaluation_runs_with_each_normalization(normalize: dict | None) -> None:
    hyperparams = Hyperparams(source="test", n_envs=2, policy="MlpPolicy", normalize=normalize, kwargs={"baseline": "critic"})
    env = make_env("CartPole-v1", hyperparams, seed=0)
    eval_env = make_env("CartPole-v1", hyperparams, seed=1, n_envs=1, training=False)
    model = make_model("REINFORCE-critic", hyperparams, env, seed=0)
    evaluation = PeriodicEvaluation(eval_env, [200, 400], n_episodes=2)
    snapshots = Snapshots(evaluation)
    model.learn(400, callback=[evaluation, snapshots])
    assert evaluation.steps == [200, 400]
    assert len(snapshots.taken) == 2

    # Replay: the same policies, deterministic, on an identically built env with the training env's statistics
    replay_env = make_env("CartPole-v1", hyperparams, seed=1, n_envs=1, training=False)
    norm_obs = normalize is not None and normalize.get("norm_obs", True)
    for (parameters, training_rms, evaluation_rms), mean in zip(snapshots.taken, evaluation.means, strict=True):
        if norm_obs:
            # The evaluation env was given the training env's observation statistics, which training updates
            assert training_rms is not None and evaluation_rms is not None
            assert training_rms.count > 1
            np.testing.assert_array_equal(evaluation_rms.mean, training_rms.mean)
            np.testing.assert_array_equal(evaluation_rms.var, training_rms.var)
            assert isinstance(replay_env, VecNormalize)
            # SB3 types obs_rms as the statistics of Dict observations
            replay_env.obs_rms = copy.deepcopy(training_rms)  # type: ignore[arg-type]
        model.policy.load_state_dict(parameters)
        expected, _ = evaluate_policy(model, replay_env, n_eval_episodes=2, deterministic=True)
        assert mean == pytest.approx(expected)


class AlwaysLeft:
    """A predictor that is not an SB3 algorithm: CartPole falls over within a few dozen steps."""

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        return np.zeros(len(observation), dtype=np.int64), None


def test_periodic_evaluation_evaluates_any_predictor_once_per_crossing() -> None:
    hyperparams = Hyperparams(source="test", n_envs=1, policy="MlpPolicy", normalize=None, kwargs={})
    eval_env = make_env("CartPole-v1", hyperparams, seed=1, n_envs=2, training=False)
    evaluation = PeriodicEvaluation(eval_env, [100, 200, 300], n_episodes=4)
    evaluation.evaluate_if_due(50, AlwaysLeft())
    evaluation.evaluate_if_due(250, AlwaysLeft())
    evaluation.evaluate_if_due(260, AlwaysLeft())
    assert evaluation.steps == [200]
    assert 1.0 <= evaluation.means[0] < 50.0


def test_the_peer_trains_and_is_evaluated_deterministically() -> None:
    pytest.importorskip("tianshou")
    collected: list[int] = []
    predictors: list[tianshou_peer.TianshouPredictor] = []

    def on_collect(steps: int, predictor: PolicyPredictor) -> None:
        assert isinstance(predictor, tianshou_peer.TianshouPredictor)
        collected.append(steps)
        predictors.append(predictor)

    total = tianshou_peer.train("CartPole-v1", seed=0, budget=600, on_collect=on_collect)
    assert total == collected[-1] >= 600 > collected[-2]
    assert collected == sorted(set(collected))
    observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    policy = predictors[-1].policy
    expected = policy.actor(observations)[0].argmax(dim=1).numpy()
    actions, state = predictors[-1].predict(observations, deterministic=True)
    assert state is None and np.array_equal(actions, expected)


def test_report_names_the_runs_not_done_yet(tmp_path: Path) -> None:
    # Seed 0 of one algorithm at CartPole-v1's budget: the others and the other seeds are still to run
    write_json(tmp_path / "runs" / "one.json", {**_run([0, 120, 100, 110, 130, 105, 101], seed=0), "budget": 200_000})
    report = "\n".join(sample_section(tmp_path / "runs", tmp_path))
    assert "### CartPole-v1" in report and (tmp_path / "learning_curves_CartPole-v1.png").is_file()
    not_run = report.split("Not run yet")[1]
    assert "- CartPole-v1: REINFORCE-none (all seeds), REINFORCE-mean (all seeds), REINFORCE-critic (seeds 1-4)" in not_run
    algos = "REINFORCE-none,REINFORCE-mean,REINFORCE-critic,A2C,PPO,REINFORCE-mean-uncorrected,REINFORCE-mean-discarded"
    assert f"--envs CartPole-v1 --algos {algos},Tianshou-REINFORCE " in not_run
    others = "Acrobot-v1,LunarLander-v3,InvertedPendulum-v5,Hopper-v5"
    command = f"`python -m benchmarks.run --suites sample --envs {others} --out {tmp_path}`"
    assert f"- No runs of {others.replace(',', ', ')}: {command}" in not_run
    assert "- Acrobot-v1:" not in not_run


def test_report_names_seeds_missing_between_finished_ones(tmp_path: Path) -> None:
    for seed in (1, 3):
        run_result = {**_run([0, 120, 100, 110, 130, 105, 101], seed=seed), "budget": 200_000}
        write_json(tmp_path / "runs" / f"{seed}.json", run_result)
    report = "\n".join(sample_section(tmp_path / "runs", tmp_path))
    assert "REINFORCE-critic (seeds 0, 2, 4)" in report


def test_report_groups_only_tasks_without_any_run(tmp_path: Path) -> None:
    # Every seed of one algorithm finished: the task has runs, even though each algorithm still to run misses all seeds
    for seed in range(5):
        run_result = {**_run([0, 120, 100, 110, 130, 105, 101], seed=seed), "budget": 200_000}
        write_json(tmp_path / "runs" / f"{seed}.json", run_result)
    not_run = "\n".join(sample_section(tmp_path / "runs", tmp_path)).split("Not run yet")[1]
    assert "- CartPole-v1: REINFORCE-none (all seeds), REINFORCE-mean (all seeds), A2C (all seeds)" in not_run
    assert "- No runs of Acrobot-v1, LunarLander-v3, InvertedPendulum-v5, Hopper-v5: " in not_run


def test_report_links_the_reports_of_folders_inside_its_own(tmp_path: Path) -> None:
    meta = run.run_metadata(["--suites", ""])
    assert "More runs" not in run.write_report(tmp_path, meta).read_text()
    for name in ("sparse", "another"):
        (tmp_path / name).mkdir()
        run.write_report(tmp_path / name, meta)
    report = run.write_report(tmp_path, meta).read_text()
    assert "- More runs, in their own reports: [another](another/results.md), [sparse](sparse/results.md)\n" in report


def test_identity_benchmark_resumes_and_reports_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "BUDGET", 200)
    monkeypatch.setattr(identity, "ENVS", {"Discrete": identity.ENVS["Discrete"]})
    assert identity.main(["--seeds", "1", "--workers", "1", "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "identity.json").read_text())
    assert sorted(run["algo"] for run in runs) == sorted(identity.ALGOS)
    assert all(0.0 <= run["reward"] <= identity.EPISODE_LENGTH for run in runs)
    # A second command finds every run done, trains nothing and reports the same runs
    monkeypatch.setattr(identity, "run_one", None)
    assert identity.main(["--seeds", "1", "--workers", "1", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "results.md").read_text()
    assert all(f"| Discrete | {algo} | 0: " in table for algo in identity.ALGOS)


def test_identity_benchmark_passes_reinforce_kwargs_and_selects_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "BUDGET", 200)
    argv = ["--seeds", "1", "--workers", "1", "--spaces", "MultiBinary", "--algos", "REINFORCE-critic", "--out", str(tmp_path)]
    # The keywords reach REINFORCE's constructor
    with pytest.raises(TypeError, match="not_a_keyword"):
        identity.main([*argv, "--reinforce-kwargs", '{"not_a_keyword": 1}'])
    assert identity.main([*argv, "--reinforce-kwargs", '{"critic_gradient_steps": 2}']) == 0
    runs = json.loads((tmp_path / "identity.json").read_text())
    assert [(run["space"], run["algo"]) for run in runs] == [("MultiBinary", "REINFORCE-critic")]
    with pytest.raises(SystemExit):
        identity.main(["--spaces", "Tuple"])


def test_time_to_solve_stops_at_the_first_solve_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time_to_solve, "EVAL_EVERY", 500)
    monkeypatch.setattr(time_to_solve, "EVAL_EPISODES", 2)
    # A threshold every policy reaches (CartPole-v1 pays 1 a step) and one none does in the budget
    configs = (time_to_solve.Config("REINFORCE-mean", "native"), time_to_solve.Config("A2C", "envpool"))
    tasks = {"CartPole-v1": (1.0, 1_500, configs), "Acrobot-v1": (0.0, 1_000, configs[1:])}
    monkeypatch.setattr(time_to_solve, "TASKS", tasks)
    assert time_to_solve.main(["--seeds", "1", "--out", str(tmp_path)]) == 0
    runs = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "runs").glob("*.json")}
    assert sorted(runs) == [
        "Acrobot-v1__A2C__envpool__seed0",
        "CartPole-v1__A2C__envpool__seed0",
        "CartPole-v1__REINFORCE-mean__native__seed0",
    ]
    solved = runs["CartPole-v1__REINFORCE-mean__native__seed0"]
    # The first evaluation, at the first step past 500 (8 envs step together)
    assert solved["solved"] and 500 <= solved["steps_to_solve"] < 508 and len(solved["evaluations"]) == 1
    unsolved = runs["Acrobot-v1__A2C__envpool__seed0"]
    assert not unsolved["solved"] and len(unsolved["evaluations"]) == 2
    table = (tmp_path / "results.md").read_text()
    assert "| CartPole-v1 | REINFORCE-mean@native | 8 | 1/1 |" in table
    assert "| Acrobot-v1 | A2C@envpool | 16 | 0/1 | - | - |" in table  # RL Zoo's 16 envs


def test_engines_benchmark_measures_every_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "N_ENVS", (4,))
    assert engines.main(["--repeats", "1", "--steps", "400", "--out", str(tmp_path)]) == 0
    samples = json.loads((tmp_path / "engines.json").read_text())
    # A2C cannot take gymnasium's own engine (it resets on the next step only)
    measured = {"dummy": ("limit", "REINFORCE", "A2C"), "native": ("limit", "REINFORCE")}
    measured["envpool"] = measured["dummy"]
    assert sorted(samples) == sorted(f"4/{engine}/{name}" for engine, names in measured.items() for name in names)
    assert all(value[0] > 0 for value in samples.values())
    assert "| 4 | native |" in (tmp_path / "results.md").read_text()


def test_masking_benchmark_runs_the_group_baseline_and_reports_the_optimum(tmp_path: Path) -> None:
    argv = ["--budget", "256", "--seeds", "1", "--workers", "1", "--cities", "5", "--out", str(tmp_path)]
    assert masking.main([*argv, "--algos", "MaskableREINFORCE-leave-one-out"]) == 0
    (run_file,) = (tmp_path / "runs").glob("*.json")
    assert run_file.name == "MaskableREINFORCE-leave-one-out__256__seed0__5cities.json"
    result = json.loads(run_file.read_text())
    assert result["finished"] and result["n_envs"] == masking.LEAVE_ONE_OUT_N_ENVS and result["n_cities"] == 5
    report = (tmp_path / "results.md").read_text()
    assert "routing on 5 random cities" in report and "| MaskableREINFORCE-leave-one-out | 1 |" in report
    optimum = float(report.split("| optimal (Held-Karp) (no training) | | | ")[1].split(" ")[0])
    two_opt = float(report.split("| 2-opt (from nearest neighbour) (no training) | | | ")[1].split(" ")[0])
    assert 0 < optimum <= two_opt


def test_masking_benchmark_trains_the_attention_policy_in_its_own_folder(tmp_path: Path) -> None:
    argv = ["--budget", "256", "--seeds", "1", "--workers", "1", "--cities", "5", "--policy", "attention"]
    with pytest.raises(SystemExit):
        masking.main([*argv, "--algos", "REINFORCE-penalty", "--out", str(tmp_path)])
    assert masking.main([*argv, "--algos", "MaskableREINFORCE-leave-one-out", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "runs" / "MaskableREINFORCE-leave-one-out__256__seed0__5cities.json").read_text())
    assert result["finished"] and result["policy"] == "attention"
    assert result["hyperparams"]["policy_kwargs"] == masking.ATTENTION_LEAVE_ONE_OUT_KWARGS["policy_kwargs"]
    report = (tmp_path / "results.md").read_text()
    assert "| MaskableREINFORCE-leave-one-out | 1 |" in report and "`RoutingPolicy` (examples/routing.py)" in report
    assert "MlpPolicy" not in report
    # An MLP run in the same folder cannot share its report
    mlp_run = {**result, "policy": "mlp"}
    (tmp_path / "runs" / "mlp.json").write_text(json.dumps(mlp_run))
    with pytest.raises(ValueError, match="policies"):
        masking.main([*argv, "--report-only", "--out", str(tmp_path)])
