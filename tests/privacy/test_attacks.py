"""The attacks that defeated k-suppression, played through the public outputs only.

Each test is one class of attack (see docs/privacy.md, "Threat model"): it fails if the
planted installation's presence or attributes show beyond what the DP guarantee allows,
or if any two publications of one period differ.  The statistical side of the guarantee
(a released value's distribution with and without one installation) is
tests/privacy/test_mechanism.py; here the structure that lets that guarantee hold end to
end is checked on the real pipeline.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, timedelta

import httpx
import pytest
from worlds import FIRST_DAY, NOW, PLANTED, PROJECT, SECRETS, SHADOW, World
from population import Ping, insert

from sempervirens.admin._secret import load_key
from sempervirens.admin.deletion import delete_clients
from sempervirens.model.periods import INTERVALS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # two worlds through the cycle

ENDPOINTS = ("active-installs", "features", "timings", "crashes", "opt-outs")
BREAKDOWNS = ("", "version", "os", "arch", "python", "ci")


def answers(url: str, project: str = PROJECT) -> dict[str, object]:
    """Every public API answer about a project, by URL."""
    out = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for interval in INTERVALS:
            for endpoint in ENDPOINTS:
                for breakdown in (BREAKDOWNS if endpoint == "active-installs" else ("",)):
                    path = f"/api/v1/projects/{project}/{endpoint}?interval={interval}"
                    path += f"&breakdown={breakdown}" if breakdown else ""
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.text)
                    out[path] = response.json()["rows"]
    return out


def crawl(url: str, datasets: list[str]) -> str:
    """Every byte a visitor can fetch: pages, the API, the catalogue, the dataset files."""
    texts = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/", f"/projects/{PROJECT}", f"/projects/{PROJECT}/catalogue", "/privacy",
                     "/datasets", "/api/v1/projects", f"/api/v1/projects/{PROJECT}/catalogue",
                     f"/api/v1/projects/{PROJECT}/metrics", "/api/v1/privacy/budget",
                     "/api/v1/privacy/releases", *datasets):
            response = client.get(path)
            assert response.status_code == 200, path
            texts.append(response.text if not path.endswith(".parquet") else
                         response.content.decode("latin-1"))
    texts += [json.dumps(rows) for rows in answers(url).values()]
    return "\n".join(texts)


def dataset_files(world: World) -> dict[str, str]:
    """{relative path: sha256} of every dataset file."""
    folder = world.root / "data" / "releases"
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def released_keys(rows: dict[str, object]) -> set[tuple]:
    """Which rows exist (not their values): what a row-set attack reads."""
    keys = set()
    for path, found in rows.items():
        for row in found:
            keys.add((path, *(str(row[c]) for c in row if not _is_number(c))))
    return keys


def _is_number(column: str) -> bool:
    return column.split("_")[0] in {"installs", "users", "events", "crashes", "opt", "active",
                                    "ratio", "p50", "p90", "p99"}


def test_the_released_rows_are_the_same_with_or_without_one_installation(planted_world,
                                                                          control_world):
    """'(other)' or a rare value appearing at all must not depend on one installation:
    the row set comes from public domains, never from the data."""
    with_server, without_server = planted_world.serve(), control_world.serve()
    try:
        assert released_keys(answers(with_server.url)) == released_keys(answers(without_server.url))
    finally:
        with_server.stop()
        without_server.stop()


def test_every_public_number_is_noisy_and_says_how_exact(planted_world):
    """No number is published exactly (feature users and opt-outs included), and each
    carries its noise SD and a 95% interval around it."""
    server = planted_world.serve()
    try:
        rows = answers(server.url)
    finally:
        server.stop()
    checked = 0
    for path, found in rows.items():
        for row in found:
            for name in ("installs", "users", "events", "crashes", "opt_outs"):
                if f"{name}_sd" not in row or row[f"{name}_sd"] is None:
                    continue
                assert row[f"{name}_sd"] > 0.5, (path, row)
                low, high = row[f"{name}_low"], row[f"{name}_high"]
                assert low is not None and high is not None and low <= high, (path, row)
                if row[name] is not None:
                    assert low <= row[name] <= high, (path, row)
                checked += 1
    assert checked > 500


def test_a_period_is_released_once_and_never_changes(planted_world):
    """Republishing a period (the open week, a deletion, late or fake pings for a closed
    day) would let two releases differ by one installation: none may change."""
    server = planted_world.serve()
    try:
        before = answers(server.url)
    finally:
        server.stop()
    files_before = dataset_files(planted_world)
    assert files_before, "the releases wrote no dataset file"

    # The attacker asks for their own deletion, sends late pings for a released day and
    # pads a cell with made-up installations; the operator runs more cycles.
    key = load_key(planted_world.settings)  # the servers' key: deletion refuses another
    delete_clients(planted_world.stores, key, [PLANTED], settle=0,
                   lake=planted_world.settings["lake"])
    planted_world.deleted = True
    late_day = FIRST_DAY + timedelta(days=5)
    insert(planted_world.stores, [Ping(PROJECT, str(uuid.uuid4()), late_day, os="FreeBSD")
                                  for _ in range(9)])
    planted_world.cycle()
    planted_world.cycle(NOW + timedelta(hours=3))

    server = planted_world.serve()
    try:
        after = answers(server.url)
    finally:
        server.stop()
    assert after == before
    files_after = dataset_files(planted_world)
    assert {name: files_after[name] for name in files_before} == files_before


def test_nothing_provisional_is_public(planted_world):
    """Only periods that ended (plus the grace period) are public: not today, not the
    current week or month."""
    server = planted_world.serve()
    try:
        rows = answers(server.url)
    finally:
        server.stop()
    from sempervirens.model.periods import period_end

    for path, found in rows.items():
        interval = path.split("interval=")[1].split("&")[0]
        for row in found:
            start = date.fromisoformat(row["period_start"])
            assert period_end(interval, start) <= NOW.date(), (path, row)
    weeks = {r["period_start"] for p, f in rows.items() if "interval=week" in p for r in f}
    assert "2026-10-26" not in weeks  # its Sunday, 1 November, is today


def test_nothing_undeclared_or_free_text_is_published(planted_world):
    """Undeclared metrics and labels, exception types and versions nobody declared, and a
    project nobody registered (whatever pings say) appear nowhere."""
    server = planted_world.serve()
    try:
        names = [f"/datasets/{path}" for path in dataset_files(planted_world)
                 if path.endswith((".csv", ".parquet", ".json", "README.md"))]
        everything = crawl(server.url, names)
        shadow = httpx.get(f"{server.url}/api/v1/projects/{SHADOW}/active-installs")
    finally:
        server.stop()
    for secret in SECRETS:
        assert secret not in everything
    assert PLANTED not in everything
    assert shadow.status_code == 404


def test_the_planted_installation_is_gone_from_the_lake_but_not_from_releases(planted_world):
    """Deletion removes personal data (the lake, the stores); the released statistics are
    DP outputs, not personal data, and stay as they were (test above)."""
    from sempervirens.store.lake import Lake

    lake = Lake(planted_world.settings["lake"])
    assert any(lake.client_rows([PLANTED]).values()) or planted_world.deleted
    delete_clients(planted_world.stores, load_key(planted_world.settings), [PLANTED], settle=0,
                   lake=planted_world.settings["lake"])
    planted_world.deleted = True
    assert not any(lake.client_rows([PLANTED]).values())


def test_a_deployment_without_dp_serves_nothing_public(tmp_path):
    """--no-dp releases exact numbers for a private deployment: no public page, API answer
    or dataset may then be served."""
    from _services.server import start_server

    server = start_server(tmp_path / "data", extra_args=("--no-dp", "true"))
    try:
        for path in ("/", "/api/v1/projects", "/datasets", f"/api/v1/projects/{PROJECT}/active-installs"):
            assert httpx.get(server.url + path, timeout=10).status_code == 404, path
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    finally:
        server.stop()
