"""The sync tests' fixtures (``make_device``, ``device``): see tests/support/sync_rig.py."""

from tests.support.sync_rig import device, make_device

__all__ = ["device", "make_device"]
