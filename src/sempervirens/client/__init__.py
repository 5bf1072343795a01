"""The embedded client: what an open-source project adds to report its usage.

Everything here is private (`_*.py`); the public surface is `sempervirens.Telemetry`
and `sempervirens.testing`.  Standard library only: this runs inside other
people's programs.
"""
