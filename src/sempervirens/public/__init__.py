"""The public face: statistics pages, the /api/v1 query API and dataset releases.

Everything here reads the public_* aggregate tables only (queries.py), never the
pings or the private store.  `routes` and `SecurityHeaders` are mounted by
server/app.py; `sempervirens release` writes the dataset files (datasets.py).
"""

from .security import SecurityHeaders


def routes() -> list:
    from . import api, pages

    return [*api.routes, *pages.routes]


__all__ = ["SecurityHeaders", "routes"]
