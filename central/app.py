"""The reference central's app factory: services in ``app.extensions``, one blueprint per face.

``create_app(data_dir)`` opens central's store (the database its configuration names: SQLite
in ``data_dir`` by default), the catalog (items, devices, signing key), the monitor and the
automation tokens, people's accounts and the editorial workflow over it, installs the guard,
and registers the blueprints: ``device_api`` (protocol v1), ``operator`` (the guard's API),
``monitoring`` (device, item and command pages and JSON API), ``fleet_web`` (the paged fleet,
alerts, bulk registration), ``intake_web`` (feed and CAP sources), ``people`` (login, people,
tokens, audit) and ``editorial`` (items, review). Blueprints reach the services through
``central.http``; none of them imports this module or another blueprint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

import protocol
from central.admin import AdminAuth
from central.catalog import Catalog
from central.config import CentralConfig
from central.device_api import device_api
from central.editorial import web as editorial_web_support
from central.editorial.accounts import Accounts
from central.editorial.speech import Speech
from central.editorial.views_items import editorial_web
from central.editorial.views_people import people_web
from central.editorial.workflow import Editorial
from central.faults import FaultMiddleware, Faults
from central.fleet import FleetViews
from central.fleet_web import fleet_web
from central.http import ApiError, error_response
from central.intake.service import Intake
from central.intake_web import intake_web
from central.login_throttle import LoginThrottle
from central.monitor import Monitor
from central.monitoring_web import local_time, monitoring, problem_labels
from central.operator_web import install_operator_guard, operator
from central.proxies import TrustedProxies, parse_networks


def create_app(data_dir: Path, *, clock: Callable[[], datetime] | None = None,
               faults: Faults | None = None, config: CentralConfig | None = None,
               trusted_proxies: Iterable[str] = ()) -> Flask:
    """The central WSGI app over ``data_dir`` (and ``config``'s database); proxy headers are
    believed only from ``trusted_proxies``. Close it with ``app.extensions["central.catalog"].close()``."""
    networks = parse_networks(trusted_proxies)
    config = config or CentralConfig(data_dir=Path(data_dir))
    catalog = Catalog(Path(data_dir), clock=clock, config=config)
    app = Flask("central")
    app.extensions["central.config"] = config
    app.extensions["central.store"] = catalog.store
    app.extensions["central.catalog"] = catalog
    app.extensions["central.monitor"] = Monitor(catalog.store, clock=catalog.clock, private_key=catalog.private_key,
                                                retention=config.retention, device_cache=catalog.device_cache)
    catalog.at_close(app.extensions["central.monitor"].close)  # write the held heartbeats first
    app.extensions["central.fleet"] = FleetViews(catalog.store, catalog.clock,
                                                 before_read=app.extensions["central.monitor"].flush_heartbeats)
    app.extensions["central.admin"] = AdminAuth(catalog.store, clock=catalog.clock)
    throttle = LoginThrottle(catalog.clock)
    app.extensions["central.login_throttle"] = throttle
    app.extensions["central.accounts"] = Accounts(catalog.store, clock=catalog.clock, throttle=throttle)
    app.extensions["central.editorial"] = Editorial(catalog)
    speech = Speech(Path(data_dir))
    catalog.on_close(speech.close)
    app.extensions["central.speech"] = speech
    app.config["MAX_CONTENT_LENGTH"] = 60 * 1024 * 1024  # an audio upload (50 MB) and its form
    app.extensions["central.intake"] = Intake(catalog)  # issue 12: feeds and CAP alerts → drafts
    app.jinja_env.filters["local_time"] = local_time
    editorial_web_support.install(app)
    app.jinja_env.filters["problem_labels"] = problem_labels

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name or "error")

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return error_response(500, "internal", "internal server error")

    @app.after_request
    def server_time(response: Response) -> Response:
        response.headers["X-Server-Time"] = protocol.format_utc(catalog.clock())
        return response

    install_operator_guard(app)
    app.register_blueprint(device_api)
    app.register_blueprint(operator)
    app.register_blueprint(monitoring)
    app.register_blueprint(fleet_web)
    app.register_blueprint(intake_web)
    app.register_blueprint(people_web)
    app.register_blueprint(editorial_web)

    app.wsgi_app = TrustedProxies(app.wsgi_app, networks)  # type: ignore[method-assign]
    if faults is not None:
        app.extensions["central.faults"] = faults
        app.wsgi_app = FaultMiddleware(app.wsgi_app, faults, catalog.clock)  # type: ignore[method-assign]
    return app
