"""The parts of protocol v1 the client needs at run time, without importing it.

`sempervirens.protocol` is the source of truth, but importing it loads its
validator (dataclasses, inspect, datetime, re: tens of milliseconds), which the
client must not add to its host's import or exit time.  tests/client/test_wire.py
checks that every value and function here agrees with the protocol package.
"""

from __future__ import annotations

import math

SCHEMA_VERSION = 1
MAX_METRICS = 1000
MAX_LABELS_PER_METRIC = 100
MAX_NAME_LENGTH = 128
MAX_LABEL_LENGTH = 64
MAX_STRING_LENGTH = 128
MAX_TRACEBACK_LENGTH = 64 * 1024
MAX_COUNT = 2**53 - 1
MAX_DROPPED_REASONS = 20
BUCKETS_PER_DOUBLING = 4
MAX_BUCKET = 200
MAX_BODY_BYTES = 1024 * 1024
MAX_PROJECT_LENGTH = 100

# Response headers of every 202 (protocol/headers.py): integers, the last absent if none.
POLICY_VERSION = "Sempervirens-Policy-Version"  # the privacy policy in force
POLICY_MATERIAL = "Sempervirens-Policy-Material"  # its latest version that changed materially
SECURITY_NOTICE = "Sempervirens-Security-Notice"  # id of the latest security notice

_PROJECT_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
)
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _NAME_FIRST | frozenset("0123456789_")
_SEPARATORS = frozenset(".-")
# Printable ASCII without quotes or backslashes (protocol `_TOKEN`).
_TOKEN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.,:;+-/ ()=~@#%^!?*<>[]{}|"
)


def valid_project(name: object) -> bool:
    """Package names: letters, digits, '.', '_', '-', starting and ending with a letter or digit."""
    return (
        type(name) is str
        and 0 < len(name) <= MAX_PROJECT_LENGTH
        and all(c in _PROJECT_CHARS for c in name)
        and name[0].isalnum()
        and name[-1].isalnum()
    )


def project_key(name):
    """A project name as the server keys it (PEP 503): `Scikit_Learn` and `scikit-learn`
    are one project, for the user's decisions as for the statistics.  A name the protocol
    refuses is returned as it is."""
    if not valid_project(name):
        return name
    key, separated = [], False
    for c in name:
        if c in "._-":
            separated = True
            continue
        if separated:
            key.append("-")
            separated = False
        key.append(c.lower())
    return "".join(key)


def valid_name(name: object) -> bool:
    """Metric names: lower-case dotted snake_case, e.g. `io.read_csv`."""
    if type(name) is not str or not 0 < len(name) <= MAX_NAME_LENGTH or name[0] not in _NAME_FIRST:
        return False
    after_separator = False
    for c in name:
        if c in _SEPARATORS:
            if after_separator:
                return False
            after_separator = True
        elif c in _NAME_CHARS:
            after_separator = False
        else:
            return False
    return not after_separator


def valid_label(label: object) -> bool:
    return (
        type(label) is str
        and len(label) <= MAX_LABEL_LENGTH
        and all(c in _TOKEN_CHARS for c in label)
    )


def clean_string(value: object) -> str | None:
    """An environment or version string made acceptable, or None if nothing is left."""
    if value is None:
        return None
    text = "".join(c if c in _TOKEN_CHARS else "_" for c in str(value).strip())
    return text[:MAX_STRING_LENGTH] or None


def timing_bucket(duration_us: float) -> int:
    if not duration_us >= 1:  # also catches NaN
        return 0
    return min(MAX_BUCKET, int(math.log2(duration_us) * BUCKETS_PER_DOUBLING))


def submit_path(project: str, ping_type: str, document_id: str) -> str:
    return f"/submit/{project}/{ping_type}/{SCHEMA_VERSION}/{document_id}"


def rfc3339(epoch: float) -> str:
    import time

    whole = int(epoch)
    millis = int((epoch - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
