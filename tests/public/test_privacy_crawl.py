"""Crawl every public page, API answer and dataset file of a simulated population and
look for what must never be there: an address, a client UUID, a hostname, a cell under k.
"""

from __future__ import annotations

import csv
import io
import re

import httpx
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CLIENT_COUNTS = ("installs", "users", "active", "opt_outs")  # each counts distinct clients (or events of them)
ENDPOINTS = ("active-installs", "features", "timings", "crashes", "opt-outs")


def _crawl(published) -> dict[str, str]:
    """URL -> the text a visitor gets (Parquet files as their rows)."""
    client = httpx.Client(base_url=published.url, timeout=10)
    pages = {}

    def fetch(path: str) -> httpx.Response:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        pages[path] = answer.text if not path.endswith(".parquet") else _parquet_text(answer.content)
        return answer

    projects = [p["project"] for p in fetch("/api/v1/projects").json()["projects"]]
    assert len(projects) >= 3
    for path in ("/", "/privacy", "/datasets", "/openapi.json", "/api/v1/parameters",
                 *(f"/projects/{p}/catalogue" for p in projects),
                 "/api/v1/projects?format=csv", "/static/app.js", "/static/style.css"):
        fetch(path)
    for project in projects:
        fetch(f"/projects/{project}")
        fetch(f"/projects/{project}?metric=installs&breakdown=os&interval=week")
        fetch(f"/api/v1/projects/{project}/metrics")  # takes no parameter
        for interval in ("day", "week", "month"):
            for endpoint in ENDPOINTS:
                for fmt in ("json", "csv"):
                    fetch(f"/api/v1/projects/{project}/{endpoint}?interval={interval}&format={fmt}")
            for breakdown in ("version", "os", "arch", "python", "ci"):
                fetch(f"/api/v1/projects/{project}/active-installs?interval={interval}&breakdown={breakdown}")
    fetch("/api/v1/privacy/budget")
    fetch("/api/v1/privacy/releases")
    root = published.server.data_dir / "releases"
    for release in sorted(root.glob("*/*-v*")):
        path = f"/datasets/{release.relative_to(root)}"
        for name in fetch(f"{path}/manifest.json").json()["files"]:
            fetch(f"{path}/{name}")
    client.close()
    return pages


def _parquet_text(data: bytes) -> str:
    return repr(pq.read_table(io.BytesIO(data)).to_pylist())


@pytest.fixture(scope="module")
def crawled(published):
    return _crawl(published)


def test_the_private_store_knows_the_simulated_addresses(published):
    """The crawl below means something: the server did record these addresses and ids."""
    logged = {r["ip"] for r in published.server.access_log()}
    simulated = {i.ip for i in published.population}
    assert len(logged & simulated) > 20
    ids = {r["client_id"] for r in published.server.pings()}
    assert len(ids & {i.client_id for i in published.population}) > 20


def test_no_address_uuid_or_hostname_is_published(published, crawled):
    addresses = {i.ip for i in published.population} | {r["ip"] for r in published.server.access_log()}
    hostnames = {i.hostname for i in published.population if i.hostname}
    client_ids = {i.client_id for i in published.population}
    assert len(crawled) > 100
    for url, text in crawled.items():
        for ip in addresses:
            assert not re.search(rf"(?<![\w.:]){re.escape(ip)}(?![\w.:])", text), (url, ip)
        for name in hostnames:
            assert name not in text, (url, name)
        assert not UUID.search(text), (url, UUID.search(text).group())
        lowered = text.lower()
        assert not any(c in lowered for c in client_ids), url


def _rows(url: str, text: str) -> list[dict]:
    if "format=csv" in url or url.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(text)))
    if url.startswith("/api/v1/projects/"):
        import json

        return json.loads(text).get("rows", [])
    return []


def test_no_published_cell_describes_fewer_than_k(published, crawled):
    checked = 0
    for url, text in crawled.items():
        for row in _rows(url, text):
            for column in CLIENT_COUNTS:
                if row.get(column) not in (None, ""):
                    assert int(row[column]) >= published.k, (url, row)
                    checked += 1
    assert checked > 500
