"""One module per ``commune-radio`` sub-command (imported lazily by appliance.cli)."""

from __future__ import annotations

import argparse

from appliance.state import config as config_module
from appliance.state.config import Config


def load_config(args: argparse.Namespace) -> Config:
    """The configuration a command runs with: ``--config``, else $COMMUNE_RADIO_CONFIG, else /etc."""
    return config_module.load(getattr(args, "config", None))
