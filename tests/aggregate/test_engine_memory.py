"""The engine's memory limit bounds the whole process, not only DuckDB's buffers: a job
that needs more memory than the limit spills to disk and the process stays within it.

One day of many installations, each seen once: counting them is a GROUP BY by
installation whose hash table is larger than the limit.  Each job runs in a process of
its own, whose peak resident memory is the figure checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

INSTALLATIONS = 3_000_000
LIMIT = 512 * 2**20  # the least the engine accepts: where the reserve matters most
DAY = "2026-11-30"
# The peak is VmHWM, this process's own: ru_maxrss would count the test process too,
# whose pages a forked child holds until it execs.
JOB = """
import json, re, sys
from datetime import date
from sempervirens.aggregate.engine import compute
source, limit = json.loads(sys.argv[1]), sys.argv[2] or None
rows = compute(source, "day", [date.fromisoformat(sys.argv[3])], [], memory_limit=limit,
               threads=2)
total = sum(n for _, _, key1, _, n in rows["installs"] if key1 == "")
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"peak": peak * 1024, "installations": total}))
"""


@pytest.fixture(scope="module")
def crowded_day(tmp_path_factory):
    import duckdb

    root = tmp_path_factory.mktemp("lake")
    with duckdb.connect() as con:
        # Only some columns: the engine reads the others as NULL, as for days sealed
        # before a column was added.
        con.execute(f"""
            COPY (SELECT 'd-' || range AS document_id, 'astro' AS project,
                    CAST(CAST(md5(CAST(range AS VARCHAR)) AS UUID) AS VARCHAR) AS client_id,
                    'usage' AS ping_type,
                    '1.' || (range % 7) || '.0' AS project_version,
                    ['Linux', 'Darwin', 'Windows'][1 + range % 3] AS os,
                    DATE '{DAY}' AS day
                  FROM range({INSTALLATIONS}))
            TO '{root / "pings"}' (FORMAT PARQUET, PARTITION_BY (day))""")
    return {"pings": sorted(str(p) for p in (root / "pings").glob("day=*/*.parquet"))}


def _job(source, limit: str | None) -> dict:
    done = subprocess.run([sys.executable, "-c", JOB, json.dumps(source), limit or "", DAY],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_job_larger_than_the_memory_limit_stays_within_it(crowded_day):
    unbounded = _job(crowded_day, None)  # the default: a quarter of the machine
    assert unbounded["installations"] == INSTALLATIONS
    assert unbounded["peak"] > 1.2 * LIMIT, "the job must need more than the limit"

    bounded = _job(crowded_day, f"{LIMIT // 2**20}MiB")
    assert bounded["installations"] == INSTALLATIONS  # the same answer, spilled
    assert bounded["peak"] <= LIMIT, f"peak {bounded['peak'] / 2**20:.0f} MiB"
