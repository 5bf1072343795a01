"""`import sempervirens` and creating a Telemetry cost the host next to nothing."""

import subprocess
import sys

from client_helpers import clean_env

import sempervirens


def test_public_names():
    assert sempervirens.__all__ == ["Telemetry", "__version__"]
    from sempervirens import testing

    assert testing.__all__ == ["Capture", "capture", "check_declared", "disabled"]


def test_import_and_creation_start_nothing_and_load_no_network_code(tmp_path):
    code = (
        "import sys, threading\n"
        "import sempervirens\n"
        "t = sempervirens.Telemetry('quiet', version='1.0')\n"
        "heavy = [m for m in ('socket', 'ssl', 'http.client', 'json', 'logging', 'threading',"
        " 'sempervirens.protocol') if m in sys.modules]\n"
        "print(threading.active_count(), heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(SEMPERVIRENS_HOME=str(tmp_path / "h")),
        capture_output=True,
        text=True,
        check=True,
    )
    # threading appears only because the probe itself imported it.
    assert out.stdout.strip() == "1 ['threading']"
    assert out.stderr == ""
    assert not (tmp_path / "h").exists()  # creating a Telemetry touches no file
