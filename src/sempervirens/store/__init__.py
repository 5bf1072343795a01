"""The two stores: telemetry (no IP, ever) and private (the IP log)."""

from ._engines import Stores, create_store_engine, open_stores, store_urls
from .writer import Accepted, Overloaded, WriteFailed, Writer

__all__ = [
    "Accepted",
    "Overloaded",
    "Stores",
    "WriteFailed",
    "Writer",
    "create_store_engine",
    "open_stores",
    "store_urls",
]
