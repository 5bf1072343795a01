"""The release's exceptions, in one hierarchy.

    ReleaseError
    ├── NotClosed          the period has not ended (plus grace), or a week's/month's days
    │                      are not all released yet
    ├── AlreadyReleased    the period was released; only an explicit correction adds a version
    ├── NothingToCorrect   a correction of a period never released
    ├── DatasetExists      a dataset directory is never rewritten
    └── PublishedUnrecorded  a version of the period was published that the ledger does
                           not record (a store restored from an older state)
"""

from __future__ import annotations


class ReleaseError(Exception):
    """A release that cannot be made; the message says why in one line."""


class NotClosed(ReleaseError):
    pass


class AlreadyReleased(ReleaseError):
    pass


class NothingToCorrect(ReleaseError):
    pass


class DatasetExists(ReleaseError):
    pass


class PublishedUnrecorded(ReleaseError):
    pass
