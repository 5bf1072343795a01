"""docs/integrating.md documents every variable the client reads."""

from pathlib import Path

from sempervirens.client import _config

DOC = Path(__file__).parents[2] / "docs" / "integrating.md"


def test_every_environment_variable_is_documented():
    text = DOC.read_text()
    missing = [name for name in _config.ENV_SETTINGS if f"`{name}`" not in text]
    assert missing == []


def test_every_user_command_is_documented():
    text = DOC.read_text()
    for command in ("status", "opt-in", "opt-out", "show", "send", "forget"):
        assert f"`sempervirens {command}" in text, command
