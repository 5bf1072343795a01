"""A value kept for the latest state of what it is made from (the releases directory,
the ledger): made again only when that state changes, and shared by every request
meanwhile.  Two requests may both make it after a change: the same value, made twice."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[Hashable, T] | None = None

    def get(self, state: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] == state:
            return kept[1]
        value = make()
        with self._lock:
            self._kept = (state, value)
        return value
