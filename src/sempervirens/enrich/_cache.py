"""A small bounded cache whose entries expire: least recently used entries go first."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MISSING = object()  # what get() returns for an absent or expired key (values may be None)


class TTLCache(Generic[K, V]):
    """At most `maxsize` entries, each forgotten `ttl` seconds after it was set.

    Thread-safe: the synchronous wrappers may run event loops in several threads that
    share one cache.  Lives in memory only; nothing is ever written to disk.
    """

    def __init__(
        self, maxsize: int = 65536, ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 1 or ttl <= 0:
            raise ValueError("maxsize must be >= 1 and ttl > 0")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | object:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return MISSING
            expires, value = entry
            if expires <= self._clock():
                del self._data[key]
                return MISSING
            self._data.move_to_end(key)
            return value

    def set(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = (self._clock() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
