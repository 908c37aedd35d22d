"""commune-radio appliance: the box in the commune that syncs, plans, speaks and reports."""

from appliance.version import __version__

__all__ = ["__version__"]
