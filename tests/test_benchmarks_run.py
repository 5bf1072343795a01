"""The benchmarks still run: each at a tiny size, with the project's own venv.

They import the code they measure; a rename or a removed function must fail here, not
on the next idle machine that runs `make bench-*`.  (Ingest and client benchmarks need
the bench venv's references; `make bench-*` runs them.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script, args, expected", [
    ("privacy.py", ["--projects", "2", "--days", "1"], "budget per installation per year"),
    ("engine.py", ["--pings", "20000", "--days", "35", "--skip-spark"],
     "a month's last day (2026-10-31) with its week and month"),
    ("seal.py", ["--per-day", "2000", "--days", "2", "--skip-postgresql"], "prune 2 days"),
    ("public.py", ["--requests", "1", "--days", "10"], "worst p95"),
])
def test_a_benchmark_runs_at_a_tiny_size(script, args, expected):
    done = subprocess.run([sys.executable, str(BENCH / script), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
