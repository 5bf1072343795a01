"""The engine's errors.

    EngineError            a job that cannot run: bad arguments, a lake it cannot read
"""

from __future__ import annotations


class EngineError(Exception):
    """A one-line reason why the engine cannot compute what was asked."""
