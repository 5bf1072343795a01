"""The wire format's limits, declared once in the catalogue (`sempervirens.model.limits`)."""

from ..model.limits import *  # noqa: F403
from ..model.limits import __all__  # noqa: F401
