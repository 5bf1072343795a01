"""The public face: statistics pages, the /api/v1 query API and dataset releases, and
the privacy policy's versions and the public notices (notice_pages.py).

Numbers come from the releases only (queries.py), never the pings, the lake or the
private store; the catalogue (catalogue.py) lists what each project declared.
`routes` and `SecurityHeaders` are mounted by server/app.py; the release writes the
dataset files that datasets.py serves.
"""

from .security import Secured, SecurityHeaders


def routes() -> list:
    from . import api, catalogue, notice_pages, pages

    return [*api.routes, *catalogue.routes, *pages.routes, *notice_pages.routes]


def serves_pages(request) -> bool:
    """Whether a 404 for this request is the site's (an HTML page) rather than the API's."""
    from . import pages

    return pages.serving(request) and pages.wants_page(request)


def not_found_page(request):
    from . import pages

    return pages.not_found(request)


__all__ = ["Secured", "SecurityHeaders", "not_found_page", "routes", "serves_pages"]
