"""The policy headers of every 202 (protocol/headers.py), without a query per ping.

The values are read from the telemetry store at start and again, in a thread, once
they are REFRESH_SECONDS old: a policy published or a security notice posted by
`sempervirens admin` (another process) reaches every client within that time.  A
failed read keeps the values already known; the ping is never delayed by it.
"""

from __future__ import annotations

import logging
import threading
import time

from ..protocol.headers import POLICY_MATERIAL, POLICY_VERSION, SECURITY_NOTICE
from ..public import notices

REFRESH_SECONDS = 10.0
log = logging.getLogger("sempervirens.server")


class PolicyHeaders:
    def __init__(self, engine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._refreshing = False
        self._read_at = float("-inf")
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.refresh()

    def current(self) -> tuple[tuple[bytes, bytes], ...]:
        """The headers to send now; starts a refresh in the background when they are old."""
        if time.monotonic() - self._read_at >= self._refresh_seconds:
            with self._lock:
                start, self._refreshing = not self._refreshing, True
            if start:
                threading.Thread(target=self.refresh, name="policy-headers", daemon=True).start()
        return self.headers

    def refresh(self) -> None:
        try:
            version, material, security = notices.read(self._engine, notices.header_values)
        except Exception:  # noqa: BLE001 - the store is down: keep what is known, retry later
            log.debug("reading the policy headers failed", exc_info=True)
        else:
            found = [(POLICY_VERSION, version), (POLICY_MATERIAL, material), (SECURITY_NOTICE, security)]
            self.headers = tuple((name.lower().encode(), str(value).encode())
                                 for name, value in found if value is not None)
        finally:
            self._read_at = time.monotonic()
            self._refreshing = False
