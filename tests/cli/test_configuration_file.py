"""One configuration: a TOML file read by every command, flag > environment > file >
default, and `serve` hands exactly what it resolved to its workers and their cycle."""

from __future__ import annotations

import argparse
import os

import pytest

from cli_helpers import run, run_process
from sempervirens import settings
from sempervirens.server._commands import SERVE_SETTINGS, export
from sempervirens.cycle._commands import CYCLE_SETTINGS

CONFIG = """
data_dir = "/srv/sempervirens"
port = 9100
k_anonymity = 5
trusted_proxies = ["10.0.0.0/8", "192.168.1.1"]
no_dp = false
dp_epsilon_day = 1
seal_grace_hours = 3
dns_server = "127.0.0.1:5353"
secret_key = "0123456789abcdef0123456789abcdef"
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "sempervirens.toml"
    path.write_text(CONFIG)
    return path


def parser_of(*names: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, *names)
    return parser


def test_flag_beats_environment_beats_file_beats_default(config_file):
    args = parser_of("port", "k_anonymity", "host").parse_args(
        ["--config", str(config_file), "--port", "9001"])
    values = settings.resolve(args, {"SEMPERVIRENS_K_ANONYMITY": "7"})
    assert values["port"] == 9001  # flag
    assert values["k_anonymity"] == 7  # environment
    assert values["trusted_proxies"] == ("10.0.0.0/8", "192.168.1.1")  # file
    assert values["dp_epsilon_day"] == 1.0 and values["seal_grace_hours"] == 3
    assert values["lake"] == "/srv/sempervirens/lake"  # defaults derived from the file's data_dir
    assert values["host"] == settings.SETTINGS["host"].default  # default


def test_the_file_is_named_by_flag_then_environment_then_the_default_location(
        config_file, tmp_path, monkeypatch):
    environ = {settings.CONFIG_ENV: str(config_file)}
    assert settings.resolve(None, environ)["port"] == 9100
    monkeypatch.setattr(settings, "DEFAULT_CONFIG", str(config_file))
    assert settings.resolve(None, {})["port"] == 9100
    monkeypatch.setattr(settings, "DEFAULT_CONFIG", str(tmp_path / "absent.toml"))
    assert settings.resolve(None, {})["port"] == 8000  # an absent default file is no error


@pytest.mark.parametrize("text, says", [
    ('prot = 8000', "unknown setting 'prot' (did you mean port?)"),
    ('port = "eighty"', "port: expected a whole number, not 'eighty'"),
    ('port = true', "port: expected a whole number"),
    ('no_dp = "yes"', "no_dp: expected true or false"),
    ('trusted_proxies = [1, 2]', "trusted_proxies: expected a list of strings"),
    ('seal_grace_hours = -1', "seal_grace_hours: must be from 0 to 8784 hours, not -1"),
    ('seal_grace_hours = 100000000000', "seal_grace_hours: must be from 0 to 8784 hours"),
    ('hot_margin_days = 999999999', "hot_margin_days: must be from 0 to 3660 days"),
    ('engine = "postgres"', "engine: must be duckdb or spark"),
    ('[server]\nport = 1', "unknown setting 'server'"),
    ('port = ', "not TOML"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path, text, says):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as refused:
        settings.resolve(None, {settings.CONFIG_ENV: str(path)})
    message = str(refused.value)
    assert message.startswith(f"sempervirens: configuration file {path}: ") and says in message
    assert "\n" not in message


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(config_file, tmp_path):
    config_file.write_text("\ufeff" + CONFIG, encoding="utf-8")
    assert settings.resolve(None, {settings.CONFIG_ENV: str(config_file)})["port"] == 9100
    latin = tmp_path / "latin.toml"
    latin.write_bytes('data_dir = "/srv/données"\n'.encode("latin-1"))
    with pytest.raises(SystemExit, match=r"^sempervirens: configuration file .*: not TOML"):
        settings.resolve(None, {settings.CONFIG_ENV: str(latin)})


def test_a_named_file_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(SystemExit, match=r"configuration file .*absent.toml: No such file"):
        settings.resolve(None, {settings.CONFIG_ENV: str(tmp_path / "absent.toml")})


def test_every_command_reads_the_file(config_file, tmp_path, capsys, monkeypatch):
    # The file's data_dir is where `admin` looks, and its refusal names it.
    config_file.write_text(f'data_dir = "{tmp_path / "elsewhere"}"\n')
    ran = run(capsys, "admin", "token", "list", "--config", str(config_file))
    assert ran.status != 0 and str(tmp_path / "elsewhere" / "telemetry.db") in ran.err
    config_file.write_text("retention_days = 0\n")  # checked as if typed as a flag
    ran = run(capsys, "purge", "--config", str(config_file))
    assert ran.status == 2 and ran.err_lines == ["sempervirens purge: --retention-days 0: must be at least 1"]


def test_serve_takes_every_setting_of_its_cycle():
    assert set(CYCLE_SETTINGS) <= set(SERVE_SETTINGS)
    assert {"k_anonymity", "dns_server", "secret_key", "aggregate_interval_seconds"} <= set(SERVE_SETTINGS)


def test_the_workers_and_their_cycle_resolve_exactly_what_serve_resolved(config_file):
    parser = parser_of(*SERVE_SETTINGS)
    args = parser.parse_args(["--config", str(config_file), "--k-anonymity", "12",
                              "--trusted-proxies", "127.0.0.1"])
    environ = {"SEMPERVIRENS_DP_DELTA": "1e-8"}
    resolved = settings.resolve(args, environ)
    workers = {}  # a worker's environment: what serve exports, nothing else
    export(resolved, args, workers)
    assert workers[settings.CONFIG_ENV] == os.path.abspath(config_file)
    assert settings.resolve(None, workers) == resolved
    assert resolved["k_anonymity"] == 12 and resolved["dp_delta"] == 1e-8 and resolved["port"] == 9100


def test_serve_refuses_a_bad_configuration_file_in_one_line(tmp_path):
    path = tmp_path / "sempervirens.toml"
    path.write_text("k_anonimity = 5\n")
    result = run_process("serve", "--data-dir", str(tmp_path / "data"), env={settings.CONFIG_ENV: str(path)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"sempervirens serve: configuration file {path}: unknown "
                                     f"setting 'k_anonimity' (did you mean k_anonymity?)")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("env, says", [
    ({"SEMPERVIRENS_ENGINE": "duckdbb"}, "SEMPERVIRENS_ENGINE: must be duckdb or spark"),
    ({"SEMPERVIRENS_PORT": "eighty"}, "SEMPERVIRENS_PORT: invalid literal"),
    ({"SEMPERVIRENS_ENGINE_MEMORY_LIMIT": "1" + "0" * 310 + "MB"}, "not an amount of memory"),
    ("engine = \"x\"", "engine: must be duckdb or spark"),
])
def test_a_bad_value_from_the_environment_or_the_file_is_status_2(tmp_path, env, says):
    """A bad setting is status 2 wherever it comes from: systemd does not restart a server
    that exits 2 (deploy/sempervirens.service), as restarting cannot mend a setting."""
    if isinstance(env, str):
        (tmp_path / "bad.toml").write_text(env)
        env = {settings.CONFIG_ENV: str(tmp_path / "bad.toml")}
    for command in ("serve", "aggregate"):
        result = run_process(command, "--data-dir", str(tmp_path / "data"), env=env)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"sempervirens {command}: ") and says in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("value, says", [
    ("511MiB", "at least 512MiB, not '511MiB'"),
    ("100000TB", "at most this machine's memory"),
])
def test_a_refused_flag_says_why(capsys, tmp_path, value, says):
    ran = run(capsys, "aggregate", "--data-dir", str(tmp_path / "data"),
              "--engine-memory-limit", value)
    assert ran.status == 2 and len(ran.err_lines) == 1
    assert f"argument --engine-memory-limit: {says}" in ran.err_lines[0]


def test_amounts_of_memory_take_their_units_in_any_case():
    assert settings.memory_bytes("512mib") == settings.memory_bytes("512MiB") == 512 * 2**20
    assert settings.memory_bytes("4gb") == settings.memory_bytes(" 4 GB ") == 4 * 10**9


def test_spark_properties_come_from_the_flag_the_environment_or_the_file(tmp_path):
    path = tmp_path / "spark.toml"
    path.write_text('spark_conf = ["spark.driver.memory=8g", "spark.executor.cores=4"]\n')
    from_file = settings.resolve(None, {settings.CONFIG_ENV: str(path)})
    from_env = settings.resolve(None, {"SEMPERVIRENS_SPARK_CONF":
                                       "spark.driver.memory=8g, spark.executor.cores=4"})
    assert from_file["spark_conf"] == from_env["spark_conf"] == (
        "spark.driver.memory=8g", "spark.executor.cores=4")


def test_a_spark_property_may_hold_commas():
    jars = "spark.jars=/opt/a.jar,/opt/b.jar"
    packages = "spark.jars.packages=org.a:a:1.0, org.b:b:2.0"
    assert settings.resolve(None, {"SEMPERVIRENS_SPARK_CONF": f"{jars},{packages}, "
                                   "spark.driver.memory=8g"})["spark_conf"] == (
        jars, packages, "spark.driver.memory=8g")
    with pytest.raises(SystemExit, match="not a Spark property as spark.NAME=VALUE: 'x=1'"):
        settings.resolve(None, {"SEMPERVIRENS_SPARK_CONF": "x=1,spark.a=2"})
