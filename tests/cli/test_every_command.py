"""Every command and subcommand, found by walking the argparse tree (a new command is
covered without touching this file): a description and an example in its --help, and
one line on stderr with a non-zero status for every bad value a person can type."""

from __future__ import annotations

import uuid

import pytest

from cli_helpers import clean_environment  # noqa: F401 - autouse: no SEMPERVIRENS_* of the caller
from cli_helpers import commands, flag, has_subcommands, required_arguments, run, setting_names
from sempervirens import settings

COMMANDS = dict(commands())
LEAVES = {path: parser for path, parser in COMMANDS.items() if not has_subcommands(parser)}
CLIENT_ID = str(uuid.uuid4())

# A bad value for every setting a person types as text; typed settings (numbers,
# booleans, engine names...) get a value their parser refuses, below.
BAD_TEXT = {
    "host": "",
    "data_dir": "A FILE",  # replaced by the path of an existing file
    "database": "not-a-url",
    "private_database": "telemetry.db",
    "tls_cert": "/nonexistent/cert.pem",
    "tls_key": "/nonexistent/key.pem",
    "dns_server": "[::1",
    "log_level": "loud",
    "secret_key": "short",
    "ip_hash_key": "",
    "releases_dir": "A FILE",
    "engine_temp_dir": "A FILE",
    "privacy_doc": "/nonexistent/privacy.md",
    "trusted_proxies": "10.0.0.300",
    "lake": " ",
    "contact": "nobody",
    "public_url": "stats.example.org",
    "log_format": "yaml",
    "metrics_token": "short",
}
# Values of the right type out of their range (the examples among them).
OUT_OF_RANGE = {
    "port": "70000", "retention_days": "0", "dp_epsilon_day": "-1", "dp_epsilon_week": "0",
    "dp_epsilon_month": "-0.5", "dp_delta": "0.5", "k_anonymity": "0", "workers": "0",
    "queue_size": "0", "batch_size": "-3", "store_timeout": "0", "public_max_age": "-1",
    "aggregate_interval_seconds": "-60", "anomaly_min_clients": "0", "bound_max_features": "0",
    "release_grace_hours": "-1", "seal_grace_hours": "-1", "hot_margin_days": "-2",
    "engine_threads": "0", "max_connections": "0", "max_connections_per_address": "0",
    "header_timeout": "0", "body_timeout": "-1",
    "keep_alive_timeout": "0", "data_dir": "", "cycle_timeout": "0", "metrics_port": "70000",
}


NO_BAD_VALUE = "(none known)"


def bad_values(name: str) -> list[str]:
    s = settings.SETTINGS[name]
    values = [OUT_OF_RANGE[name]] if name in OUT_OF_RANGE else []
    if s.type in (int, float):
        values.append("many")
    elif s.type is str or s.type.__name__ == "comma-separated list":
        values.append(BAD_TEXT.get(name, NO_BAD_VALUE))
    else:  # a parsing function of its own: an empty value is never a setting
        values.append(BAD_TEXT.get(name, "!"))
    return values


CASES = [(path, name, value) for path, parser in LEAVES.items() for name in setting_names(parser)
         for value in bad_values(name)]


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path in COMMANDS}
    assert {"serve", "init", "aggregate", "release", "purge", "anomalies", "simulate", "status",
            "admin token create", "admin project update", "lake seal"} <= names
    assert len(CASES) > 200  # every setting of every command, at least one bad value each


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_help_describes_and_shows_an_example(path, capsys):
    parser = COMMANDS[path]
    assert parser.description and len(parser.description) > 20, path
    assert f"example: sempervirens {path[0]}" in (parser.epilog or ""), path
    shown = run(capsys, *path, "--help")
    assert shown.status == 0 and "example: sempervirens" in shown.out


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_an_unknown_option_is_one_line(path, capsys):
    ran = run(capsys, *path, *required_arguments(COMMANDS[path], CLIENT_ID), "--no-such-option")
    assert ran.status != 0
    assert len(ran.err_lines) == 1 and ran.err_lines[0].startswith("sempervirens "), ran.err
    assert "Traceback" not in ran.err


@pytest.mark.parametrize("path, name, value", CASES,
                         ids=[f"{' '.join(p)} {n}={v!r}" for p, n, v in CASES])
def test_a_bad_setting_is_one_line_naming_it(path, name, value, tmp_path, capsys):
    if value == NO_BAD_VALUE:
        pytest.fail(f"a new text setting, {name}: add a value it refuses to BAD_TEXT "
                    f"(and make settings.check refuse it)")
    parser = LEAVES[path]
    if value == "A FILE":
        value = str(tmp_path / "empty.toml")
    args = [*path, *required_arguments(parser, CLIENT_ID)]
    if name != "data_dir" and "data_dir" in setting_names(parser):
        args += ["--data-dir", str(tmp_path / "data")]
    if name == "tls_cert":
        args += ["--tls-key", str(tmp_path / "empty.toml")]
    if name == "tls_key":
        args += ["--tls-cert", str(tmp_path / "empty.toml")]
    ran = run(capsys, *args, flag(name), value)
    assert ran.status != 0, ran
    assert len(ran.err_lines) == 1, ran.err
    line = ran.err_lines[0]
    assert any(word in line for word in (flag(name), name, settings.SETTINGS[name].env_var)), line
    assert "Traceback" not in ran.err
    assert not (tmp_path / "data").exists()  # refused before anything was made


@pytest.mark.parametrize("path", [p for p, parser in LEAVES.items()
                                  if "data_dir" in setting_names(parser)
                                  and p not in (("serve",), ("init",))], ids=" ".join)
def test_no_command_but_serve_and_init_creates_a_store(path, tmp_path, capsys):
    data_dir = tmp_path / "data"
    ran = run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID), "--data-dir", str(data_dir))
    assert ran.status != 0, ran
    assert len(ran.err_lines) == 1, ran.err
    assert not data_dir.exists()


def test_help_lists_the_users_commands_apart_from_the_operators(capsys):
    shown = run(capsys, "--help")
    users, operators = shown.out.split("your installation")[1].split("running a collection server")
    for name in ("status", "show", "opt-out", "forget", "send"):
        assert f"\n  {name} " in users and f"\n  {name} " not in operators
    for name in ("init", "serve", "aggregate", "release", "admin", "purge", "simulate"):
        assert f"\n  {name} " in operators and f"\n  {name} " not in users


def test_simulate_sends_nowhere_unless_told(capsys, tmp_path):
    ran = run(capsys, "simulate", "--data-dir", str(tmp_path))
    assert ran.status == 2 and ran.err_lines == [
        "sempervirens simulate: the following arguments are required: --endpoint "
        "(see `sempervirens simulate --help`)"]
