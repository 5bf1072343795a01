"""Server log lines that stay readable under faults.

Each 5xx answer is one line with a request id (also sent to the client in the
X-Request-Id header), so an operator can match a client's report to the log; the
traceback, if any, goes to DEBUG.  Identical lines are rate-limited (RateLimitedLog,
sempervirens/monitoring).  No line holds a client's address.
"""

from __future__ import annotations

import secrets

from ..monitoring import RateLimitedLog

__all__ = ["RateLimitedLog", "new_request_id"]


def new_request_id() -> str:
    return secrets.token_hex(8)
