"""Helpers of the notices tests: `sempervirens admin` run as an operator would, and files to give it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

from _services.server import RunningServer
from sempervirens import cli

CONTACT = "privacy@example.org"


def admin(server: RunningServer, *args: str) -> SimpleNamespace:
    """`sempervirens admin ARGS` against the server's stores, as the command line runs it
    (in this process: an import of the whole CLI per call would cost seconds)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(["admin", *args, "--data-dir", str(server.data_dir)])
        except SystemExit as error:  # argparse's usage errors
            code = error.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)
