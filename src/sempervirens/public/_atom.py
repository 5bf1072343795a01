"""The notices as an Atom feed (RFC 4287), for feed readers and for anyone who follows the
deployment without an account: the only way to reach users whose names nobody knows."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree

ATOM = "http://www.w3.org/2005/Atom"
TITLE = "Sempervirens notices"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def feed(base_url: str, entries: list[dict], updated: datetime, render_body) -> bytes:
    """The feed of these notices (newest first); `render_body` turns Markdown into HTML.

    Ids are the notices' own URLs, which never change: a correction is a new entry.
    """
    ElementTree.register_namespace("", ATOM)
    root = ElementTree.Element(f"{{{ATOM}}}feed")
    root.set(XML_BASE, base_url + "/")  # the notices' relative links (/privacy/policy/v2/changes)
    _text(root, "id", f"{base_url}/notices")
    _text(root, "title", TITLE)
    _text(root, "subtitle", "Privacy policy changes, security notices, legal requests and "
                            "service notices of this deployment.")
    _text(root, "updated", updated.isoformat())
    _link(root, f"{base_url}/notices.atom", "self", "application/atom+xml")
    _link(root, f"{base_url}/notices", "alternate", "text/html")
    author = ElementTree.SubElement(root, f"{{{ATOM}}}author")
    _text(author, "name", "The operators of this Sempervirens deployment")
    _text(author, "uri", base_url + "/privacy")
    for notice in entries:
        url = f"{base_url}/notices/{notice['id']}"
        entry = ElementTree.SubElement(root, f"{{{ATOM}}}entry")
        _text(entry, "id", url)
        _text(entry, "title", notice["title"])
        _text(entry, "published", notice["posted_at"].isoformat())
        _text(entry, "updated", notice["posted_at"].isoformat())
        _link(entry, url, "alternate", "text/html")
        if notice["corrects"] is not None:
            _link(entry, f"{base_url}/notices/{notice['corrects']}", "related", "text/html")
        ElementTree.SubElement(entry, f"{{{ATOM}}}category", term=notice["kind"])
        content = _text(entry, "content", render_body(notice["body"]))
        content.set("type", "html")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")


def _text(parent, tag: str, text: str):
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = text
    return element


def _link(parent, href: str, rel: str, media_type: str) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}link", href=href, rel=rel, type=media_type)
