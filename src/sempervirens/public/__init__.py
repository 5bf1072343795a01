"""The public face: statistics pages, the /api/v1 query API and dataset releases, and
the privacy policy's versions and the public notices (notice_pages.py).

Numbers come from the releases only (queries.py), never the pings, the lake or the
private store; the catalogue (catalogue.py) lists what each project declared.
`routes` and `SecurityHeaders` are mounted by server/app.py; the release writes the
dataset files that datasets.py serves.
"""

from .security import SecurityHeaders


def routes() -> list:
    from . import api, catalogue, notice_pages, pages

    return [*api.routes, *catalogue.routes, *pages.routes, *notice_pages.routes]


__all__ = ["SecurityHeaders", "routes"]
