"""A maintainer's configuration mistakes are said once, at creation; a user's bad
settings are refused with one warning; nothing broken is spooled."""

import json
import time

import pytest
from client_helpers import assert_clean, clean_env, run_host, spooled

import sempervirens
from sempervirens import testing
from sempervirens.client import _config, _consent


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"project": "Bad Name!"}, "is not a project name"),
        ({"consent": "maybe"}, "consent='maybe'"),
        ({"endpoint": "ftp://telemetry.example.org"}, "http:// or https://"),
        ({"interval": 0}, "interval=0: must be more than 0"),
        ({"interval": float("inf")}, "interval=inf: not a finite number"),
        ({"exit_timeout": -1}, "exit_timeout=-1"),
    ],
)
def test_a_mistake_is_said_once_at_creation_and_nothing_is_spooled(home, kwargs, said):
    kwargs = {"project": "mypkg", "endpoint": "http://127.0.0.1:9", **kwargs}
    project = kwargs.pop("project")
    with pytest.warns(UserWarning, match="misconfigured") as warned:
        telemetry = sempervirens.Telemetry(project, version="1", **kwargs)
    assert len(warned) == 1 and said in str(warned[0].message)
    assert warned[0].filename == __file__  # it points at the maintainer's line
    telemetry.count("x")
    telemetry.flush()
    assert not telemetry.enabled and spooled(home) == []
    for helper in (testing.capture, testing.disabled):
        with pytest.raises(ValueError, match="misconfigured"), helper():
            pass


def test_a_good_configuration_warns_nothing(home, recwarn):
    telemetry = sempervirens.Telemetry("mypkg", version="1", endpoint="https://[::1]:8443/base")
    with testing.capture() as captured:
        telemetry.count("x")
    assert captured.counters("mypkg") == {"x": 1}
    assert len(recwarn) == 0


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("SEMPERVIRENS_HOME", "relative/home", "not an absolute path"),
        ("SEMPERVIRENS_INTERVAL", "0", "must be more than 0"),
        ("SEMPERVIRENS_INTERVAL", "inf", "not a finite number"),
    ],
)
def test_bad_user_settings_are_refused_with_one_warning(tmp_path, variable, value, said):
    code = """\
        import sempervirens
        for project in ("one", "two"):
            t = sempervirens.Telemetry(project, version="1", endpoint="http://127.0.0.1:9")
            t.count("x")
        print("host ok")
    """
    env = clean_env(**{"SEMPERVIRENS_HOME": str(tmp_path / "home"), variable: value})
    result = run_host(code, env, cwd=str(tmp_path))
    assert result.returncode == 0 and result.stdout == "host ok\n", result.stderr
    assert result.stderr.count(said) == 1, result.stderr
    if variable == "SEMPERVIRENS_HOME":
        assert not (tmp_path / "relative").exists()  # nothing kept anywhere


def test_a_consent_file_with_wrong_types_means_nothing_is_collected(home):
    home.mkdir()
    (home / "consent.json").write_text(json.dumps({"usage": {"global": 1, "projects": []}}))
    telemetry = sempervirens.Telemetry("mypkg", version="1", endpoint="http://127.0.0.1:9")
    telemetry.count("x")
    telemetry.flush()
    assert not telemetry.enabled and spooled(home) == []


SECONDS_SETTINGS = [s.name for s in _config.ENV_SETTINGS.values() if s.maximum is not None]


@pytest.mark.parametrize("variable", SECONDS_SETTINGS)
def test_seconds_past_a_year_are_refused_with_one_warning(monkeypatch, variable):
    monkeypatch.setattr(_config, "_warned", set())
    monkeypatch.setenv(variable, "1e308")
    with pytest.warns(UserWarning, match=f"{variable}='1e308' refused \\(at most"):
        assert _config.number(variable) == _config.ENV_SETTINGS[variable].default


def test_absurd_seconds_neither_kill_a_thread_nor_stop_the_uploads(tmp_path, server):
    """1e308 is a finite number: the ticker thread died of an OverflowError (its traceback
    printed on the host's stderr) and every upload of the process failed with one."""
    code = f"""\
        import time, sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={server.url!r})
        t.count("run")
        t.flush()
        time.sleep(0.5)
        t.count("run")
        t.flush()
        time.sleep(0.5)
    """
    env = clean_env(
        SEMPERVIRENS_HOME=str(tmp_path / "home"),
        SEMPERVIRENS_INTERVAL="1e308",
        SEMPERVIRENS_TIMEOUT="1e308",
        SEMPERVIRENS_EXIT_TIMEOUT="2",
    )
    (tmp_path / "home").mkdir(mode=0o700)
    _consent.update(str(tmp_path / "home"), "usage", "hostpkg", _consent.GRANTED)
    result = run_host(code, env)
    assert_clean(result)
    assert "Exception ignored" not in result.stderr, result.stderr
    assert result.stderr.count("refused (at most") == 2, result.stderr
    deadline = time.monotonic() + 15
    while len(server.pings()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.pings()) == 2
