"""The collection server (install with `pip install 'sempervirens[server]'`)."""

from .app import create_app

__all__ = ["create_app"]
