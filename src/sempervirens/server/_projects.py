"""Which projects are registered, for servers that accept only those."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine, select

from ..store.schema import projects

REFRESH_SECONDS = 1.0  # a newly registered project is accepted within a second


class ProjectRegistry:
    """Registered names, reread at most every REFRESH_SECONDS (so a removal takes effect too)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._names: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    async def is_registered(self, name: str) -> bool:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            self._names = await asyncio.to_thread(self._read)
            self._read_at = time.monotonic()
        return name in self._names

    def _read(self) -> frozenset[str]:
        with self._engine.connect() as connection:
            return frozenset(connection.execute(select(projects.c.name)).scalars())
