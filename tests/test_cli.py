"""The command line works with the client alone, and says what is missing for the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Runs the CLI in an interpreter where the server's dependencies cannot be imported,
# as after `pip install sempervirens` without the [server] extra.
WITHOUT_SERVER_EXTRA = """
import sys
from importlib.abc import MetaPathFinder
from sempervirens.cli import _SERVER_DEPENDENCIES, main

class Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _SERVER_DEPENDENCIES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Absent())
sys.exit(main(sys.argv[1:]))
"""


def run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {"SEMPERVIRENS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:  # the source tree under test, not an installed copy
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([sys.executable, "-c", WITHOUT_SERVER_EXTRA, *args], capture_output=True,
                          text=True, env=env, timeout=60, cwd=tmp_path)


def test_user_commands_need_nothing_but_the_standard_library(tmp_path):
    result = run("status", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "installation id" in result.stdout


@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("init",), ("admin", "token", "list"),
                                     ("aggregate",), ("lake", "list")])
def test_server_commands_name_the_missing_extra(tmp_path, command):
    result = run(*command, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "pip install 'sempervirens[server]'" in result.stderr
    assert "Traceback" not in result.stderr
