"""The bounded, expiring cache of reverse-DNS answers."""

from __future__ import annotations

from sempervirens.enrich import TTLCache
from sempervirens.enrich._cache import MISSING


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire():
    clock = Clock()
    cache = TTLCache(maxsize=10, ttl=60, clock=clock)
    cache.set("a", None)  # "no name" is an answer worth keeping
    assert cache.get("a") is None
    clock.now = 59.9
    assert cache.get("a") is None
    clock.now = 60.0
    assert cache.get("a") is MISSING
    assert len(cache) == 0


def test_size_is_bounded_least_recently_used_first():
    cache = TTLCache(maxsize=2, ttl=60)
    cache.set("a", "1")
    cache.set("b", "2")
    cache.get("a")  # a is now more recent than b
    cache.set("c", "3")
    assert len(cache) == 2
    assert cache.get("b") is MISSING
    assert (cache.get("a"), cache.get("c")) == ("1", "3")
