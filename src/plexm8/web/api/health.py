"""``GET /api/health``: what the web app probes to find a local PlexM8; answers from cached state only.

Response (200, always ``"status": "ok"`` while the service runs, whatever the state of Plex)::

    {
      "status": "ok",
      "version": "0.1.0",                      # PlexM8's version
      "features": [],                          # API capabilities this build really serves (see plexm8.web.api)
      "plex_api_version": "4.18.3",            # installed python-plexapi
      "plex": {
        "mode": "demo" | "real",
        "server_url": "http://127.0.0.1:32400",
        "reachable": true,                     # outcome of the latest background check
        "server_name": "My Plex",              # from the last successful check (kept while unreachable), or null
        "server_version": "1.41.9.9961-46083195d",
        "machine_identifier": "5f1e...",
        "checked_at": "2026-01-31T12:00:00Z",  # latest check finished (UTC), null before the first one
        "error": null | {"code": "plex_unavailable" | "plex_unauthorized" | ..., "message": "..."}
      }
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app

from plexm8 import __version__
from plexm8.core.models import ConnectionStatus
from plexm8.web.extension import services_of

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["FEATURES_KEY", "HEALTH_PATH", "bp", "health_body", "plex_state_json", "prepared_health"]

bp = Blueprint("health", __name__, url_prefix="/api")

HEALTH_PATH = "/api/health"

#: ``app.config`` key holding the feature names the factory collected from the registered API blueprints.
FEATURES_KEY = "PLEXM8_FEATURES"
_RENDERED_KEY = "plexm8_health_rendered"


def plex_state_json(status: ConnectionStatus) -> dict[str, Any]:
    """The ``"plex"`` object of the health document for a connection status."""
    identity = status.identity
    checked_at = status.checked_at
    return {
        "mode": status.mode.value,
        "server_url": status.server_url,
        "reachable": status.reachable,
        "server_name": identity.name if identity else None,
        "server_version": identity.version if identity else None,
        "machine_identifier": identity.machine_identifier if identity else None,
        "checked_at": checked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if checked_at else None,
        "error": {"code": status.error_code, "message": status.error_message} if status.error_code else None,
    }


@dataclass(frozen=True, slots=True)
class _Rendered:
    """The health document rendered for one connection status (the rest of it is fixed for the app's life)."""

    status: ConnectionStatus
    body: bytes


def health_body(app: Flask) -> bytes:
    """The JSON body of ``GET /api/health`` for ``app`` now: rendered once per Plex check, not once per request."""
    services = services_of(app)
    status = services.monitor.status()
    rendered = app.extensions.get(_RENDERED_KEY)
    # The monitor replaces its (frozen) status object on every check, so identity tells whether the document is
    # current. Threads racing here at worst render the same document twice.
    if not isinstance(rendered, _Rendered) or rendered.status is not status:
        document = {
            "status": "ok",
            "version": __version__,
            "features": list(app.config[FEATURES_KEY]),
            "plex_api_version": services.plex_api_version,
            "plex": plex_state_json(status),
        }
        # Through the app's JSON provider, as jsonify would (no app context needed).
        response = app.json.response(document)
        if not isinstance(response, Response):
            raise TypeError(f"the app's JSON provider made a {type(response).__name__}, not a Response")
        rendered = _Rendered(status=status, body=response.get_data())
        app.extensions[_RENDERED_KEY] = rendered
    return rendered.body


@bp.get("/health")
def health() -> Response:
    """Report that PlexM8 runs, what it offers, and the cached Plex connection state."""
    return Response(health_body(current_app), mimetype="application/json")


def prepared_health(app: Flask, environ: WSGIEnvironment) -> bytes:
    """The health body for :class:`~plexm8.web.prepared.PreparedAnswers`: the web app polls this endpoint."""
    return health_body(app)
