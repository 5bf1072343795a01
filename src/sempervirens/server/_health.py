"""/healthz: is this process able to store pings right now?

Unhealthy (503, with a JSON reason) when the writer process is gone, when the last
batch failed less than FAILURE_MEMORY seconds ago with no success since, or when a
probe of either store (SELECT 1) does not answer within PROBE_TIMEOUT seconds.  One
probe per store runs at a time and its answer is kept for PROBE_INTERVAL seconds, so
load balancers polling often cost the stores nothing, and a frozen store ties up one
thread, not one per poll.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine, text

PROBE_TIMEOUT = 2.0
PROBE_INTERVAL = 1.0
FAILURE_MEMORY = 5.0


class StoreProbe:
    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine
        self._task: asyncio.Future | None = None
        self._answer: tuple[float, str | None] | None = None  # (when, None or what failed)

    async def problem(self) -> str | None:
        now = time.monotonic()
        if self._answer is not None and now - self._answer[0] < PROBE_INTERVAL:
            return self._answer[1]
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(asyncio.to_thread(self._probe))
        try:
            await asyncio.wait_for(asyncio.shield(self._task), PROBE_TIMEOUT)
            problem = None
        except asyncio.TimeoutError:
            problem = f"the {self.name} store did not answer within {PROBE_TIMEOUT:g} s"
        except Exception as error:  # noqa: BLE001 - reported, by type only (messages may quote URLs)
            problem = f"the {self.name} store cannot be reached ({type(error).__name__})"
        self._answer = (time.monotonic(), problem)
        return problem

    def _probe(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))


async def health(app) -> tuple[int, dict]:
    state = app.state
    writer = state.writer
    problems = []
    if not writer.running and writer.last_success is None and writer.last_failure is None:
        problems.append("the writer process is not running")
    failure = writer.last_failure
    if failure is not None and time.monotonic() - failure[0] < FAILURE_MEMORY and (
            writer.last_success is None or writer.last_success < failure[0]):
        problems.append(f"the last commit failed: {failure[1]}")
    for probe in state.store_probes:
        problem = await probe.problem()
        if problem:
            problems.append(problem)
    body = {"status": "ok" if not problems else "unavailable", "waiting": writer.waiting}
    if problems:
        body["reason"] = "; ".join(problems)
    return (200 if not problems else 503), body
