"""Each operator setting is documented, and read flag > environment > default."""

from __future__ import annotations

import argparse
from pathlib import Path

from sempervirens import settings

OPERATIONS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def test_the_operations_guide_lists_every_setting():
    # The table is generated: after adding a setting, run `make docs`.
    assert settings.markdown_table() in OPERATIONS.read_text()
    assert all(s.help for s in settings.SETTINGS.values())


def test_flag_beats_environment_beats_default():
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, "port", "host")
    args = parser.parse_args(["--port", "9001"])
    environ = {"SEMPERVIRENS_PORT": "9002", "SEMPERVIRENS_HOST": "::1"}
    values = settings.resolve(args, environ)
    assert values["port"] == 9001 and values["host"] == "::1"
    assert settings.resolve(None, {})["port"] == settings.SETTINGS["port"].default


def test_a_boolean_flag_alone_means_true():
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, "no_dp", "registered_projects_only", "port")
    values = settings.resolve(parser.parse_args(["--no-dp", "--port", "9001"]), {})
    assert values["no_dp"] is True and values["registered_projects_only"] is False
    args = parser.parse_args(["--no-dp", "false", "--registered-projects-only"])
    values = settings.resolve(args, {})
    assert values["no_dp"] is False and values["registered_projects_only"] is True


def test_the_operations_guide_says_where_the_configuration_file_is_and_the_order():
    text = OPERATIONS.read_text()
    assert settings.DEFAULT_CONFIG in text and settings.CONFIG_ENV in text and "--config" in text
    assert "flag" in text and "environment variable" in text and "configuration file" in text


def test_the_configuration_files_shown_in_the_guide_are_valid(tmp_path):
    import re

    sections = re.split(r"^## ", OPERATIONS.read_text(), flags=re.M)
    text = "".join(s for s in sections if s.startswith(("Running the server", "Configuration")))
    examples = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(examples) >= 2
    for number, example in enumerate(examples):
        path = tmp_path / f"example-{number}.toml"
        path.write_text(example)
        assert settings.read_config(str(path))  # every key a setting, every value of its type


# The epsilons' largest value is the release's policy (a finite ε is refused nowhere else).
NOT_BOUNDED_HERE = {"dp_epsilon_day", "dp_epsilon_week", "dp_epsilon_month"}


def test_every_number_has_a_most_and_a_typo_past_it_is_one_line():
    # A 30-digit value (a pasted number, a typo of units) passed for the numbers without a
    # most; 10**20 s between cycles ended serve's cycle thread with a traceback, and with
    # it every aggregation, deletion and retention purge until the next restart.
    numbers = [s for s in settings.SETTINGS.values() if s.type in (int, float)
               and s.name not in NOT_BOUNDED_HERE]
    assert len(numbers) > 20
    for s in numbers:
        values = settings.resolve(None, {s.env_var: "1" + "0" * 30})
        problem = settings.check(values, [s.name])
        assert problem and "\n" not in problem and (s.name in problem or s.flag in problem), s.name
        assert settings.check(settings.resolve(None, {}), [s.name]) is None, s.name  # default


def test_serve_refuses_an_interval_its_cycle_thread_cannot_wait(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "sempervirens", "serve", "--data-dir",
                           str(tmp_path), "--aggregate-interval-seconds", "1" + "0" * 20],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--aggregate-interval-seconds" in done.stderr and "at most" in done.stderr
