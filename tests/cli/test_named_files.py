"""Every file an operator names (the configuration, a metrics file, a notice's body, the
policy, the privacy page, the secret key in the data directory) that is no text file of
its kind: a directory, a device, a named pipe with no writer, a symbolic link loop, a
file of hundreds of megabytes, bytes that are not UTF-8.  Each is one line on stderr and
a non-zero status, within seconds, and nothing is changed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_helpers import run
from sempervirens import textfile


def _bad_files(root) -> dict[str, str]:
    root.mkdir()
    (root / "directory").mkdir()
    os.mkfifo(root / "pipe")
    os.symlink(root / "loop-a", root / "loop-b")
    os.symlink(root / "loop-b", root / "loop-a")
    with open(root / "huge", "wb") as huge:  # sparse: no disk, but far past any such file
        huge.truncate(400 * 2**20)
    (root / "latin-1").write_bytes('data_dir = "/srv/données"\n'.encode("latin-1"))
    return {"a directory": str(root / "directory"), "a named pipe": str(root / "pipe"),
            "a device": "/dev/zero", "a symbolic link loop": str(root / "loop-a"),
            "400 MB": str(root / "huge"), "not UTF-8": str(root / "latin-1")}


REASONS = {"a directory": "a directory, not a file", "a named pipe": "not a regular file",
           "a device": "not a regular file", "a symbolic link loop": "symbolic links",
           "400 MB": "larger than 1 MiB", "not UTF-8": "not UTF-8 text: byte 0xe9"}
KINDS = list(REASONS)
# How each command takes the file it reads.
COMMANDS = {
    "--config": lambda path: ["admin", "token", "list", "--config", path],
    "--metrics (add)": lambda path: ["admin", "project", "add", "mypkg", "--metrics", path],
    "--metrics (update)": lambda path: ["admin", "project", "update", "known", "--metrics", path],
    "a notice's --body": lambda path: ["admin", "notice", "post", "--kind", "service",
                                       "--title", "t", "--body", path],
    "the policy": lambda path: ["admin", "policy", "publish", path, "--summary", "s"],
    "--privacy-doc": lambda path: ["serve", "--privacy-doc", path, "--port", "9"],
}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("named")
    data = root / "data"
    subprocess.run([sys.executable, "-m", "sempervirens", "init", "--data-dir", str(data)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "sempervirens", "admin", "project", "add", "known",
                    "--data-dir", str(data)], check=True, capture_output=True)
    return data, _bad_files(root / "files")


def _state(data) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data.iterdir()) if p.is_file()}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", list(COMMANDS))
def test_a_file_that_is_no_text_file_is_one_line(deployment, reader, kind):
    data, files = deployment
    before = _state(data)
    words = COMMANDS[reader](files[kind])
    try:
        done = subprocess.run([sys.executable, "-m", "sempervirens", *words,
                               "--data-dir", str(data)], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "SEMPERVIRENS_CONFIG": ""})
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(words)}: still reading after 30 s")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert files[kind] in lines[0] and REASONS[kind] in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert _state(data) == before  # nothing registered, posted or published


def test_dev_null_is_an_empty_file(tmp_path, capsys):
    assert textfile.read(os.devnull) == ""
    data = ["--data-dir", str(tmp_path / "data"), "--config", os.devnull]
    assert run(capsys, "init", *data).status == 0
