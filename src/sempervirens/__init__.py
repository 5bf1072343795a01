"""Sempervirens: privacy-keeping usage telemetry for open-source software.

What a project embeds::

    import sempervirens
    telemetry = sempervirens.Telemetry("myproject", version=__version__)
    telemetry.count("io.read_csv")

`import sempervirens` loads nothing else: `Telemetry` is imported on first access,
so a project's import time grows by well under a millisecond.
"""

__version__ = "0.1.0"

__all__ = ["Telemetry", "__version__"]


def __getattr__(name):
    if name == "Telemetry":
        from .client._telemetry import Telemetry

        globals()["Telemetry"] = Telemetry
        return Telemetry
    raise AttributeError(f"module 'sempervirens' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
