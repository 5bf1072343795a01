"""Markdown the operator writes (the privacy policy, notices), as HTML for pages and feeds."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _renderer():
    """CommonMark with tables, without raw HTML (a document's own HTML is shown as text,
    never run) and without images: an image in a notice would be fetched from its host
    by every feed reader (the site's CSP stops it on the page only), telling that host
    who reads the notices.  `![alt](url)` stays a link."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def markdown(text: str) -> str:
    return _renderer().render(text)
