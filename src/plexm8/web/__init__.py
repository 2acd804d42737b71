"""The Flask web layer: :func:`create_app` builds the app; views reach services through :func:`get_services`."""

from __future__ import annotations

import atexit
import os

from flask import Flask

from plexm8.bootstrap import Services, build_services, load_environment_settings
from plexm8.config import Settings
from plexm8.web.api import API_BLUEPRINTS, features
from plexm8.web.api.health import FEATURES_KEY, HEALTH_PATH, prepared_health
from plexm8.web.api.ratings import TOP_RATED_PATH, prepared_top_rated
from plexm8.web.errors import install_error_handlers
from plexm8.web.extension import EXTENSION_KEY, get_services
from plexm8.web.prepared import PreparedAnswers
from plexm8.web.security import install_request_guards
from plexm8.web.ui import views

__all__ = ["create_app", "get_services"]


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the PlexM8 Flask app around ``services`` (built from ``settings`` or the environment when omitted).

    Nothing is sent to Plex here. Services passed in belong to the caller, who starts and closes them (as
    ``plexm8 serve`` does). Services the app builds itself start their background checks with the first request
    (not at creation, so a forking WSGI server does not lose the thread) and are closed at interpreter exit.
    """
    owns_services = services is None
    if services is None:
        services = build_services(settings or load_environment_settings(os.environ))
        atexit.register(services.close)
    settings = services.settings

    app = Flask(__name__)
    app.config.update(DEBUG=settings.debug)
    app.config[FEATURES_KEY] = features()
    app.extensions[EXTENSION_KEY] = services

    guard = install_request_guards(app, cors_origins=settings.cors_origins, allowed_hosts=settings.allowed_hosts)
    install_error_handlers(app)
    if owns_services:
        app.before_request(services.start)
    for blueprint, _feature in API_BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(views.bp)
    # What the web app polls is answered before Flask when its body is already made (same answer, same guard).
    prepared = PreparedAnswers(app, guard, on_request=services.start if owns_services else None)
    prepared.add(HEALTH_PATH, prepared_health)
    prepared.add(TOP_RATED_PATH, prepared_top_rated)
    app.wsgi_app = prepared  # type: ignore[method-assign]
    return app
