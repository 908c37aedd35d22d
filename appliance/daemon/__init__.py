"""The station daemon (``commune-radio run``): the only process with GPIO and audio."""

from appliance.daemon.daemon import Daemon

__all__ = ["Daemon"]
