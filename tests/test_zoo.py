"""RL Zoo integration: every RL Zoo command with --algo reinforce, tuning, and one-line errors for bad input."""

import importlib.util
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch as th

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")
if TYPE_CHECKING:
    from optuna import Study

from rl_zoo3.utils import ALGOS  # noqa: E402

import sb3_reinforce  # noqa: E402
from sb3_reinforce import REINFORCE, MaskableREINFORCE, VectorEnvAdapter  # noqa: E402
from sb3_reinforce.zoo import exp_manager  # noqa: E402
from sb3_reinforce.zoo.cli import main  # noqa: E402
from sb3_reinforce.zoo.exp_manager import ReinforceExperimentManager  # noqa: E402
from sb3_reinforce.zoo.hyperparams_opt import convert_reinforce_params, sample_reinforce_params  # noqa: E402

ENV_ID = "CartPole-v1"
# Training in these tests: the preset (8 envs), a fixed seed, no evaluation, and a tiny budget (-n)
TRAIN = ("train", "--algo", "reinforce", "--env", ENV_ID, "--seed", "0", "--eval-freq", "-1")
TUNE = ("-optimize", "--n-jobs", "1", "-n", "1000", "--sampler", "random", "--pruner", "none", "--no-optim-plots")


def zoo(*args: object) -> None:
    main([str(arg) for arg in args])


def saved_model(folder: Path, algo: str = "reinforce") -> Path:
    """The final model of the first run of ``algo`` in a log folder."""
    return folder / algo / f"{ENV_ID}_1" / f"{ENV_ID}.zip"


def write_conf(path: Path, **entry: object) -> Path:
    """A hyperparameter file with one CartPole-v1 entry (written as YAML flow style, valid for RL Zoo)."""
    entry = {"policy": "MlpPolicy", "n_envs": 2, "n_timesteps": 500, **entry}
    lines = [f"  {key}: {value!r}" if isinstance(value, str) else f"  {key}: {value}" for key, value in entry.items()]
    path.write_text("\n".join([f"{ENV_ID}:", *lines]) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log folder where REINFORCE trained on CartPole-v1 with evaluations and checkpoints."""
    folder = tmp_path_factory.mktemp("logs")
    zoo(
        "train",
        "--algo",
        "reinforce",
        "--env",
        ENV_ID,
        "--seed",
        0,
        "-n",
        2000,
        "--eval-freq",
        1000,
        "--save-freq",
        1000,
        "-f",
        folder,
    )
    return folder


def test_train_uses_the_presets_and_saves_checkpoints(trained: Path) -> None:
    run = trained / "reinforce" / f"{ENV_ID}_1"
    for name in ("best_model.zip", "evaluations.npz", "rl_model_1000_steps.zip", "rl_model_2000_steps.zip", "0.monitor.csv"):
        assert (run / name).is_file(), name
    # Without -conf: the presets shipped in sb3_reinforce/hyperparams/reinforce.yml
    model = REINFORCE.load(saved_model(trained))
    assert (model.n_envs, model.lr_schedule(1.0), model.baseline, model.batch_size) == (8, 1e-3, "mean", 256)
    assert model.num_timesteps == 2000


def test_enjoy_best_model(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("requests")  # RL Zoo's enjoy imports its Hugging Face downloader
    zoo("enjoy", "--algo", "reinforce", "--env", ENV_ID, "-f", trained, "--load-best", "-n", 300, "--no-render")
    output = capsys.readouterr().out
    assert "best_model.zip" in output
    assert "Mean reward:" in output


def test_plot_train_saves_the_figure(trained: Path, tmp_path: Path) -> None:
    pytest.importorskip("seaborn")
    pytest.importorskip("pandas")
    zoo("plot_train", "-a", "reinforce", "-e", ENV_ID, "-f", trained, "-w", 10, "--save-figures", tmp_path)
    assert (tmp_path / "Training_Episodic_Reward.png").stat().st_size > 0


def test_all_plots_saves_the_figure(trained: Path, tmp_path: Path) -> None:
    for module in ("seaborn", "scipy", "pytablewriter"):
        pytest.importorskip(module)
    args = ("-a", "reinforce", "-e", ENV_ID, "-f", trained, "--no-display", "-o", tmp_path / "results")
    zoo("all_plots", *args, "--save-figures", tmp_path)
    assert (tmp_path / "results.pkl").is_file()
    assert (tmp_path / f"Results_{ENV_ID}.png").stat().st_size > 0


def test_record_video(trained: Path, tmp_path: Path) -> None:
    for module in ("moviepy", "pygame"):  # the video writer, and CartPole's renderer
        pytest.importorskip(module)
    zoo("record_video", "--algo", "reinforce", "--env", ENV_ID, "-f", trained, "-n", 50, "-o", tmp_path)
    assert list(tmp_path.glob("final-model-reinforce-CartPole-v1-*.mp4"))


def test_params_override(tmp_path: Path) -> None:
    zoo(*TRAIN, "-n", 500, "-f", tmp_path, "-params", "n_steps:4", "baseline:'none'")
    model = REINFORCE.load(saved_model(tmp_path))
    assert (model.n_steps, model.baseline) == (4, "none")


def test_subproc_vec_env(tmp_path: Path) -> None:
    zoo(*TRAIN, "-n", 500, "-f", tmp_path, "--vec-env", "subproc", "-params", "n_envs:2")
    assert REINFORCE.load(saved_model(tmp_path)).n_envs == 2


@pytest.mark.parametrize("algo", ["reinforce", "a2c"])
@pytest.mark.parametrize("engine", ["native", "envpool"])
def test_vec_env_vector_engines(engine: str, algo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "envpool":
        pytest.importorskip("envpool")
    made: list[VectorEnvAdapter] = []
    make = exp_manager.make_vector_engine

    def recording_make(*args: Any, **kwargs: Any) -> VectorEnvAdapter:
        made.append(make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(exp_manager, "make_vector_engine", recording_make)
    args = ("train", "--algo", algo, "--env", ENV_ID, "--seed", 0, "-n", 600, "-f", tmp_path, "--vec-env", engine)
    if algo == "a2c" and engine == "native":
        with pytest.raises(SystemExit) as exit_info:
            zoo(*args)
        assert exit_info.value.code == 2 and not made
        return
    zoo(*args, "--eval-freq", 300, "--eval-episodes", 2, "-params", "n_envs:4")
    # The evaluation env (one env) and the training env, each one vector env of the engine
    assert all(isinstance(env, VectorEnvAdapter) for env in made) and [env.num_envs for env in made] == [1, 4]
    assert all(("EnvPool" in type(env.vector_env).__name__) == (engine == "envpool") for env in made)
    assert ALGOS[algo].load(saved_model(tmp_path, algo)).n_envs == 4
    assert np.load(tmp_path / algo / f"{ENV_ID}_1" / "evaluations.npz")["results"].size > 0
    assert ReinforceExperimentManager.vector_engine is None, "the engine outlived the command"


def test_vec_env_native_needs_an_env_with_a_vector_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        zoo("train", "--algo", "reinforce", "--env", "Acrobot-v1", "-f", tmp_path, "--vec-env", "native")
    assert exit_info.value.code == 2
    assert "--vec-env native: Acrobot-v1 has no vectorized implementation of its own" in capsys.readouterr().err
    assert not (tmp_path / "reinforce").exists()


GROUPS = ("-params", "group_size:2", "baseline:'leave_one_out'", "n_envs:4")


def test_group_size_makes_groups_of_shared_starts(tmp_path: Path) -> None:
    """CartPole-v1's starts are random: without SharedStarts the group baseline would refuse them."""
    zoo(*TRAIN, "-n", 2_000, "-f", tmp_path, *GROUPS)
    model = REINFORCE.load(saved_model(tmp_path))
    assert (model.baseline, model.group_size, model.n_envs) == ("leave_one_out", 2, 4)
    assert model.num_timesteps >= 2_000


def test_tuning_keeps_the_group_baseline(tmp_path: Path) -> None:
    storage = tmp_path / "study.log"
    zoo(*TRAIN, *TUNE, "-f", tmp_path, "--storage", storage, "--study-name", "s", "--n-trials", 2, *GROUPS)
    trials = load_journal_study(storage).trials
    assert len(trials) == 2 and all(trial.state == optuna.trial.TrialState.COMPLETE for trial in trials)
    # The trials sample everything but the baseline, which the grouped envs are made for
    assert all("baseline" not in trial.params and "learning_rate" in trial.params for trial in trials)


def test_group_size_with_a_vector_engine_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        zoo(*TRAIN, "-f", tmp_path, "--vec-env", "native", *GROUPS)
    assert exit_info.value.code == 2
    assert "--vec-env native with group_size" in capsys.readouterr().err


def test_tensorboard_log(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    zoo(*TRAIN, "-n", 500, "-f", tmp_path / "logs", "--tensorboard-log", tmp_path / "tb")
    assert list((tmp_path / "tb" / ENV_ID).glob("REINFORCE_1/events.out.tfevents.*"))


def test_conf_file_overrides_the_presets(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "mine.yml", baseline="critic", learning_rate=0.001)
    zoo(*TRAIN, "-f", tmp_path, "-conf", conf)
    model = REINFORCE.load(saved_model(tmp_path))
    assert (model.n_envs, model.baseline, model.lr_schedule(1.0)) == (2, "critic", 0.001)
    assert model.num_timesteps >= 500  # n_timesteps of the file


NO_PRESET_ENV_ID = "MountainCar-v0"  # registered by gymnasium, no entry in the presets


@pytest.mark.parametrize("own_conf", [False, True])
def test_env_without_an_entry_warns_that_default_is_used(own_conf: bool, tmp_path: Path) -> None:
    conf = tmp_path / "mine.yml"
    conf.write_text("default:\n  policy: 'MlpPolicy'\n  n_envs: 2\n  n_timesteps: 100\n")
    config = conf if own_conf else Path(sb3_reinforce.__file__).parent / "hyperparams" / "reinforce.yml"
    expected = f"{NO_PRESET_ENV_ID} has no entry in {config}: its 'default' entry was used. Give the env's hyperparameters"
    args = ("-conf", conf) if own_conf else ()
    with pytest.warns(UserWarning, match=re.escape(expected)) as caught:
        zoo("train", "--algo", "reinforce", "--env", NO_PRESET_ENV_ID, "--eval-freq", "-1", "-n", 100, "-f", tmp_path, *args)
    message = next(str(warning.message) for warning in caught if str(warning.message).startswith(expected))
    assert "baseline: 'critic' with normalize: true (see docs/guide/recipes.md)" in message
    model = REINFORCE.load(tmp_path / "reinforce" / f"{NO_PRESET_ENV_ID}_1" / f"{NO_PRESET_ENV_ID}.zip")
    assert (model.n_envs, model.baseline) == (2 if own_conf else 8, "mean")


def test_env_with_an_entry_does_not_warn(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo(*TRAIN, "-n", 100, "-f", tmp_path)
    assert not [warning for warning in caught if "'default' entry" in str(warning.message)]


def test_rollout_buffer_kwargs_string(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "buffer.yml", rollout_buffer_kwargs="dict(max_steps_per_env=2000)")
    zoo(*TRAIN, "-f", tmp_path, "-conf", conf)
    assert REINFORCE.load(saved_model(tmp_path)).rollout_buffer_kwargs == {"max_steps_per_env": 2000}


def test_other_algorithms_stay_available(tmp_path: Path) -> None:
    zoo("train", "--algo", "a2c", "--env", ENV_ID, "--seed", "0", "--eval-freq", "-1", "-n", 500, "-f", tmp_path)
    assert saved_model(tmp_path, "a2c").is_file()


@pytest.fixture(scope="module")
def study_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal-file study ``s`` with two tuning trials of REINFORCE on CartPole-v1."""
    folder = tmp_path_factory.mktemp("tuning")
    storage = folder / "study.log"
    zoo(*TRAIN, *TUNE, "-f", folder, "--storage", storage, "--study-name", "s", "--n-trials", 2)
    return storage


def load_journal_study(storage: Path) -> "Study":
    backend = optuna.storages.journal.JournalFileBackend(str(storage))
    return optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(backend))


def test_optimize_with_a_journal_file(study_log: Path) -> None:
    trials = load_journal_study(study_log).trials
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert {"n_steps", "baseline", "learning_rate", "net_arch", "activation_fn"} <= set(trials[0].params)


def test_the_docs_read_a_journal_file_study(study_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = (Path(__file__).parent.parent / "docs" / "zoo.md").read_text()
    match = re.search(r"^A journal file is not a database URL.*?^```python\n(.*?)^```", docs, re.MULTILINE | re.DOTALL)
    assert match is not None, "no Python block after 'A journal file is not a database URL' in docs/zoo.md"
    code = match.group(1).replace('"reinforce-cartpole"', '"s"')
    assert code != match.group(1), "the docs' study name changed: update the test"
    # The docs' path, relative to the folder the tuning ran in
    (tmp_path / "logs").mkdir()
    shutil.copy(study_log, tmp_path / "logs" / "study.log")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    best = load_journal_study(study_log).best_trial
    study = namespace["study"]
    assert isinstance(study, optuna.Study)
    assert (study.best_trial.number, study.best_trial.params, study.best_value) == (best.number, best.params, best.value)


SAMPLED = {
    "n_steps": 8,
    "batch_size": 64,
    "one_minus_gamma": 0.01,
    "learning_rate": 0.001,
    "normalize_advantage": True,
    "ent_coef": 0.001,
    "max_grad_norm": 0.5,
    "net_arch": "small",
    "activation_fn": "tanh",
}
CRITIC_SAMPLED = {"one_minus_gae_lambda": 0.05, "vf_coef": 0.5, "critic_gradient_steps": 20}


@pytest.mark.parametrize("baseline", ["none", "mean", "critic"])
def test_sampler_builds_a_model(baseline: str) -> None:
    critic = baseline == "critic"
    trial = optuna.trial.FixedTrial({**SAMPLED, "baseline": baseline, **(CRITIC_SAMPLED if critic else {})})
    kwargs = sample_reinforce_params(trial, n_actions=2, n_envs=2, additional_args={})
    model = REINFORCE("MlpPolicy", ENV_ID, **kwargs)
    assert (model.baseline, model.n_steps, model.batch_size, model.gamma) == (baseline, 8, 64, pytest.approx(0.99))
    # Only the critic's trials sample its settings; the others keep the defaults (no gae_lambda warning)
    assert (model.gae_lambda, model.critic_gradient_steps) == ((pytest.approx(0.95), 20) if critic else (1.0, 1))


# Trial 0 too: RL Zoo tests the id for truth, and alone would train with the presets
@pytest.mark.parametrize("trial_id", [0, 1])
def test_trial_id_retrains_with_the_trial_values(study_log: Path, tmp_path: Path, trial_id: int) -> None:
    zoo(*TRAIN, "-n", 500, "-f", tmp_path, "--storage", study_log, "--study-name", "s", "--trial-id", trial_id)
    expected = convert_reinforce_params(load_journal_study(study_log).trials[trial_id].params)
    model = REINFORCE.load(saved_model(tmp_path))
    assert (model.n_steps, model.baseline, model.normalize_advantage) == (
        expected["n_steps"],
        expected["baseline"],
        expected["normalize_advantage"],
    )
    assert model.gamma == pytest.approx(expected["gamma"])
    assert model.gae_lambda == pytest.approx(expected["gae_lambda"])
    assert model.critic_gradient_steps == expected.get("critic_gradient_steps", 1)
    assert model.batch_size == expected["batch_size"]
    assert model.policy_kwargs["net_arch"] == expected["policy_kwargs"]["net_arch"]
    assert model.policy_kwargs["activation_fn"] is expected["policy_kwargs"]["activation_fn"]


def test_params_take_the_trial_names(tmp_path: Path) -> None:
    # A trial's values pasted as Optuna recorded them
    zoo(*TRAIN, "-n", 500, "-f", tmp_path, "-params", "one_minus_gamma:0.02", "net_arch:'tiny'", "activation_fn:'relu'")
    model = REINFORCE.load(saved_model(tmp_path))
    assert model.gamma == pytest.approx(0.98)
    assert model.policy_kwargs["net_arch"] == {"pi": [64], "vf": [64]}
    assert model.policy_kwargs["activation_fn"] is th.nn.ReLU
    # The preset's values that -params does not name are kept
    assert (model.lr_schedule(1.0), model.baseline, model.n_envs, model.batch_size) == (1e-3, "mean", 8, 256)


def test_convert_reinforce_params_converts_only_what_is_given() -> None:
    assert convert_reinforce_params({"one_minus_gamma": 0.02, "n_steps": 8}) == {"gamma": pytest.approx(0.98), "n_steps": 8}
    # Without a critic, gae_lambda is 1 (REINFORCE warns about any other value)
    assert convert_reinforce_params({"baseline": "mean", "net_arch": "tiny"}) == {
        "baseline": "mean",
        "gae_lambda": 1.0,
        "policy_kwargs": {"net_arch": {"pi": [64], "vf": [64]}},
    }
    with pytest.raises(ValueError, match="give net_arch either by name or inside policy_kwargs, not both"):
        convert_reinforce_params({"net_arch": "tiny", "policy_kwargs": "dict(ortho_init=False)"})


@pytest.mark.parametrize(
    "given,expected",
    [((), 1), (("--num-threads", "2"), 2), (("--num-threads=-1",), 3), (("--num-thread", "2"), 2), (("--nu=2",), 2)],
)
def test_train_uses_one_torch_thread_unless_told(tmp_path: Path, given: tuple[str, ...], expected: int) -> None:
    saved = th.get_num_threads()
    th.set_num_threads(3)  # stands for torch's default, one thread per core
    try:
        zoo(*TRAIN, "-n", 100, "-f", tmp_path, *given)
        assert th.get_num_threads() == expected
    finally:
        th.set_num_threads(saved)


@pytest.mark.parametrize(
    "args,message",
    [
        (("--env", "CartPoel-v1"), "--env CartPoel-v1: Environment `CartPoel` doesn't exist. Did you mean: `CartPole`?"),
        (("-params", "n_stepz:4"), "REINFORCE takes no hyperparameter 'n_stepz' from -params (did you mean 'n_steps'?)"),
        (("-conf", "{conf}"), "REINFORCE takes no hyperparameter 'n_stepz' from {conf} (did you mean 'n_steps'?)"),
        (("-conf", "{tmp}/missing.yml"), "hyperparameter file {tmp}/missing.yml: [Errno 2] No such file or directory"),
        (("-optimize", "--storage", "postgresql://localhost:1/x"), "--storage postgresql://localhost:1/x: "),
        (("--storage", "{tmp}/study.log", "--trial-id", "1"), "--trial-id needs --storage and --study-name"),
        (("--storage", "{tmp}/study.log", "--study-name", "s", "--trial-id", "1"), "--storage {tmp}/study.log: no such"),
        (("-params", "net_arch:'tiny'", "policy_kwargs:'dict()'"), "-params: give net_arch either by name or inside"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    args: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write_conf(tmp_path / "typo.yml", n_stepz=4)
    args = tuple(arg.format(conf=conf, tmp=tmp_path) for arg in args)
    with pytest.raises(SystemExit) as exit_info:
        zoo(*TRAIN, "-f", tmp_path / "logs", *args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("sb3-reinforce-zoo train: error: " + message.format(conf=conf, tmp=tmp_path))
    assert "\n" not in error
    # Nothing was trained or logged
    assert not (tmp_path / "logs" / "reinforce").exists()


def test_bad_input_from_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sb3_reinforce.zoo", "enjoy", "--algo", "reinforce", "--env", "NoSuchEnv-v0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr == "sb3-reinforce-zoo enjoy: error: --env NoSuchEnv-v0: Environment `NoSuchEnv` doesn't exist.\n"


def test_missing_rl_zoo_is_one_line_and_status_2(tmp_path: Path) -> None:
    # As installed without the zoo extra: RL Zoo cannot be imported
    code = (
        "import sys; sys.modules['rl_zoo3'] = None; from sb3_reinforce.zoo.cli import main; "
        f"main(['train', '--algo', 'reinforce', '--env', '{ENV_ID}'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "sb3-reinforce-zoo train: error: needs the Python package 'rl_zoo3': pip install 'sb3-reinforce[zoo]'\n"
    )


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries (Debian's /usr/lib/postgresql/<version>/bin, else on PATH)."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb") if path.parts[-3].isdigit()]
    if found:
        return max(found, key=lambda path: int(path.parts[-2]))
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_dialect() -> str | None:
    """SQLAlchemy's dialect for the PostgreSQL driver that is installed, named so the URL does not depend on the default."""
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return dialect
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PG_BIN = postgres_bin_dir()
PG_DIALECT = postgres_dialect()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 with an empty database; its URL."""
    assert PG_BIN is not None and PG_DIALECT is not None
    # Not under pytest's tmp dir, which only its user can enter: as root, the server runs as postgres
    directory = Path(tempfile.mkdtemp(prefix="sb3-reinforce-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL refuses to run as root, and there is no postgres user")
        os.chown(directory, user.pw_uid, user.pw_gid)

    def run(*command: object) -> None:
        args = [str(arg) for arg in command]
        if as_root:
            runuser = shutil.which("runuser")
            args = [runuser, "-u", "postgres", "--", *args] if runuser else ["su", "postgres", "-c", shlex.join(args)]
        subprocess.run(args, check=True, capture_output=True)

    port, data = free_port(), directory / "data"
    run(PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
    server = f"-k {directory} -c listen_addresses=127.0.0.1 -p {port}"
    run(PG_BIN / "pg_ctl", "-D", data, "-l", directory / "server.log", "-o", server, "-w", "start")
    try:
        run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "studies")
        yield f"{PG_DIALECT}://postgres@127.0.0.1:{port}/studies"
    finally:
        run(PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(PG_BIN is None, reason="no PostgreSQL server binaries (initdb, pg_ctl)")
@pytest.mark.skipif(PG_DIALECT is None, reason="no PostgreSQL driver (psycopg or psycopg2)")
def test_distributed_tuning_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    # Two workers, as on two machines, start together on the empty database and share one study
    command = [sys.executable, "-m", "sb3_reinforce.zoo", "train", "--algo", "reinforce", "--env", ENV_ID, *TUNE]
    command += ["--n-trials", "2", "--storage", postgres_url, "--study-name", "shared"]
    workers = [
        subprocess.Popen(
            [*command, "--seed", str(worker), "-f", str(tmp_path / f"worker{worker}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        for worker in (1, 2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output[-3000:]

    trials = optuna.load_study(study_name="shared", storage=postgres_url).trials
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert sorted(trial.number for trial in trials) == [0, 1, 2, 3]


ROUTING = ("--algo", "reinforce_mask", "--env", "RoutingTSP-v0", "--gym-packages", "examples.routing", "--seed", "0")


def test_reinforce_mask_evaluates_with_masks_and_reads_the_routing_preset(tmp_path: Path) -> None:
    """The routing env refuses a visited city: RL Zoo's evaluation without masks would fail on it."""
    zoo("train", *ROUTING, "-n", 1_000, "-f", tmp_path, "--eval-freq", 500, "--eval-episodes", 5)
    run = tmp_path / "reinforce_mask" / "RoutingTSP-v0_1"
    model = MaskableREINFORCE.load(run / "RoutingTSP-v0.zip")
    # The preset: 4 groups of 8 envs and the group baseline
    assert (model.baseline, model.group_size, model.n_envs) == ("leave_one_out", 8, 32)
    evaluations = np.load(run / "evaluations.npz")
    assert len(evaluations["timesteps"]) > 0 and np.all(evaluations["ep_lengths"] == 7)


def test_reinforce_mask_trials_are_evaluated_with_masks(tmp_path: Path) -> None:
    storage = tmp_path / "study.log"
    zoo("train", *ROUTING, *TUNE, "-f", tmp_path, "--storage", storage, "--study-name", "s", "--n-trials", 2)
    trials = load_journal_study(storage).trials
    assert all(trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None for trial in trials)
    # Minus the length of a tour of 8 cities in the unit square (a random tour: 4.1)
    assert all(-6.0 < trial.value < 0.0 for trial in trials if trial.value is not None)
