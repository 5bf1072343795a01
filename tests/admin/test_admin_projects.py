"""Projects are onboarded by operators, under their PEP 503 name."""

from __future__ import annotations

import time

import httpx
import pytest

from _services.server import start_server
from admin_helpers import bearer
from pings import post, usage
from sempervirens.cli import main


def test_add_normalises_names_and_gives_maintainers_tokens(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["init", *data]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "Scikit_Learn", "--maintainer", "alice", "--maintainer", "bob", *data]) == 0
    out = capsys.readouterr()
    assert "registered scikit-learn" in out.err
    issued = dict(line.split("\t") for line in out.out.splitlines())
    assert set(issued) == {"alice", "bob"} and all(t.startswith("svt_") for t in issued.values())

    assert main(["admin", "project", "add", "scikit-learn", *data]) == 0  # the same project
    assert "already registered" in capsys.readouterr().err
    assert main(["admin", "project", "add", "SCIKIT.learn", *data]) == 0
    assert main(["admin", "project", "list", *data]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1 and listed[0].startswith("scikit-learn\t") and listed[0].endswith("alice, bob")

    assert main(["admin", "project", "add", "no spaces/allowed", *data]) == 2
    assert main(["admin", "project", "remove", "Scikit_Learn", *data]) == 0
    assert "2 maintainer token(s) revoked" in capsys.readouterr().err
    assert main(["admin", "project", "list", *data]) == 0
    assert capsys.readouterr().out == ""


def test_a_registered_only_server_accepts_the_project_under_any_spelling(tmp_path, capsys):
    data_dir = tmp_path / "data"
    assert main(["init", "--data-dir", str(data_dir)]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "Scikit_Learn", "--maintainer", "alice", "--data-dir", str(data_dir)]) == 0
    token = capsys.readouterr().out.split("\t")[1].strip()
    server = start_server(data_dir, extra_args=("--registered-projects-only", "true"))
    try:
        with httpx.Client(timeout=10) as client:
            for spelling in ("scikit-learn", "Scikit_Learn", "scikit.LEARN"):
                assert post(client, server.url, usage(), project=spelling).status_code == 202
            assert post(client, server.url, usage(), project="numpy").status_code == 404
            assert client.get(server.url + "/api/v1/private/projects/Scikit_Learn/institutions",
                              headers=bearer(token)).status_code == 200

            # Removal unregisters the project and revokes its maintainers' tokens at once.
            assert main(["admin", "project", "remove", "scikit-learn", "--data-dir", str(data_dir)]) == 0
            assert client.get(server.url + "/api/v1/private/projects/scikit-learn/institutions",
                              headers=bearer(token)).status_code == 401
            time.sleep(1.1)  # the registry is reread at most every second
            assert post(client, server.url, usage(), project="scikit-learn").status_code == 404
    finally:
        server.stop()
    assert {row["project"] for row in server.pings()} == {"scikit-learn"}


METRICS = """
versions = ["1.0", "2.0"]
crash_kinds = ["ValueError"]

[metrics."io.read_csv"]
kind = "counter"
description = "Calls of read_csv."
unit = "calls"

[metrics."io.format"]
kind = "labeled_counter"
description = "Files read, by format."
labels = ["csv", "parquet"]
"""


def _write(tmp_path, text: str, name: str = "metrics.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_project_is_registered_with_its_metrics_file_and_shown(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["init", *data]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "MyPkg", "--metrics", _write(tmp_path, METRICS), *data]) == 0
    assert "registered mypkg, declaring 2 metric(s), 2 version(s), 1 crash kind(s)" in capsys.readouterr().err

    assert main(["admin", "project", "show", "MyPKG", *data]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# mypkg: 2 metric(s)")
    # What `show` prints is a metrics file: registering it again changes nothing.
    assert main(["admin", "project", "update", "mypkg", "--metrics", _write(tmp_path, shown, "shown.toml"),
                 *data]) == 0
    assert capsys.readouterr().err.startswith("unchanged")
    assert 'description = "Files read, by format."' in shown and 'labels = ["csv", "parquet"]' in shown


def test_update_replaces_the_declaration_and_says_what_changed(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["init", *data]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "mypkg", "--metrics", _write(tmp_path, METRICS), *data]) == 0
    capsys.readouterr()
    changed = (METRICS.replace('"csv", "parquet"', '"csv", "json"').replace('"1.0", "2.0"', '"2.0", "2.1"')
               .replace('["ValueError"]', '["ValueError", "KeyError"]')
               + '\n[metrics.solve]\nkind = "timing"\ndescription = "Time in solve."\n')
    assert main(["admin", "project", "update", "MyPkg", "--metrics", _write(tmp_path, changed), *data]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        "metric added: solve (timing)",
        "metric io.format: label added: json",
        "metric io.format: label removed: parquet",
        "version added: 2.1",
        "version removed: 1.0",
        "crash kind added: KeyError",
    ]
    assert "it now declares 3 metric(s)" in out.err
    assert main(["admin", "project", "show", "mypkg", *data]) == 0
    shown = capsys.readouterr().out
    assert "[metrics.\"solve\"]" in shown and '"json"' in shown and '"parquet"' not in shown


@pytest.mark.parametrize("command, content, message", [
    ("add", None, "cannot read metrics file"),
    ("add", "versions = [", "not valid TOML"),
    ("add", '[metrics."Bad Name"]\nkind = "counter"\ndescription = "x"', "metrics.'Bad Name'"),
    ("add", '[metrics.a]\nkind = "gauge"\ndescription = "x"', "kind must be one of"),
    ("add", b"\xff\xfe not utf-8", "cannot read metrics file"),
    ("update", None, "cannot read metrics file"),
    ("update", '[metrics.a]\nkind = "counter"\ndescription = ""', "needs a description"),
    ("update-unknown", METRICS, "no such project: nobody"),
    ("show-unknown", None, "no such project: nobody"),
    ("show-undeclared", None, "plain declares nothing yet"),
    ("add-other", "", "already registered with another metrics file"),
])
def test_every_bad_input_is_one_line_and_a_failure(tmp_path, capsys, command, content, message):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["init", *data]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "plain", *data]) == 0
    assert main(["admin", "project", "add", "declared", "--metrics", _write(tmp_path, METRICS), *data]) == 0
    capsys.readouterr()
    path = str(tmp_path / "missing.toml")
    if isinstance(content, bytes):
        path = str(tmp_path / "bad.toml")
        (tmp_path / "bad.toml").write_bytes(content)
    elif content is not None:
        path = _write(tmp_path, content, "bad.toml")
    argv = {
        "add": ["add", "newpkg", "--metrics", path],
        "update": ["update", "declared", "--metrics", path],
        "update-unknown": ["update", "nobody", "--metrics", path],
        "show-unknown": ["show", "nobody"],
        "show-undeclared": ["show", "plain"],
        "add-other": ["add", "declared", "--metrics", path],
    }[command]
    assert main(["admin", "project", *argv, *data]) != 0
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and message in out.err, out.err
    assert out.err.startswith("sempervirens admin: ") and "Traceback" not in out.err
    # Nothing was registered or changed.
    assert main(["admin", "project", "list", *data]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["declared", "plain"]
    assert main(["admin", "project", "show", "declared", *data]) == 0
    assert '"parquet"' in capsys.readouterr().out


def test_bad_metrics_files_fail_without_a_traceback_in_a_real_process(tmp_path):
    """As an operator runs it: the exit status and the one line on stderr."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sempervirens", "admin", "project", "add", "x",
                             "--metrics", _write(tmp_path, "[metrics.a]\nkind = 1"),
                             "--data-dir", str(tmp_path / "data")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"sempervirens admin: {tmp_path / 'metrics.toml'}: metrics.'a': kind must be one of "
        "counter, labeled_counter, timing"]


def test_release_says_which_registered_projects_declare_nothing(tmp_path):
    """A project registered without a metrics file is never released: say so, not silence."""
    import subprocess
    import sys

    def sv(*args):
        return subprocess.run([sys.executable, "-m", "sempervirens", *args, "--data-dir",
                               str(tmp_path / "data")], capture_output=True, text=True, timeout=120)

    assert sv("init").returncode == 0
    added = sv("admin", "project", "add", "mypkg")
    assert "declaring nothing" in added.stderr and "--metrics FILE" in added.stderr
    released = sv("release")
    assert released.returncode == 0, released.stderr
    assert "nothing released for mypkg: registered but declaring nothing" in released.stderr
