"""Sempervirens: privacy-keeping usage telemetry for open-source software.

What a project embeds::

    import sempervirens
    telemetry = sempervirens.Telemetry("myproject", version=__version__)
    telemetry.count("io.read_csv")
"""

__version__ = "0.1.0"
