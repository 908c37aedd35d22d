"""The operator web panel (Flask, served by waitress): ``create_app(config, *, store, control)``."""

from appliance.panel.app import create_app

__all__ = ["create_app"]
