"""In a real Jupyter kernel (ipykernel, driven by jupyter_client on loopback): notices
are notebook outputs, once per installation, and no question ever blocks the kernel."""

import os

import pytest
from client_helpers import clean_env

from sempervirens.client import _policy

jupyter_client = pytest.importorskip("jupyter_client", reason="the test extra installs it")
pytest.importorskip("ipykernel", reason="the test extra installs it")

pytestmark = pytest.mark.slow

ENDPOINT = "http://127.0.0.1:9"  # nothing listens: what is recorded stays in the spool
RECORD = f"""\
import sempervirens
telemetry = sempervirens.Telemetry("nbpkg", version="1.0", endpoint={ENDPOINT!r})
telemetry.count("cell.run")
"""


@pytest.fixture
def kernel(tmp_path):
    """A kernel whose user is an isolated SEMPERVIRENS_HOME; yields (home, run, restart)."""
    from jupyter_client.manager import KernelManager

    home = tmp_path / "home"
    env = clean_env(SEMPERVIRENS_HOME=str(home), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    manager = KernelManager(kernel_name="python3", ip="127.0.0.1")
    manager.start_kernel(env=env)
    clients = []

    def connect():
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        clients.append(client)
        return client

    def run(code: str) -> list[dict]:
        """Execute like a cell; every output of it, as (msg_type, content)."""
        client = clients[-1]
        msg_id = client.execute(code)
        outputs = []
        while True:
            message = client.get_iopub_msg(timeout=60)  # a blocked kernel fails the test here
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append((kind, content))
        reply = client.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", outputs
        return outputs

    def restart():
        """A new run of the notebook (the same installation)."""
        clients[-1].stop_channels()
        manager.restart_kernel(now=True, newports=False)
        connect()

    connect()
    yield home, run, restart
    clients[-1].stop_channels()
    manager.shutdown_kernel(now=True)


def _markdown(outputs):
    return [c["data"].get("text/markdown", "") for kind, c in outputs if kind == "display_data"]


def _streams(outputs):
    return "".join(c["text"] for kind, c in outputs if kind == "stream")


def test_notices_are_notebook_outputs_once_per_installation(kernel):
    home, run, restart = kernel
    first = run(RECORD)
    [notice] = _markdown(first)
    assert "`sempervirens opt-out nbpkg`" in notice and "DO_NOT_TRACK" in notice
    assert _streams(first) == ""  # rendered, not dumped on stderr
    assert run('telemetry.count("cell.again")') == []  # the same run: nothing more
    restart()
    assert run(RECORD) == []  # the next run of the installation: never again

    # The server announced a material policy change: the next run shows it the same way.
    _policy.record(str(home), ENDPOINT, (1, 1, None))
    _policy.record(str(home), ENDPOINT, (2, 2, None))
    restart()
    [changed] = _markdown(run(RECORD))
    assert f"{ENDPOINT}/privacy/policy/v2/changes" in changed and "opt-out nbpkg" in changed
    restart()
    assert run(RECORD) == []


def test_a_crash_report_question_is_an_output_with_the_commands(kernel):
    home, run, _ = kernel
    run(RECORD)
    outputs = run(
        "try:\n    1 / 0\nexcept ZeroDivisionError as error:\n"
        "    print(telemetry.report_crash(error))"
    )
    assert _streams(outputs) == "False\n"  # not sent, and nothing waited for an answer
    [offer] = _markdown(outputs)
    assert "`!sempervirens opt-in --crash-reports nbpkg`" in offer
    assert "ZeroDivisionError" in offer  # the exact text that would be sent
    assert os.path.isdir(home) and not list(home.glob("spool/*.crash.*"))
