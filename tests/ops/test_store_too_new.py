"""A store migrated by a newer release (an upgrade rolled back by reinstalling the old
release): `check` and the commands say so in one line, and do not advise `serve`."""

from __future__ import annotations

from ops_helpers import one_line_error, run
from sempervirens.store import open_stores


def test_a_store_of_a_newer_release_is_said_to_be_one(tmp_path, silent_udp_port):
    data = tmp_path / "data"
    assert run("init", "--data-dir", data).returncode == 0
    stores = open_stores(data, migrate=False)
    with stores.telemetry.begin() as connection:  # as if a later release had migrated it
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")
    stores.dispose()

    result = run("check", "--data-dir", data, "--dns-server", silent_udp_port)

    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = next(l for l in result.stdout.splitlines() if "telemetry migrations" in l)
    assert line.startswith("FAIL") and "0999, unknown to this release" in line, line
    assert "sempervirens serve" not in line  # serve cannot migrate it
    one_line_error(run("aggregate", "--data-dir", data, "--dns-server", silent_udp_port),
                   "0999, unknown to this release")
