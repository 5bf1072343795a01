"""Batch schedulers and MPI ranks, containers, install methods, CI: detected here,
one report per parallel job, and nothing of it on the wire yet."""

import json
import subprocess
import sys

import pytest
from client_helpers import clean_env, read_spool, run_command, run_host, spooled, start_host

from sempervirens.client import _config, _environment

HOST = """\
    import sempervirens, threading
    t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:9")
    t.opt_in()
    before = set(sys.modules)
    t.count("x")
    print(sorted(set(sys.modules) - before), threading.active_count())
"""


@pytest.mark.slow
def test_a_job_of_many_ranks_gives_one_report(tmp_path):
    home = tmp_path / "home"
    hosts = [
        start_host(HOST, clean_env(SEMPERVIRENS_HOME=str(home), OMPI_COMM_WORLD_RANK=str(rank)))
        for rank in range(8)
    ]
    outputs = [host.communicate(timeout=60) for host in hosts]
    assert all(host.returncode == 0 for host in hosts), outputs
    # The other ranks loaded nothing and started nothing on their first recording.
    assert all(out.strip() == "[] 1" for out, _ in outputs[1:]), outputs
    assert len(spooled(home)) == 1


@pytest.mark.parametrize(
    ("variables", "reports"),
    [
        ({"PMI_RANK": "5"}, False),
        ({"SLURM_PROCID": "2"}, False),
        ({"PMIX_RANK": "0"}, True),
        ({"OMPI_COMM_WORLD_RANK": "3", "SEMPERVIRENS_ALL_RANKS": "1"}, True),
    ],
)
def test_only_rank_zero_records_unless_asked(tmp_path, variables, reports):
    home = tmp_path / "home"
    result = run_host(HOST, clean_env(SEMPERVIRENS_HOME=str(home), **variables))
    assert result.returncode == 0, result.stderr
    assert len(spooled(home)) == (1 if reports else 0)


def test_tags_are_detected_from_the_environment(tmp_path):
    assert _environment.tags({"SLURM_JOB_ID": "12", "SLURM_PROCID": "0"}, str(tmp_path)) | {
        "install": None
    } == {
        "scheduler": "slurm",
        "container": None,
        "notebook": None,
        "install": None,
        "ci_provider": None,
        "mpi_rank": 0,
    }
    for variables, scheduler in (
        ({"PBS_JOBID": "7.server"}, "pbs"),
        ({"LSB_JOBID": "7"}, "lsf"),
        ({"JOB_ID": "7", "SGE_ROOT": "/opt/sge"}, "sge"),
        ({}, None),
    ):
        assert _environment.tags(variables, str(tmp_path))["scheduler"] == scheduler
    assert _environment.tags({"GITLAB_CI": "true", "CI": "true"})["ci_provider"] == "gitlab"
    assert _environment.tags({"CI": "1"})["ci_provider"] == "other"
    assert _environment.container({"APPTAINER_CONTAINER": "/x.sif"}, str(tmp_path)) == "apptainer"
    assert _environment.container({}, str(tmp_path)) is None
    (tmp_path / ".dockerenv").touch()
    assert _environment.container({}, str(tmp_path)) == "docker"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").touch()
    assert _environment.container({}, str(tmp_path)) == "podman"
    assert _config.parallel_rank({"MV2_COMM_WORLD_RANK": "4"}) == 4


def test_install_method_of_this_interpreter(tmp_path):
    venv = subprocess.run(
        [sys.executable, "-c", "from sempervirens.client import _environment as e; "
         "print(e.install_method())"],
        capture_output=True, text=True, check=True, env=clean_env(),
    )
    assert venv.stdout.strip() == "pip-venv"  # the test suite runs in .venv


def test_tags_are_shown_and_sent(tmp_path):
    home = tmp_path / "home"
    env = clean_env(SEMPERVIRENS_HOME=str(home), SLURM_JOB_ID="42", GITHUB_ACTIONS="true")
    assert run_host(HOST, env).returncode == 0
    [(_, body)] = read_spool(home)
    environment = json.loads(body)["environment"]
    assert {k: environment[k] for k in ("scheduler", "notebook", "install", "ci_provider")} == {
        "scheduler": "slurm", "notebook": "none", "install": "pip-venv",
        "ci_provider": "github-actions"}  # "none": looked, found nothing
    shown = run_command(env, "show", timeout=60)
    assert "scheduler=slurm" in shown.stdout and "ci_provider=github-actions" in shown.stdout
