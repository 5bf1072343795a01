"""Tokens: shown once, stored as a hash, checked in constant time, refused once expired or revoked."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta, timezone

import pytest

from sempervirens.admin import tokens
from sempervirens.cli import main
from sempervirens.store import open_stores


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path / "data")
    yield opened
    opened.dispose()


def _create(stores, role="admin", **kwargs):
    with stores.private.begin() as connection:
        return tokens.create(connection, role, **kwargs)


def _verify(stores, token, now=None):
    with stores.private.connect() as connection:
        return tokens.verify(connection, token, now)


def test_only_a_hash_is_stored_never_the_token(stores, tmp_path):
    token_id, token = _create(stores, holder="ops")
    assert token.startswith("svt_") and len(token) > 40
    stores.dispose()
    secret = token.split("_", 2)[2]
    for path in (tmp_path / "data").iterdir():
        assert secret.encode() not in path.read_bytes(), path
    assert _verify(stores, token) == tokens.Principal(token_id, "admin", None, "ops")


@pytest.mark.parametrize("forged", [
    "", "svt_", "Bearer", "svt_0123456789ab_wrong", "svt_nothex12345_x" + "a" * 40, "x" * 5000,
    "svt_0123456789ab", "' OR '1'='1", "svt_' OR 1=1 --_x",
])
def test_malformed_or_unknown_tokens_are_refused(stores, forged):
    _create(stores)
    assert _verify(stores, forged) is None


def test_a_token_with_a_right_id_but_wrong_secret_is_refused(stores):
    _, token = _create(stores)
    assert _verify(stores, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_expired_and_revoked_tokens_are_refused(stores):
    _, token = _create(stores, "maintainer", project="numpy", expires_days=1)
    assert _verify(stores, token) is not None
    assert _verify(stores, token, now=datetime.now(timezone.utc) + timedelta(days=1, seconds=1)) is None

    token_id, other = _create(stores)
    with stores.private.begin() as connection:
        assert tokens.revoke(connection, token_id)
        assert not tokens.revoke(connection, token_id)  # already revoked
    assert _verify(stores, other) is None
    with stores.private.connect() as connection:
        statuses = {row["id"]: row["status"] for row in tokens.listing(connection)}
    assert statuses[token_id] == "revoked"


def test_comparison_is_constant_time_for_hits_and_misses(stores, monkeypatch):
    # A spy around the real function: every check, found id or not, goes through it.
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    _, token = _create(stores)
    assert _verify(stores, token) is not None
    assert _verify(stores, "svt_ffffffffffff_" + "x" * 43) is None
    assert _verify(stores, "garbage") is None
    assert calls == [(64, 64)] * 3  # same work for a hit, an unknown id and garbage


def test_roles_and_projects_are_checked(stores):
    with pytest.raises(ValueError):
        _create(stores, "root")
    with pytest.raises(ValueError):
        _create(stores, "maintainer")  # no project
    with pytest.raises(ValueError):
        _create(stores, "admin", project="numpy")
    _, token = _create(stores, "maintainer", project="Scikit_Learn")
    assert _verify(stores, token).project == "scikit-learn"


def test_cli_prints_the_token_once_and_lists_without_secrets(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["init", "--data-dir", data]) == 0  # only init and serve create a store
    assert main(["admin", "project", "add", "numpy", "--data-dir", data]) == 0
    assert main(["admin", "token", "create", "--role", "maintainer", "--project", "NumPy",
                 "--holder", "alice", "--expires", "7", "--data-dir", data]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("svt_") and "\n" not in token
    assert token not in out.err
    token_id = token.split("_")[1]

    assert main(["admin", "token", "list", "--data-dir", data]) == 0
    listed = capsys.readouterr().out
    assert token_id in listed and "alice" in listed and "numpy" in listed and "active" in listed
    assert token.split("_", 2)[2] not in listed

    assert main(["admin", "token", "revoke", token_id, "--data-dir", data]) == 0
    assert main(["admin", "token", "list", "--data-dir", data]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["admin", "token", "create", "--role", "maintainer", "--data-dir", data]) == 2


def test_no_maintainer_token_for_a_project_not_registered(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["init", "--data-dir", data]) == 0
    assert main(["admin", "project", "add", "astroflux", "--data-dir", data]) == 0
    capsys.readouterr()
    assert main(["admin", "token", "create", "--role", "maintainer", "--project", "astrofluxx",
                 "--data-dir", data]) != 0  # a typo: the token would open nothing
    out = capsys.readouterr()
    assert out.out == "" and "no project 'astrofluxx' is registered here" in out.err


def test_a_holder_with_a_control_or_bidirectional_character_is_refused(tmp_path, capsys):
    """A holder is printed by `admin token list` and kept in the audit log: no terminal
    escape, no text reordered for the reader."""
    data = str(tmp_path / "data")
    assert main(["init", "--data-dir", data]) == 0
    capsys.readouterr()
    for holder, shown in (("eve\x1b[2J", "U+001B"), ("eve\x9b31m", "U+009B"),
                          ("eve \u202egpj.exe", "U+202E")):
        assert main(["admin", "token", "create", "--role", "admin", "--holder", holder,
                     "--data-dir", data]) != 0
        out = capsys.readouterr()
        assert out.out == "" and shown in out.err and len(out.err.strip().splitlines()) == 1
    assert main(["admin", "token", "create", "--role", "admin", "--holder", "Zoë Müller",
                 "--data-dir", data]) == 0
    assert main(["admin", "token", "list", "--data-dir", data]) == 0
    listed = capsys.readouterr().out
    assert "Zoë Müller" in listed and listed.count("active") == 1

