"""sempervirens.testing, as a project's own test suite uses it."""

import sempervirens
from sempervirens import testing


def test_capture_gives_the_recordings_and_writes_nothing(home):
    telemetry = sempervirens.Telemetry("mypkg", version="1.0")
    with testing.capture() as captured:
        telemetry.count("io.read_csv")
        telemetry.count("io.read", label="csv")
        with telemetry.timer("solve"):
            pass
        telemetry.count("Bad Name")
        telemetry.report_crash(ValueError("boom"))
        assert captured.counters("mypkg")["io.read_csv"] == 1
        telemetry.count("io.read_csv")
        assert captured.counters()["io.read_csv"] == 2
    assert captured.labeled_counters("mypkg") == {"io.read": {"csv": 1}}
    assert captured.timings("mypkg") == {"solve": 1}
    assert captured.invalid_names() == ["Bad Name"]
    assert captured.crashes[0]["exception_type"] == "ValueError"
    assert not home.exists()  # no id, no consent, no spool, no notice


def test_disabled_records_nothing(home, capsys):
    telemetry = sempervirens.Telemetry("mypkg", version="1.0")
    with testing.disabled():
        telemetry.count("x")
        assert telemetry.enabled is False
    assert not home.exists()
    assert capsys.readouterr().err == ""  # not even the notice
