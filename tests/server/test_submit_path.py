"""The ingestion route's own matching (server/app.py answers its POSTs without Starlette's
router) takes exactly the paths Starlette's route would, with the same parameters."""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from sempervirens.server.app import SUBMIT, _submit_params

ROUTE = Route(SUBMIT, lambda request: None, methods=["POST"])
PATHS = [
    "/submit/numpy/usage/1/6afdd0cd-1819-4217-a578-ad066a288ba5",
    "/submit/Scikit_Learn/opt-out/2/x", "/submit/a/b/c/d", "/submit/a/b/c/d/", "/submit/a/b/c/d/e",
    "/submit/a/b/c", "/submit//b/c/d", "/submit/a//c/d", "/submit/a/b/c/", "/submit/", "/submit",
    "/submitx/a/b/c/d", "//submit/a/b/c/d", "/submit/a/b/c/d\n", "/submit/a b/c/d/é",
    "/submit/a/b/c/d%2F", "/submit/../b/c/d", "/Submit/a/b/c/d", "/healthz",
]


@pytest.mark.parametrize("path", PATHS)
def test_the_direct_path_matches_what_starlette_would(path):
    scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
    match, child = ROUTE.matches(scope)
    expected = child["path_params"] if match is Match.FULL else None
    assert _submit_params(path) == expected
